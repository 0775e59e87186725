"""Multi-crop training throughput: DINO and SwAV images/s, the engine's batched crops against per-sample crops.

(a) engine:    `ssl_core.train.trainer.Trainer` on an npz of synthetic images, method "dino" or "swav" with its
               defaults: uint8 images resident on the device; the method's `MultiCrop`
               (ssl_core.augment.multicrop) makes the 2 global + N local crops of the whole batch on the
               device, each crop one `resized_crop` straight to its size and the colour ops of all N locals
               one batch; the method's own `training_step`; bf16 autocast where the CPU has native bf16 and
               channels_last. Timing starts after the warm-up steps; setup (data, model) is not timed.
(b) reference: DINO's `DataAugmentationDINO` pattern: a Dataset whose `__getitem__` applies, to one uint8 image,
               one torchvision.transforms.v2 pipeline per crop (RandomResizedCrop to the crop's size, flip,
               ColorJitter, grayscale, GaussianBlur, solarize) and returns the list of 2 + N crops; a
               DataLoader with 0 and 2 worker processes (the faster is kept, and named) collates them. The
               crops feed the same method module built from the same config (same initial weights): its
               MultiCrop is replaced by a stand-in that returns the loader's crops, so the loss, the teacher
               or prototypes and the updates after each step are the engine's own code; plain float32,
               AdamW + gradient clipping.

Both pipelines use the same recipes (read from the method's MultiCrop: the paper's recipes adapted to the
image size), the same crop sizes and counts, the same batch size and the same synthetic uint8 images held
in memory (the reference never decodes files). images/s counts source images (each becomes 2 + N crops).
On a CPU the reference's worker processes share the cores with the training process; that is how such a
pipeline runs on a CPU, and the share of time it waits for them is reported beside its numbers.

A second table times the crops alone (no model), a third where the first row's gain comes from (the
model's precision and memory format against the data path).

    python bench/bench_multicrop.py                # full run, writes RESULTS.md
    python bench/bench_multicrop.py --threads 1    # one torch thread in the training process
    python bench/bench_multicrop.py --quick        # one tiny iteration (smoke test), no results file
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch
from _common import (
    Target,
    add_common_args,
    apply_threads,
    command_line,
    items_per_second,
    machine_description,
    now,
    plural,
    publish,
    ratio,
    table,
)
from _common import rate_text as _f
from _common import sync as _sync
from _trainer_timing import PREFETCH, loader_warmup, trainer_rate
from torch import nn
from torch.utils.data import DataLoader, Dataset
from torchvision.transforms import v2

from ssl_core.augment import ViewRecipe
from ssl_core.augment.multicrop import MultiCrop
from ssl_core.config import RunConfig
from ssl_core.device import select_device
from ssl_core.methods.base import StepContext
from ssl_core.train.builder import build_components
from ssl_core.train.optim import resolve_hyper
from ssl_core.train.perf import training_autocast_dtype, use_channels_last

SECTION_ID = "bench_multicrop"
TARGET_RATIO = 2.0  # ten crops per image make the per-sample data path the bottleneck the engine removes
DEFAULT_CASES = ("dino:small_cnn", "swav:small_cnn", "dino:resnet18", "swav:resnet18")
QUICK_CASES = DEFAULT_CASES[:2]  # --quick without --cases: the small CNN rows only
GRAD_CLIP = 3.0  # the Trainer's default train.grad_clip, given to the reference too


@dataclass(frozen=True)
class Case:
    method: str
    backbone: str
    batch_size: int
    warmup: int
    steps: int


@dataclass
class Settings:
    device: torch.device
    image_size: int
    channels: int
    images: int
    workers: tuple[int, ...]
    seed: int
    quick: bool
    repeats: int
    batch_size: int
    warmup: int
    steps: int
    cases: tuple[tuple[str, str], ...]
    method_params: dict[str, str] = field(default_factory=dict)  # --param: the same settings for every case
    command: str = ""
    threads: int = 1
    engine_threads: list[int] = field(default_factory=list)


# ---- data ---------------------------------------------------------------------------------------------------
def synthetic_images(s: Settings) -> torch.Tensor:
    """(N, C, S, S) uint8 noise: decoding is not what is measured, so any pixels do."""
    g = torch.Generator().manual_seed(s.seed)
    shape = (s.images, s.channels, s.image_size, s.image_size)
    return torch.randint(0, 256, shape, dtype=torch.uint8, generator=g)


def save_npz(images: torch.Tensor, folder: Path) -> str:
    path = folder / "synthetic.npz"
    np.savez(path, images=images.permute(0, 2, 3, 1).numpy())  # (N, H, W, C), as image arrays are saved
    return f"npz:{path}"


def config_for(case: Case, spec: str, s: Settings, runs_dir: Path, **train) -> RunConfig:
    cfg = RunConfig()
    cfg.data.spec = spec
    cfg.data.val_fraction = 0.0
    cfg.method.name = case.method
    cfg.method.backbone = case.backbone
    cfg.method.params = dict(s.method_params)
    cfg.train.batch_size = case.batch_size
    cfg.train.max_steps = case.warmup + case.steps
    cfg.train.device = str(s.device)
    cfg.train.seed = s.seed
    cfg.runs_dir = str(runs_dir)
    for key, value in train.items():
        setattr(cfg.train, key, value)
    cfg.validate()
    return cfg


def components(case: Case, spec: str, s: Settings):
    """The method the Trainer builds for this case (same seed, same initial weights) and its hyperparameters."""
    cfg = config_for(case, spec, s, Path("unused"))
    parts = build_components(cfg)
    return parts.method, resolve_hyper(cfg, parts.spec, len(parts.train_idx))


# ---- the crops a method makes ----------------------------------------------------------------------------------
def multi_crop_of(method: nn.Module) -> tuple[str, MultiCrop]:
    """The method's one MultiCrop submodule and its name (where the reference puts its stand-in)."""
    found = [(name, m) for name, m in method.named_modules() if isinstance(m, MultiCrop)]
    if len(found) != 1:
        raise RuntimeError(
            f"{type(method).__name__} has {len(found)} MultiCrop submodules; the benchmark needs exactly one"
        )
    return found[0]


