"""Series training throughput: the engine's resident tensor and batched views against a per-sample DataLoader.

(a) engine:    `ssl_core.train.trainer.Trainer` on an npz of synthetic sensor-like series, with its
               defaults: the float32 (N, C, T) series resident on the device, standardised by the
               method's input adapter, two SimCLR views made by `SeriesAugment` on whole batches on the
               device (per-sample randomness), the method's own `training_step`, bf16 autocast where the
               CPU has native bf16, AdamW + gradient clipping. Timing starts after the warm-up steps;
               setup (data, model) is not timed.
(b) reference: a torch DataLoader over `NumpySeriesPairs` (the same SimCLR recipe applied per sample with
               NumPy / SciPy in `__getitem__`, as TS-TCC and most HAR repositories do; default collate),
               with 0 and with 2 worker processes (the faster is kept, and named), feeding the same
               modules (cnn1d or transformer1d backbone + SimCLR projector, same initial weights) and
               NT-Xent in plain float32 PyTorch, one forward per view, AdamW + gradient clipping.

Both get the same batch size and the same series (synthetic: sums of sines, steps and noise, standardised
per channel, seeded). series/s counts source series (each becomes two views). On a CPU the reference's
workers share the cores with the training process: that is how such a pipeline runs on a CPU, and the
share of its time spent waiting for batches is reported next to the numbers.

Further tables: where the gain comes from (precision of the model step against the data path), views
alone, and where an engine step's time goes.

    python bench/bench_series_throughput.py                # full run (~8 min on 2 cores), writes RESULTS.md
    python bench/bench_series_throughput.py --threads 1    # one torch thread in the training process
    python bench/bench_series_throughput.py --quick        # one tiny iteration (smoke test), no results file
    python bench/bench_series_throughput.py --results /tmp/RESULTS.md   # write elsewhere
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from _common import (
    Target,
    add_common_args,
    apply_threads,
    command_line,
    isa_facts,
    items_per_second,
    machine_description,
    now,
    publish,
    ratio,
    table,
)
from _common import plural as _n
from _common import rate_text as _f
from _common import (
    sync as _sync,
)
from _trainer_timing import PREFETCH, loader_warmup, trainer_rate
from torch.utils.data import DataLoader

from ssl_core.augment.series import preset_series_views
from ssl_core.augment.series_reference import NumpySeriesPairs
from ssl_core.config import RunConfig
from ssl_core.data.base import DataSource
from ssl_core.device import select_device
from ssl_core.losses import nt_xent
from ssl_core.methods.base import StepContext
from ssl_core.train.builder import build_components, open_config_source
from ssl_core.train.optim import resolve_hyper
from ssl_core.train.perf import training_autocast_dtype

SECTION_ID = "bench_series_throughput"
METHOD = "simclr"
TARGET_RATIO = 2.0
TARGET_BACKBONES = ("cnn1d",)  # rows with an acceptance target; the others are reported alongside


@dataclass(frozen=True)
class Case:
    backbone: str
    batch_size: int
    warmup: int
    steps: int


@dataclass
class Settings:
    device: torch.device
    series: int
    channels: int
    length: int
    workers: tuple[int, ...]
    seed: int
    quick: bool
    repeats: int
    backbones: tuple[str, ...]
    batch_size: int
    warmup: int
    steps: int
    command: str = ""
    threads: int = 1  # torch threads of the reference (the process's own choice); set in main
    engine_threads: list[int] = field(default_factory=list)  # what the Trainer used (limit_cpu_threads)


# ---- data ---------------------------------------------------------------------------------------------
def synthetic_series(n: int, channels: int, length: int, seed: int) -> np.ndarray:
    """Sensor-like float32 series (n, channels, length), standardised per channel (mean 0, std 1).

    Each channel of each series: three sines (0.5-12 cycles over the series, random amplitude and
    phase), a level step at a random time in half of them, Gaussian noise, then a per-channel gain and
    offset as real sensors have (undone by the per-channel standardisation, as a pipeline would).
    """
    rng = np.random.default_rng(seed)
    t = np.linspace(0.0, 1.0, length, dtype=np.float32)
    x = np.zeros((n, channels, length), dtype=np.float32)
    for _ in range(3):
        freq = rng.uniform(0.5, 12.0, (n, channels, 1)).astype(np.float32)
        amp = rng.uniform(0.2, 1.5, (n, channels, 1)).astype(np.float32)
        phase = rng.uniform(0.0, 2 * np.pi, (n, channels, 1)).astype(np.float32)
        x += amp * np.sin(2 * np.pi * freq * t + phase)
    has_step = rng.random((n, channels, 1)) < 0.5
    at = rng.integers(1, max(2, length), (n, channels, 1))
    height = rng.standard_normal((n, channels, 1), dtype=np.float32)
    x += np.where(has_step & (np.arange(length) >= at), height, np.float32(0.0))
    x += 0.2 * rng.standard_normal(x.shape, dtype=np.float32)
    x = x * rng.uniform(0.5, 20.0, (1, channels, 1)).astype(np.float32)
    x += rng.uniform(-10.0, 10.0, (1, channels, 1)).astype(np.float32)
    mean = x.mean(axis=(0, 2), keepdims=True, dtype=np.float64)
    std = x.std(axis=(0, 2), keepdims=True, dtype=np.float64)
    return ((x - mean) / std).astype(np.float32)


def save_npz(values: np.ndarray, folder: Path) -> str:
    path = folder / "series.npz"
    np.savez(path, series=values)  # an array named 'series' is always read as (N, C, T) series
    return f"npz:{path}"


def config_for(case: Case, spec: str, s: Settings, runs_dir: Path, **train) -> RunConfig:
    cfg = RunConfig()
    cfg.data.spec = spec
    cfg.data.val_fraction = 0.0
    cfg.method.name = METHOD
    cfg.method.backbone = case.backbone
    cfg.train.batch_size = case.batch_size
    cfg.train.max_steps = case.warmup + case.steps
    cfg.train.device = str(s.device)
    cfg.train.seed = s.seed
    cfg.runs_dir = str(runs_dir)
    for key, value in train.items():
        setattr(cfg.train, key, value)
    cfg.validate()
    return cfg


def components(case: Case, spec: str, source: DataSource, s: Settings):
    """The method the Trainer builds (same seed, same initial weights), its hyperparameters and config."""
    cfg = config_for(case, spec, s, Path("unused"))
    parts = build_components(cfg, source=source)
    hyper = resolve_hyper(cfg, parts.spec, len(parts.train_idx))
    return parts.method, hyper, cfg


# ---- (a) the engine: the real Trainer --------------------------------------------------------------------
def engine_rate(case: Case, spec: str, s: Settings, *, amp: bool = True) -> float:
    """Series per second of the Trainer's steps after the warm-up (from StepEnded time stamps)."""
    with tempfile.TemporaryDirectory(prefix="bench-runs-") as runs:
        cfg = config_for(case, spec, s, Path(runs), amp=amp)
        return trainer_rate(
            cfg,
            s.device,
            case.warmup,
            case.steps,
            case.batch_size,
            threads_used=s.engine_threads,
            what=f"engine run of {case}",
        )


