"""Training checkpoints: what one holds, saving it atomically, and restoring it into a run's objects.

A checkpoint holds the method (weights and state such as queues and momentum encoders), the optimizer,
scheduler and gradient scaler, the RNG states, and the step and epoch, so a resumed run continues
exactly where it stopped. A method trained with one optimizer keeps it under "optimizer" and
"scheduler" (the format of every checkpoint so far); a method with several parts
(`SSLMethod.optimizer_parts`, e.g. a GAN's discriminator and generator) keeps them by part name under
"optimizers" and "schedulers". It is written with the run store's atomic writer (a failed write leaves the
previous checkpoint whole) and read with `torch.load(..., weights_only=True)`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ssl_core.errors import UserError
from ssl_core.runs.checkpoint import load_checkpoint, save_checkpoint
from ssl_core.train.global_rng import PrivateStream
from ssl_core.train.optim import SINGLE_PART

CHECKPOINT_FORMAT = 1
CHECKPOINT_KEYS = ("model", "optimizer", "scheduler", "scaler", "rng", "step")  # one optimizer
PARTS_CHECKPOINT_KEYS = ("model", "optimizers", "schedulers", "scaler", "rng", "step")  # several


@dataclass
class TrainingState:
    """The live objects of a run being trained: what a step uses and a checkpoint saves and restores.

    `optimizers` and `schedulers` are keyed by part name in the order the parts step
    (ssl_core.train.optim.build_optimizers): {SINGLE_PART: ...} for a method trained with one optimizer."""

    method: Any  # SSLMethod
    optimizers: dict[str, torch.optim.Optimizer]
    schedulers: dict[str, Any]  # part name -> torch.optim.lr_scheduler.LRScheduler
    scaler: torch.amp.GradScaler
    generator: torch.Generator  # the method's random draws (views, masks), on the device
    device: torch.device
    amp_dtype: torch.dtype | None = None  # autocast precision of a step; None: float32 throughout
    # The run's own copy of the global stream, for layers that draw from it (dropout); None when none do.
    stream: PrivateStream | None = None

    @property
    def optimizer(self) -> torch.optim.Optimizer:
        """The first part's optimizer (the only one of a method without parts)."""
        return next(iter(self.optimizers.values()))

    @property
    def scheduler(self) -> Any:
        """The first part's schedule (the only one of a method without parts)."""
        return next(iter(self.schedulers.values()))

    @property
    def single(self) -> bool:
        """Whether one optimizer trains the whole method (the checkpoint keeps the one-optimizer format)."""
        return list(self.optimizers) == [SINGLE_PART]


def save_training_checkpoint(
    path: Path,
    state: TrainingState,
    step: int,
    epoch: int,
    backbone: str,
    rng_ranks: list[dict[str, torch.Tensor]] | None = None,
) -> None:
    """Write the checkpoint of `state` at `step` atomically; raises DiskWriteError when the disk refuses.

    `backbone` is the configured backbone name, recorded when the method's backbone has no name.
    `rng_ranks`: every process's RNG states (`rng_state`) when several processes train the run; they are
    kept with the number of processes, so a resume with as many continues each one's random streams."""
    ranks = {"rng_ranks": rng_ranks, "world_size": len(rng_ranks)} if rng_ranks else {}
    save_checkpoint(
        path,
        {
            "model": state.method.state_dict(),
            **_optimizer_states(state),
            "scaler": state.scaler.state_dict(),
            "rng": rng_state(state.generator, state.device, state.stream),
            "step": step,
            "epoch": epoch,
            # MAE swaps the configured backbone for its ViT: record what the weights really are.
            "backbone_name": str(getattr(state.method.backbone, "name", backbone)),
            "format": CHECKPOINT_FORMAT,
            **ranks,
        },
    )


def _optimizer_states(state: TrainingState) -> dict[str, Any]:
    if state.single:
        return {"optimizer": state.optimizer.state_dict(), "scheduler": state.scheduler.state_dict()}
    return {
        "optimizers": {name: opt.state_dict() for name, opt in state.optimizers.items()},
        "schedulers": {name: sched.state_dict() for name, sched in state.schedulers.items()},
    }


