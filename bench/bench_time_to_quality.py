"""Time to a good model: CPU-seconds for each method family's default to reach a fixed 10%-label probe accuracy.

For every modality's bundled data set and one method per family the modality supports (`PLAN`), the run a
person gets by choosing the data and the method and clicking Start (a RunConfig with only data.spec and
method.name set: default backbone, batch, learning rate, split, and the epochs Setup proposes for the data's
size, `ssl_core.train.plan.suggested_epochs`) is trained by the real `ssl_core.train.trainer.Trainer`, and
stopped once it has used `--cpu-minutes` of CPU (default 5).

- CPU-seconds: CPU time of the training process, every thread, plus any DataLoader worker processes
  (`_quality_probe.CpuClock`), counted from the click on Start (reading the data and building the model
  included), without the probe evaluations.
- Probe: at about `--probes` points of the run (every tenth of its planned steps or of the CPU cap, whichever
  comes first), at its start and at its end, the current encoder embeds a fixed split in eval mode and the
  engine's linear probe (`ssl_core.eval.probe.linear_probe`) is fitted on a stratified 10% of the training
  labels and scored on held-out samples: the same split and labels for every method of a modality and for
  the reference. It runs from the trainer's StepEnded event (on its thread, between steps), draws nothing
  from the training's random streams and puts the model back in train mode.
- Target: a fixed accuracy per data set (`PLAN`, with its reason); "CPU-s to target" is the CPU time at the
  first probe point at or above it (an upper bound: the probes are spaced). The raw-input probe (the
  modality's raw features, no training) is shown for context.
- Reference (images only): lightly 1.6's documented SimCLR and BYOL pipelines (bench/_lightly_reference.py:
  its transforms on PIL images, DataLoader with its worker processes, heads, loss, SGD lr 0.06) training
  the engine's default digits backbone from the same initial weights on the same training images, at the
  settings its CIFAR-10 examples use for small images (input_size = the image size, 8; gaussian_blur 0),
  for as many epochs and at the batch size of the engine's default run, with the same cap and probes.
  Digits are 8x8 grayscale: each is handed to lightly's transforms as a mode "L" PIL image (as torchvision's
  MNIST does) and normalised with the digits' own mean and std (lightly's `normalize` argument, as its docs
  set it for data other than ImageNet), so the views keep the one channel the backbone takes; ColorJitter's
  hue and RandomGrayscale leave a grayscale image as it is. The reference is probed through the same
  normalisation and backbone.

    python bench/bench_time_to_quality.py                      # full run, writes bench/RESULTS.md
    python bench/bench_time_to_quality.py --only image         # one modality (image: with lightly's rows)
    python bench/bench_time_to_quality.py --methods simclr mae # some methods only
    python bench/bench_time_to_quality.py --quick              # seconds-scale smoke test, no results file
"""

from __future__ import annotations

import argparse
import contextlib
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import _lightly_reference as lightly_ref
import torch
from _common import (
    Target,
    add_common_args,
    apply_threads,
    command_line,
    isa_facts,
    load_average,
    machine_description,
    now,
    publish,
    table,
)
from _quality_probe import CpuClock, ProbeSchedule, ProbeSplit, Trace, probe_encoder, probe_raw, probe_split
from _quality_reference import reference_trace

import ssl_core.train.trainer as trainer_module
from ssl_core.config import RunConfig
from ssl_core.data.sources import open_source
from ssl_core.train.control import RunControl
from ssl_core.train.events import RunFailed, RunStarted, StepEnded
from ssl_core.train.optim import resolve_hyper
from ssl_core.train.plan import suggested_epochs

SECTION_ID = "bench_time_to_quality"
LABEL_FRACTION = 0.10


@dataclass(frozen=True)
class Modality:
    data: str
    target: float
    reason: str  # why this target
    methods: dict[str, str]  # family -> its canonical method for this modality