@dataclass(frozen=True)
class CropPlan:
    """What both pipelines make of each image: the recipes and sizes of the method's MultiCrop."""

    global_recipes: tuple[ViewRecipe, ViewRecipe]
    local_recipe: ViewRecipe
    n_local: int
    global_size: int
    local_size: int

    @classmethod
    def of(cls, crops: MultiCrop) -> CropPlan:
        g1, g2 = (aug.recipe for aug in crops.globals)
        return cls((g1, g2), crops.local.recipe, crops.n_local, crops.global_size, crops.local_size)

    def describe(self) -> str:
        text = f"2 x {self.global_size} px"
        return text + (f" + {self.n_local} x {self.local_size} px" if self.n_local else "")


def crop_transform(recipe: ViewRecipe, size: int) -> v2.Compose:
    """torchvision v2 on one uint8 image: the recipe's ops, the crop resized to `size` px (DINO's pattern)."""
    crop = v2.RandomResizedCrop(size, scale=recipe.crop_scale, ratio=recipe.crop_ratio, antialias=True)
    ops: list = [crop] if recipe.crop_p >= 1 else [v2.RandomApply([crop], p=recipe.crop_p), v2.Resize(size)]
    ops += [
        v2.RandomHorizontalFlip(recipe.hflip_p),
        v2.RandomApply(
            [v2.ColorJitter(recipe.brightness, recipe.contrast, recipe.saturation, recipe.hue)],
            p=recipe.jitter_p,
        ),
        v2.RandomGrayscale(recipe.grayscale_p),
    ]
    if recipe.blur_p > 0:
        blur = v2.GaussianBlur(recipe.blur_kernel_size(size), sigma=recipe.blur_sigma)
        ops.append(v2.RandomApply([blur], p=recipe.blur_p))
    if recipe.solarize_p > 0:
        ops.append(v2.RandomSolarize(threshold=round(255 * recipe.solarize_threshold), p=recipe.solarize_p))
    ops.append(v2.ToDtype(torch.float32, scale=True))
    if recipe.noise_p > 0:
        ops.append(v2.RandomApply([v2.GaussianNoise(sigma=recipe.noise_std)], p=recipe.noise_p))
    return v2.Compose(ops)


