"""Runs that train on the CPU at the same time in one process (a race) share its cores instead of each
taking all of them.

Each run would otherwise use one intra-op thread per core, and two runs would put two threads on every
core; OpenMP's waiting threads spin, so they fight: on a 2-core CPU two SimCLR runs of 60 steps on the
digits took 72-78 s with 2 threads each and 8-13 s with 1 thread each. torch's thread count is a setting of
each OS thread once that thread has used it (OpenMP's nthreads), so every run sets its own share from its
own thread, at every step: the limit divided by the runs now training, and all of it again once it is
alone. The limit is what the first of them had (`limit_cpu_threads`: at most OMP_NUM_THREADS when the user
set it, else one per physical core, and less if the caller chose less with torch.set_num_threads).
The thread count changes the order of sums, so a run's numbers match a solo run's bit for bit only at the
same thread count (set OMP_NUM_THREADS to fix it); otherwise they agree to rounding.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import torch

from ssl_core.train.perf import limit_cpu_threads

_LOCK = threading.Lock()
_running = 0  # runs training on the CPU in this process now
_limit = 0  # threads of all of them together, fixed by the first (a later one may start from its share)


def runs_sharing() -> int:
    return _running


class CoreShare:
    """One run's share of the cores; `adjust` (from the run's own thread) follows the number of runs."""

    def __init__(self, limit: int):
        self.limit = limit
        self.threads = torch.get_num_threads()

    def adjust(self) -> int:
        share = max(1, self.limit // max(1, _running))
        if share != self.threads:
            torch.set_num_threads(share)
            self.threads = share
        return share


@contextmanager
def sharing_cores(device: torch.device) -> Iterator[CoreShare | None]:
    """Count this run among those sharing the CPU while the block runs (None on other devices)."""
    global _running, _limit
    if device.type != "cpu":
        yield None
        return
    with _LOCK:
        if _running == 0:
            _limit = limit_cpu_threads()
        _running += 1
        share = CoreShare(_limit)
    try:
        share.adjust()
        yield share
    finally:
        with _LOCK:
            _running -= 1
        if share.threads != share.limit:  # threads started later begin from the full count again
            torch.set_num_threads(share.limit)
