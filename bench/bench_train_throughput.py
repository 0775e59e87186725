"""Training throughput at 32 px: this engine's real Trainer against the way SSL libraries feed a model.

(a) engine:    `ssl_core.train.trainer.Trainer` on an npz of synthetic images, with its defaults: uint8
               images resident on the device, two views made by BatchAugment on the device, the method's
               own `training_step`, bf16 autocast where the CPU has native bf16 (AMX / AVX512-BF16) and
               channels_last. Timing starts after the warm-up steps; setup (data, model) is not timed.
(b) reference: per-sample torchvision.transforms.v2 (RandomResizedCrop, flip, ColorJitter, grayscale,
               GaussianBlur, solarize) in a DataLoader with worker processes, as lightly / solo-learn do,
               feeding the same method modules and loss in plain PyTorch, float32, default memory format,
               one forward per view, AdamW + gradient clipping like the engine.
(c) lightly:   lightly's documented SimCLR / BYOL pipeline (bench/_lightly_reference.py: its transforms on
               PIL images, a DataLoader, its heads, losses and SGD as its examples train CIFAR-10) on the
               same backbone, at its own defaults and with channels_last. Needs the optional `bench` extra
               (`pip install -e .[bench]`); without lightly its rows are skipped with a note.

Methods: SimCLR and BYOL with the small CNN and ResNet-18, and MAE (which always uses its own ViT).
Both pipelines get the same batch size, the same synthetic uint8 images (held in memory, so the
reference never decodes files) and the same view parameters (`recipe.scaled_for(32)`). Throughput
counts source images per second (each becomes two views). On a CPU the reference's DataLoader workers
share the cores with the training process; that is how such a pipeline runs on a CPU, and it is
reported (time spent waiting for batches) next to the numbers.

Further tables: where the engine's gain comes from (float32 vs bf16, memory format, torch.compile, and
the reference given the engine's model settings), where a step's time goes, views alone, one forward of
both views against one per view, and whether bf16 is numerically fine (digits: loss and kNN accuracy).

    python bench/bench_train_throughput.py                # full run (~15 min on 2 cores), writes RESULTS.md
    python bench/bench_train_throughput.py --threads 1    # one torch thread in the training process
    python bench/bench_train_throughput.py --quick        # one tiny iteration (smoke test)
    python bench/bench_train_throughput.py --only mae     # only MAE's rows: throughput, step time, attention
    python bench/bench_train_throughput.py --no-lightly   # without lightly's rows (also when not installed)

The section states the instruction set it ran with. bench/bench_train_isas.py (what `make bench` runs) runs
this twice, natively and restricted to AVX2 (torch's AVX2 kernels, and the engine in float32, as on a CPU
without native bf16), each into its own section, and puts the two side by side. By hand:

    ONEDNN_MAX_CPU_ISA=AVX2 ATEN_CPU_CAPABILITY=avx2 python bench/bench_train_throughput.py \
        --section-id bench_train_throughput_avx2
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import _lightly_reference as lightly_ref
import numpy as np
import torch
from _common import (
    ROOFLINE_COLUMNS,
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
from _common import (
    sync as _sync,
)
from torch.utils.data import DataLoader, Dataset
from torchvision.transforms import v2

import ssl_core.train.trainer as trainer_module
from ssl_core.augment import ViewRecipe, byol_views, simclr_views
from ssl_core.config import RunConfig
from ssl_core.data.base import DataInfo, TensorSource
from ssl_core.device import select_device
from ssl_core.losses import byol_loss, nt_xent
from ssl_core.methods.base import SSLMethod, StepContext
from ssl_core.train.builder import build_components
from ssl_core.train.events import RunFailed, StepEnded
from ssl_core.train.optim import resolve_hyper
from ssl_core.train.perf import training_autocast_dtype, use_channels_last

SECTION_ID = "bench_train_throughput"
IMAGE_SIZE = 32
CHANNELS = 3
TARGET_RATIO = 2.0


@dataclass(frozen=True)
class Case:
    method: str
    backbone: str
    batch_size: int
    warmup: int
    steps: int

    @property
    def label(self) -> str:
        return "ViT (MAE's own encoder)" if self.method == "mae" else self.backbone


@dataclass
class Settings:
    device: torch.device
    images: int
    workers: int
    seed: int
    quick: bool
    compile: bool
    numerics_epochs: int
    repeats: int = 2
    command: str = ""
    only: tuple[str, ...] = ()  # --only: measure just these methods and skip the SimCLR-only sections
    lightly: bool = True  # --no-lightly: leave lightly's reference out even where it is installed
    lightly_workers: int = 0  # its DataLoader's worker processes
    backbones: tuple[str, ...] = ()  # --backbones: only these backbones' rows
    section_id: str = SECTION_ID  # --section-id: where in the results file (bench_train_isas: one per ISA)


# ---- data ---------------------------------------------------------------------------------------------
def synthetic_images(n: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (n, CHANNELS, IMAGE_SIZE, IMAGE_SIZE), dtype=torch.uint8, generator=g)


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
    cfg.train.batch_size = case.batch_size
    cfg.train.max_steps = case.warmup + case.steps
    cfg.train.device = str(s.device)
    cfg.train.seed = s.seed
    cfg.runs_dir = str(runs_dir)
    for key, value in train.items():
        setattr(cfg.train, key, value)
    cfg.validate()
    return cfg


def in_memory_components(case: Case, images: torch.Tensor, s: Settings):
    """The method (same seed, same initial weights as the trainer builds) and its hyperparameters."""
    info = DataInfo("synthetic", "synthetic", len(images), CHANNELS, IMAGE_SIZE, IMAGE_SIZE, False)
    cfg = config_for(case, "synthetic", s, Path("unused"))
    parts = build_components(cfg, source=TensorSource(images, None, info))
    hyper = resolve_hyper(cfg, parts.spec, len(parts.train_idx))
    return parts.method, hyper


# ---- (a) the engine: the real Trainer --------------------------------------------------------------------
@contextlib.contextmanager
def channels_last_in_trainer(enabled: bool) -> Iterator[None]:
    """Ablation only: make the trainer keep the default memory format."""
    original = trainer_module.use_channels_last
    if not enabled:
        trainer_module.use_channels_last = lambda device: False
    try:
        yield
    finally:
        trainer_module.use_channels_last = original


@dataclass
class EngineResult:
    images_per_sec: float
    first_step_s: float  # from the run's start to the end of the first step (includes compilation)


def engine_rate(
    case: Case, spec: str, s: Settings, *, amp: bool = True, channels_last: bool = True, compile: bool = False
) -> EngineResult:
    with tempfile.TemporaryDirectory(prefix="bench-runs-") as runs:
        cfg = config_for(case, spec, s, Path(runs), amp=amp, compile=compile)
        stamps: list[float] = []
        failures: list[str] = []
        trainer = trainer_module.Trainer(cfg)

        def on_event(event) -> None:
            if isinstance(event, StepEnded):
                if s.device.type == "cuda":
                    torch.cuda.synchronize(s.device)
                stamps.append(time.perf_counter())
            elif isinstance(event, RunFailed):
                failures.append(event.message)

        trainer.events.subscribe(on_event)
        with channels_last_in_trainer(channels_last):
            start = time.perf_counter()
            trainer.run()
        if failures or len(stamps) != case.warmup + case.steps:
            raise RuntimeError(f"engine run of {case} failed: {failures or stamps}")
    seconds = stamps[-1] - stamps[case.warmup - 1]
    return EngineResult(case.steps * case.batch_size / seconds, stamps[0] - start)


def engine_views_rate(case: Case, images: torch.Tensor, s: Settings) -> float:
    """Two BatchAugment views of resident uint8 batches, without the model ('views only')."""
    method, _ = in_memory_components(case, images, s)
    method.to(s.device)
    resident = images.to(s.device)
    generator = torch.Generator(device=s.device).manual_seed(s.seed)

    def one() -> None:
        idx = torch.randint(0, len(resident), (case.batch_size,), generator=generator, device=s.device)
        method.make_views(resident.index_select(0, idx).float().div_(255.0), generator)

    return _rate(one, case, s)


@contextlib.contextmanager
def every_sample_augmented() -> Iterator[None]:
    """Ablation only: compute jitter and blur for every sample and select with torch.where, as on a GPU."""
    from ssl_core.augment import functional as AF
    from ssl_core.augment import pipeline

    original = pipeline._apply_where
    pipeline._apply_where = lambda mask, x, op: AF.select(mask, op(x, slice(None)), x)
    try:
        yield
    finally:
        pipeline._apply_where = original


# ---- (b) the reference: per-sample torchvision v2 in DataLoader workers ----------------------------------
def reference_transform(recipe: ViewRecipe) -> v2.Compose:
    """torchvision v2 on one uint8 image, with the same parameters as the engine's recipe."""
    kernel = recipe.blur_kernel_size(IMAGE_SIZE)
    ops: list = [
        v2.RandomResizedCrop(IMAGE_SIZE, scale=recipe.crop_scale, ratio=recipe.crop_ratio, antialias=True),
        v2.RandomHorizontalFlip(recipe.hflip_p),
        v2.RandomApply(
            [v2.ColorJitter(recipe.brightness, recipe.contrast, recipe.saturation, recipe.hue)],
            p=recipe.jitter_p,
        ),
        v2.RandomGrayscale(recipe.grayscale_p),
    ]
    if recipe.blur_p > 0:
        ops.append(v2.RandomApply([v2.GaussianBlur(kernel, sigma=recipe.blur_sigma)], p=recipe.blur_p))
    if recipe.solarize_p > 0:
        ops.append(v2.RandomSolarize(threshold=round(255 * recipe.solarize_threshold), p=recipe.solarize_p))
    ops.append(v2.ToDtype(torch.float32, scale=True))
    return v2.Compose(ops)