class PerSampleMultiCrop(Dataset):
    """Item i: [global_1, global_2, local_1..local_N] of image i, each made on its own by torchvision v2."""

    def __init__(self, images: torch.Tensor, plan: CropPlan) -> None:
        self.images = images
        self.n_local = plan.n_local
        self.globals = [crop_transform(r, plan.global_size) for r in plan.global_recipes]
        self.local = crop_transform(plan.local_recipe, plan.local_size)

    def __len__(self) -> int:
        return self.images.shape[0]

    def __getitem__(self, i: int) -> list[torch.Tensor]:
        img = self.images[i]
        return [t(img) for t in self.globals] + [self.local(img) for _ in range(self.n_local)]


class FedCrops(nn.Module):
    """Stands in for a method's MultiCrop in the reference: returns the crops the DataLoader made.

    It keeps the replaced module's sizes and counts, for methods that read them (`n_crops`)."""

    def __init__(self, replaced: MultiCrop) -> None:
        super().__init__()
        self.n_local, self.n_crops = replaced.n_local, replaced.n_crops
        self.global_size, self.local_size = replaced.global_size, replaced.local_size
        self.pending: list[torch.Tensor] | None = None

    def forward(self, x: torch.Tensor, generator: torch.Generator) -> list[torch.Tensor]:
        if self.pending is None:
            raise RuntimeError("the method asked for crops twice in one step")
        crops, self.pending = self.pending, None
        return crops


def feed_crops(method: nn.Module) -> FedCrops:
    """Replace the method's MultiCrop with a FedCrops and return it."""
    name, replaced = multi_crop_of(method)
    parent_name, _, leaf = name.rpartition(".")
    fed = FedCrops(replaced)
    setattr(method.get_submodule(parent_name) if parent_name else method, leaf, fed)
    return fed


def reference_batches(
    images: torch.Tensor, plan: CropPlan, batch_size: int, workers: int, s: Settings
) -> Iterator[list[torch.Tensor]]:
    cuda = s.device.type == "cuda"
    loader = DataLoader(
        PerSampleMultiCrop(images, plan),
        batch_size=batch_size,
        shuffle=True,
        drop_last=True,
        num_workers=workers,
        pin_memory=cuda,
        persistent_workers=workers > 0,
        prefetch_factor=PREFETCH if workers > 0 else None,
        generator=torch.Generator().manual_seed(s.seed),
    )
    while True:
        for crops in loader:
            yield [c.to(s.device, non_blocking=cuda) for c in crops]


# ---- (a) the engine and (b) the reference -----------------------------------------------------------------
def engine_rate(case: Case, spec: str, s: Settings, *, amp: bool = True) -> float:
    """Images per second of the Trainer's steps after the warm-up (from StepEnded time stamps)."""
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


@dataclass
class ReferenceResult:
    images_per_sec: float
    waiting: float  # share of the timed window spent waiting for the DataLoader
    workers: int


def reference_rate(
    case: Case, spec: str, images: torch.Tensor, s: Settings, workers: int, *, engine_precision: bool = False
) -> ReferenceResult:
    """Images per second of the method's own step on crops from the per-sample DataLoader.

    engine_precision: the model step as the engine runs it (its autocast dtype and channels_last), to
    separate the data path's share of the gain from the model's.
    """
    method, hyper = components(case, spec, s)
    plan = CropPlan.of(multi_crop_of(method)[1])
    fed = feed_crops(method)
    method.to(s.device).train()
    channels_last = engine_precision and use_channels_last(s.device)
    if channels_last:
        method.to(memory_format=torch.channels_last)
    params = [p for p in method.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=hyper.lr, weight_decay=hyper.weight_decay)
    dtype = training_autocast_dtype(s.device) if engine_precision else None
    generator = torch.Generator(device=s.device).manual_seed(s.seed)
    batches = reference_batches(images, plan, case.batch_size, workers, s)
    case = loader_warmup(case, workers)
    total = case.warmup + case.steps
    waited = start = 0.0
    try:
        for step in range(total):
            if step == case.warmup:
                _sync(s.device)
                start, waited = time.perf_counter(), 0.0
            before = time.perf_counter()
            crops = next(batches)
            waited += time.perf_counter() - before
            if channels_last:
                crops = [c.contiguous(memory_format=torch.channels_last) for c in crops]
            fed.pending = crops
            ctx = StepContext(step=step, total_steps=total, epoch=0, generator=generator)
            with torch.autocast(s.device.type, dtype=dtype or torch.float32, enabled=dtype is not None):
                loss = method.training_step(crops[0], ctx).loss  # the images argument only gives the batch
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, GRAD_CLIP)
            optimizer.step()
            method.after_optimizer_step(ctx)
        _sync(s.device)
        seconds = time.perf_counter() - start
    finally:
        batches.close()  # drops the DataLoader and so stops its workers
    return ReferenceResult(case.steps * case.batch_size / seconds, waited / seconds, workers)


