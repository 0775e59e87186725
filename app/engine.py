"""Loads the engine (PyTorch, torchvision and the method, backbone and data registries) on a
background thread while the window is already on screen.

Importing them takes seconds (more than everything else in a launch together); the window does not
need them to be drawn, only to fill the method list and to train. `EngineLoader.start()` returns True
when they are already imported (the caller goes on at once), else imports them on a daemon thread and
emits `loaded` (or `failed`) on the GUI thread.
"""

from __future__ import annotations

import importlib
import logging
import sys
import threading
import traceback

from PySide6.QtCore import QObject, Signal

log = logging.getLogger(__name__)

# What the window needs before it can offer methods, devices, runs and data: each imports torch.
ENGINE_MODULES = (
    "torch",
    "ssl_core.methods",
    "ssl_core.models.backbones",
    "ssl_core.data",
    "ssl_core.device",
    "ssl_core.runs.store",
    "ssl_core.train.trainer",
)


def engine_loaded() -> bool:
    return all(name in sys.modules for name in ENGINE_MODULES)


def import_engine() -> None:
    for name in ENGINE_MODULES:
        importlib.import_module(name)


class EngineLoader(QObject):
    loaded = Signal()
    failed = Signal(object, str)  # the exception and its traceback

    def start(self) -> bool:
        """True when the engine is ready now; otherwise `loaded` follows from the event loop."""
        if engine_loaded():
            return True
        threading.Thread(target=self._run, name="engine-import", daemon=True).start()
        return False

    def _run(self) -> None:
        try:
            import_engine()
        except Exception as exc:  # a broken install: shown in a dialog, never a silent hang
            log.exception("Loading the engine failed")
            self.failed.emit(exc, traceback.format_exc())
        else:
            self.loaded.emit()