class ViewsDataset(Dataset):
    """Item i: one float tensor per transform, each applied to image i on its own (per-sample)."""

    def __init__(self, images: torch.Tensor, transforms: list[Callable]) -> None:
        self.images, self.transforms = images, transforms

    def __len__(self) -> int:
        return self.images.shape[0]

    def __getitem__(self, i: int) -> tuple[torch.Tensor, ...]:
        img = self.images[i]
        return tuple(t(img) for t in self.transforms)


def _simclr_step(method: SSLMethod, batch: tuple[torch.Tensor, ...], ctx: StepContext) -> torch.Tensor:
    v1, v2_ = batch
    z1 = method.projector(method.backbone(v1))
    z2 = method.projector(method.backbone(v2_))
    return nt_xent(z1, z2, method.hparams["temperature"])


def _byol_step(method: SSLMethod, batch: tuple[torch.Tensor, ...], ctx: StepContext) -> torch.Tensor:
    v1, v2_ = batch
    p1 = method.predictor(method.projector(method.backbone(v1)))
    p2 = method.predictor(method.projector(method.backbone(v2_)))
    with torch.no_grad():
        t1 = method.target_projector(method.target_backbone(v1))
        t2 = method.target_projector(method.target_backbone(v2_))
    return (byol_loss(p1, t2) + byol_loss(p2, t1)) / 2


def _mae_step(method: SSLMethod, batch: tuple[torch.Tensor, ...], ctx: StepContext) -> torch.Tensor:
    return method.training_step(batch[0], ctx).loss  # MAE only masks patches: no views to make


def _identity_transforms() -> list[Callable]:
    return [v2.ToDtype(torch.float32, scale=True)]


# method -> (per-sample transforms of its views, plain-PyTorch loss on the loader's batch)
REFERENCE: dict[str, tuple[Callable[[], list[Callable]], Callable]] = {
    "simclr": (lambda: [reference_transform(r.scaled_for(IMAGE_SIZE)) for r in simclr_views()], _simclr_step),
    "byol": (lambda: [reference_transform(r.scaled_for(IMAGE_SIZE)) for r in byol_views()], _byol_step),
    "mae": (_identity_transforms, _mae_step),
}


def reference_batches(case: Case, images: torch.Tensor, s: Settings) -> Iterator[tuple[torch.Tensor, ...]]:
    transforms, _ = REFERENCE[case.method]
    cuda = s.device.type == "cuda"
    loader = DataLoader(
        ViewsDataset(images, transforms()),
        batch_size=case.batch_size,
        shuffle=True,
        drop_last=True,
        num_workers=s.workers,
        pin_memory=cuda,
        persistent_workers=s.workers > 0,
        generator=torch.Generator().manual_seed(s.seed),
    )
    while True:
        for batch in loader:
            yield tuple(t.to(s.device, non_blocking=cuda) for t in batch)