# One data set per modality, its target, and each family's canonical method there (families the modality
# has no method of are left out: text has no generative method, images none "predictive").
PLAN: dict[str, Modality] = {
    "image": Modality(
        "digits",
        0.93,
        "raw pixels give 0.91 and the untrained small CNN 0.89 with 10% labels: training must beat both",
        {
            "contrastive": "simclr",
            "self-distillation": "byol",
            "redundancy reduction": "vicreg",
            "generative": "mae",
            "pretext": "rotation",
        },
    ),
    "series": Modality(
        "series:OSULeaf",
        0.65,
        "leaf outlines, 6 classes, 442 series (BasicMotions' 80 leave 1-2 labels a class, JapaneseVowels' "
        "raw values already give 0.98): raw values give 0.31, the untrained CNN 0.55",
        {
            "contrastive": "simclr",
            "self-distillation": "byol",
            "redundancy reduction": "vicreg",
            "generative": "masked_reconstruction",
            "predictive": "autoregressive",
        },
    ),
    "table": Modality(
        "table:breast_cancer",
        0.95,
        "raw features give 0.92, the untrained MLP 0.89 (shuttle's raw features already give 0.997)",
        {
            "contrastive": "simclr",
            "self-distillation": "byol",
            "redundancy reduction": "vicreg",
            "generative": "vime",
        },
    ),
    "text": Modality(
        "text:fortunes",
        0.30,
        "40 fortune files as classes, many alike: raw features give 0.24, the untrained transformer 0.16",
        {
            "contrastive": "simclr",
            "self-distillation": "byol",
            "redundancy reduction": "vicreg",
            "predictive": "masked_token",
        },
    ),
    "audio": Modality(
        "audio:speech",
        0.80,
        "20 spoken words, several espeak voices and speeds: raw features give 0.66, the untrained mel CNN 0.67",
        {
            "contrastive": "simclr",
            "self-distillation": "byol",
            "redundancy reduction": "vicreg",
            "generative": "masked_spectrogram",
        },
    ),
}
REFERENCE_METHODS = {"image": lightly_ref.METHODS}  # lightly's pipelines: images only


@dataclass
class Settings:
    cap_s: float  # CPU seconds a run may use
    probes: int  # probe points over a run (plus its start and end)
    label_fraction: float
    max_test: int  # held-out samples a probe is scored on, at most
    runs_dir: Path
    quick: bool
    lightly: bool
    lightly_workers: int
    seed: int = 0


@dataclass
class Row:
    modality: str
    family: str
    method: str
    epochs: int
    batch_size: int
    engine: Trace
    reference: Trace | None = None
    reference_note: str = ""
    run_cpu_s: float = 0.0


# ---- the engine: the real Trainer ------------------------------------------------------------------------
def default_config(spec: str, method: str, s: Settings, n_samples: int) -> RunConfig:
    """What clicking Start gives: only the data and the method chosen, and the epochs Setup proposes for
    that much data (ssl_core.train.plan.suggested_epochs: at least 300 steps); runs go to a scratch folder."""
    cfg = RunConfig()
    cfg.data.spec = spec
    cfg.method.name = method
    cfg.runs_dir = str(s.runs_dir)
    cfg.train.epochs = suggested_epochs(cfg, n_samples)
    if s.quick:  # the smoke test: a few steps
        cfg.train.max_steps = 2
    cfg.validate()
    return cfg


def data_size(spec: str) -> int:
    """How many samples the data set has, as Setup knows it once the data is open."""
    return open_source(spec).info.size


@contextlib.contextmanager
def capturing_components(found: list) -> Iterator[None]:
    """Hand the components the Trainer builds (its method object is the one it trains) to `found`."""
    original = trainer_module.build_components

    def build(*args, **kwargs):
        parts = original(*args, **kwargs)
        found.append(parts)
        return parts

    trainer_module.build_components = build
    try:
        yield
    finally:
        trainer_module.build_components = original


