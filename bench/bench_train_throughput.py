"""Training throughput of SimCLR (small CNN, 32 px, batch 256): this engine's path vs a torchvision reference.

(a) engine:    uint8 images resident on the device -> BatchAugment views on the device -> model + NT-Xent
               -> AdamW step; all randomness from one torch.Generator.
(b) reference: per-sample torchvision.transforms.v2 (RandomResizedCrop, RandomHorizontalFlip, ColorJitter,
               RandomGrayscale, GaussianBlur) in a DataLoader with worker processes, feeding the same
               model, loss and optimizer.

Both use the same SimCLR view parameters (those of `simclr_views().scaled_for(32)`). Two extra rows time
the augmentation alone (no model), to show where the time goes. Data is synthetic: random 32x32 RGB
uint8 images. Throughput counts source images per second (each becomes two views).

    python bench/bench_train_throughput.py                 # full run, writes bench/RESULTS.md
    python bench/bench_train_throughput.py --steps 50      # longer timing window
    python bench/bench_train_throughput.py --quick         # one tiny iteration (smoke test)
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import os
import platform
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import torch
import torchvision
from torch import nn
from torch.utils.data import DataLoader, Dataset
from torchvision.transforms import v2

from ssl_core.augment import ViewRecipe, make_view_pair, simclr_views
from ssl_core.device import autocast_dtype, select_device
from ssl_core.losses import nt_xent
from ssl_core.models.backbones import build_backbone
from ssl_core.models.heads import simclr_projector
from ssl_core.runs.atomic import atomic_write_text

IMAGE_SIZE = 32
CHANNELS = 3
TEMPERATURE = 0.5
SECTION_ID = "bench_train_throughput"
DEFAULT_RESULTS = Path(__file__).resolve().parent / "RESULTS.md"


@dataclass
class Settings:
    steps: int
    warmup: int
    batch_size: int
    num_images: int
    workers: int
    device: torch.device
    seed: int
    command: str = "python bench/bench_train_throughput.py"
    section_id: str = SECTION_ID  # runs with other thread counts keep their own section of RESULTS.md


@dataclass
class Row:
    pipeline: str
    measures: str
    images_per_sec: float
    reference: str  # name of the row it is compared with ("" for a reference itself)


# ---- the shared model, loss and optimizer --------------------------------------------------------------
class SimCLRModel(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.backbone = build_backbone("small_cnn", in_channels=CHANNELS, image_size=IMAGE_SIZE)
        self.projector = simclr_projector(self.backbone.feature_dim, 512, 128)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.projector(self.backbone(x))


class Trainer:
    """One optimizer step on a pair of view batches, identical for both pipelines."""

    def __init__(self, device: torch.device, seed: int) -> None:
        torch.manual_seed(seed)
        self.device = device
        self.model = SimCLRModel().to(device)
        if device.type == "cuda":
            self.model = self.model.to(memory_format=torch.channels_last)
        self.optimizer = torch.optim.AdamW(self.model.parameters(), lr=1e-3, weight_decay=1e-4)
        self.amp_dtype = autocast_dtype(device)
        self.scaler = torch.amp.GradScaler(device.type, enabled=self.amp_dtype == torch.float16)

    def step(self, v1: torch.Tensor, v2: torch.Tensor) -> torch.Tensor:
        views = torch.cat([v1, v2])
        if self.device.type == "cuda":
            views = views.contiguous(memory_format=torch.channels_last)
        amp = (
            torch.autocast(self.device.type, dtype=self.amp_dtype)
            if self.amp_dtype is not None
            else contextlib.nullcontext()
        )
        with amp:
            z1, z2 = self.model(views).chunk(2)
            loss = nt_xent(z1, z2, TEMPERATURE)
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        self.scaler.step(self.optimizer)
        self.scaler.update()
        return loss.detach()


# ---- (a) the engine's path -----------------------------------------------------------------------------
def engine_batches(images: torch.Tensor, s: Settings) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Views made on the device from a resident uint8 tensor, as the trainer does."""
    resident = images.to(s.device)
    generator = torch.Generator(device=s.device).manual_seed(s.seed)
    aug1, aug2 = make_view_pair(simclr_views(), IMAGE_SIZE, CHANNELS)
    n = resident.shape[0]
    while True:
        order = torch.randperm(n, generator=generator, device=s.device)
        for start in range(0, n - s.batch_size + 1, s.batch_size):
            batch = resident[order[start : start + s.batch_size]]
            yield aug1(batch, generator), aug2(batch, generator)