# ---- (b) the reference: per-sample NumPy views in a DataLoader --------------------------------------------
def reference_recipes(s: Settings):
    """The engine's SimCLR recipes for this shape (`series_view_pair` scales them the same way)."""
    return [r.scaled_for(s.channels, s.length) for r in preset_series_views(METHOD)]


def reference_batches(
    values: np.ndarray, batch_size: int, workers: int, s: Settings
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """(view 1, view 2) batches on the device, forever, from a DataLoader over NumpySeriesPairs."""
    cuda = s.device.type == "cuda"
    loader = DataLoader(
        NumpySeriesPairs(values, reference_recipes(s), seed=s.seed),
        batch_size=batch_size,
        shuffle=True,
        drop_last=True,
        num_workers=workers,
        worker_init_fn=NumpySeriesPairs.seed_worker,
        pin_memory=cuda,
        persistent_workers=workers > 0,
        prefetch_factor=PREFETCH if workers > 0 else None,
        generator=torch.Generator().manual_seed(s.seed),
    )
    while True:
        for v1, v2 in loader:
            yield v1.to(s.device, non_blocking=cuda), v2.to(s.device, non_blocking=cuda)


@dataclass
class ReferenceResult:
    series_per_sec: float
    waiting: float  # share of the timed window spent waiting for the DataLoader (0 workers: making views)
    workers: int


def reference_rate(
    case: Case,
    spec: str,
    source: DataSource,
    values: np.ndarray,
    s: Settings,
    workers: int,
    *,
    bf16: bool = False,
) -> ReferenceResult:
    method, hyper, cfg = components(case, spec, source, s)
    method.to(s.device).train()
    backbone, projector = method.backbone, method.projector
    params = [p for p in method.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=hyper.lr, weight_decay=hyper.weight_decay)
    temperature = method.hparams["temperature"]
    dtype = training_autocast_dtype(s.device) if bf16 else None
    batches = reference_batches(values, case.batch_size, workers, s)
    case = loader_warmup(case, workers)
    waited = start = 0.0
    try:
        for step in range(case.warmup + case.steps):
            if step == case.warmup:
                _sync(s.device)
                start, waited = time.perf_counter(), 0.0
            before = time.perf_counter()
            v1, v2 = next(batches)
            waited += time.perf_counter() - before
            with torch.autocast(s.device.type, dtype=dtype or torch.float32, enabled=dtype is not None):
                loss = nt_xent(projector(backbone(v1)), projector(backbone(v2)), temperature)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, cfg.train.grad_clip)
            optimizer.step()
        _sync(s.device)
        seconds = time.perf_counter() - start
    finally:
        batches.close()  # drops the DataLoader and so stops its workers
    return ReferenceResult(case.steps * case.batch_size / seconds, waited / seconds, workers)