# ---- the crops alone ---------------------------------------------------------------------------------------
def reference_crops_rate(
    images: torch.Tensor, plan: CropPlan, case: Case, s: Settings, workers: int
) -> float:
    batches = reference_batches(images, plan, case.batch_size, workers, s)
    warm = loader_warmup(case, workers)
    try:
        return items_per_second(lambda: next(batches), warm.warmup, warm.steps, case.batch_size, s.device)
    finally:
        batches.close()


def engine_crops_rate(images: torch.Tensor, crops: MultiCrop, case: Case, s: Settings) -> float:
    """Batches of resident uint8 images through the method's MultiCrop, as the Trainer feeds it."""
    resident = images.to(s.device)
    crops = crops.to(s.device)
    generator = torch.Generator(device=s.device).manual_seed(s.seed)

    def one() -> None:
        idx = torch.randint(0, len(resident), (case.batch_size,), generator=generator, device=s.device)
        with torch.no_grad():
            crops(resident.index_select(0, idx).float().div_(255.0), generator)

    return items_per_second(one, case.warmup, case.steps, case.batch_size, s.device)


# ---- the benchmark ------------------------------------------------------------------------------------------
@dataclass
class Row:
    case: Case
    plan: CropPlan
    references: dict[int, ReferenceResult]
    engine: float

    @property
    def best_reference(self) -> ReferenceResult:
        return max(self.references.values(), key=lambda r: r.images_per_sec)

    @property
    def speedup(self) -> float:
        return self.engine / self.best_reference.images_per_sec


def measure_row(case: Case, spec: str, images: torch.Tensor, s: Settings, plan: CropPlan) -> Row:
    """Reference (every worker count) and engine alternating, best of `repeats` for each: other work on a
    shared machine only ever slows a run down."""
    refs: dict[int, list[ReferenceResult]] = {w: [] for w in s.workers}
    engines = []
    for _ in range(s.repeats):
        for w in s.workers:
            refs[w].append(reference_rate(case, spec, images, s, w))
        engines.append(engine_rate(case, spec, s))
    best = {w: max(r, key=lambda x: x.images_per_sec) for w, r in refs.items()}
    return Row(case, plan, best, max(engines))


def crops_alone_rows(
    cases: list[Case], plans: dict[Case, CropPlan], images: torch.Tensor, spec: str, s: Settings
) -> list[list[str]]:
    """The crops alone (no model), once per method, for its first case's crop plan."""
    rows = []
    for method_name in dict.fromkeys(c.method for c in cases):
        case = next(c for c in cases if c.method == method_name)
        crops_case = replace(case, steps=case.steps * 5)
        rates = {w: reference_crops_rate(images, plans[case], crops_case, s, w) for w in s.workers}
        best_ref = max(rates.values())
        for w, rate in rates.items():
            name = f"reference: per-sample v2 + DataLoader, {plural(w, 'worker')}"
            rows.append([method_name, name, _f(rate), ratio(rate, best_ref)])
        engine = engine_crops_rate(images, multi_crop_of(components(case, spec, s)[0])[1], crops_case, s)
        name = "engine: batched MultiCrop on resident images"
        rows.append([method_name, name, _f(engine), f"**{ratio(engine, best_ref)}**"])
    return rows