# ---- (b) the reference: per-sample torchvision v2 in DataLoader workers --------------------------------
def reference_transform(recipe: ViewRecipe) -> v2.Compose:
    """torchvision v2 pipeline with the same parameters as the engine's recipe."""
    kernel = recipe.blur_kernel_size(IMAGE_SIZE)
    return v2.Compose(
        [
            v2.RandomResizedCrop(
                IMAGE_SIZE, scale=recipe.crop_scale, ratio=recipe.crop_ratio, antialias=True
            ),
            v2.RandomHorizontalFlip(recipe.hflip_p),
            v2.RandomApply(
                [v2.ColorJitter(recipe.brightness, recipe.contrast, recipe.saturation, recipe.hue)],
                p=recipe.jitter_p,
            ),
            v2.RandomGrayscale(recipe.grayscale_p),
            v2.RandomApply([v2.GaussianBlur(kernel, sigma=recipe.blur_sigma)], p=recipe.blur_p),
            v2.ToDtype(torch.float32, scale=True),
        ]
    )


class TwoViewDataset(Dataset):
    def __init__(self, images: torch.Tensor, t1: Callable, t2: Callable) -> None:
        self.images, self.t1, self.t2 = images, t1, t2

    def __len__(self) -> int:
        return self.images.shape[0]

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        img = self.images[i]
        return self.t1(img), self.t2(img)


def reference_batches(images: torch.Tensor, s: Settings) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    r1, r2 = (r.scaled_for(IMAGE_SIZE) for r in simclr_views())
    dataset = TwoViewDataset(images, reference_transform(r1), reference_transform(r2))
    cuda = s.device.type == "cuda"
    loader = DataLoader(
        dataset,
        batch_size=s.batch_size,
        shuffle=True,
        drop_last=True,
        num_workers=s.workers,
        pin_memory=cuda,
        persistent_workers=s.workers > 0,
        generator=torch.Generator().manual_seed(s.seed),
    )
    while True:
        for v1, v2_ in loader:
            yield v1.to(s.device, non_blocking=cuda), v2_.to(s.device, non_blocking=cuda)


# ---- timing ---------------------------------------------------------------------------------------------
def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_pipeline(batches: Iterator, s: Settings, trainer: Trainer | None) -> float:
    """Images per second over `s.steps` steps after `s.warmup` untimed ones (train if trainer given)."""

    def run(n: int) -> None:
        for _ in range(n):
            v1, v2_ = next(batches)
            if trainer is not None:
                trainer.step(v1, v2_)

    run(s.warmup)
    _sync(s.device)
    start = time.perf_counter()
    run(s.steps)
    _sync(s.device)
    return s.steps * s.batch_size / (time.perf_counter() - start)


def synthetic_images(n: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (n, CHANNELS, IMAGE_SIZE, IMAGE_SIZE), dtype=torch.uint8, generator=g)


def run_benchmark(s: Settings) -> list[Row]:
    images = synthetic_images(s.num_images, s.seed)
    if s.device.type == "cuda":
        images = images.pin_memory()
    ref = f"torchvision v2 per-sample, DataLoader ({s.workers} workers)"
    eng = "engine: resident uint8 + BatchAugment on device"
    rows = []
    # Each measurement gets fresh iterators (and so fresh workers) and a fresh model.
    rows.append(
        Row(ref, "train step", time_pipeline(reference_batches(images, s), s, Trainer(s.device, s.seed)), "")
    )
    rows.append(
        Row(eng, "train step", time_pipeline(engine_batches(images, s), s, Trainer(s.device, s.seed)), ref)
    )
    rows.append(Row(ref, "views only", time_pipeline(reference_batches(images, s), s, None), ""))
    rows.append(Row(eng, "views only", time_pipeline(engine_batches(images, s), s, None), ref))
    return rows