# ---- views alone and where an engine step's time goes -------------------------------------------------------
def reference_views_rate(values: np.ndarray, case: Case, s: Settings, workers: int) -> float:
    batches = reference_batches(values, case.batch_size, workers, s)
    try:
        return _rate(lambda: next(batches), loader_warmup(case, workers), s)
    finally:
        batches.close()


def engine_views_rate(case: Case, spec: str, source: DataSource, s: Settings) -> float:
    """Both SeriesAugment views of resident batches (standardised first, as in training), no model."""
    method, _, _ = components(case, spec, source, s)
    method.to(s.device)
    resident = source.read(torch.arange(len(source)))[0].to(s.device)
    generator = torch.Generator(device=s.device).manual_seed(s.seed)

    def one() -> None:
        idx = torch.randint(0, len(resident), (case.batch_size,), generator=generator, device=s.device)
        method.make_views(method.prepare(resident.index_select(0, idx)), generator)

    return _rate(one, case, s)


def phase_profile(case: Case, spec: str, source: DataSource, s: Settings) -> dict[str, float]:
    """Seconds per step of each phase of the trainer's step, with the engine's settings."""
    method, hyper, cfg = components(case, spec, source, s)
    method.to(s.device).train()
    params = [p for p in method.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=hyper.lr, weight_decay=hyper.weight_decay)
    dtype = training_autocast_dtype(s.device)
    resident = source.read(torch.arange(len(source)))[0].to(s.device)
    generator = torch.Generator(device=s.device).manual_seed(s.seed)
    phases = dict.fromkeys(("batch + standardise", "views", "forward + loss", "backward", "optimizer"), 0.0)
    total = case.warmup + case.steps
    for step in range(total):
        marks = [time.perf_counter()]
        idx = torch.randint(0, len(resident), (case.batch_size,), generator=generator, device=s.device)
        x = method.prepare(resident.index_select(0, idx))
        _sync(s.device)
        marks.append(time.perf_counter())
        ctx = StepContext(step=step, total_steps=total, epoch=0, generator=generator)
        with torch.autocast(s.device.type, dtype=dtype or torch.float32, enabled=dtype is not None):
            method.make_views(x, generator)  # timed on its own, then again inside training_step
            _sync(s.device)
            marks.append(time.perf_counter())
            out = method.training_step(x, ctx)
        _sync(s.device)
        marks.append(time.perf_counter())
        optimizer.zero_grad(set_to_none=True)
        out.loss.backward()
        _sync(s.device)
        marks.append(time.perf_counter())
        torch.nn.utils.clip_grad_norm_(params, cfg.train.grad_clip)
        optimizer.step()
        _sync(s.device)
        marks.append(time.perf_counter())
        if step >= case.warmup:
            views = marks[2] - marks[1]
            phases["batch + standardise"] += marks[1] - marks[0]
            phases["views"] += views
            phases["forward + loss"] += marks[3] - marks[2] - views
            phases["backward"] += marks[4] - marks[3]
            phases["optimizer"] += marks[5] - marks[4]
    return {k: v / case.steps for k, v in phases.items()}