@dataclass
class ReferenceResult:
    images_per_sec: float
    waiting: float  # share of the timed window spent waiting for the DataLoader


def reference_rate(
    case: Case, images: torch.Tensor, s: Settings, *, bf16: bool = False, channels_last: bool = False
) -> ReferenceResult:
    method, hyper = in_memory_components(case, images, s)
    method.to(s.device).train()
    if channels_last:
        method.to(memory_format=torch.channels_last)
    optimizer = torch.optim.AdamW(
        [p for p in method.parameters() if p.requires_grad], lr=hyper.lr, weight_decay=hyper.weight_decay
    )
    _, loss_fn = REFERENCE[case.method]
    generator = torch.Generator(device=s.device).manual_seed(s.seed)
    dtype = training_autocast_dtype(s.device) if bf16 else None
    batches = reference_batches(case, images, s)
    total = case.warmup + case.steps
    waited = 0.0
    start = 0.0
    for step in range(total):
        if step == case.warmup:
            _sync(s.device)
            start, waited = time.perf_counter(), 0.0
        before = time.perf_counter()
        batch = next(batches)
        waited += time.perf_counter() - before
        if channels_last:
            batch = tuple(b.contiguous(memory_format=torch.channels_last) for b in batch)
        ctx = StepContext(step=step, total_steps=total, epoch=0, generator=generator)
        with torch.autocast(s.device.type, dtype=dtype or torch.float32, enabled=dtype is not None):
            loss = loss_fn(method, batch, ctx)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(method.parameters(), 3.0)
        optimizer.step()
        method.after_optimizer_step(ctx)
    _sync(s.device)
    seconds = time.perf_counter() - start
    return ReferenceResult(case.steps * case.batch_size / seconds, waited / seconds)


def reference_views_rate(case: Case, images: torch.Tensor, s: Settings) -> float:
    batches = reference_batches(case, images, s)
    return _rate(lambda: next(batches), case, s)


# ---- (c) lightly's documented pipeline ------------------------------------------------------------------------
def lightly_case_rate(
    case: Case, images: torch.Tensor, s: Settings, *, channels_last: bool = False
) -> lightly_ref.LightlyResult:
    """lightly's pipeline for `case`, on the engine's backbone with the engine's initial weights."""
    method, _ = in_memory_components(case, images, s)
    return lightly_ref.lightly_rate(
        case.method,
        method.backbone,
        method.feature_dim,
        images,
        batch_size=case.batch_size,
        warmup=case.warmup,
        steps=case.steps,
        workers=s.lightly_workers,
        device=s.device,
        seed=s.seed,
        channels_last=channels_last,
    )


def lightly_target(case: Case, s: Settings) -> tuple[float, str]:
    """Issue 17's target against lightly: >= 3x where the engine trains in bf16 (AMX / AVX512-BF16), else
    (float32, e.g. the AVX2 path) >= 2x with the small CNN and >= 1.5x with ResNet-18."""
    if training_autocast_dtype(s.device) == torch.bfloat16:
        return 3.0, "bf16 path"
    return (1.5 if case.backbone == "resnet18" else 2.0), "float32 path"


# ---- where a step's time goes ----------------------------------------------------------------------------
def engine_step_parts(case: Case, images: torch.Tensor, s: Settings):
    """(method, AdamW, autocast dtype or None, channels_last?) set up as the trainer sets them up."""
    method, hyper = in_memory_components(case, images, s)
    method.to(s.device).train()
    cl = use_channels_last(s.device)
    if cl:
        method.to(memory_format=torch.channels_last)
    optimizer = torch.optim.AdamW([p for p in method.parameters() if p.requires_grad], lr=hyper.lr)
    return method, optimizer, training_autocast_dtype(s.device), cl


def phase_profile(case: Case, images: torch.Tensor, s: Settings) -> dict[str, float]:
    """Seconds per step of each phase of the trainer's step, with the engine's settings."""
    method, optimizer, dtype, cl = engine_step_parts(case, images, s)
    resident = images.to(s.device)
    generator = torch.Generator(device=s.device).manual_seed(s.seed)
    phases = dict.fromkeys(("views", "forward + loss", "backward", "optimizer"), 0.0)
    total = case.warmup + case.steps
    for step in range(total):
        idx = torch.randint(0, len(resident), (case.batch_size,), generator=generator, device=s.device)
        x = resident.index_select(0, idx).float().div_(255.0)
        if cl:
            x = x.contiguous(memory_format=torch.channels_last)
        ctx = StepContext(step=step, total_steps=total, epoch=0, generator=generator)
        marks = [time.perf_counter()]
        with torch.autocast(s.device.type, dtype=dtype or torch.float32, enabled=dtype is not None):
            if hasattr(method, "make_views"):  # timed on its own, then again inside training_step
                method.make_views(x, generator)
            _sync(s.device)
            marks.append(time.perf_counter())
            out = method.training_step(x, ctx)
        _sync(s.device)
        marks.append(time.perf_counter())
        optimizer.zero_grad(set_to_none=True)
        out.loss.backward()
        _sync(s.device)
        marks.append(time.perf_counter())
        torch.nn.utils.clip_grad_norm_(method.parameters(), 3.0)
        optimizer.step()
        method.after_optimizer_step(ctx)
        _sync(s.device)
        marks.append(time.perf_counter())
        if step >= case.warmup:
            views = marks[1] - marks[0]
            phases["views"] += views
            phases["forward + loss"] += marks[2] - marks[1] - views
            phases["backward"] += marks[3] - marks[2]
            phases["optimizer"] += marks[4] - marks[3]
    return {k: v / case.steps for k, v in phases.items()}


@dataclass
class Roofline:
    """How close one engine training step runs to what a large matrix product reaches on this machine."""

    step: str
    gflop: float  # forward + backward FLOPs of one step (torch.utils.flop_counter; convolutions and matmuls)
    seconds: float  # one step, best of 2
    conv_share: float  # share of the step's operator time in convolutions (forward and backward)
    norm_share: float  # in BatchNorm and ReLU (forward and backward): the memory-bound elementwise work
    gemm_gflops: float  # a 2048 x 2048 matrix product in the step's precision, same threads

    @property
    def gflops(self) -> float:
        return self.gflop / self.seconds