# ---- reporting ------------------------------------------------------------------------------------------
def format_table(rows: list[Row]) -> str:
    lines = [
        "| pipeline | measures | images/s | vs reference |",
        "|---|---|---:|---:|",
    ]
    for row in rows:
        if row.reference:
            base = next(r for r in rows if r.pipeline == row.reference and r.measures == row.measures)
            ratio = f"{row.images_per_sec / base.images_per_sec:.2f}x"
        else:
            ratio = "1.00x (reference)"
        lines.append(f"| {row.pipeline} | {row.measures} | {row.images_per_sec:,.0f} | {ratio} |")
    return "\n".join(lines)


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_description(device: torch.device) -> str:
    parts = [
        f"CPU: {cpu_model()}, {os.cpu_count()} logical cores (torch threads: {torch.get_num_threads()})",
        f"device: {device}" + (f" ({torch.cuda.get_device_name(device)})" if device.type == "cuda" else ""),
        f"torch {torch.__version__}, torchvision {torchvision.__version__}, Python {platform.python_version()}",
        f"OS: {platform.platform()}",
    ]
    if hasattr(os, "getloadavg"):  # other work on the machine skews CPU numbers; say how busy it was
        parts.append(
            "load average (1, 5, 15 min) at the end: " + ", ".join(f"{v:.1f}" for v in os.getloadavg())
        )
    return "\n".join(f"- {p}" for p in parts)


def section_markers(section_id: str) -> tuple[str, str]:
    return f"<!-- {section_id}:start -->", f"<!-- {section_id}:end -->"


def results_section(rows: list[Row], s: Settings) -> str:
    when = dt.datetime.now().strftime("%Y-%m-%d %H:%M")
    start, end = section_markers(s.section_id)
    title = "## Training throughput: SimCLR, small CNN, 32 px"
    if s.section_id != SECTION_ID:
        title += f" ({s.section_id.removeprefix(SECTION_ID + '-')})"
    return "\n".join(
        [
            start,
            title,
            "",
            f"`{s.command}` on {when}: batch {s.batch_size}, "
            f"{s.num_images} synthetic 32x32 RGB images, {s.warmup} warm-up steps then {s.steps} timed steps. "
            "images/s counts source images (each gives two views); 'views only' rows time the augmentation "
            "without the model.",
            "",
            machine_description(s.device),
            "",
            format_table(rows),
            end,
        ]
    )


def write_results(path: Path, section: str, section_id: str = SECTION_ID) -> None:
    """Replace this run's section of the results file (or add it), leaving other sections alone."""
    start, end = section_markers(section_id)
    text = path.read_text(encoding="utf-8") if path.exists() else "# Benchmark results\n"
    if start in text and end in text:
        head, _, rest = text.partition(start)
        _, _, tail = rest.partition(end)
        text = head + section + tail
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    atomic_write_text(path, text)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--steps", type=int, default=20, help="timed steps per pipeline (default 20)")
    p.add_argument("--warmup", type=int, default=3, help="untimed steps first (default 3)")
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--images", type=int, default=4096, help="synthetic dataset size (default 4096)")
    p.add_argument("--workers", type=int, default=None, help="DataLoader workers (default: cores, at most 8)")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, mps")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--threads",
        type=int,
        default=None,
        help="torch intra-op threads of the main process (default: torch's choice); on a busy machine "
        "1 can be much faster, since every parallel op waits for its slowest thread",
    )
    p.add_argument("--quick", action="store_true", help="one tiny iteration (smoke test); no results file")
    p.add_argument("--results", type=Path, default=None, help=f"results file (default {DEFAULT_RESULTS})")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    workers = args.workers if args.workers is not None else min(8, os.cpu_count() or 1)
    if args.quick:
        s = Settings(
            steps=1,
            warmup=0,
            batch_size=16,
            num_images=64,
            workers=0,
            device=select_device(args.device),
            seed=args.seed,
        )
    else:
        s = Settings(
            args.steps,
            args.warmup,
            args.batch_size,
            args.images,
            workers,
            select_device(args.device),
            args.seed,
        )
    s.command = " ".join(
        ["python bench/bench_train_throughput.py", *(argv if argv is not None else sys.argv[1:])]
    )
    if args.threads is not None:
        s.section_id = f"{SECTION_ID}-threads{args.threads}"
    if s.num_images < s.batch_size:
        sys.exit(f"--images ({s.num_images}) must be at least --batch-size ({s.batch_size}).")
    rows = run_benchmark(s)
    section = results_section(rows, s)
    print("\n".join(line for line in section.splitlines() if line not in section_markers(s.section_id)))
    results = args.results if args.results is not None else (None if args.quick else DEFAULT_RESULTS)
    if results is not None:
        write_results(results, section, s.section_id)
        print(f"\nwritten to {results}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
