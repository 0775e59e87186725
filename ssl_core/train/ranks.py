"""What changes when one run trains in several processes (torch.distributed, launched by torchrun).

`Ranks` is this process's place in the job and everything the trainer does differently because of it:
- the device of each process (cuda:LOCAL_RANK with CUDA; the CPU with gloo otherwise);
- DDP around the method: a thin module whose forward is the method's `training_step`, so DDP's reducer
  sees the forward it needs and averages the gradients in the backward (buffers are synced from rank 0 once, at
  the wrap, never on forward: queues, DINO's centre and BatchNorm statistics are the methods' own business, see docs/distributed.md);
- the logged loss is the mean over processes;
- pause, stop and the time limit are decided by rank 0 and shared over a CPU (gloo) group every step,
  so every process stops at the same step, and a pause of hours never trips a collective's timeout;
- every process's RNG state goes into the checkpoint, so a resume with the same process count continues
  the same random streams.

In one process (no WORLD_SIZE, or WORLD_SIZE=1) every method here is the identity or a no-op.
"""

from __future__ import annotations

import gc
import inspect
import logging
import time
import warnings
from contextlib import AbstractContextManager
from typing import Any

import torch
import torch.distributed as dist
from torch import nn

from ssl_core import distributed
from ssl_core.distributed import DistContext
from ssl_core.distributed.context import all_reduce_max
from ssl_core.errors import UserError

log = logging.getLogger(__name__)

PAUSE_POLL_S = 0.2  # how often paused processes check (together) whether to go on


def _no_forward_buffer_sync() -> dict[str, bool]:
    """Buffers (queues, centres, BatchNorm statistics) synced at the wrap, never on forward: torch >= 2.13
    calls it forward_sync_buffers=False; before, broadcast_buffers=False (which also skipped the first sync;
    the methods that need equal buffers make them equal themselves, e.g. MoCo's queue on its first step)."""
    params = inspect.signature(nn.parallel.DistributedDataParallel.__init__).parameters
    return (
        {"forward_sync_buffers": False} if "forward_sync_buffers" in params else {"broadcast_buffers": False}
    )


class _TrainingSteps(nn.Module):
    """The method as a module whose forward is one training step (of one part), for DDP."""

    def __init__(self, method: nn.Module):
        super().__init__()
        self.method = method

    def forward(self, images: torch.Tensor, ctx: Any, part: str | None = None):
        if part is None:
            return self.method.training_step(images, ctx)
        return self.method.training_step(images, ctx, part=part)