def gain_rows(base: Row, images: torch.Tensor, spec: str, s: Settings) -> list[list[str]]:
    """Where the first row's gain comes from: the model step's precision against the data path, each
    variant measured round robin, best of `repeats`."""
    workers = base.best_reference.workers
    precision = training_autocast_dtype(s.device)
    label = (f"{str(precision).removeprefix('torch.')} autocast" if precision else "float32") + (
        ", channels_last" if use_channels_last(s.device) else ""
    )

    def reference(engine_precision: bool = False) -> float:
        return reference_rate(
            base.case, spec, images, s, workers, engine_precision=engine_precision
        ).images_per_sec

    variants: list[tuple[str, Callable[[], float]]] = [
        (f"reference: per-sample v2 + DataLoader ({plural(workers, 'worker')}), float32", reference)
    ]
    if precision is not None:
        variants.append((f"reference + the engine's model precision ({label})", lambda: reference(True)))
        variants.append(
            ("engine, float32 (train.amp = false)", lambda: engine_rate(base.case, spec, s, amp=False))
        )
    variants.append((f"engine defaults ({label})", lambda: engine_rate(base.case, spec, s)))
    best = dict.fromkeys((name for name, _ in variants), 0.0)
    for _ in range(s.repeats):
        for name, measure in variants:
            best[name] = max(best[name], measure())
    ref0 = next(iter(best.values()))
    return [[name, _f(v), ratio(v, ref0)] for name, v in best.items()]


def run(s: Settings, log: Callable[[str], None]) -> tuple[str, list[Target]]:
    cases = [Case(m, b, s.batch_size, s.warmup, s.steps) for m, b in s.cases]
    images = synthetic_images(s)
    with tempfile.TemporaryDirectory(prefix="bench-multicrop-") as tmp:
        spec = save_npz(images, Path(tmp))
        plans = {c: CropPlan.of(multi_crop_of(components(c, spec, s)[0])[1]) for c in cases}

        # 1. training steps, engine against reference.
        rows = []
        for case in cases:
            row = measure_row(case, spec, images, s, plans[case])
            rows.append(row)
            log(
                f"{case.method} {case.backbone}: reference "
                + ", ".join(
                    f"{plural(w, 'worker')} {r.images_per_sec:.1f}" for w, r in row.references.items()
                )
                + f"; engine {row.engine:.1f} images/s ({row.speedup:.2f}x)"
            )

        crop_rows = crops_alone_rows(cases, plans, images, spec, s)
        log("crops alone done")
        ablation_rows = gain_rows(rows[0], images, spec, s)
        log("ablation done")

    targets = [
        Target(
            "multi-crop training throughput",
            f"{r.case.method} {r.case.backbone}: engine >= {TARGET_RATIO}x per-sample multi-crop pipeline",
            f"{r.speedup:.2f}x ({_f(r.engine)} vs {_f(r.best_reference.images_per_sec)} images/s, reference "
            f"with {plural(r.best_reference.workers, 'worker')})",
            r.speedup >= TARGET_RATIO,
            "",
        )
        for r in rows
    ]
    return render(s, rows, crop_rows, ablation_rows), targets


