"""How long a thread was held up by its own work or waits, not by other processes taking the CPU."""

from __future__ import annotations

import os
import time
from pathlib import Path


def _runqueue_wait_s(task: int | str) -> float:
    """Seconds a thread of this process has spent runnable but waiting for a CPU (Linux schedstat), or
    0.0 where the kernel does not say; then a stall is measured on the wall clock alone."""
    try:
        fields = Path(f"/proc/self/task/{task}/schedstat").read_text().split()
        return int(fields[1]) / 1e9
    except (OSError, IndexError, ValueError):
        return 0.0


def _runqueue_waits() -> dict[str, float]:
    """Each thread's run-queue wait so far, by thread id."""
    try:
        tasks = os.listdir("/proc/self/task")
    except OSError:
        return {}
    return {task: _runqueue_wait_s(task) for task in tasks}


class StallClock:
    """Gaps between calls made on one thread, without the time the process waited for a CPU while other
    processes ran: on a loaded machine (a parallel test worker, a build) the wall-clock gap also
    measures the scheduler, while what is left is the thread's own work and what it waited on (a lock,
    the GIL, a join), the way it would stall on an idle machine.

    The GUI thread also waits, off the run queue, for a thread that holds the GIL while that thread waits
    for a CPU; so the wait taken out of a gap is the longest run-queue wait of any of the process's threads
    in it (the ticking thread's own included), never more than one thread's, so real work is not hidden."""

    def __init__(self):
        self.gaps: list[float] = []  # seconds, the waits for a CPU taken out
        self.wall_gaps: list[float] = []
        self._last: tuple[float, dict[str, float]] | None = None

    def tick(self) -> None:
        now = (time.perf_counter(), _runqueue_waits())
        if self._last is not None:
            wall = now[0] - self._last[0]
            before = self._last[1]
            waited = max((now[1][t] - before[t] for t in now[1] if t in before), default=0.0)
            self.wall_gaps.append(wall)
            self.gaps.append(max(0.0, wall - waited))
        self._last = now
