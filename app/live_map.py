"""The Embeddings tab's live map: while a run trains, each checkpoint is mapped again on a worker (a fixed
subset of the samples, the layout kept steady between pictures: ssl_core/eval/live_map.py), and the points
glide from their old positions to the new ones.

Throttling: at most one update is in flight; checkpoints that arrive meanwhile collapse into one pending
update, which maps whatever checkpoint is newest when it starts. When training ends, checkpoints still
pending are mapped; nothing that arrives after the end is."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QElapsedTimer, QObject, QTimer, Signal
from PySide6.QtWidgets import QLabel

from app.workers import JobRunner, Worker
from ssl_core.eval.live_map import LIVE_POINTS, LiveFrame, LiveMapper

log = logging.getLogger(__name__)

JOB_NAME = "live-map"
ANIMATION_MS = 300
FRAME_MS = 30


class PointAnimator(QObject):
    """Moves a scatter's points to new positions over ANIMATION_MS, eased, so a new layout reads as
    motion; a new target mid-way starts from where the points are."""

    def __init__(self, scatter: Any, duration_ms: int = ANIMATION_MS, parent: QObject | None = None):
        super().__init__(parent)
        self.scatter = scatter
        self.duration_ms = duration_ms
        self.timer = QTimer(self)
        self.timer.setInterval(FRAME_MS)
        self.timer.timeout.connect(self._tick)
        self.clock = QElapsedTimer()
        self._from = self._to = np.zeros((0, 2))

    @property
    def running(self) -> bool:
        return self.timer.isActive()

    def move_to(self, xy: np.ndarray) -> None:
        xy = np.asarray(xy, dtype=np.float64).reshape(-1, 2)
        start = np.array(self.scatter.xy, dtype=np.float64)
        if start.shape != xy.shape:  # other points: nothing to move from
            self.timer.stop()
            return
        self._from, self._to = start, xy
        self.scatter.fit_to(np.vstack([start, xy]))  # one framing for the whole move, not a zoom per frame
        self.clock.start()
        self.timer.start()

    def finish(self) -> None:
        """Jump to the end of a move in progress."""
        if self.timer.isActive():
            self.timer.stop()
            self.scatter.move_points(self._to)

    def stop(self) -> None:
        self.timer.stop()

    def _tick(self) -> None:
        t = min(1.0, self.clock.elapsed() / max(1, self.duration_ms))
        eased = t * t * (3.0 - 2.0 * t)  # smoothstep: starts and lands gently
        self.scatter.move_points(self._from + (self._to - self._from) * eased)
        if t >= 1.0:
            self.timer.stop()


def live_caption(frame: LiveFrame | None, following: bool, updating: bool, error: str = "") -> str:
    """The line above the live map: what it shows, from which epoch, and what happens next."""
    if frame is None:
        if error:
            return f"Live map: not drawn yet ({error})"
        return (
            f"Live map of {LIVE_POINTS:,} samples: the first picture comes with the run's first checkpoint "
            "(at the end of epoch 1)."
        )
    what = f"Live map of {len(frame.rows):,} {frame.plural}"
    kind = frame.kind.upper()
    if following:
        text = f"{what}, epoch {frame.epoch + 1} ({kind}) — updates after each checkpoint"
        if updating:
            text += " · updating…"
    else:
        text = f"{what} at the end of training (epoch {frame.epoch + 1}, {kind})."
        if len(frame.rows) < frame.total:
            text += f" Press Compute embeddings to map all {frame.total:,}."
        else:
            text += " Press Compute embeddings for the full map with hover and neighbours."
    if error:
        text += f" · last update failed: {error}"
    return text


class LiveMap(QObject):
    """Follows a TrainingSession: one LiveMapper per run, updates on a worker after each checkpoint."""

    frame_ready = Signal(object)  # LiveFrame, on the GUI thread
    changed = Signal()  # following started or ended, an update started or failed: the caption changes

    def __init__(self, runner: JobRunner, parent: QObject | None = None):
        super().__init__(parent)
        self.runner = runner
        self.run_dir: Path | None = None
        self.mapper: LiveMapper | None = None
        self.frame: LiveFrame | None = None
        self.following = False
        self.pending = False
        self.worker: Worker | None = None
        self.error = ""

    def follow(self, session: Any) -> None:
        session.run_started.connect(lambda event: self.start(Path(event.run_dir)))
        session.checkpoint_saved.connect(lambda _event: self.request())
        session.ended.connect(self.finish)

    @property
    def updating(self) -> bool:
        return self.worker is not None

    def caption(self) -> str:
        return live_caption(self.frame, self.following, self.updating, self.error)

    def start(self, run_dir: Path) -> None:
        """Follow a run that starts (or resumes) training; a resumed run is mapped at once."""
        from ssl_core.runs.store import RunPaths

        self.stop()
        self.run_dir = Path(run_dir)
        self.mapper = LiveMapper(self.run_dir)
        self.frame = None
        self.error = ""
        self.following = True
        self.changed.emit()
        if RunPaths(self.run_dir).checkpoint.is_file():
            self.request()

    def request(self) -> None:
        """A new checkpoint: map it now, or after the update in flight (newest checkpoint wins)."""
        if not self.following:
            return
        self.pending = True
        self._start_pending()

    def finish(self) -> None:
        """Training ended: checkpoints already asked for are still mapped, later ones are not."""
        if self.following:
            self.following = False
            self.changed.emit()

    def stop(self) -> None:
        """Stop following and drop any update in flight or pending (another run, or the app closes)."""
        self.following = False
        self.pending = False
        self.mapper = None
        if self.worker is not None:
            self.worker.quit()
        self.changed.emit()

    def forget(self) -> None:
        """Stop, and drop the last picture too."""
        self.stop()
        self.run_dir = None
        self.frame = None
        self.error = ""

    def _start_pending(self) -> None:
        if self.worker is not None or not self.pending or self.mapper is None:
            return
        self.pending = False
        mapper = self.mapper
        worker = Worker(mapper.update, inject=("cancel",))
        worker.returned.connect(lambda frame: self._arrived(mapper, frame))
        worker.errored.connect(lambda exc, tb: self._failed(mapper, exc, tb))
        worker.finished.connect(lambda: self._done(worker))
        self.worker = worker
        self.runner.start(worker, JOB_NAME)
        self.changed.emit()

    def _arrived(self, mapper: LiveMapper, frame: LiveFrame) -> None:
        if mapper is not self.mapper:  # mapped for a run no longer followed
            return
        self.frame = frame
        self.error = ""
        self.frame_ready.emit(frame)

    def _failed(self, mapper: LiveMapper, exc: BaseException, tb: str) -> None:
        # A live picture is a bonus: say why it is missing beside the map, never in a dialog mid-demo.
        log.info("Live map update failed: %s\n%s", exc, tb)
        if mapper is self.mapper:
            self.error = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__

    def _done(self, worker: Worker) -> None:
        if worker is self.worker:
            self.worker = None
        self._start_pending()
        self.changed.emit()


class LiveMapView(QObject):
    """The live map on a tab's scatter: the caption above it, the first picture of a run drawn, later ones
    animated. The tab says which run it shows (`show_run`) and when its computed map takes over
    (`yield_to_computed_map`); the live map never draws over a computed one."""

    drawn = Signal(object)  # LiveFrame: a run's live picture was drawn afresh (not moved to)

    def __init__(self, runner: JobRunner, scatter: Any, parent: QObject | None = None):
        super().__init__(parent)
        self.scatter = scatter
        self.live = LiveMap(runner, self)
        self.animator = PointAnimator(scatter, parent=self)
        self.caption = QLabel()
        self.caption.setObjectName("live_map_caption")
        self.caption.setWordWrap(True)
        self.caption.hide()
        self.run_dir: Path | None = None
        self.idle_message = ""  # the tab's own message, shown again if a waiting live map never draws
        self.computed = False  # the tab's computed map is on screen
        self.on_screen = False  # the scatter shows a live picture
        self.live.frame_ready.connect(self._draw)
        self.live.changed.connect(self._update)

    def follow(self, session: Any) -> None:
        self.live.follow(session)

    def stop(self) -> None:
        self.live.stop()

    def show_run(self, run_dir: Path | None, idle_message: str) -> None:
        """The tab now shows `run_dir` with an empty scatter: the live map of that run, if there is one."""
        if self.live.run_dir != run_dir:
            self.live.forget()  # another run: its live map is not this one's
        self.run_dir, self.idle_message = run_dir, idle_message
        self.computed = self.on_screen = False
        self.animator.stop()
        if self.live.frame is not None:  # the run's live map stays until its full map is computed
            self._draw(self.live.frame)
        self._update()

    def yield_to_computed_map(self) -> None:
        self.animator.stop()
        self.computed, self.on_screen = True, False
        self.caption.hide()

    def _draw(self, frame: LiveFrame) -> None:
        if frame.run_dir != self.run_dir or self.computed:
            return
        if self.on_screen and len(self.scatter.xy) == len(frame.xy):
            self.animator.move_to(frame.xy)
        else:
            self.animator.stop()
            self.scatter.set_points(frame.xy, frame.labels, frame.class_names, unlabelled=frame.plural)
            self.on_screen = True
            self.drawn.emit(frame)
        self.scatter.setTitle(f"{frame.run_dir.name} · live · {len(frame.rows):,} {frame.plural}")
        self._update()

    def _update(self) -> None:
        """The caption says what the live map shows; hidden when it shows nothing of the tab's run."""
        live = self.live
        shown = live.run_dir is not None and live.run_dir == self.run_dir and not self.computed
        shown = shown and (live.following or live.updating or self.on_screen)
        if shown:
            self.caption.setText(live.caption())
        if not self.on_screen and not self.computed:
            waiting = shown and live.frame is None
            self.scatter.set_message(
                "The live map appears here after the run's first checkpoint."
                if waiting
                else self.idle_message
            )
        self.caption.setVisible(shown)
