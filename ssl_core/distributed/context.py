"""Who this process is in a torch.distributed job, and the few collective helpers the engine needs.

torchrun starts one process per device and tells each its place through environment variables: RANK (this
process among all), WORLD_SIZE (how many), LOCAL_RANK (this process on its machine, which picks the GPU),
MASTER_ADDR and MASTER_PORT (where rank 0 listens). `from_env` reads them before the process group exists;
`current` asks the initialised process group and falls back to a single-process context when there is
none, so code written for N processes runs unchanged in one.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeVar

import torch
import torch.distributed as dist

T = TypeVar("T")

_MASK64 = (1 << 64) - 1
_GOLDEN64 = 0x9E3779B97F4A7C15  # 2**64 / golden ratio, odd: r -> r * _GOLDEN64 is a bijection mod 2**64


@dataclass(frozen=True)
class DistContext:
    """This process's place in the job. backend is None when no process group is initialised."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    backend: str | None = None

    @property
    def is_main(self) -> bool:
        """Rank 0 writes the run's files, logs and checkpoints; the other ranks only compute."""
        return self.rank == 0

    @property
    def is_distributed(self) -> bool:
        return self.world_size > 1


def is_initialized() -> bool:
    return dist.is_available() and dist.is_initialized()


def world_size(group=None) -> int:
    """How many processes take part (1 when no process group is initialised)."""
    return dist.get_world_size(group) if is_initialized() else 1


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError as exc:
        raise ValueError(f"environment variable {name} must be an integer; got {value!r}") from exc


def from_env() -> DistContext:
    """The context torchrun's environment variables describe (rank 0 of 1 when they are absent)."""
    rank = _env_int("RANK", 0)
    world_size = _env_int("WORLD_SIZE", 1)
    if world_size < 1 or not 0 <= rank < world_size:
        raise ValueError(f"RANK={rank} and WORLD_SIZE={world_size} do not describe a process of the job")
    return DistContext(rank=rank, world_size=world_size, local_rank=_env_int("LOCAL_RANK", rank))


def current() -> DistContext:
    """The context of the initialised default process group, or a single-process context."""
    if not is_initialized():
        return DistContext()
    rank = dist.get_rank()
    return DistContext(
        rank=rank,
        world_size=dist.get_world_size(),
        local_rank=_env_int("LOCAL_RANK", rank),
        backend=str(dist.get_backend()),
    )


def init_from_env(backend: str | None = None, timeout_s: float = 1800.0) -> DistContext:
    """Initialise the default process group from torchrun's variables when WORLD_SIZE > 1.

    backend defaults to "nccl" when CUDA is available and "gloo" otherwise. A single-process environment
    initialises nothing and returns the single-process context; an initialised group is returned as is.
    """
    if is_initialized():
        return current()
    ctx = from_env()
    if not ctx.is_distributed:
        return ctx
    if not dist.is_available():
        raise RuntimeError("WORLD_SIZE > 1 but this torch build has no torch.distributed")
    backend = backend or ("nccl" if torch.cuda.is_available() else "gloo")
    dist.init_process_group(
        backend=backend,
        init_method="env://",
        rank=ctx.rank,
        world_size=ctx.world_size,
        timeout=timedelta(seconds=timeout_s),
    )
    return current()


def barrier() -> None:
    """Wait for every process; a no-op in a single process."""
    if is_initialized() and dist.get_world_size() > 1:
        dist.barrier()


def broadcast_object(obj: T, src: int = 0) -> T:
    """Rank `src`'s `obj` on every rank (pickled; for small things such as a run id or a config).

    The other ranks' `obj` is ignored. Returns `obj` itself in a single process.
    """
    if not is_initialized() or dist.get_world_size() == 1:
        return obj
    holder: list[Any] = [obj]
    dist.broadcast_object_list(holder, src=src)
    return holder[0]


def all_reduce_mean(tensor: torch.Tensor) -> torch.Tensor:
    """The mean of `tensor` over all ranks, as a new detached tensor (for logging losses and metrics).

    In a single process: `tensor` detached. Integer tensors are averaged in float32.
    """
    out = tensor.detach()
    if not is_initialized() or dist.get_world_size() == 1:
        return out
    out = out.clone() if out.is_floating_point() else out.float()
    dist.all_reduce(out, op=dist.ReduceOp.SUM)
    return out / dist.get_world_size()


@torch.no_grad()
def all_reduce_sum(tensor: torch.Tensor, group=None) -> torch.Tensor:
    """The sum of `tensor` over all ranks, as a new detached tensor (batch sums of a statistic that
    must stay identical on every rank: DINO's centre, SwAV's Sinkhorn-Knopp). No gradient flows.

    In a single process: `tensor` detached (the same values, not a copy).
    """
    return _all_reduced(tensor, dist.ReduceOp.SUM, group)


@torch.no_grad()
def all_reduce_max(tensor: torch.Tensor, group=None) -> torch.Tensor:
    """The element-wise maximum of `tensor` over all ranks, detached (`tensor` detached in one process)."""
    return _all_reduced(tensor, dist.ReduceOp.MAX, group)


def _all_reduced(tensor: torch.Tensor, op, group) -> torch.Tensor:
    """`tensor` reduced with `op` over all ranks into a new detached tensor (`tensor` detached in one
    process)."""
    out = tensor.detach()
    if world_size(group) == 1:
        return out
    out = out.clone()
    dist.all_reduce(out, op=op, group=group)
    return out


@torch.no_grad()
def broadcast_tensors_(*tensors: torch.Tensor, src: int = 0, group=None) -> None:
    """Overwrite `tensors` in place with rank `src`'s values (buffers that must start identical on every
    rank, e.g. a queue initialised at random). A no-op in a single process."""
    if world_size(group) == 1:
        return
    for tensor in tensors:
        dist.broadcast(tensor, src=src, group=group)


def _splitmix64(x: int) -> int:
    x = (x + _GOLDEN64) & _MASK64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK64
    return x ^ (x >> 31)


def rank_seed(seed: int, rank: int) -> int:
    """The augmentation seed of process `rank` in a run seeded with `seed`.

    Every process must draw different views (otherwise N processes augment N copies of one batch the same
    way), and a rerun with the same seed and world size must draw the same ones. The mixing:

    - rank 0 keeps `seed` unchanged, so a one-process run draws exactly what it drew before;
    - rank r > 0 gets splitmix64((seed mod 2**64) XOR (r * 0x9E3779B97F4A7C15 mod 2**64)), keeping the low
      63 bits. splitmix64 is a bijection of 64-bit integers and r -> r * odd constant is one too, so two
      ranks of one run never share a seed before the final mask (after it, with probability ~2**-63).

    The result is in [0, 2**63), accepted by torch.manual_seed, torch.Generator and numpy alike.
    """
    if rank < 0:
        raise ValueError(f"rank must be >= 0; got {rank}")
    if rank == 0:
        return seed
    mixed = (seed & _MASK64) ^ ((rank * _GOLDEN64) & _MASK64)
    return _splitmix64(mixed) & ((1 << 63) - 1)
