"""A tiny real training run for tests that need a run folder: SimCLR on the digits with the small CNN,
a few steps on the CPU. Overrides change anything (`"train.max_steps=3"`, `"method.name=autoencoder"`)."""

from __future__ import annotations

from pathlib import Path

from ssl_core.config import RunConfig

TINY_RUN = (
    "data.spec=digits",
    "method.name=simclr",
    "method.backbone=small_cnn",
    "train.epochs=1",
    "train.max_steps=8",
    "train.batch_size=128",
    "train.device=cpu",
    "data.num_workers=0",
)


def tiny_config(runs_dir: str | Path, *overrides: str) -> RunConfig:
    return RunConfig().with_overrides([*TINY_RUN, f"runs_dir={str(runs_dir)!r}", *overrides])


def train_tiny(runs_dir: str | Path, *overrides: str) -> Path:
    """Train the tiny run into `runs_dir` and return its folder (it must complete)."""
    from ssl_core.train.trainer import Trainer

    result = Trainer(tiny_config(runs_dir, *overrides)).run()
    assert result.status == "completed", result.message
    return result.run_dir
