"""Python's cyclic garbage collector, run on the GUI thread only.

The collector runs in whichever thread happens to allocate when a threshold is crossed; in this app
that is usually a worker (training, embedding, UMAP). Qt objects caught in reference cycles (plot items
a tab removed, closures connected to signals) would then be destroyed on that worker thread, and Qt
complains ("QBasicTimer::start: Timers cannot be started from another thread") or, worse, crashes.
So automatic collection is switched off and a timer on the GUI thread collects the generation whose
threshold was crossed, exactly as the automatic collector would have (the known PyQt/pyqtgraph recipe).

A full collection walks every object: with PyTorch imported that is ~400,000 objects and a third of a
second with the GIL held, a visible freeze whichever thread runs it. `freeze_startup()` moves what the
launch created (modules, classes, registries) to the permanent generation once, after the engine is
imported, so later full collections only walk what the session itself created.
"""

from __future__ import annotations

import gc
import logging

from PySide6.QtCore import QObject, QTimer

log = logging.getLogger(__name__)

_frozen = False  # once per process: a second window (tests) must not pay for another full collection


class GuiThreadCollector(QObject):
    def __init__(self, interval_ms: int = 100, parent: QObject | None = None):
        super().__init__(parent)
        self._was_enabled = gc.isenabled()
        self.collections = [0, 0, 0]
        self.timer = QTimer(self)
        self.timer.setInterval(interval_ms)
        self.timer.timeout.connect(self.check)

    def start(self) -> None:
        gc.disable()
        self.timer.start()

    def stop(self) -> None:
        """Give collection back to Python (e.g. when the window closes inside a longer-lived process)."""
        self.timer.stop()
        if self._was_enabled:
            gc.enable()

    @staticmethod
    def freeze_startup() -> None:
        global _frozen
        if _frozen:
            return
        _frozen = True
        gc.collect()  # garbage left by the imports is freed, not frozen
        gc.freeze()
        log.debug("froze %d startup objects", gc.get_freeze_count())

    def check(self) -> None:
        counts, thresholds = gc.get_count(), gc.get_threshold()
        generation = -1
        for g in range(3):
            if thresholds[g] and counts[g] > thresholds[g]:
                generation = g
        if generation >= 0:
            gc.collect(generation)
            self.collections[generation] += 1
