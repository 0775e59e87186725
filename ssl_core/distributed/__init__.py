"""Distributed primitives for data-parallel training under torchrun (process context, gathers with
gradients, per-rank seeds). Every helper is the identity, or a no-op, in a single process, so engine code
can call them unconditionally."""

from ssl_core.distributed.context import (
    DistContext,
    all_reduce_mean,
    barrier,
    broadcast_object,
    current,
    from_env,
    init_from_env,
    rank_seed,
    world_size,
)
from ssl_core.distributed.gather import all_gather_no_grad, all_gather_with_grad, gather_with_offset

__all__ = [
    "DistContext",
    "all_gather_no_grad",
    "all_gather_with_grad",
    "all_reduce_mean",
    "barrier",
    "broadcast_object",
    "current",
    "from_env",
    "gather_with_offset",
    "init_from_env",
    "rank_seed",
    "world_size",
]
