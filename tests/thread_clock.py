"""How long a thread was held up by its own work or waits, not by other processes taking the CPU."""

from __future__ import annotations

import threading
import time
from pathlib import Path


def _runqueue_wait_s() -> float:
    """Seconds the calling thread has spent runnable but waiting for a CPU (Linux schedstat), or 0.0
    where the kernel does not say; then a stall is measured on the wall clock alone."""
    try:
        fields = Path(f"/proc/self/task/{threading.get_native_id()}/schedstat").read_text().split()
        return int(fields[1]) / 1e9
    except (OSError, IndexError, ValueError):
        return 0.0


class StallClock:
    """Gaps between calls made on one thread, without the time it waited for a CPU while other
    processes ran: on a loaded machine (a parallel test worker, a build) the wall-clock gap also
    measures the scheduler, while what is left is the thread's own work and what it waited on (a lock,
    the GIL, a join), the way it would stall on an idle machine."""

    def __init__(self):
        self.gaps: list[float] = []  # seconds, the waits for a CPU taken out
        self.wall_gaps: list[float] = []
        self._last: tuple[float, float] | None = None

    def tick(self) -> None:
        now = (time.perf_counter(), _runqueue_wait_s())
        if self._last is not None:
            wall = now[0] - self._last[0]
            self.wall_gaps.append(wall)
            self.gaps.append(max(0.0, wall - (now[1] - self._last[1])))
        self._last = now
