"""GPU path: ResNet-18 SimCLR, batch 512, one epoch of 50,000 synthetic 32x32 images through the Trainer.

Measures images/s, GPU utilisation (sampled with nvidia-smi / NVML every 0.2 s during the timed
epoch), epoch time, and how many times the host waited for the GPU during the timed epoch
(`torch.cuda.set_sync_debug_mode("warn")` reports every synchronising call; the trainer reads its losses
back in groups a few times a second, see ssl_core/train/recorder.py, so a handful per second is expected
and one per step would be a regression). The first epoch warms up (cuDNN autotuning, allocator,
compilation with --compile); the second is timed. Everything runs as in `ssl-core train`: data resident
on the GPU as uint8, views made on the GPU, bf16 autocast, channels_last.

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
from ssl_core.train.events import EpochEnded, RunFailed, StepEnded
from ssl_core.train.perf import training_autocast_dtype, use_channels_last
from ssl_core.train.trainer import Trainer

SECTION_ID = "bench_gpu_epoch"
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


def write_npz(folder: Path, s: Settings) -> str:
    rng = np.random.default_rng(s.seed)
    path = folder / "synthetic.npz"
    np.savez(path, images=rng.integers(0, 256, (s.images, 32, 32, 3), dtype=np.uint8))
    return f"npz:{path}"


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


def measured(s: Settings, rows: list[Row]) -> tuple[str, list[Target]]:
    def util(r: Row) -> str:
        return f"{r.utilisation:.0f}%" if r.utilisation is not None else "n/a (no NVML / nvidia-smi)"

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
                        f"{r.first_epoch_s:.1f}",
                        r.steps,
                        r.syncs,
                    ]
                    for r in rows
                ],
                "lrrrrrr",
            ),  # fmt: skip
        ]
    )
    best = rows[0]
    return body, [
        Target(
            "GPU path",
            "images/s, utilisation, epoch time on a GPU",
            f"{best.images_per_sec:,.0f} images/s, {util(best)}, {best.epoch_s:.1f} s per epoch",
            None,
        )
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
        with tempfile.TemporaryDirectory(prefix="bench-gpu-") as tmp:
            spec = write_npz(Path(tmp), s)
            for compile in (False, True) if args.compile else (False,):
                rows.append(run_epochs(spec, s, Path(tmp) / "runs", compile))
                print(f"{rows[-1].label}: {rows[-1].images_per_sec:,.0f} images/s", flush=True)
        body, targets = measured(s, rows)
    publish(args, SECTION_ID, body, targets)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