@dataclass
class ProbeData:
    """A modality's probe split and raw-input accuracy, taken from its first run's own components (the
    split is the engine's, the same for every method of the data), so the data is read once a run."""

    settings: Settings
    split: ProbeSplit | None = None
    raw: float = float("nan")

    def take_from(self, parts) -> ProbeSplit:
        s = self.settings
        if self.split is None:
            self.split = probe_split(parts, s.label_fraction, s.max_test, s.seed)
            self.raw = probe_raw(parts.method, parts.source, self.split)
        elif not set(self.split.test_idx.tolist()) <= set(parts.val_idx.tolist()):
            raise RuntimeError("the runs' splits differ: the probe's held-out samples would be trained on")
        return self.split


def engine_trace(cfg: RunConfig, data: ProbeData, s: Settings) -> tuple[Trace, float, int]:
    """The probe trace of the default run of `cfg`, stopped at the CPU cap; its whole CPU seconds (setup
    and final checkpoint included, probes not); and its batch size."""
    control, trace, found = RunControl(), Trace(), []
    trainer = trainer_module.Trainer(cfg, control)
    state: dict = {"schedule": None, "step": 0, "cpu": 0.0}
    clock = CpuClock()

    def probe(step: int, cpu_s: float) -> None:
        with clock.excluded():
            split = data.take_from(found[0])
            trace.add(cpu_s, step, probe_encoder(found[0].method, found[0].source, split))

    def on_event(event) -> None:
        if isinstance(event, RunStarted):
            trace.steps_planned = event.total_steps
            state["schedule"] = ProbeSchedule(event.total_steps, s.cap_s, s.probes)
            probe(0, clock.seconds())
        elif isinstance(event, StepEnded):
            cpu = clock.seconds()
            state["step"], state["cpu"] = event.step, cpu
            if cpu >= s.cap_s and not control.stop_requested:
                trace.stopped_at_cap = True
                control.stop()
            if state["schedule"].due(event.step, cpu) or trace.stopped_at_cap:
                probe(event.step, cpu)
        elif isinstance(event, RunFailed):
            trace.failure = event.message

    trainer.events.subscribe(on_event)
    with capturing_components(found):
        trainer.run()
    whole = clock.seconds()
    if not found:
        return trace, whole, 0
    if not trace.failure and (trace.last is None or trace.last[1] != state["step"]):
        probe(state["step"], state["cpu"])  # the run's end
    parts = found[0]
    return trace, whole, resolve_hyper(cfg, parts.spec, len(parts.train_idx)).batch_size


# ---- one modality --------------------------------------------------------------------------------------------
def modality_rows(
    name: str, plan: Modality, methods: list[str], s: Settings, log: Callable[[str], None]
) -> tuple[list[Row], ProbeSplit | None, float]:
    data, rows = ProbeData(s), []
    family_of = {m: f for f, m in plan.methods.items()}
    n_samples = data_size(plan.data)
    for method in methods:
        cfg = default_config(plan.data, method, s, n_samples)
        started = time.perf_counter()
        trace, whole, batch = engine_trace(cfg, data, s)
        if data.split is not None and not any(r.engine.points for r in rows):
            log(f"{name}: {plan.data}, {data.split.describe()}, raw-input probe {data.raw:.3f}")
        row = Row(name, family_of[method], method, cfg.train.epochs, batch, trace, run_cpu_s=whole)
        log(f"  {method}: {trace_text(trace)} ({time.perf_counter() - started:.0f} s wall)")
        if method in REFERENCE_METHODS.get(name, ()):
            row.reference, row.reference_note = reference_for(cfg, data.split, s, log)
        rows.append(row)
    return rows, data.split, data.raw


def reference_for(
    cfg: RunConfig, split: ProbeSplit, s: Settings, log: Callable[[str], None]
) -> tuple[Trace | None, str]:
    if not s.lightly:
        return None, "left out (--no-lightly)"
    reason = lightly_ref.missing()
    if reason is not None:
        return None, reason
    started = time.perf_counter()
    trace = reference_trace(
        cfg, split, cap_s=s.cap_s, probes=s.probes, workers=s.lightly_workers, seed=s.seed
    )
    log(f"  {cfg.method.name} (lightly): {trace_text(trace)} ({time.perf_counter() - started:.0f} s wall)")
    return trace, ""


