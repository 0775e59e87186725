"""The bridge between the engine's Trainer and the GUI: runs it on a worker thread, turns its events
(published on the training thread) into throttled Qt signals, and forwards pause/resume/stop.

A run with several processes (train.processes > 1, "All N GPUs") trains in a child process instead, which
the worker thread follows through the run store (app.child_run); the signals and commands are the same."""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal

from app.throttle import Coalescer
from app.workers import JobRunner, Worker
from ssl_core.config import RunConfig
from ssl_core.train.control import RunControl
from ssl_core.train.events import (
    CheckpointSaved,
    EpochEnded,
    PreviewReady,
    RunFailed,
    RunFinished,
    RunStarted,
    StepEnded,
    TrainWarning,
)

log = logging.getLogger(__name__)

IDLE, STARTING, RUNNING, PAUSED, STOPPING = "idle", "starting", "running", "paused", "stopping"


def run_trainer(
    config: RunConfig | None,
    resume_dir: Path | None,
    control: RunControl,
    preview_interval_s: float | None,
    publish,
) -> Any:
    """Build and run a Trainer (on the worker thread); every engine event goes to `publish`."""
    from ssl_core.train.trainer import Trainer

    if resume_dir is not None:
        trainer = Trainer.resume(resume_dir, control=control, preview_interval_s=preview_interval_s)
    else:
        trainer = Trainer(config, control=control, preview_interval_s=preview_interval_s)
    trainer.events.subscribe(publish)
    return trainer.run()


def run_training(
    config: RunConfig | None,
    resume_dir: Path | None,
    control: RunControl,
    preview_interval_s: float | None,
    publish,
    cancel: threading.Event | None = None,
    child: bool | None = None,
) -> Any:
    """Train in this process, or in a child process when the run has several (train.processes > 1: the
    GUI's "All N GPUs"; app.child_run). The same events reach `publish` either way. `child` forces one
    path (tests); None decides from the config (for a resume, the run's saved config, read here on the
    worker thread)."""
    from app.child_run import run_child, wants_child

    if wants_child(config, resume_dir) if child is None else child:
        return run_child(config, resume_dir, control, preview_interval_s, publish, cancel)
    return run_trainer(config, resume_dir, control, preview_interval_s, publish)


class TrainingSession(QObject):
    """One training job at a time. Signals arrive on the GUI thread, at most ~25 batches a second."""

    state_changed = Signal(str)
    run_started = Signal(object)  # RunStarted
    steps = Signal(list)  # [StepEnded, ...] since the last batch
    epoch_ended = Signal(object)  # EpochEnded
    checkpoint_saved = Signal(object)  # CheckpointSaved
    warning = Signal(str)
    preview = Signal(object)  # PreviewReady (only the newest of a batch)
    run_finished = Signal(object)  # RunFinished
    run_failed = Signal(object)  # RunFailed
    job_error = Signal(object, str)  # an exception before the trainer could report (e.g. bad resume dir)
    ended = Signal()  # the worker thread's job is over (after run_finished / run_failed)

    def __init__(
        self, runner: JobRunner, interval_ms: int = 40, parent: QObject | None = None, job_name: str = "train"
    ):
        super().__init__(parent)
        self.runner = runner
        self.job_name = job_name  # the runner's name for this session's jobs (a race's lanes have their own)
        self.state = IDLE
        self.control: RunControl | None = None
        self.worker: Worker | None = None
        self.run_dir: Path | None = None
        self.preview_interval_s: float | None = 1.0
        # None: train in a child process when the config asks for several processes; True/False force it
        self.child: bool | None = None
        self.coalescer = Coalescer(interval_ms, self)
        self.coalescer.flushed.connect(self._dispatch)

    # ---- commands ----------------------------------------------------------------------------
    def start(self, config: RunConfig) -> Worker:
        return self._launch(config, None)

    def resume_run(self, run_dir: str | Path) -> Worker:
        return self._launch(None, Path(run_dir))

    def _launch(self, config: RunConfig | None, resume_dir: Path | None) -> Worker:
        if self.busy:
            raise RuntimeError("a training job is already running")
        self.control = RunControl()
        self.run_dir = resume_dir
        worker = Worker(
            run_training,
            config,
            resume_dir,
            self.control,
            self.preview_interval_s,
            self.coalescer.push,
            child=self.child,
            inject=("cancel",),  # closing the window cancels the job: a child process is then ended
        )
        worker.errored.connect(self.job_error)
        worker.finished.connect(self._worker_finished)
        self.worker = worker
        self._set_state(STARTING)
        return self.runner.start(worker, self.job_name)

    def pause(self) -> None:
        if self.control is not None and self.state == RUNNING:
            self.control.pause()
            self._set_state(PAUSED)

    def resume(self) -> None:
        if self.control is not None and self.state == PAUSED:
            self.control.resume()
            self._set_state(RUNNING)

    def stop(self) -> None:
        """Finish the current step, save a checkpoint, end (the run stays resumable)."""
        if self.control is not None and self.state in (STARTING, RUNNING, PAUSED):
            self.control.stop()
            self._set_state(STOPPING)

    @property
    def busy(self) -> bool:
        return self.state != IDLE

    # ---- events ------------------------------------------------------------------------------
    def _set_state(self, state: str) -> None:
        if state != self.state:
            self.state = state
            self.state_changed.emit(state)

    def _dispatch(self, events: list[Any]) -> None:
        steps = [e for e in events if isinstance(e, StepEnded)]
        previews = [e for e in events if isinstance(e, PreviewReady)]
        for event in events:
            if isinstance(event, StepEnded | PreviewReady):
                continue
            if isinstance(event, RunStarted):
                self.run_dir = Path(event.run_dir)
                if self.state == STARTING:
                    self._set_state(RUNNING)
                self.run_started.emit(event)
            elif isinstance(event, EpochEnded):
                if steps and steps[0].step <= event.step:  # keep steps before their epoch's end
                    before = [s for s in steps if s.step <= event.step]
                    steps = [s for s in steps if s.step > event.step]
                    self.steps.emit(before)
                self.epoch_ended.emit(event)
            elif isinstance(event, CheckpointSaved):
                self.checkpoint_saved.emit(event)
            elif isinstance(event, TrainWarning):
                self.warning.emit(event.message)
            elif isinstance(event, RunFinished):
                if steps:
                    self.steps.emit(steps)
                    steps = []
                self.run_finished.emit(event)
            elif isinstance(event, RunFailed):
                if steps:
                    self.steps.emit(steps)
                    steps = []
                self.run_failed.emit(event)
        if steps:
            self.steps.emit(steps)
        if previews:
            self.preview.emit(previews[-1])

    def _worker_finished(self) -> None:
        self.coalescer.flush()  # deliver the tail (RunFinished) before announcing the end
        self.worker = None
        self.control = None
        self._set_state(IDLE)
        self.ended.emit()