class Ranks:
    """This process's place among the run's processes (a single process: rank 0 of 1)."""

    def __init__(self, ctx: DistContext, control_group: Any = None, owns_group: bool = False):
        self.ctx = ctx
        self._control_group = control_group
        self._owns_group = owns_group  # whether close() ends the process group (not a caller's own)
        self.steps: nn.Module | None = None  # DDP over _TrainingSteps, set by wrap()

    @classmethod
    def from_env(cls, device: torch.device | None = None) -> Ranks:
        """Join the job torchrun describes in the environment (one process: nothing to join), with NCCL
        for a run on CUDA and gloo for one on the CPU."""
        env = distributed.from_env()
        if not env.is_distributed:
            return cls(env)
        device_type = device.type if device is not None else ("cuda" if torch.cuda.is_available() else "cpu")
        if device_type not in ("cuda", "cpu"):
            raise UserError(
                f"Training in several processes needs CUDA GPUs or the CPU; train.device is {device_type}. "
                "Set train.device to cuda or cpu, or train in one process.",
                field="train.device",
            )
        owns = not dist.is_initialized()  # a program that set up the group itself keeps it after the run
        ctx = distributed.init_from_env(backend="nccl" if device_type == "cuda" else "gloo")
        # Control flags travel on the CPU, so checking them never waits for the GPU's queue of work.
        group = dist.new_group(backend="gloo") if ctx.backend != "gloo" else None
        log.info("process %d of %d (%s)", ctx.rank, ctx.world_size, ctx.backend)
        return cls(ctx, group, owns)

    # ---- who am I ------------------------------------------------------------------------------
    @property
    def distributed(self) -> bool:
        return self.ctx.is_distributed

    @property
    def is_main(self) -> bool:
        return self.ctx.is_main

    @property
    def rank(self) -> int:
        return self.ctx.rank

    @property
    def world_size(self) -> int:
        return self.ctx.world_size

    def device(self, selected: torch.device) -> torch.device:
        """Each process's own GPU (LOCAL_RANK) when the run trains on CUDA; the CPU stays the CPU."""
        if not self.distributed or selected.type != "cuda":
            return selected
        device = torch.device("cuda", self.ctx.local_rank)
        torch.cuda.set_device(device)
        return device

    def seed(self, seed: int) -> int:
        """This process's seed for its random draws (views, masks): different on every process."""
        return distributed.rank_seed(seed, self.rank)

    # ---- training ------------------------------------------------------------------------------
    def wrap(self, method: nn.Module, device: torch.device, sync_batchnorm: bool = False) -> list[str]:
        """Put DDP around `method` (several processes only); returns warnings for the user."""
        notes: list[str] = []
        if not self.distributed:
            return notes
        if sync_batchnorm:
            if device.type == "cuda":
                nn.SyncBatchNorm.convert_sync_batchnorm(method)
            else:
                notes.append(
                    "train.sync_batchnorm needs CUDA (torch's SyncBatchNorm); on the CPU each process's "
                    "BatchNorm layers use its own share of the batch."
                )
        # A 1-channel convolution's weight in channels_last has two valid stride layouts; DDP warns on every
        # backward that its gradient chose the other one (harmless: the size-1 dimension holds no data).
        warnings.filterwarnings("ignore", message="Grad strides do not match bucket view strides")
        module = _TrainingSteps(method)
        self.steps = nn.parallel.DistributedDataParallel(
            module,
            device_ids=[device.index] if device.type == "cuda" else None,
            **_no_forward_buffer_sync(),
            # a GAN's parts and heads used only by some steps leave parameters without gradients
            find_unused_parameters=True,
        )
        return notes

    def training_step(self, method: nn.Module, images: torch.Tensor, ctx: Any, part: str | None = None):
        """The method's training step, through DDP when there are several processes."""
        if self.steps is not None:
            return self.steps(images, ctx, part)
        if part is None:
            return method.training_step(images, ctx)
        return method.training_step(images, ctx, part=part)

    def mean(self, values: torch.Tensor) -> torch.Tensor:
        """The mean over processes of a vector of logged values (the loss and its parts)."""
        return distributed.all_reduce_mean(values)

    def shared_control(self, stop: bool, pause: bool, time_up: bool) -> tuple[bool, bool, bool]:
        """Rank 0's pause and time limit, and a stop asked on any process, on every process."""
        if not self.distributed:
            return stop, pause, time_up
        flags = torch.tensor([int(stop), int(pause and self.is_main), int(time_up and self.is_main)])
        flags = all_reduce_max(flags, group=self._control_group)
        return bool(flags[0]), bool(flags[1]), bool(flags[2])

    def wait_while_paused(self, control: Any) -> bool:
        """Wait, all processes together, while rank 0's control is paused; True when a stop came."""
        while True:
            stop, pause, _ = self.shared_control(control.stop_requested, control.paused, False)
            if stop or not pause:
                return stop
            time.sleep(PAUSE_POLL_S)

    # ---- the run folder and checkpoints --------------------------------------------------------
    def share(self, obj: Any) -> Any:
        """Rank 0's `obj` (picklable) on every process."""
        return distributed.broadcast_object(obj)

    def gather_objects(self, obj: Any) -> list[Any]:
        """Every process's `obj`, in rank order (a single process: [obj])."""
        if not self.distributed:
            return [obj]
        out: list[Any] = [None] * self.world_size
        dist.all_gather_object(out, obj)
        return out

    def barrier(self) -> None:
        distributed.barrier()

    def main_first(self) -> AbstractContextManager:
        """Run a block on rank 0 first, then on the others (a cache rank 0 builds, the others reuse)."""
        return _MainFirst(self)

    def close(self) -> None:
        """Leave the job (after the last collective): end the process group this run set up."""
        if self.steps is not None:
            # DDP's reducer holds the process group and its last gloo work (with gradient buckets): free it
            # now, while the group and the interpreter are alive. Left to interpreter shutdown, a rank can
            # abort after a clean stop (SIGABRT, "terminate called without an active exception"; seen once in
            # a full test run) and torchrun then reports the run as failed.
            self.steps = None
            gc.collect()  # nn.Module hooks make reference cycles: collect them here, not at exit
        if self._control_group is not None:
            dist.destroy_process_group(self._control_group)
            self._control_group = None
        if self._owns_group and dist.is_initialized():
            dist.destroy_process_group()


class _MainFirst(AbstractContextManager):
    def __init__(self, ranks: Ranks):
        self.ranks = ranks

    def __enter__(self):
        if not self.ranks.is_main:
            self.ranks.barrier()

    def __exit__(self, exc_type, exc, tb):
        if self.ranks.is_main and exc_type is None:
            self.ranks.barrier()
        return False