def trace_text(trace: Trace) -> str:
    if trace.failure:
        return f"failed: {trace.failure}"
    return ", ".join(f"{cpu:.0f} s/{step} steps {acc:.3f}" for cpu, step, acc in trace.points)


# ---- the table ----------------------------------------------------------------------------------------------
def _seconds(value: float | None) -> str:
    return "not reached" if value is None else cpu_text(value)


def cpu_text(seconds: float) -> str:
    """CPU seconds for the table: whole seconds from 10 up, one decimal below (a table run takes 0.4 s)."""
    return f"{seconds:,.0f}" if seconds >= 10 else f"{seconds:.1f}"


def end_text(trace: Trace, cap_s: float) -> str:
    """The accuracy at the cap, or at the run's end where the default run ended sooner (and when)."""
    if trace.failure or trace.last is None:
        return "failed"
    cpu, step, acc = trace.last
    where = "cap" if trace.stopped_at_cap else f"end, {cpu_text(cpu)} s"
    return f"{acc:.3f} ({where})"


def reached(trace: Trace | None, target: float) -> float | None:
    return None if trace is None or trace.failure else trace.first_reaching(target)


def ratio_text(engine: float | None, reference: float | None) -> str:
    if engine is None or reference is None:
        return "-"
    return f"{reference / max(engine, 1e-9):.2f}x"


def render(
    rows: list[Row], facts: dict[str, tuple[ProbeSplit | None, float]], s: Settings, command: str
) -> str:
    header = [
        "modality",
        "data",
        "method (family)",
        "epochs / batch",
        "target",
        "CPU-s to target",
        "lightly CPU-s to target",
        "lightly / engine",
        "accuracy at the cap or end",
        "CPU-s of the run",
        "accuracy at start",
        "raw-input probe",
    ]
    body = []
    for r in rows:
        plan, (_, raw) = PLAN[r.modality], facts[r.modality]
        engine_s = reached(r.engine, plan.target)
        ref_s = reached(r.reference, plan.target)
        start = f"{r.engine.points[0][2]:.3f}" if r.engine.points else "-"
        body.append(
            [
                r.modality,
                plan.data,
                f"{r.method} ({r.family})",
                f"{r.epochs} / {r.batch_size}",
                f"{plan.target:.2f}",
                _seconds(engine_s) if not r.engine.failure else "failed",
                (_seconds(ref_s) + f"; {end_text(r.reference, s.cap_s)}") if r.reference else "-",
                ratio_text(engine_s, ref_s),
                end_text(r.engine, s.cap_s),
                cpu_text(r.run_cpu_s),
                start,
                f"{raw:.3f}",
            ]
        )
    lines = [
        f"## Time to a good model ({now()})",
        "",
        f"`{command}`",
        "",
        machine_description(torch.device("cpu"), lightly_versions()),
        f"- {isa_facts(torch.device('cpu'))[0]}",
        "",
        f"Each run: the defaults a person gets by choosing the data and the method and clicking Start, "
        f"trained by the real Trainer and stopped after {cap_text(s)} (the cap; CPU of every thread "
        "and worker process, probes left out). Probe: the engine's linear probe on "
        f"{s.label_fraction:.0%} of the training labels (stratified), scored on held-out samples; "
        f"about {s.probes} probe points a run, so 'CPU-s to target' is the first probe point at or above "
        "the target. 'accuracy at ...': at the cap, or at the run's end where the default run ends sooner "
        "(its CPU-s shown). lightly: its SimCLR / BYOL pipeline on the same backbone and weights (images).",
        "",
        table(header, body),
        "",
        "Data, probe split and targets:",
        "",
        *[
            f"- {m}: `{PLAN[m].data}`, {split.describe()}; target {PLAN[m].target:.2f}: {PLAN[m].reason}"
            for m, (split, _) in facts.items()
            if split is not None
        ],
        "",
        "Probe points (CPU-s / steps accuracy):",
        "",
        *[f"- {r.modality} {r.method}: {trace_text(r.engine)}" for r in rows],
        *[f"- {r.modality} {r.method} (lightly): {trace_text(r.reference)}" for r in rows if r.reference],
        *[f"- {r.modality} {r.method} (lightly): {r.reference_note}" for r in rows if r.reference_note],
    ]
    return "\n".join(lines)


