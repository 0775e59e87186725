"""What a failed training step or write was: out of memory, a disk that refused a write, or a bug.

The trainer turns the first two into messages that say what to do; only bugs get a traceback.
"""

from __future__ import annotations

import errno
import gc

import torch

# What each allocator says when it runs out (CUDA and MPS raise OutOfMemoryError or RuntimeError, the
# CPU allocator a RuntimeError).
OOM_TEXTS = ("out of memory", "can't allocate memory", "cannot allocate memory", "not enough memory")
WRITE_ERRNOS = frozenset(
    {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC), errno.EACCES, errno.EPERM, errno.EROFS}
)


def is_out_of_memory(exc: BaseException) -> bool:
    oom_types = tuple(
        t
        for t in (getattr(torch, "OutOfMemoryError", None), getattr(torch.cuda, "OutOfMemoryError", None))
        if isinstance(t, type)
    )
    if isinstance(exc, (MemoryError, *oom_types)):
        return True
    text = str(exc).lower()
    return isinstance(exc, RuntimeError) and any(t in text for t in OOM_TEXTS)


def is_write_error(exc: OSError) -> bool:
    """A disk that is full or a folder that is not writable (as opposed to, say, a missing file)."""
    return exc.errno in WRITE_ERRNOS


def free_memory(device: torch.device | None) -> None:
    """Give back what a failed step held, so the process (the GUI) can go on."""
    gc.collect()
    if device is not None and device.type == "cuda":
        torch.cuda.empty_cache()
    elif device is not None and device.type == "mps" and hasattr(torch, "mps"):
        torch.mps.empty_cache()


# What gloo and NCCL say when another process of the job died (torchrun then ends this one too).
_PEER_LOST = (
    "Connection reset by peer",
    "Connection closed by peer",
    "Broken pipe",
    "NCCL communicator was aborted",
)


def is_peer_lost(exc: BaseException) -> bool:
    """Whether `exc` is a collective failing because another training process of the run ended."""
    import torch.distributed as dist

    if isinstance(exc, dist.DistError) and not isinstance(exc, dist.DistBackendError):
        return False
    return isinstance(exc, RuntimeError) and any(text in str(exc) for text in _PEER_LOST)
