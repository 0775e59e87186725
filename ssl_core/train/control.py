"""Thread-safe pause / resume / stop requests for a running trainer."""

from __future__ import annotations

import threading


class RunControl:
    """Set from any thread (GUI, signal handler); polled by the trainer between steps."""

    def __init__(self) -> None:
        self._stop = threading.Event()
        self._running = threading.Event()
        self._running.set()

    def pause(self) -> None:
        self._running.clear()

    def resume(self) -> None:
        self._running.set()

    def stop(self) -> None:
        self._stop.set()
        self._running.set()  # wake a paused trainer so it can stop

    @property
    def paused(self) -> bool:
        return not self._running.is_set()

    @property
    def stop_requested(self) -> bool:
        return self._stop.is_set()

    def wait_while_paused(self, poll: float = 0.1) -> None:
        while not self._running.wait(poll):
            pass