def gemm_gflops(device: torch.device, dtype: torch.dtype, n: int = 2048) -> float:
    """GFLOP/s of an n x n matrix product: about the most this core (and thread count) does in `dtype`."""
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    best = float("inf")
    for _ in range(4):
        _sync(device)
        start = time.perf_counter()
        a @ b
        _sync(device)
        best = min(best, time.perf_counter() - start)
    return 2 * n**3 / best / 1e9


def model_step_roofline(case: Case, images: torch.Tensor, s: Settings) -> Roofline:
    """One engine step (views, forward, backward, AdamW) with the engine's precision and memory format:
    its FLOPs, time, achieved GFLOP/s against a large matrix product's, and where its operator time goes."""
    from torch.profiler import ProfilerActivity, profile
    from torch.utils.flop_counter import FlopCounterMode

    method, optimizer, dtype, cl = engine_step_parts(case, images, s)
    generator = torch.Generator(device=s.device).manual_seed(s.seed)
    x = images[: case.batch_size].to(s.device).float().div_(255.0)
    if cl:
        x = x.contiguous(memory_format=torch.channels_last)

    def step(i: int) -> None:
        ctx = StepContext(step=i, total_steps=8, epoch=0, generator=generator)
        with torch.autocast(s.device.type, dtype=dtype or torch.float32, enabled=dtype is not None):
            loss = method.training_step(x, ctx).loss
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        _sync(s.device)

    step(0)
    counter = FlopCounterMode(display=False)
    with counter:
        step(1)
    seconds = float("inf")
    for i in (2, 3):
        start = time.perf_counter()
        step(i)
        seconds = min(seconds, time.perf_counter() - start)
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        step(4)
    times = {e.key: e.self_cpu_time_total for e in prof.key_averages()}
    total = sum(times.values()) or 1.0
    conv = sum(v for k, v in times.items() if "convolution" in k) / total
    norm_ops = ("batch_norm", "threshold_backward", "relu", "clamp_min")
    norm = sum(v for k, v in times.items() if any(op in k for op in norm_ops)) / total
    return Roofline(
        f"{case.method} {case.label}, batch {case.batch_size}",
        counter.get_total_flops() / 1e9,
        seconds,
        conv,
        norm,
        gemm_gflops(s.device, dtype or torch.float32, n=256 if s.quick else 2048),
    )


def roofline_rows(rows: list[Roofline]) -> list[list[str]]:
    return [
        [r.step, f"{r.gflop:,.0f}", f"{r.seconds * 1000:,.0f}", f"{r.gflops:,.1f}", f"{r.gemm_gflops:,.1f}",
         f"{r.gflops / r.gemm_gflops:.0%}", f"{r.conv_share:.0%}", f"{r.norm_share:.0%}"]
        for r in rows
    ]  # fmt: skip


def concat_vs_separate(case: Case, images: torch.Tensor, s: Settings) -> dict[str, float]:
    """images/s of SimCLR's model step with one forward of both views (2B) against one per view."""
    method, hyper = in_memory_components(case, images, s)
    method.to(s.device).train()
    if use_channels_last(s.device):
        method.to(memory_format=torch.channels_last)
    optimizer = torch.optim.AdamW(method.parameters(), lr=hyper.lr)
    dtype = training_autocast_dtype(s.device)
    g = torch.Generator().manual_seed(s.seed)
    x1 = torch.rand(case.batch_size, CHANNELS, IMAGE_SIZE, IMAGE_SIZE, generator=g).to(s.device)
    x2 = torch.rand(case.batch_size, CHANNELS, IMAGE_SIZE, IMAGE_SIZE, generator=g).to(s.device)
    out = {}
    for label, joint in (
        ("one forward per view (per-view BN statistics)", False),
        ("one forward of both views", True),
    ):

        def step(joint: bool = joint) -> None:
            with torch.autocast(s.device.type, dtype=dtype or torch.float32, enabled=dtype is not None):
                if joint:
                    z1, z2 = method.projector(method.backbone(torch.cat([x1, x2]))).chunk(2)
                else:
                    z1, z2 = method.projector(method.backbone(x1)), method.projector(method.backbone(x2))
                loss = nt_xent(z1, z2, 0.5)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()

        out[label] = _rate(step, case, s)
    return out