def cap_text(s: Settings) -> str:
    return f"{s.cap_s / 60:g} CPU-minutes" if s.cap_s >= 60 else f"{s.cap_s:g} CPU-seconds"


def lightly_versions() -> list[str]:
    return [] if lightly_ref.missing() else [f"lightly {lightly_ref.version()}"]


def targets_of(rows: list[Row], s: Settings) -> list[Target]:
    found = []
    for r in rows:
        plan = PLAN[r.modality]
        engine_s = reached(r.engine, plan.target)
        found.append(
            Target(
                "time to quality",
                f"{r.modality} {r.method}: {plan.target:.2f} probe accuracy within {cap_text(s)}",
                "failed"
                if r.engine.failure
                else f"{_seconds(engine_s)} CPU-s ({end_text(r.engine, s.cap_s)})",
                None if r.engine.failure else engine_s is not None,
            )
        )
        if r.reference is not None:
            ref_s = reached(r.reference, plan.target)
            met = engine_s is not None and (ref_s is None or engine_s < ref_s)
            found.append(
                Target(
                    "time to quality vs lightly",
                    f"{r.modality} {r.method}: engine reaches {plan.target:.2f} in fewer CPU-s than lightly",
                    f"engine {_seconds(engine_s)}, lightly {_seconds(ref_s)} CPU-s",
                    met,
                )
            )
    return found


# ---- command line ------------------------------------------------------------------------------------------
def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    add_common_args(parser)
    parser.add_argument("--only", nargs="+", choices=list(PLAN), default=None, help="these modalities only")
    parser.add_argument("--methods", nargs="+", default=None, help="these methods only (where planned)")
    parser.add_argument("--cpu-minutes", type=float, default=5.0, help="CPU cap of each run (default 5)")
    parser.add_argument("--probes", type=int, default=10, help="probe points a run (default 10)")
    parser.add_argument("--label-fraction", type=float, default=LABEL_FRACTION)
    parser.add_argument("--max-test", type=int, default=1000, help="held-out samples a probe scores, at most")
    parser.add_argument("--no-lightly", action="store_true", help="leave lightly's reference out")
    parser.add_argument(
        "--lightly-workers",
        type=int,
        default=None,
        help="its DataLoader workers (default: its examples' 8, at most the cores less one)",
    )
    return parser.parse_args(argv)


def settings_from(args: argparse.Namespace, runs_dir: Path) -> Settings:
    quick = args.quick
    return Settings(
        cap_s=1.0 if quick else args.cpu_minutes * 60,
        probes=1 if quick else args.probes,
        label_fraction=0.02 if quick else args.label_fraction,
        max_test=60 if quick else args.max_test,
        runs_dir=runs_dir,
        quick=quick,
        lightly=not args.no_lightly,
        lightly_workers=(
            0
            if quick
            else args.lightly_workers
            if args.lightly_workers is not None
            else lightly_ref.default_workers()
        ),
    )


def planned_methods(name: str, args: argparse.Namespace) -> list[str]:
    methods = list(PLAN[name].methods.values())
    if args.methods:
        methods = [m for m in methods if m in args.methods]
    return methods[:1] if args.quick else methods


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    apply_threads(args)
    started = time.perf_counter()
    rows: list[Row] = []
    facts: dict[str, tuple[ProbeSplit | None, float]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-quality-runs-") as runs:
        s = settings_from(args, Path(runs))
        for name in args.only or list(PLAN):
            methods = planned_methods(name, args)
            if not methods:
                continue
            found, split, raw = modality_rows(name, PLAN[name], methods, s, lambda m: print(m, flush=True))
            rows += found
            facts[name] = (split, raw)
    body = render(rows, facts, s, command_line("bench_time_to_quality.py", argv))
    body += (
        f"\n\nWhole benchmark: {time.perf_counter() - started:,.0f} s wall; load average {load_average()}."
    )
    publish(args, SECTION_ID, body, targets_of(rows, s))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
