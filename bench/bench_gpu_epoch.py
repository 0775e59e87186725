"""GPU path: ResNet-18 SimCLR, batch 512, one epoch of 50,000 synthetic 32x32 images through the Trainer.

Measures images/s, GPU utilisation (sampled with nvidia-smi / NVML every 0.2 s during the timed
epoch), epoch time, and how many times the host waited for the GPU during the timed epoch
(`torch.cuda.set_sync_debug_mode("warn")` reports every synchronising call; the trainer reads its losses
back in groups a few times a second, see ssl_core/train/recorder.py, so a handful per second is expected
and one per step would be a regression). The first epoch warms up (cuDNN autotuning, allocator,
compilation with --compile); the second is timed. Everything runs as in `ssl-core train`: data resident
on the GPU as uint8, views made on the GPU, bf16 autocast, channels_last.

The same run times lightly 1.6's documented SimCLR pipeline on the same GPU (bench/_lightly_reference.py: its
per-sample transforms on PIL images in a DataLoader with its examples' 8 workers (at most the cores less one),
its head and NT-Xent loss, float32, on the engine's ResNet-18), over LIGHTLY_STEPS steps after its warm-up, and
states the epoch time that rate gives. Targets (issue 17): at most 3 s per 50,000-image epoch on an H100-class
GPU, and >= 3x lightly's images/s. Where lightly is not installed (the optional `bench` extra) its row says so.

Without a CUDA GPU the section records the row as not yet measured. `--quick` runs the same code path
for a few steps on whatever device there is (smoke test).

    python bench/bench_gpu_epoch.py                  # on a machine with a CUDA GPU
    python bench/bench_gpu_epoch.py --compile        # also a row with train.compile = true
    python bench/bench_gpu_epoch.py --quick          # smoke test
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import tempfile
import threading
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import _lightly_reference as lightly_ref
import numpy as np
import torch
from _common import (
    Target,
    add_common_args,
    apply_threads,
    command_line,
    machine_description,
    now,
    publish,
    table,
)

from ssl_core.config import RunConfig
from ssl_core.device import select_device
from ssl_core.models import build_backbone
from ssl_core.train.events import EpochEnded, RunFailed, StepEnded
from ssl_core.train.perf import training_autocast_dtype, use_channels_last
from ssl_core.train.trainer import Trainer

SECTION_ID = "bench_gpu_epoch"
LIGHTLY_STEPS = 40  # lightly's timed steps (after its warm-up): its rate gives its epoch time
EPOCH_TARGET_S = 3.0  # issue 17: at most 3 s per 50,000-image epoch on an H100-class GPU
LIGHTLY_TARGET = 3.0  # and >= 3x lightly's documented pipeline on the same GPU
TITLE = "## GPU path: ResNet-18 SimCLR, batch 512, 50,000 synthetic 32x32 images"


@dataclass
class Settings:
    device: torch.device
    images: int
    batch_size: int
    backbone: str
    epochs: int  # the last one is timed
    seed: int
    command: str = ""


@dataclass
class Row:
    label: str
    images_per_sec: float
    epoch_s: float
    utilisation: float | None
    syncs: int
    steps: int
    first_epoch_s: float


class UtilisationSampler:
    """Samples GPU utilisation (%) in a thread: torch.cuda.utilization (NVML) or nvidia-smi."""

    def __init__(self, device: torch.device, interval_s: float = 0.2):
        self.device, self.interval_s = device, interval_s
        self.samples: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _read(self) -> float | None:
        try:
            return float(torch.cuda.utilization(self.device))
        except Exception:  # no pynvml: ask nvidia-smi
            if shutil.which("nvidia-smi") is None:
                return None
            out = subprocess.run(
                ["nvidia-smi", "--query-gpu=utilization.gpu", "--format=csv,noheader,nounits",
                 "-i", str(self.device.index or 0)],
                capture_output=True, text=True, timeout=5,
            )  # fmt: skip
            try:
                return float(out.stdout.strip().splitlines()[0])
            except (ValueError, IndexError):
                return None

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            value = self._read()
            if value is not None:
                self.samples.append(value)

    def __enter__(self) -> UtilisationSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def mean(self) -> float | None:
        return sum(self.samples) / len(self.samples) if self.samples else None


def synthetic_images(s: Settings) -> np.ndarray:
    return np.random.default_rng(s.seed).integers(0, 256, (s.images, 32, 32, 3), dtype=np.uint8)


def write_npz(folder: Path, images: np.ndarray) -> str:
    path = folder / "synthetic.npz"
    np.savez(path, images=images)
    return f"npz:{path}"


def lightly_row(images: np.ndarray, s: Settings, quick: bool) -> Row:
    """lightly's SimCLR pipeline on the same GPU and images, training the same backbone (fresh weights from
    the same seed); its epoch time is the images at its measured rate."""
    torch.manual_seed(s.seed)
    backbone = build_backbone(s.backbone, 3, 32)
    steps = 2 if quick else LIGHTLY_STEPS
    result = lightly_ref.lightly_rate(
        "simclr",
        backbone,
        backbone.feature_dim,
        torch.from_numpy(images).permute(0, 3, 1, 2),
        batch_size=s.batch_size,
        warmup=1 if quick else 5,
        steps=steps,
        workers=0 if quick else lightly_ref.default_workers(),
        device=s.device,
        seed=s.seed,
    )
    return Row(
        label=f"lightly {lightly_ref.version()}, documented pipeline ({result.workers} workers, float32)",
        images_per_sec=result.images_per_sec,
        epoch_s=s.images / result.images_per_sec,
        utilisation=None,
        syncs=-1,  # not counted: the pipeline's own loop
        steps=steps,
        first_epoch_s=float("nan"),
    )


def run_epochs(spec: str, s: Settings, runs_dir: Path, compile: bool, max_steps: int | None = None) -> Row:
    cfg = RunConfig()
    cfg.data.spec = spec
    cfg.data.val_fraction = 0.0
    cfg.method.name = "simclr"
    cfg.method.backbone = s.backbone
    cfg.train.batch_size = s.batch_size
    cfg.train.epochs = s.epochs
    cfg.train.max_steps = max_steps
    cfg.train.device = str(s.device)
    cfg.train.compile = compile
    cfg.train.seed = s.seed
    cfg.train.checkpoint_every_epochs = 10_000  # only the final one, after the timed epoch
    cfg.runs_dir = str(runs_dir)
    cfg.validate()
    trainer = Trainer(cfg)
    marks: dict[str, float] = {}
    steps_in_epoch: dict[int, int] = {}
    failures: list[str] = []
    timed_epoch = s.epochs - 1
    sampler = UtilisationSampler(s.device) if s.device.type == "cuda" else None

    def on_event(event) -> None:
        if isinstance(event, StepEnded):
            steps_in_epoch[event.epoch] = steps_in_epoch.get(event.epoch, 0) + 1
        elif isinstance(event, EpochEnded):
            if s.device.type == "cuda":
                torch.cuda.synchronize(s.device)
            marks[f"end{event.epoch}"] = time.perf_counter()
            if event.epoch == timed_epoch - 1 and sampler is not None:  # the timed epoch starts now
                sampler.__enter__()
                torch.cuda.set_sync_debug_mode("warn")
            if event.epoch == timed_epoch and sampler is not None:
                torch.cuda.set_sync_debug_mode(0)
                sampler.__exit__()
        elif isinstance(event, RunFailed):
            failures.append(event.message)

    trainer.events.subscribe(on_event)
    start = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        trainer.run()
    if s.device.type == "cuda":
        torch.cuda.set_sync_debug_mode(0)
    if failures:
        raise RuntimeError(f"training failed: {failures[0]}")
    if s.epochs == 1:
        epoch_s = marks["end0"] - start
    else:
        epoch_s = marks[f"end{timed_epoch}"] - marks[f"end{timed_epoch - 1}"]
    steps = steps_in_epoch.get(timed_epoch, 0)
    syncs = sum("synchroniz" in str(w.message).lower() for w in caught)
    return Row(
        label=f"defaults ({precision_label(s.device)})" + (" + train.compile" if compile else ""),
        images_per_sec=steps * s.batch_size / epoch_s,
        epoch_s=epoch_s,
        utilisation=sampler.mean if sampler is not None else None,
        syncs=syncs,
        steps=steps,
        first_epoch_s=marks["end0"] - start,
    )


def h100_class(device: torch.device) -> bool:
    return device.type == "cuda" and any(
        g in torch.cuda.get_device_name(device) for g in ("H100", "H200", "B200")
    )


def lightly_targets(s: Settings, rows: list[Row], lightly: Row | None, note: str | None) -> list[Target]:
    engine = rows[0]
    epoch_s = engine.epoch_s * 50_000 / s.images  # the target is per 50,000 images
    epoch = Target(
        "GPU path",
        f"<= {EPOCH_TARGET_S:g} s per 50,000-image epoch (H100-class GPU)",
        f"{epoch_s:.1f} s",
        epoch_s <= EPOCH_TARGET_S if h100_class(s.device) else None,
        "" if h100_class(s.device) else "not an H100-class GPU",
    )
    if lightly is None:
        return [
            epoch,
            Target(
                "GPU path", f">= {LIGHTLY_TARGET:g}x lightly on the same GPU", f"not measured: {note}", None
            ),
        ]
    speedup = engine.images_per_sec / lightly.images_per_sec
    return [
        epoch,
        Target(
            "GPU path",
            f">= {LIGHTLY_TARGET:g}x lightly on the same GPU",
            f"{speedup:.2f}x ({engine.images_per_sec:,.0f} vs {lightly.images_per_sec:,.0f} images/s)",
            speedup >= LIGHTLY_TARGET,
        ),
    ]


def precision_label(device: torch.device) -> str:
    dtype = training_autocast_dtype(device)
    return (f"{str(dtype).removeprefix('torch.')} autocast" if dtype else "float32") + (
        ", channels_last" if use_channels_last(device) else ""
    )


def not_measured(s: Settings) -> tuple[str, list[Target]]:
    body = "\n".join(
        [
            TITLE,
            "",
            f"`{s.command}` on {now()}: **not yet measured** - this machine has no CUDA GPU. Run "
            "`python bench/bench_gpu_epoch.py` on one to fill in the row.",
            "",
            machine_description(s.device),
            "",
            table(
                ["configuration", "images/s", "GPU utilisation", "epoch s", "host syncs in the epoch"],
                [
                    [
                        "ResNet-18 SimCLR, batch 512, 50,000 synthetic 32x32",
                        "not yet measured",
                        "not yet measured",
                        "not yet measured",
                        "not yet measured",
                    ]
                ],
                "lrrrr",
            ),  # fmt: skip
        ]
    )
    return body, [Target("GPU path", "images/s, utilisation, epoch time on a GPU", "not yet measured", None)]


def measured(s: Settings, rows: list[Row], lightly: Row | None, note: str | None) -> tuple[str, list[Target]]:
    def util(r: Row) -> str:
        if r is lightly:
            return "-"
        return f"{r.utilisation:.0f}%" if r.utilisation is not None else "n/a (no NVML / nvidia-smi)"

    def syncs(r: Row) -> str:
        return "-" if r.syncs < 0 else str(r.syncs)

    def first(r: Row) -> str:
        return "-" if r.first_epoch_s != r.first_epoch_s else f"{r.first_epoch_s:.1f}"  # NaN: not timed

    body = "\n".join(
        [
            TITLE,
            "",
            f"`{s.command}` on {now()}: {s.images:,} synthetic 32x32 RGB images resident on the GPU, "
            f"batch {s.batch_size}, {s.backbone}; epoch {s.epochs} of {s.epochs} timed (the first warms up). "
            "Host syncs: synchronising calls reported by torch.cuda.set_sync_debug_mode during the timed "
            "epoch (the trainer reads losses back in groups, a few times a second).",
            "",
            machine_description(s.device),
            "",
            table(
                [
                    "configuration",
                    "images/s",
                    "GPU utilisation",
                    "epoch s",
                    "first epoch s",
                    "steps",
                    "host syncs in the epoch",
                ],
                [
                    [
                        r.label,
                        f"{r.images_per_sec:,.0f}",
                        util(r),
                        f"{r.epoch_s:.1f}",
                        first(r),
                        r.steps,
                        syncs(r),
                    ]
                    for r in [*rows, *([lightly] if lightly is not None else [])]
                ],
                "lrrrrrr",
            ),  # fmt: skip
        ]
    )
    if lightly is None:
        body += f"\n\nlightly's pipeline: not measured ({note})."
    else:
        body += (
            f"\n\nlightly's row: its rate over {lightly.steps} steps after its warm-up; its epoch time is "
            f"{s.images:,} images at that rate."
        )
    best = rows[0]
    return body, [
        Target(
            "GPU path",
            "images/s, utilisation, epoch time on a GPU",
            f"{best.images_per_sec:,.0f} images/s, {util(best)}, {best.epoch_s:.1f} s per epoch",
            None,
        ),
        *lightly_targets(s, rows, lightly, note),
    ]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--device", default="auto", help="auto or cuda[:N] (cpu only with --quick)")
    p.add_argument("--images", type=int, default=50_000)
    p.add_argument("--batch-size", type=int, default=512)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--compile", action="store_true", help="also time train.compile = true")
    add_common_args(p)
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    apply_threads(args)
    device = select_device(args.device)
    if args.quick:
        s = Settings(device, images=256, batch_size=64, backbone="small_cnn", epochs=2, seed=args.seed)
    else:
        s = Settings(device, args.images, args.batch_size, "resnet18", epochs=2, seed=args.seed)
    s.command = command_line("bench_gpu_epoch.py", argv)
    if device.type != "cuda" and not args.quick:
        body, targets = not_measured(s)
    else:
        rows = []
        images = synthetic_images(s)
        with tempfile.TemporaryDirectory(prefix="bench-gpu-") as tmp:
            spec = write_npz(Path(tmp), images)
            for compile in (False, True) if args.compile else (False,):
                rows.append(run_epochs(spec, s, Path(tmp) / "runs", compile))
                print(f"{rows[-1].label}: {rows[-1].images_per_sec:,.0f} images/s", flush=True)
        note = lightly_ref.missing()
        lightly = lightly_row(images, s, args.quick) if note is None else None
        if lightly is not None:
            print(f"{lightly.label}: {lightly.images_per_sec:,.0f} images/s", flush=True)
        body, targets = measured(s, rows, lightly, note)
    publish(args, SECTION_ID, body, targets)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
