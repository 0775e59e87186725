"""One lane of a race: its own training session, loss curve, live preview, progress and controls."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from app.training import IDLE, PAUSED, RUNNING, STARTING, TrainingSession
from app.widgets.curves import CurveSet, make_plot
from app.widgets.previews import PreviewPanel, live_preview_caption
from app.workers import JobRunner

LOSS = "loss"
REDRAW_MS = 100  # curves are redrawn at most this often; steps arrive in batches ~25 times a second
PREVIEW_SAMPLES = 8  # two lanes side by side: small cells, so every row of the preview fits
NOT_TRAINING = (
    "This lane does not train. Its network keeps its random starting weights: lane A's network before "
    "any training (same seed). It is scored with lane A's evaluation, so the race shows what the "
    "self-supervised training added."
)


class RaceLane(QGroupBox):
    """A lane shows one run as it trains; `ended` fires when its job is over (or at once if it trains
    nothing). After the run, `run_dir` and `status` say what it left ("completed", "stopped", "failed")."""

    ended = Signal()

    def __init__(self, key: str, runner: JobRunner, preview_interval_s: float | None, parent=None):
        super().__init__(parent)  # the heading names the lane and its method
        self.key = key
        self.setObjectName(f"race_lane_{key.lower()}")
        self.session = TrainingSession(runner, parent=self, job_name=f"race-{key.lower()}")
        self.session.preview_interval_s = preview_interval_s
        self.run_dir: Path | None = None
        self.status = ""
        self.message = ""
        self.trains = True
        self.title = ""

        self.heading = QLabel()
        self.heading.setObjectName("lane_heading")
        self.heading.setProperty("role", "heading")
        self.state = QLabel("Waiting for Start.")
        self.state.setObjectName("lane_state")
        self.state.setProperty("role", "muted")
        self.state.setWordWrap(True)
        self.progress = QProgressBar()
        self.progress.setObjectName("lane_progress")
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.progress.setFormat("Not started")
        self.pause_button = QPushButton("Pause")
        self.resume_button = QPushButton("Resume")
        self.stop_button = QPushButton("Stop")
        self.stop_button.setToolTip(
            "Stop after the current step and save a checkpoint (the run stays resumable)."
        )
        for button, slot in (
            (self.pause_button, self.session.pause),
            (self.resume_button, self.session.resume),
            (self.stop_button, self.session.stop),
        ):
            button.clicked.connect(slot)
        controls = QHBoxLayout()
        for button in (self.pause_button, self.resume_button, self.stop_button):
            controls.addWidget(button)
        controls.addStretch(1)

        self.loss_plot = make_plot("Loss", "loss", grid=False)
        self.loss_plot.setObjectName("lane_loss_plot")
        self.curves = CurveSet(self.loss_plot, line_width=1.0, legend=False)
        self.preview = PreviewPanel(PREVIEW_SAMPLES, "The method's live preview appears here while training.")
        self.preview.setObjectName("lane_preview")
        self.preview.setMinimumHeight(220)
        self.preview_caption = QLabel("")
        self.preview_caption.setProperty("role", "muted")
        self.preview_caption.setWordWrap(True)
        training = QWidget()
        training_layout = QVBoxLayout(training)
        training_layout.setContentsMargins(0, 0, 0, 0)
        training_layout.addLayout(controls)
        training_layout.addWidget(self.loss_plot, 2)
        training_layout.addWidget(self.preview, 3)
        training_layout.addWidget(self.preview_caption)
        self.idle_note = QLabel(NOT_TRAINING)
        self.idle_note.setObjectName("lane_idle_note")
        self.idle_note.setWordWrap(True)
        self.idle_note.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.body = QStackedWidget()
        self.body.addWidget(training)
        self.body.addWidget(self.idle_note)

        layout = QVBoxLayout(self)
        layout.addWidget(self.heading)
        layout.addWidget(self.state)
        layout.addWidget(self.progress)
        layout.addWidget(self.body, 1)

        self._redraw = QTimer(self)
        self._redraw.setSingleShot(True)
        self._redraw.setInterval(REDRAW_MS)
        self._redraw.timeout.connect(self._refresh)
        s = self.session
        s.state_changed.connect(self._state_changed)
        s.run_started.connect(self._run_started)
        s.steps.connect(self._steps)
        s.preview.connect(self._preview)
        s.run_finished.connect(self._run_finished)
        s.run_failed.connect(lambda e: self._failed(e.message))
        s.job_error.connect(lambda exc, _tb: self._failed(str(exc)))
        s.ended.connect(self.ended)
        self._state_changed(IDLE)

    # ---- what the lane is --------------------------------------------------------------------
    def set_method(self, title: str, trains: bool) -> None:
        """Show which method this lane races (before Start); `trains` False: the random-weights lane."""
        self.title = title
        self.trains = trains
        self.heading.setText(f"{self.key} · {title}")
        self.body.setCurrentIndex(0 if trains else 1)
        self.progress.setVisible(trains)
        if not self.session.busy:
            self.state.setText("Waiting for Start." if trains else "Nothing to train: scored at the end.")

    @property
    def busy(self) -> bool:
        return self.session.busy

    def start(self, config: Any) -> None:
        """Train `config` (a RunConfig), or, for the random-weights lane (None), end at once."""
        self.run_dir, self.status, self.message = None, "", ""
        self.curves.clear()
        self.preview.clear()
        self.preview_caption.setText("")
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        if config is None:
            self.status = "completed"
            self.state.setText("Nothing to train: scored with lane A's evaluation at the end.")
            self.ended.emit()
            return
        self.progress.setFormat("Starting…")
        self.state.setText("Building the model and reading the data…")
        self.session.start(config)

    def stop(self) -> None:
        self.session.stop()

    # ---- events ------------------------------------------------------------------------------
    def _state_changed(self, state: str) -> None:
        self.pause_button.setEnabled(state == RUNNING)
        self.resume_button.setEnabled(state == PAUSED)
        self.stop_button.setEnabled(state in (STARTING, RUNNING, PAUSED))
        if state == PAUSED:
            self.state.setText("Paused. Resume to go on; the other lane keeps training.")
        elif state == RUNNING:
            self.state.setText("Training…")

    def _run_started(self, event: Any) -> None:
        self.run_dir = Path(event.run_dir)
        self.progress.setRange(0, max(1, event.total_steps))
        self.progress.setValue(event.start_step)
        self.progress.setFormat(f"step %v of {event.total_steps:,}  ·  %p%")

    def _steps(self, steps: list[Any]) -> None:
        self.curves.extend(LOSS, [s.step for s in steps], [s.loss for s in steps])
        self.progress.setValue(steps[-1].step)
        if not self._redraw.isActive():
            self._redraw.start()

    def _refresh(self) -> None:
        self.curves.refresh()

    def _preview(self, event: Any) -> None:
        self.preview.show_preview(event.preview)
        self.preview_caption.setText(live_preview_caption(event.preview, event.step))

    def _run_finished(self, event: Any) -> None:
        self._refresh()
        self.curves.fit()
        self.run_dir = Path(event.run_dir)
        self.status = event.status
        if event.status == "completed":
            self.progress.setValue(self.progress.maximum())
            self.progress.setFormat(f"Finished: {event.step:,} steps")
            self.state.setText("Finished training.")
        else:
            self.progress.setFormat(f"Stopped at step {event.step:,}")
            self.state.setText("Stopped; the run is saved and can be resumed from the Runs tab.")

    def _failed(self, message: str) -> None:
        self._refresh()
        self.status, self.message = "failed", message
        self.progress.setFormat("Failed")
        self.state.setText(f"Failed: {message}")