def render(s: Settings, rows: list[Row], crop_rows, ablation_rows) -> str:
    threads = sorted(set(s.engine_threads)) or [s.threads]
    header = ["method", "backbone", "batch", "crops per image"]
    header += [f"reference images/s, {plural(w, 'worker')}" for w in s.workers]
    header += ["reference waiting", "engine images/s", "engine vs best reference"]
    body = []
    for r in rows:
        best = r.best_reference
        body.append(
            [r.case.method, r.case.backbone, r.case.batch_size, r.plan.describe()]
            + [_f(r.references[w].images_per_sec) for w in s.workers]
            + [f"{best.waiting:.0%}", _f(r.engine), f"**{r.speedup:.2f}x**"]
        )
    base = rows[0]
    isa = torch.backends.cpu.get_cpu_capability()
    lines = [
        f"## Multi-crop throughput: DINO and SwAV at {s.image_size} px",
        "",
        f"_{now()}; torch threads: engine {threads}, reference {s.threads}; ATen CPU kernels: {isa}._",
        "",
        machine_description(s.device),
        "",
        f"`{s.command}`. Synthetic {s.images:,} random {s.image_size}x{s.image_size} uint8 images with "
        f"{plural(s.channels, 'channel')}, held in memory by both pipelines. The engine is the real `Trainer` "
        "(crops by the method's batched `MultiCrop` on the device); the reference is DINO's "
        "`DataAugmentationDINO` pattern: per-sample torchvision v2, one pipeline per crop, in a DataLoader, "
        "feeding the same method module (its MultiCrop replaced by the loader's crops) in plain float32 with "
        f"AdamW + gradient clipping. Same recipes, crop sizes and batch; {s.warmup} warm-up and {s.steps} timed "
        f"steps per run, best of {s.repeats}, reference and engine alternating. images/s counts source "
        "images (each gives all its crops); 'waiting' is the best reference's share of time spent waiting "
        "for its DataLoader.",
        "",
        table(header, body, "llrl" + "r" * (len(header) - 4)),
        "",
        "### The crops alone (no model)",
        "",
        table(["method", "pipeline", "images/s", "vs best reference"], crop_rows, "llrr"),
        "",
        f"### Where the gain comes from ({base.case.method}, {base.case.backbone}): model precision against "
        "the data path",
        "",
        table(["pipeline", "images/s", "vs reference"], ablation_rows, "lrr"),
    ]
    return "\n".join(lines).rstrip("\n")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--image-size", type=int, default=32, help="side of the synthetic images (default 32)")
    p.add_argument("--channels", type=int, default=3, help="channels of the synthetic images (default 3)")
    p.add_argument("--images", type=int, default=4096, help="synthetic images (default 4096)")
    p.add_argument("--batch-size", type=int, default=64, help="batch size of both pipelines (default 64)")
    p.add_argument("--steps", type=int, default=6, help="timed steps per run (default 6)")
    p.add_argument("--warmup", type=int, default=2, help="untimed steps first (default 2)")
    p.add_argument(
        "--workers", type=int, nargs="+", default=[0, 2], help="reference worker counts (default 0 2)"
    )
    p.add_argument(
        "--cases",
        nargs="+",
        default=None,
        help=f"METHOD:BACKBONE rows (default {' '.join(DEFAULT_CASES)}; --quick: the small_cnn ones)",
    )
    p.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a method setting for every case, e.g. n_local=6 or encoder=vit (repeatable)",
    )
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, mps")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--repeats", type=int, default=2, help="best of this many runs per row (default 2)")
    add_common_args(p)
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.warmup < 1 or args.steps < 1 or args.repeats < 1:
        raise SystemExit("--warmup, --steps and --repeats must be at least 1")
    if args.image_size < 8 or args.channels < 1 or args.images < 2:
        raise SystemExit("--image-size must be at least 8, --channels at least 1 and --images at least 2")
    apply_threads(args)
    quick = args.quick
    cases = tuple(tuple(c.split(":", 1)) for c in args.cases or (QUICK_CASES if quick else DEFAULT_CASES))
    if any(len(c) != 2 for c in cases):
        raise SystemExit("--cases takes METHOD:BACKBONE pairs, e.g. dino:small_cnn")
    if any("=" not in p for p in args.param):
        raise SystemExit("--param takes KEY=VALUE, e.g. n_local=6")
    batch = 8 if quick else args.batch_size
    s = Settings(
        device=select_device(args.device),
        image_size=16 if quick else args.image_size,
        channels=args.channels,
        images=4 * batch if quick else max(args.images, 2 * batch),
        workers=tuple(dict.fromkeys(args.workers)),
        seed=args.seed,
        quick=quick,
        repeats=1 if quick else args.repeats,
        batch_size=batch,
        warmup=1 if quick else args.warmup,
        steps=1 if quick else args.steps,
        cases=cases,
        method_params=dict(p.split("=", 1) for p in args.param),
        threads=torch.get_num_threads(),
    )
    s.command = command_line("bench_multicrop.py", argv)
    body, targets = run(s, lambda m: print(m, flush=True))
    publish(args, SECTION_ID, body, targets)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