# ---- helpers ------------------------------------------------------------------------------------------
def _rate(fn: Callable[[], object], case: Case, s: Settings) -> float:
    return items_per_second(fn, case.warmup, case.steps, case.batch_size, s.device)


# ---- the benchmark ------------------------------------------------------------------------------------
@dataclass
class Row:
    case: Case
    references: dict[int, ReferenceResult]  # workers -> best of the repeats
    engine: float

    @property
    def best_reference(self) -> ReferenceResult:
        return max(self.references.values(), key=lambda r: r.series_per_sec)

    @property
    def speedup(self) -> float:
        return self.engine / self.best_reference.series_per_sec


def run(s: Settings, log: Callable[[str], None]) -> tuple[str, list[Target]]:
    values = synthetic_series(s.series, s.channels, s.length, s.seed)
    cases = [Case(b, s.batch_size, s.warmup, s.steps) for b in s.backbones]
    with tempfile.TemporaryDirectory(prefix="bench-series-") as tmp:
        spec = save_npz(values, Path(tmp))
        source = open_config_source(config_for(cases[0], spec, s, Path(tmp) / "unused"))
        # 1. engine vs reference. Best of `repeats`, alternating reference (each worker count) and
        # engine: other work on a shared machine only ever slows a run down, and alternating spreads it.
        rows = []
        for case in cases:
            refs: dict[int, list[ReferenceResult]] = {w: [] for w in s.workers}
            engs = []
            for _ in range(s.repeats):
                for w in s.workers:
                    refs[w].append(reference_rate(case, spec, source, values, s, w))
                engs.append(engine_rate(case, spec, s))
            row = Row(case, {w: max(r, key=lambda x: x.series_per_sec) for w, r in refs.items()}, max(engs))
            rows.append(row)
            log(
                f"{case.backbone}: reference "
                + ", ".join(f"{w} workers {r.series_per_sec:.0f}" for w, r in row.references.items())
                + f"; engine {row.engine:.0f} series/s ({row.speedup:.2f}x)"
            )

        # 2. where the gain comes from (first backbone): precision of the model step vs the data path.
        base = rows[0]
        workers = base.best_reference.workers
        precision = training_autocast_dtype(s.device)
        label = f"{str(precision).removeprefix('torch.')} autocast" if precision else ""
        variants: list[tuple[str, Callable[[], float]]] = [
            (f"reference: per-sample NumPy + DataLoader ({workers} workers), float32",
             lambda: reference_rate(base.case, spec, source, values, s, workers).series_per_sec),
        ]  # fmt: skip
        if precision is not None:
            variants.append(
                (f"reference + the engine's model precision ({label})",
                 lambda: reference_rate(base.case, spec, source, values, s, workers, bf16=True).series_per_sec)
            )  # fmt: skip
            variants.append(
                ("engine, float32 (train.amp = false)",
                 lambda: engine_rate(base.case, spec, s, amp=False))
            )  # fmt: skip
        variants.append((f"engine defaults ({label or 'float32'})", lambda: engine_rate(base.case, spec, s)))
        best = dict.fromkeys((name for name, _ in variants), 0.0)
        for _ in range(1 if s.quick else 2):  # round robin, best of each
            for name, measure in variants:
                best[name] = max(best[name], measure())
        ref0 = next(iter(best.values()))
        ablation_rows = [[name, _f(v), ratio(v, ref0)] for name, v in best.items()]
        log("ablation done")

        # 3. views alone (no model), 4. where an engine step's time goes.
        views = {
            f"reference: NumpySeriesPairs + DataLoader, {w} workers": reference_views_rate(
                values, base.case, s, w
            )
            for w in s.workers
        }
        best_views = max(views.values())
        views["engine: SeriesAugment x 2 on the resident batch"] = engine_views_rate(
            base.case, spec, source, s
        )
        views_rows = [[name, _f(v), ratio(v, best_views)] for name, v in views.items()]
        profile_rows = []
        for case in cases:
            phases = phase_profile(case, spec, source, s)
            step = sum(phases.values())
            profile_rows.append(
                [f"{case.backbone}, batch {case.batch_size}", f"{step * 1000:,.1f}"]
                + [f"{v * 1000:,.1f} ({v / step:.0%})" for v in phases.values()]
            )
        log("profile done")

    targets = []
    others = "; ".join(
        f"{r.case.backbone}: {r.speedup:.2f}x (no target)"
        for r in rows
        if r.case.backbone not in TARGET_BACKBONES
    )
    for r in rows:
        if r.case.backbone in TARGET_BACKBONES:
            ref = r.best_reference
            targets.append(
                Target(
                    "series training throughput",
                    f"{METHOD} {r.case.backbone}: engine >= {TARGET_RATIO:.0f}x reference",
                    f"{r.speedup:.2f}x ({_f(r.engine)} vs {_f(ref.series_per_sec)} series/s, reference "
                    f"with {ref.workers} workers)",
                    r.speedup >= TARGET_RATIO,
                    others,
                )
            )
    return render(s, rows, ablation_rows, views_rows, profile_rows), targets