# ---- ViT attention on the CPU ------------------------------------------------------------------------------
def attention_ms(
    tokens: int, heads: int, dim: int, batch: int, bf16: bool, fused: bool, repeats: int
) -> float:
    """Forward + backward milliseconds of one attention call (MAE encoder/decoder shapes)."""
    import torch.nn.functional as F

    from ssl_core.models.vit import attention_matmul

    g = torch.Generator().manual_seed(0)
    q, k, v = (
        torch.randn(batch, heads, tokens, dim // heads, generator=g).requires_grad_() for _ in range(3)
    )

    def once() -> None:
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            if fused:
                out = F.scaled_dot_product_attention(q, k, v)
            else:  # what ssl_core.models.vit.Attention does on a CPU under bf16
                out = attention_matmul(q, k, v)
        out.float().sum().backward()

    once()
    start = time.perf_counter()
    for _ in range(repeats):
        once()
    return (time.perf_counter() - start) / repeats * 1000


def attention_rows(s: Settings) -> list[list[str]]:
    batch, repeats = (16, 1) if s.quick else (256, 5)
    rows = []
    for where, tokens, heads, dim in (
        ("encoder (16 visible tokens)", 16, 3, 192),
        ("decoder (64 tokens)", 64, 4, 128),
    ):
        for bf16 in (False, True):
            fused = attention_ms(tokens, heads, dim, batch, bf16, True, repeats)
            ours = attention_ms(tokens, heads, dim, batch, bf16, False, repeats)
            rows.append(
                [
                    where,
                    "bf16" if bf16 else "float32",
                    f"{fused:.1f}",
                    f"{ours:.1f}",
                    ratio(ours, fused, False),
                ]
            )
    return rows


# ---- bf16 numerics on real images ---------------------------------------------------------------------
@dataclass
class Numerics:
    precision: str
    final_loss: float
    knn_accuracy: float
    seconds: float


def numerics_run(amp: bool, s: Settings, runs_dir: Path) -> Numerics:
    """SimCLR + small CNN on the bundled digits through the Trainer; kNN accuracy of its features."""
    from sklearn.model_selection import cross_val_score
    from sklearn.neighbors import KNeighborsClassifier

    from ssl_core.runs.checkpoint import load_checkpoint

    cfg = RunConfig()
    cfg.data.spec = "digits"
    cfg.method.name = "simclr"
    cfg.train.epochs = s.numerics_epochs
    cfg.train.device = str(s.device)
    cfg.train.amp = amp
    cfg.train.seed = s.seed
    cfg.runs_dir = str(runs_dir)
    losses: list[float] = []
    trainer = trainer_module.Trainer(cfg)
    trainer.events.subscribe(lambda e: losses.append(e.loss) if isinstance(e, StepEnded) else None)
    start = time.perf_counter()
    result = trainer.run()
    seconds = time.perf_counter() - start
    if result.status != "completed":
        raise RuntimeError(f"numerics run failed: {result.message}")
    parts = build_components(cfg)
    parts.method.load_state_dict(load_checkpoint(result.run_dir / "checkpoints" / "last.pt")["model"])
    images, labels = parts.source.read(torch.arange(len(parts.source)))
    with torch.no_grad():
        features = parts.method.eval().encode(images.float().div(255.0)).numpy()
    knn = cross_val_score(KNeighborsClassifier(5), features, labels.numpy(), cv=5).mean()
    tail = losses[-max(1, len(losses) // 10) :]  # mean of the last tenth: less noisy than the last step
    label = "float32" if not amp else str(training_autocast_dtype(s.device, True)).removeprefix("torch.")
    return Numerics(label, float(np.mean(tail)), float(knn), seconds)


# ---- helpers ------------------------------------------------------------------------------------------
def _rate(fn: Callable[[], object], case: Case, s: Settings) -> float:
    return items_per_second(fn, case.warmup, case.steps, case.batch_size, s.device)


def _f(value: float) -> str:
    return f"{value:,.0f}" if value >= 10 else f"{value:.1f}"


# ---- the benchmark ------------------------------------------------------------------------------------
def cases(quick: bool) -> list[Case]:
    if quick:
        return [
            Case("simclr", "small_cnn", 16, 1, 1),
            Case("byol", "small_cnn", 16, 1, 1),
            Case("mae", "small_cnn", 16, 1, 1),
        ]
    return [
        Case("simclr", "small_cnn", 256, 2, 8),
        Case("byol", "small_cnn", 256, 2, 8),
        Case("mae", "small_cnn", 256, 2, 8),
        # ResNet-18 at 32 px costs ~20x the small CNN per image on a CPU: a smaller batch, fewer steps.
        Case("simclr", "resnet18", 128, 1, 3),
        Case("byol", "resnet18", 128, 1, 3),
    ]


def run(s: Settings, log: Callable[[str], None]) -> tuple[str, list[Target], dict]:
    """(the section's Markdown, its targets, the measured numbers for --json: `records`, one per row,
    and `roofline`, the model-step profile)."""
    images = synthetic_images(s.images, s.seed)
    precision = training_autocast_dtype(s.device, True)
    engine_label = (f"{str(precision).removeprefix('torch.')} autocast" if precision else "float32") + (
        ", channels_last" if use_channels_last(s.device) else ""
    )
    targets: list[Target] = []
    with tempfile.TemporaryDirectory(prefix="bench-train-") as tmp:
        spec = save_npz(images, Path(tmp))
        # 1. engine vs reference for every method and backbone (or those --only names).
        selected = [
            c
            for c in cases(s.quick)
            if (not s.only or c.method in s.only) and (not s.backbones or c.backbone in s.backbones)
        ]
        lightly_note = lightly_ref.missing() if s.lightly else "left out (--no-lightly)"
        if lightly_note is not None:
            log(f"lightly's reference rows skipped: {lightly_note}")
        main_rows, lightly_rows, records = [], [], []
        for case in selected:
            # Best of `repeats`, alternating the references and the engine: other work on a shared machine
            # only ever slows a measurement down, and alternating spreads it over all of them.
            with_lightly = lightly_note is None and case.method in lightly_ref.METHODS
            refs, engs, lights, lights_cl = [], [], [], []
            for _ in range(s.repeats):
                refs.append(reference_rate(case, images, s))
                if with_lightly:
                    lights.append(lightly_case_rate(case, images, s))
                    lights_cl.append(lightly_case_rate(case, images, s, channels_last=True))
                engs.append(engine_rate(case, spec, s))
            ref = max(refs, key=lambda r: r.images_per_sec)
            eng = max(engs, key=lambda r: r.images_per_sec)
            log(
                f"{case.method} {case.label}: reference {ref.images_per_sec:.1f}, engine {eng.images_per_sec:.1f} img/s"
            )
            speedup = eng.images_per_sec / ref.images_per_sec
            record = {
                "method": case.method, "backbone": case.label, "batch": case.batch_size,
                "reference": ref.images_per_sec, "reference_waiting": ref.waiting, "engine": eng.images_per_sec,
            }  # fmt: skip
            records.append(record)
            main_rows.append(
                [case.method, case.label, case.batch_size, _f(ref.images_per_sec), f"{ref.waiting:.0%}",
                 _f(eng.images_per_sec), f"**{speedup:.2f}x**"]
            )  # fmt: skip
            targets.append(
                Target(
                    "training throughput",
                    f"{case.method} {case.label}: engine >= {TARGET_RATIO:.0f}x reference",
                    f"{speedup:.2f}x ({_f(eng.images_per_sec)} vs {_f(ref.images_per_sec)} images/s)",
                    speedup >= TARGET_RATIO,
                )
            )
            if with_lightly:
                light = max(lights, key=lambda r: r.images_per_sec)
                light_cl = max(lights_cl, key=lambda r: r.images_per_sec)
                log(
                    f"{case.method} {case.label}: lightly {light.images_per_sec:.1f}, lightly + channels_last "
                    f"{light_cl.images_per_sec:.1f} img/s"
                )
                vs, vs_cl = (
                    eng.images_per_sec / light.images_per_sec,
                    eng.images_per_sec / light_cl.images_per_sec,
                )
                record.update(
                    lightly=light.images_per_sec, lightly_waiting=light.waiting,
                    lightly_channels_last=light_cl.images_per_sec, lightly_channels_last_waiting=light_cl.waiting,
                )  # fmt: skip
                lightly_rows.append(
                    [case.method, case.label, case.batch_size, _f(light.images_per_sec), f"{light.waiting:.0%}",
                     _f(light_cl.images_per_sec), f"{light_cl.waiting:.0%}", _f(eng.images_per_sec),
                     f"**{vs:.2f}x**", f"{vs_cl:.2f}x"]
                )  # fmt: skip
                goal, path = lightly_target(case, s)
                targets.append(
                    Target(
                        "training throughput vs lightly",
                        f"{case.method} {case.label}: engine >= {goal:g}x lightly's pipeline ({path})",
                        f"{vs:.2f}x ({_f(eng.images_per_sec)} vs {_f(light.images_per_sec)} images/s); "
                        f"{vs_cl:.2f}x lightly + channels_last",
                        vs >= goal,
                    )
                )

        # 2-6: with --only, only the step profile and (for MAE) the attention table, for those methods.
        ablation_rows = views_rows = joint_rows = numerics = None
        if not s.only:
            ablation_rows, views_rows, joint_rows, numerics = simclr_sections(
                s, images, spec, engine_label, tmp, log
            )
        profile_cases = [c for c in selected if c.method == "simclr"] + [
            c for c in selected if c.method == "mae"
        ]
        profile_rows = []  # 4. where a step's time goes
        for case in profile_cases:
            phases = phase_profile(case, images, s)
            step = sum(phases.values())
            profile_rows.append(
                [f"{case.method} {case.label}, batch {case.batch_size}", f"{step * 1000:,.0f}"]
                + [f"{v * 1000:,.0f} ({v / step:.0%})" for v in phases.values()]
            )
        log("profile done")
        roofline = [model_step_roofline(c, images, s) for c in selected if c.method == "simclr"]
        log("roofline done")
        has_mae = any(c.method == "mae" for c in selected)
        attention = attention_rows(s) if s.device.type == "cpu" and has_mae else []

    body = render(
        s, main_rows, ablation_rows, views_rows, profile_rows, joint_rows, attention, numerics, engine_label,
        lightly_rows=lightly_rows, lightly_note=lightly_note, roofline=roofline,
    )  # fmt: skip
    return body, targets, {"records": records, "roofline": roofline}


def simclr_sections(
    s: Settings, images: torch.Tensor, spec: str, engine_label: str, tmp: str, log: Callable[[str], None]
) -> tuple[list, list, list, list]:
    """The SimCLR / small-CNN sections (skipped with --only): where the gain comes from, views alone,
    both views in one forward, bf16 numerics. Returns their rows in that order."""
    # 2. where the gain comes from (SimCLR, small CNN).
    base = cases(s.quick)[0]

    variants: list[tuple[str, Callable[[], float]]] = [
        ("reference: per-sample v2 + DataLoader, float32",
         lambda: reference_rate(base, images, s).images_per_sec),
        ("reference + the engine's model settings (" + engine_label + ")",
         lambda: reference_rate(base, images, s, bf16=True, channels_last=use_channels_last(s.device)).images_per_sec),
        ("engine, float32, default memory format",
         lambda: engine_rate(base, spec, s, amp=False, channels_last=False).images_per_sec),
        ("engine, float32, channels_last", lambda: engine_rate(base, spec, s, amp=False).images_per_sec),
        (f"engine defaults ({engine_label})", lambda: engine_rate(base, spec, s).images_per_sec),
    ]  # fmt: skip
    first_step: list[float] = []
    if s.compile:

        def compiled() -> float:
            result = engine_rate(base, spec, s, compile=True)
            first_step.append(result.first_step_s)
            return result.images_per_sec

        variants.append(("engine defaults + train.compile", compiled))
    # Round robin, best of each: a burst of other work then slows every variant alike.
    best = dict.fromkeys((label for label, _ in variants), 0.0)
    for _ in range(max(2, s.repeats) if not s.quick else 1):
        for label, measure in variants:
            best[label] = max(best[label], measure())
    notes = (
        {
            "engine defaults + train.compile": f"{max(first_step):.0f} s from start to first step "
            "(compilation; less once inductor's on-disk cache is warm)"
        }
        if first_step
        else {}
    )
    ablation = [(label, value, notes.get(label, "")) for label, value in best.items()]
    log("ablation done")
    ref0 = ablation[0][1]
    ablation_rows = [[label, _f(v), ratio(v, ref0), note] for label, v, note in ablation]

    # 3. views alone, 5. joint vs separate forwards (4., where a step's time goes, is in run()).
    r = reference_views_rate(base, images, s)
    e = engine_views_rate(base, images, s)
    with every_sample_augmented():
        e_all = engine_views_rate(base, images, s)
    views_rows = [
        ["reference: per-sample v2, DataLoader", _f(r), "1.00x"],
        [
            "engine before: every sample jittered / blurred, then torch.where (the GPU way)",
            _f(e_all),
            ratio(e_all, r),
        ],
        ["engine: BatchAugment on resident uint8 (CPU: selected samples only)", _f(e), ratio(e, r)],
    ]
    joint = concat_vs_separate(replace(base, warmup=1, steps=max(1, base.steps // 2)), images, s)
    joint_rows = [[label, _f(v), ratio(v, next(iter(joint.values())))] for label, v in joint.items()]

    # 6. bf16 numerics, where the engine trains in bf16 (float32 only, e.g. on AVX2: nothing to compare).
    numerics = None
    if training_autocast_dtype(s.device) is not None:
        numerics = [numerics_run(amp, s, Path(tmp) / "numerics") for amp in (False, True)]
        log("numerics done")
    return ablation_rows, views_rows, joint_rows, numerics


def render(
    s, main_rows, ablation_rows, views_rows, profile_rows, joint_rows, attention, numerics, engine_label,
    *, lightly_rows=(), lightly_note=None, roofline=(),
) -> str:  # fmt: skip
    """The section's Markdown; sections whose rows are None were not run (--only) and are left out."""
    threads = torch.get_num_threads()
    isa_bullet, isa_warning = isa_facts(s.device)
    lines = [
        "## Training throughput: SimCLR, BYOL, MAE at 32 px" + restricted_isa_heading(),
        "",
        f"`{s.command}` on {now()}. Synthetic {s.images:,} random 32x32 RGB uint8 images; the engine "
        f"is the real `Trainer` ({engine_label} on this machine); the reference is per-sample "
        f"torchvision v2 in a DataLoader with {s.workers} worker processes feeding the same modules "
        f"and loss in plain float32 PyTorch (one forward per view, AdamW + gradient clipping). Equal "
        f"batch size per row; {threads} torch thread(s) in the training process. images/s counts "
        "source images (each gives two views). 'waiting' is the reference's share of time spent "
        "waiting for its workers: on a CPU they compete with the model for the same cores. Throughput "
        f"rows are the best of {s.repeats} runs, reference and engine alternating (other work on a "
        "shared machine only ever slows a run down).",
        "",
        machine_description(s.device, lightly_versions(lightly_note)) + f"\n- {isa_bullet}",
        "",
        *([isa_warning, ""] if isa_warning else []),
        table(
            ["method", "backbone", "batch", "reference images/s", "reference waiting", "engine images/s",
             "engine vs reference"],
            main_rows, "llrrrrr",
        ),  # fmt: skip
        "",
    ]  # fmt: skip
    lines += lightly_lines(s, lightly_rows, lightly_note, threads)
    if ablation_rows is not None:
        lines += [
            "### Where the gain comes from (SimCLR, small CNN, same run)",
            "",
            "Each optimisation's before and after, measured round robin (best of each). The data path "
            "alone (resident uint8 + batched views, no worker processes) is the float32 / default-format "
            "engine row; the rest is the model step's precision and memory format, which the reference "
            "row 2 shows would help a DataLoader pipeline too. torch.compile (`train.compile`, off by "
            "default) is timed after its compilation."
            + (
                " With one torch thread the reference's worker processes make its views on the second "
                "core, which the engine leaves idle (it makes its views on its one training thread): the "
                "engine's ratios are conservative."
                if threads == 1
                else ""
            ),
            "",
            table(["pipeline", "images/s", "vs reference", "note"], ablation_rows, "lrrl"),
            "",
        ]  # fmt: skip
    if views_rows is not None:
        lines += [
            "### Views only (SimCLR recipe, no model)",
            "",
            table(["pipeline", "images/s", "vs reference"], views_rows),
            "",
        ]
    lines += [
        "### Where a step's time goes (engine settings; milliseconds per step and share)",
        "",
        "Views are the two BatchAugment calls (MAE has none: it masks patches inside forward). "
        "The model step (forward, backward) dominates on a CPU; this is why the precision and "
        "memory format of the model, not the data path, decide the speed there.",
        "",
        table(["step", "total ms", "views", "forward + loss", "backward", "optimizer"], profile_rows),
        "",
    ]  # fmt: skip
    if roofline:
        lines += [
            "### What bounds the model step: its FLOPs against a large matrix product's rate (same threads)",
            "",
            "GFLOP counts forward and backward of one engine step (torch.utils.flop_counter); the matrix "
            "product is 2048 x 2048 in the step's precision with the same threads, about the most the "
            "core's vector units do. Shares are of the step's operator time (torch.profiler, self time). "
            "A step that runs at the matrix product's rate and spends it in convolutions is bound by the "
            "arithmetic itself: every pipeline training this model on this CPU in this precision does the "
            "same FLOPs, and only a lower precision (bf16 where the CPU has it), fewer FLOPs, or more "
            "cores make it faster.",
            "",
            table(
                ["step", *ROOFLINE_COLUMNS],
                roofline_rows(roofline),
                "lrrrrrrr",
            ),  # fmt: skip
            "",
        ]
    if joint_rows is not None:
        lines += [
            "### Both views in one forward, or one forward per view (SimCLR, small CNN, model step only)",
            "",
            "The engine keeps one forward per view, so BatchNorm normalises each view with its own "
            "batch statistics, as BYOL's reference code and lightly / solo-learn do (SimCLR's TF code "
            "concatenates the views, so its BN sees both). " + joint_verdict(joint_rows),
            "",
            table(["model step", "images/s", "vs per-view"], joint_rows),
            "",
        ]
    if attention or ablation_rows is not None:  # --only without MAE: no attention table
        lines += [
            "### MAE's attention on a CPU: PyTorch's fused kernel against two matrix products",
            "",
            "Forward + backward of one attention call at MAE's shapes (batch "
            f"{16 if s.quick else 256}). Under bf16 autocast the fused CPU kernel "
            "(`scaled_dot_product_attention`) is several times slower than `q @ k.T`, a softmax and `@ v` "
            "(`ssl_core.models.vit.attention_matmul`) for these short sequences, so "
            "`ssl_core.models.vit.Attention` uses the matrix products for bf16 on a CPU, and the fused "
            "kernels in float32 (as fast or faster) and on a GPU. Same results: "
            "tests/models/test_vit_attention.py.",
            "",
            table(["attention", "precision", "fused SDPA ms", "matmul path ms", "speed-up"], attention, "llrrr")
            if attention
            else "(not measured: CPU only)",
            "",
        ]  # fmt: skip
    if numerics is not None:
        fp32, bf16 = numerics
        lines += [
            f"### Is bf16 numerically fine? SimCLR + small CNN on digits, {s.numerics_epochs} epochs, same seed",
            "",
            "Loss is the mean of the last tenth of steps; kNN accuracy is 5-fold cross-validated "
            "5-nearest-neighbour accuracy on the backbone's features of all 1,797 digits.",
            "",
            table(
                ["precision", "final loss", "kNN accuracy", "run time s"],
                [[n.precision, f"{n.final_loss:.3f}", f"{n.knn_accuracy:.3f}", f"{n.seconds:.1f}"] for n in numerics],
            ),
            "",
            f"Difference: loss {bf16.final_loss - fp32.final_loss:+.3f}, kNN accuracy "
            f"{bf16.knn_accuracy - fp32.knn_accuracy:+.3f}.",
        ]  # fmt: skip
    return "\n".join(lines).rstrip("\n")


def restricted_isa_heading() -> str:
    """' (torch restricted to AVX2)' where the environment limits torch's ISA, so the heading says so."""
    limit = os.environ.get("ATEN_CPU_CAPABILITY") or os.environ.get("ONEDNN_MAX_CPU_ISA")
    return f" (torch restricted to {limit.upper()})" if limit else ""


def lightly_versions(lightly_note: str | None) -> list[str]:
    return [f"lightly {lightly_ref.version()}"] if lightly_note is None else []


def lightly_lines(s: Settings, rows: list, note: str | None, threads: int) -> list[str]:
    """The subsection against lightly's pipeline: its table, or why it was not measured."""
    heading = "### Against lightly's documented pipeline (SimCLR, BYOL; same run)"
    if note is not None:
        return [heading, "", f"Not measured: {note}.", ""]
    if not rows:  # --only without simclr or byol
        return []
    workers = f"{s.lightly_workers} worker process" + ("" if s.lightly_workers == 1 else "es")
    return [
        heading,
        "",
        "lightly's SimCLR and BYOL as its examples train CIFAR-10 (`examples/pytorch/simclr.py`, "
        "`byol.py`; code in bench/_lightly_reference.py): `SimCLRTransform` / `BYOLTransform` at "
        "`input_size=32` with blur off (as the examples set it for 32 px), per sample on PIL images made "
        f"as torchvision's CIFAR10 makes them, in a DataLoader with {workers} (the examples use 8; "
        "here at most one fewer than the logical cores, so the training process keeps one); lightly's "
        "projection / prediction heads at the examples' widths on the same backbone with the same initial "
        "weights; `NTXentLoss` / `NegativeCosineSimilarity` (BYOL's momentum copy updated by "
        "`update_momentum` along `cosine_schedule` 0.996 to 1); SGD at lr 0.06; float32, one forward per "
        "view. '+ channels_last' is the same with model and inputs in channels_last. Measured in the "
        "table's alternation (torchvision reference, lightly, lightly + channels_last, engine; best of "
        f"{s.repeats}); the engine column is the same measurement as above. The lightly runs take "
        f"{lightly_ref.PREFETCH} more warm-up steps per worker, so batches its workers made ahead are not "
        "counted; 'waiting' is its share of time spent waiting for batches."
        + (
            " With one torch thread its worker process(es) make the views on the other core(s), which the "
            "engine leaves idle."
            if threads == 1 and (os.cpu_count() or 1) > 1 and s.lightly_workers > 0
            else ""
        ),
        "",
        table(
            [
                "method",
                "backbone",
                "batch",
                "lightly images/s",
                "lightly waiting",
                "lightly + channels_last images/s",
                "its waiting",
                "engine images/s",
                "engine vs lightly",
                "engine vs lightly + channels_last",
            ],
            rows,
            "llrrrrrrrr",
        ),  # fmt: skip
        "",
    ]


def joint_verdict(joint_rows: list[list[str]]) -> str:
    gain = float(joint_rows[1][2].rstrip("x")) if joint_rows[1][2] != "-" else 1.0
    if gain < 1.1:
        return "Here one joint forward is not meaningfully faster, so per-view statistics cost nothing:"
    return (
        f"Here one joint forward is {gain:.2f}x faster for the model step; the engine still keeps "
        "per-view statistics, the papers' choice for BYOL and the libraries' default:"
    )


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--images", type=int, default=4096, help="synthetic dataset size (default 4096)")
    p.add_argument("--workers", type=int, default=None, help="reference DataLoader workers (default: cores)")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, mps")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-compile", action="store_true", help="skip the torch.compile row (~1 min on a CPU)")
    p.add_argument("--repeats", type=int, default=2, help="best of this many runs per main row (default 2)")
    p.add_argument(
        "--only",
        nargs="+",
        choices=sorted(REFERENCE),
        metavar="METHOD",
        default=None,
        help="measure only these methods (simclr, byol, mae): their throughput rows, step times and, for "
        "mae, the attention table; the SimCLR-only sections are skipped",
    )
    p.add_argument(
        "--backbones",
        nargs="+",
        choices=sorted({c.backbone for c in cases(False)}),
        default=None,
        help="measure only these backbones' rows (with --only: e.g. a quick re-measure of the small CNN's)",
    )
    p.add_argument(
        "--no-lightly",
        action="store_true",
        help="leave out lightly's reference (it is left out anyway where lightly is not installed)",
    )
    p.add_argument(
        "--lightly-workers",
        type=int,
        default=None,
        help="DataLoader workers of lightly's reference (default: its examples' 8, at most cores - 1)",
    )
    p.add_argument(
        "--section-id",
        default=SECTION_ID,
        help=f"the results file's section to write (default {SECTION_ID}; bench_train_isas.py writes the "
        "AVX2-restricted run to its own)",
    )
    p.add_argument(
        "--json", type=Path, default=None, help="also write the measured numbers to this JSON file"
    )
    add_common_args(p)
    return p.parse_args(argv)


def write_numbers(path: Path, s: Settings, numbers: dict, targets: list[Target]) -> None:
    """The measured numbers and what they ran on, for bench_train_isas.py's side-by-side table."""
    isa_bullet, _ = isa_facts(s.device)
    precision = training_autocast_dtype(s.device)
    payload = {
        "isa": isa_bullet.removeprefix("ISA in use: "),
        "aten": torch.backends.cpu.get_cpu_capability(),
        "precision": str(precision).removeprefix("torch.") if precision else "float32",
        "threads": torch.get_num_threads(),
        "lightly_workers": s.lightly_workers,
        "reference_workers": s.workers,
        "records": numbers["records"],
        "roofline": [{**asdict(r), "gflops": r.gflops} for r in numbers["roofline"]],
        "targets": [asdict(t) for t in targets],
        "load": os.getloadavg(),
    }
    path.write_text(json.dumps(payload, indent=1))


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    apply_threads(args)
    workers = args.workers if args.workers is not None else min(8, os.cpu_count() or 1)
    s = Settings(
        device=select_device(args.device),
        images=64 if args.quick else args.images,
        workers=0 if args.quick else workers,
        seed=args.seed,
        quick=args.quick,
        compile=not (args.quick or args.no_compile),
        numerics_epochs=1 if args.quick else 30,
        repeats=1 if args.quick else args.repeats,
        only=tuple(args.only or ()),
        backbones=tuple(args.backbones or ()),
        lightly=not args.no_lightly,
        lightly_workers=0
        if args.quick
        else (args.lightly_workers if args.lightly_workers is not None else lightly_ref.default_workers()),
    )
    s.command = command_line("bench_train_throughput.py", argv)
    body, targets, numbers = run(s, lambda m: print(m, flush=True))
    if args.json is not None:
        write_numbers(args.json, s, numbers, targets)
    publish(args, args.section_id, body, targets)  # one section: its text says how many threads were used
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