def _restore_optimizers(saved: dict[str, Any], state: TrainingState) -> None:
    """Load the saved optimizers and schedules into `state`'s; KeyError when the parts differ."""
    if state.single:
        state.optimizer.load_state_dict(saved["optimizer"])
        state.scheduler.load_state_dict(saved["scheduler"])
        return
    optimizers, schedulers = saved["optimizers"], saved["schedulers"]
    if list(optimizers) != list(state.optimizers) or list(schedulers) != list(state.schedulers):
        raise KeyError(
            f"optimizer parts {', '.join(optimizers)} saved, {', '.join(state.optimizers)} expected"
        )
    for name, optimizer in state.optimizers.items():
        optimizer.load_state_dict(optimizers[name])
        state.schedulers[name].load_state_dict(schedulers[name])


@dataclass(frozen=True)
class Restored:
    step: int
    world_size: int  # processes that trained the run up to the checkpoint (1 for one process)
    own_rng: bool  # whether this process got its own saved random streams back


def restore_training_checkpoint(path: Path, state: TrainingState, rank: int = 0, world_size: int = 1) -> int:
    """Load the checkpoint at `path` into `state` and return its step (see `restore_checkpoint`)."""
    return restore_checkpoint(path, state, rank, world_size).step


def restore_checkpoint(path: Path, state: TrainingState, rank: int = 0, world_size: int = 1) -> Restored:
    """Load the checkpoint at `path` into `state`, as process `rank` of `world_size`.

    The weights, optimizers and schedules are the same for every process. The random streams are
    process `rank`'s own when the checkpoint was saved by as many processes (or by one, for rank 0);
    otherwise the process keeps the streams it was seeded with (`Restored.own_rng` is False).

    A checkpoint that is not a training checkpoint, or does not fit the run's objects (the config was
    edited after training), is a user error whose message says what to do."""
    saved = load_checkpoint(path, map_location=state.device)
    # A checkpoint saved with several optimizers: its own keys; else the one-optimizer format.
    keys = PARTS_CHECKPOINT_KEYS if "optimizers" in saved else CHECKPOINT_KEYS
    missing = [key for key in keys if key not in saved]
    if missing:
        raise UserError(
            f"Checkpoint {path} is not a training checkpoint (it has no {', '.join(missing)}); it may be an "
            "exported backbone. Put the run's own checkpoints/last.pt back, or start a new run.",
            path=str(path),
        )
    try:
        state.method.load_state_dict(saved["model"])
        _restore_optimizers(saved, state)
        state.scaler.load_state_dict(saved["scaler"])
        saved_world = int(saved.get("world_size", 1))
        rng = _rng_of(saved, rank, world_size)
        if rng is not None:
            restore_rng(rng, state.generator, state.device, state.stream)
    except (RuntimeError, ValueError, KeyError, TypeError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UserError(
            f"Checkpoint {path} does not match the run's config.toml ({first}); the config was probably "
            "edited after training. Restore the original settings, or start a new run.",
            path=str(path),
        ) from None
    return Restored(int(saved["step"]), saved_world, rng is not None)


def _rng_of(saved: dict[str, Any], rank: int, world_size: int) -> dict[str, torch.Tensor] | None:
    """This process's saved random streams, when the run had as many processes when it was saved."""
    per_rank = saved.get("rng_ranks")
    if per_rank and len(per_rank) == world_size:
        return per_rank[rank]
    if not per_rank and world_size == 1:
        return saved["rng"]
    return None


def _stream_key(device: torch.device) -> str:
    return "cuda" if device.type == "cuda" else "torch"


def rng_state(
    generator: torch.Generator, device: torch.device, stream: PrivateStream | None = None
) -> dict[str, torch.Tensor]:
    """torch's global RNG, the run's generator and, on CUDA, the device's RNG; the run's private copy of
    its device's global stream in place of the global one when it has one."""
    state = {"torch": torch.get_rng_state(), "generator": generator.get_state()}
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    if stream is not None:
        state[_stream_key(device)] = stream.state.clone()
    return state


def restore_rng(
    state: dict[str, torch.Tensor],
    generator: torch.Generator,
    device: torch.device,
    stream: PrivateStream | None = None,
) -> None:
    """Restore the run's generator and its private stream. The process-wide streams are left alone: the
    run draws nothing from them (builds fork them, dropout uses the private copy), and another run
    training in this process may be using them."""
    generator.set_state(state["generator"].cpu())
    key = _stream_key(device)
    if stream is not None and key in state:
        stream.state = state[key].cpu().clone()