def render(s: Settings, rows: list[Row], ablation_rows, views_rows, profile_rows) -> str:
    bullet, warning = isa_facts(s.device)
    engine_threads = sorted(set(s.engine_threads)) or [s.threads]
    main_rows = []
    for r in rows:
        ref = r.best_reference
        main_rows.append(
            [r.case.backbone, r.case.batch_size]
            + [_f(r.references[w].series_per_sec) for w in s.workers]
            + [f"{ref.workers}", f"{ref.waiting:.0%}", _f(r.engine), f"**{r.speedup:.2f}x**"]
        )
    header = (
        ["backbone", "batch"]
        + [f"reference series/s, {w} workers" for w in s.workers]
        + ["reference kept (workers)", "reference waiting", "engine series/s", "engine vs reference"]
    )
    lines = [
        f"## Series training throughput: SimCLR on {s.channels}-channel series of {s.length} steps",
        "",
        f"`{s.command}` on {now()}. Synthetic {s.series:,} series x {s.channels} channels x {s.length} "
        "steps (sums of sines, level steps and noise, standardised per channel; seeded). The engine is "
        "the real `Trainer` on them as an npz: the float32 series resident on the device, SimCLR views by "
        "`SeriesAugment` on whole batches, its defaults otherwise. The reference is a DataLoader over "
        "`NumpySeriesPairs` (the same recipe per sample with NumPy / SciPy in `__getitem__`, default "
        f"collate) with {' and '.join(str(w) for w in s.workers)} worker processes, the faster kept, "
        "feeding the same modules with the same initial weights in plain float32 PyTorch (one forward "
        f"per view, NT-Xent, AdamW + gradient clipping). Equal batch size per row; {s.threads} torch "
        f"thread(s) in the reference's training process, {'/'.join(map(str, engine_threads))} in the "
        "engine's (the Trainer uses at most one per physical core). series/s counts source series (each "
        f"gives two views), over {_n(s.steps, 'step')} after {_n(s.warmup, 'warm-up step')} (the reference "
        f"with workers takes {PREFETCH} more per worker first, so batches its workers made ahead are not "
        "counted). 'reference waiting' is the kept reference's share of time spent waiting for "
        "batches (with 0 workers: making the views itself). Throughput rows are the best of "
        f"{_n(s.repeats, 'run')}, reference and engine alternating."
        + (
            " With one torch thread the reference's worker processes make its views on the other "
            "core(s), which the engine leaves idle (it makes its views on its one training thread): the "
            "engine's ratios are conservative."
            if s.threads == 1 and (os.cpu_count() or 1) > 1
            else ""
        ),
        "",
        machine_description(s.device) + f"\n- {bullet}",
        "",
    ]
    if warning:
        lines += [warning, ""]
    lines += [
        table(header, main_rows, "lr" + "r" * (len(header) - 2)),
        "",
        "### Where the gain comes from (first row, same run)",
        "",
        "The data path alone (resident series + batched views, no worker processes) is the float32 "
        "engine row; the rest is the model step's precision, which the second row shows would help a "
        "DataLoader pipeline too. Round robin, best of each.",
        "",
        table(["pipeline", "series/s", "vs reference"], ablation_rows, "lrr"),
        "",
        "### Views only (SimCLR series recipe, both views, no model)",
        "",
        table(["pipeline", "series/s", "vs best reference"], views_rows, "lrr"),
        "",
        "### Where an engine step's time goes (engine settings; milliseconds per step and share)",
        "",
        table(
            ["step", "total ms", "batch + standardise", "views", "forward + loss", "backward", "optimizer"],
            profile_rows,
        ),
    ]
    return "\n".join(lines).rstrip("\n")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--series", type=int, default=20_000, help="synthetic series (default 20,000)")
    p.add_argument("--channels", type=int, default=6, help="channels per series (default 6)")
    p.add_argument("--length", type=int, default=100, help="time steps per series (default 100)")
    p.add_argument("--batch-size", type=int, default=256, help="batch size of both pipelines (default 256)")
    p.add_argument("--steps", type=int, default=20, help="timed steps per run (default 20)")
    p.add_argument("--warmup", type=int, default=2, help="untimed steps first (default 2)")
    p.add_argument(
        "--workers",
        type=int,
        nargs="+",
        default=[0, 2],
        help="reference DataLoader worker counts to try; the fastest is kept (default 0 2)",
    )
    p.add_argument(
        "--backbones",
        nargs="+",
        default=["cnn1d", "transformer1d"],
        choices=["cnn1d", "gru", "lstm", "transformer1d"],
        help="series backbones, one row each (default cnn1d transformer1d)",
    )
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, mps")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--repeats", type=int, default=3, help="best of this many runs per row (default 3)")
    add_common_args(p)
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.warmup < 1 or args.steps < 1 or args.repeats < 1:
        raise SystemExit("--warmup, --steps and --repeats must be at least 1")
    apply_threads(args)
    quick = args.quick
    s = Settings(
        device=select_device(args.device),
        series=256 if quick else args.series,
        channels=args.channels,
        length=32 if quick else args.length,
        workers=tuple(dict.fromkeys(args.workers)),
        seed=args.seed,
        quick=quick,
        repeats=1 if quick else args.repeats,
        backbones=tuple(dict.fromkeys(args.backbones)),
        batch_size=32 if quick else args.batch_size,
        warmup=1 if quick else args.warmup,
        steps=2 if quick else args.steps,
        threads=torch.get_num_threads(),
    )
    s.command = command_line("bench_series_throughput.py", argv)
    body, targets = run(s, lambda m: print(m, flush=True))
    publish(args, SECTION_ID, body, targets)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
