"""Background jobs: a QObject worker run on its own QThread, napari-style signals, and a job runner.

The GUI thread never waits on a job: it starts one and reacts to its signals. The Worker object itself
stays in the GUI thread (only its `run` executes on the job thread), so Qt queues every signal it emits
into the GUI thread, whatever it is connected to (bound slots, lambdas, functions). A worker moved to its
thread would instead run connected lambdas on the job thread, touching widgets from the wrong thread.
"""

from __future__ import annotations

import inspect
import logging
import threading
import traceback
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QThread, Signal, Slot

log = logging.getLogger(__name__)


def _cancel_exceptions() -> tuple[type[BaseException], ...]:
    try:
        from ssl_core.eval.progress import Cancelled
    except ImportError:  # pragma: no cover - the eval package is part of the engine
        return ()
    return (Cancelled,)


class Worker(QObject):
    """Runs `fn(*args, **kwargs)` on a worker thread; a generator function may yield partial results.

    `inject` names keyword arguments the worker fills in: "progress" gets a thread-safe
    `(fraction, message)` callback and "cancel" gets the worker's `threading.Event`.
    Signals, in order: started, then any of progress/yielded/paused/resumed, then exactly one of
    returned/errored/aborted, then finished (always, last).
    """

    started = Signal()
    progress = Signal(float, str)
    yielded = Signal(object)
    paused = Signal()
    resumed = Signal()
    returned = Signal(object)
    errored = Signal(object, str)  # the exception and its formatted traceback
    aborted = Signal()
    finished = Signal()

    def __init__(self, fn: Callable[..., Any], *args: Any, inject: tuple[str, ...] = (), **kwargs: Any):
        super().__init__()
        self.fn = fn
        self.args = args
        self.kwargs = kwargs
        self.cancel_event = threading.Event()
        self._running = threading.Event()
        self._running.set()
        self.is_running = False
        self.result: Any = None
        if "progress" in inject:
            self.kwargs["progress"] = self.report_progress
        if "cancel" in inject:
            self.kwargs["cancel"] = self.cancel_event

    # ---- called from any thread --------------------------------------------------------------
    def report_progress(self, fraction: float, message: str = "") -> None:
        self.progress.emit(float(fraction), str(message))

    def quit(self) -> None:
        """Ask the job to stop: generators stop at their next yield, functions poll `cancel`."""
        self.cancel_event.set()
        self._running.set()

    def pause(self) -> None:
        self._running.clear()

    def resume(self) -> None:
        self._running.set()

    @property
    def abort_requested(self) -> bool:
        return self.cancel_event.is_set()

    # ---- runs on the worker thread --------------------------------------------------------------
    @Slot()
    def run(self) -> None:
        self.is_running = True
        self.started.emit()
        try:
            if inspect.isgeneratorfunction(self.fn):
                outcome = self._run_generator()
            else:
                self.result = self.fn(*self.args, **self.kwargs)
                outcome = "aborted" if self.abort_requested and self.result is None else "returned"
        except _cancel_exceptions():
            outcome = "aborted"
        except Exception as exc:  # reported to the GUI, which shows a dialog
            if self.abort_requested:
                outcome = "aborted"
            else:
                log.debug("worker %s failed", getattr(self.fn, "__name__", self.fn), exc_info=True)
                self.errored.emit(exc, traceback.format_exc())
                outcome = "errored"
        if outcome == "returned":
            self.returned.emit(self.result)
        elif outcome == "aborted":
            self.aborted.emit()
        self.is_running = False
        self.finished.emit()

    def _run_generator(self) -> str:
        gen = self.fn(*self.args, **self.kwargs)
        while True:
            if not self._running.is_set():
                self.paused.emit()
                self._running.wait()
                if not self.abort_requested:
                    self.resumed.emit()
            if self.abort_requested:
                gen.close()
                return "aborted"
            try:
                value = next(gen)
            except StopIteration as stop:
                self.result = stop.value
                return "returned"
            self.yielded.emit(value)


class _JobThread(QThread):
    def __init__(self, worker: Worker, name: str):
        super().__init__()
        self.worker = worker
        self.setObjectName(f"ssl-workbench-{name}")

    def run(self) -> None:
        self.worker.run()


class JobRunner(QObject):
    """Starts workers on their own QThreads and keeps them alive until their threads end.

    Holding the references here is what prevents "QThread: Destroyed while thread is still running".
    """

    changed = Signal()  # a job started or ended
    idle = Signal()  # the last running job ended

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._jobs: dict[Worker, tuple[QThread, str]] = {}

    def start(self, worker: Worker, name: str = "job") -> Worker:
        thread = _JobThread(worker, name)
        thread.finished.connect(self._thread_finished)
        self._jobs[worker] = (thread, name)
        thread.start()
        self.changed.emit()
        return worker

    @Slot()
    def _thread_finished(self) -> None:
        thread = self.sender()
        for worker, (t, _) in list(self._jobs.items()):
            if t is thread:
                del self._jobs[worker]
                t.wait()  # already finished: returns at once, and makes the end definite
        self.changed.emit()
        if not self._jobs:
            self.idle.emit()

    def running(self, name: str | None = None) -> bool:
        return any(name is None or n == name for _, n in self._jobs.values())

    def names(self) -> list[str]:
        return [n for _, n in self._jobs.values()]

    def workers(self, name: str | None = None) -> list[Worker]:
        return [w for w, (_, n) in self._jobs.items() if name is None or n == name]

    def cancel(self, name: str | None = None) -> None:
        for worker in self.workers(name):
            worker.quit()

    def wait_all(self, timeout_ms: int = 10_000) -> bool:
        """Block until every thread ended (only at application exit, after cancelling)."""
        ok = True
        for thread, _ in list(self._jobs.values()):
            ok = thread.wait(timeout_ms) and ok
        return ok
