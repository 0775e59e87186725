"""Coalesce a stream of items from any thread into at most N batches a second on the GUI thread.

The trainer publishes one event per step (hundreds a second on a GPU); redrawing for each would
flood the event loop. Items are appended under a lock; the first item after a flush schedules one
flush on the GUI thread, no sooner than `interval_ms` after the previous one.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from PySide6.QtCore import QObject, Qt, QTimer, Signal, Slot


class Coalescer(QObject):
    flushed = Signal(list)  # the items pushed since the last flush, in order
    _wake = Signal()

    def __init__(self, interval_ms: int = 40, parent: QObject | None = None):
        super().__init__(parent)
        self.interval_ms = interval_ms
        self._lock = threading.Lock()
        self._items: list[Any] = []
        self._scheduled = False
        self._last_flush = 0.0
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self.flush)
        self._wake.connect(self._schedule, Qt.ConnectionType.QueuedConnection)
        self.flush_count = 0

    def push(self, item: Any) -> None:
        """Thread-safe; cheap enough to call from the training loop on every step."""
        with self._lock:
            self._items.append(item)
            wake = not self._scheduled
            self._scheduled = True
        if wake:
            try:
                self._wake.emit()
            except RuntimeError:
                # The C++ object is gone (its window was closed while a worker still ran): nobody is
                # left to draw, and the worker must not fail because of it.
                with self._lock:
                    self._items.clear()

    @Slot()
    def _schedule(self) -> None:
        elapsed_ms = (time.monotonic() - self._last_flush) * 1000.0
        self._timer.start(int(max(0.0, self.interval_ms - elapsed_ms)))

    @Slot()
    def flush(self) -> None:
        """Emit what is pending now (also called directly when a job ends, to deliver the tail)."""
        self._timer.stop()
        with self._lock:
            items, self._items = self._items, []
            self._scheduled = False
        self._last_flush = time.monotonic()
        if items:
            self.flush_count += 1
            self.flushed.emit(items)
