"""Train: start/pause/resume/stop, progress with rate and ETA, live loss and learning-rate curves, the
method's live preview (drawn by the renderer of its payload type), a log."""

from __future__ import annotations

import html
import math
import time
from collections.abc import Iterable
from typing import Any

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QCheckBox,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QProgressBar,
    QSplitter,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.theme import current_colors
from app.widgets.curves import CurveSet, make_plot
from app.widgets.previews import PreviewPanel, live_preview_caption
from ssl_core.wording import format_seconds

LOSS = "loss"
REDRAW_MS = 100  # live curves and numbers are redrawn at most 10 times a second
LIVE_PREVIEW_SAMPLES = 4  # the Views tab shows more; here it shares the width with the curves


def format_duration(seconds: float) -> str:
    if seconds is None or not math.isfinite(seconds) or seconds < 0:
        return "–"
    seconds = int(round(seconds))
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def _metric(title: str, name: str) -> tuple[QLabel, QWidget]:
    box = QWidget()
    layout = QVBoxLayout(box)
    layout.setContentsMargins(6, 0, 6, 0)
    value = QLabel("–")
    value.setObjectName(name)
    value.setProperty("role", "metric")
    caption = QLabel(title)
    caption.setObjectName(f"{name}_caption")
    caption.setProperty("role", "muted")
    layout.addWidget(value)
    layout.addWidget(caption)
    return value, box


class TrainTab(QWidget):
    def __init__(self, actions: dict[str, QAction], parent: QWidget | None = None):
        super().__init__(parent)
        buttons = QHBoxLayout()
        for key in ("start", "pause", "resume", "stop"):
            button = QToolButton()
            button.setDefaultAction(actions[key])
            button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
            button.setProperty("role", "run")
            button.setObjectName(f"{key}_button")
            buttons.addWidget(button)
        self.status = QLabel("Ready. Choose data and a method in Setup, then press Start.")
        self.status.setObjectName("train_status")
        self.status.setProperty("role", "muted")
        buttons.addSpacing(12)
        buttons.addWidget(self.status, 1)

        self.progress = QProgressBar()
        self.progress.setObjectName("train_progress")
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.progress.setFormat("No training yet")

        metrics = QGridLayout()
        self.loss_value, loss_box = _metric("loss (smoothed)", "metric_loss")
        self.epoch_value, epoch_box = _metric("epoch", "metric_epoch")
        self.rate_value, rate_box = _metric("samples / second", "metric_rate")
        self.rate_caption = rate_box.findChild(QLabel, "metric_rate_caption")
        self.eta_value, eta_box = _metric("time left", "metric_eta")
        self.device_value, device_box = _metric("device", "metric_device")
        for col, box in enumerate((loss_box, epoch_box, rate_box, eta_box, device_box)):
            metrics.addWidget(box, 0, col)

        self.loss_plot = make_plot("Loss", "loss", grid=False)
        self.loss_plot.setObjectName("loss_plot")
        self.loss_curves = CurveSet(self.loss_plot, line_width=1.0)
        self.lr_plot = make_plot("Learning rate", "lr", grid=False)
        self.lr_plot.setObjectName("lr_plot")
        # x follows the loss plot
        self.lr_curves = CurveSet(self.lr_plot, smoothing=0.0, manage_x=False, line_width=1.0, legend=False)
        self.lr_curves.show_raw = False
        self.lr_plot.setXLink(self.loss_plot)

        options = QHBoxLayout()
        self.show_raw = QCheckBox("Raw values")
        self.show_raw.setChecked(True)
        self.show_raw.setToolTip("Show every step's value faintly behind the smoothed curve.")
        self.show_parts = QCheckBox("Loss parts")
        self.show_parts.setChecked(True)
        self.show_parts.setToolTip("Show the named terms the loss is made of (when the method has them).")
        self.log_scale = QCheckBox("Log scale")
        for box in (self.show_raw, self.show_parts, self.log_scale):
            box.toggled.connect(self._options_changed)
            options.addWidget(box)
        options.addStretch(1)

        self.log = QPlainTextEdit()
        self.log.setObjectName("train_log")
        self.log.setReadOnly(True)
        self.log.setMaximumBlockCount(5000)
        self.log.setPlaceholderText("Checkpoints, warnings and messages appear here.")

        plots = QWidget()
        plots_layout = QVBoxLayout(plots)
        plots_layout.setContentsMargins(0, 0, 0, 0)
        plots_layout.addLayout(options)
        plots_layout.addWidget(self.loss_plot, 3)
        plots_layout.addWidget(self.lr_plot, 1)

        # What the method does to a few samples, refreshed while training (throttled upstream): the batch
        # being trained on for views, the same held-out samples all run for reconstructions.
        self.live_preview = PreviewPanel(
            LIVE_PREVIEW_SAMPLES, "The method's live preview appears here while training."
        )
        self.live_preview.setObjectName("live_preview")
        self.live_caption = QLabel("")
        self.live_caption.setObjectName("live_preview_step")
        self.live_caption.setProperty("role", "muted")
        self.live_caption.setWordWrap(True)  # says where the samples came from: a sentence
        preview_box = QGroupBox("Live preview")
        preview_layout = QVBoxLayout(preview_box)
        preview_layout.setContentsMargins(6, 6, 6, 6)
        preview_layout.addWidget(self.live_preview, 1)
        preview_layout.addWidget(self.live_caption)
        top = QSplitter(Qt.Orientation.Horizontal)
        top.setObjectName("train_top_splitter")
        top.addWidget(plots)
        top.addWidget(preview_box)
        top.setStretchFactor(0, 3)
        top.setStretchFactor(1, 2)
        top.setSizes([600, 400])  # the share each gets; stretch factors alone follow the size hints
        top.setChildrenCollapsible(False)

        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(top)
        split.addWidget(self.log)
        split.setStretchFactor(0, 4)
        split.setStretchFactor(1, 1)
        split.setChildrenCollapsible(False)

        layout = QVBoxLayout(self)
        layout.addLayout(buttons)
        layout.addWidget(self.progress)
        layout.addLayout(metrics)
        layout.addWidget(split, 1)
        self._last_step = 0
        self._epochs = 0
        self._pending_step: Any = None
        # Redrawing costs far more than appending points: batches of steps arrive ~25 times a second,
        # the curves and numbers are redrawn by this timer at most every REDRAW_MS.
        self._redraw_timer = QTimer(self)
        self._redraw_timer.setSingleShot(True)
        self._redraw_timer.setInterval(REDRAW_MS)
        self._redraw_timer.timeout.connect(self.redraw)

    # ---- data and previews -------------------------------------------------------------------
    def set_data_info(self, info: Any) -> None:
        """The data chosen in Setup: the rate is counted in its samples ("series / second")."""
        from ssl_core.modalities import modality_of

        modality = modality_of(info)
        self.rate_caption.setText(f"{modality.plural} / second")
        self.live_preview.set_channel_names((info.extra or {}).get("channel_names"))

    def show_preview(self, preview: Any, step: int | None) -> None:
        """The newest live preview (at most one a second arrives: the trainer's preview interval), with
        where its samples came from (the training batch of that step, or the same samples all run)."""
        self.live_preview.show_preview(preview)
        self.live_caption.setText(live_preview_caption(preview, step))

    # ---- curves ------------------------------------------------------------------------------
    def clear(self, keep_log: bool = False) -> None:
        """Forget the run shown: curves, preview, numbers, progress and (unless `keep_log`) the log."""
        self.loss_curves.clear()
        self.lr_curves.clear()
        self.live_preview.clear()
        self.live_caption.setText("")
        self._last_step = 0
        self._pending_step = None
        for label in (self.loss_value, self.epoch_value, self.rate_value, self.eta_value):
            label.setText("–")
        if not keep_log:
            self.log.clear()
        self._set_progress_state(None)
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.progress.setFormat("No training yet")

    def _set_progress_state(self, state: str | None) -> None:
        """The progress bar's look: None (normal) or "failed" (the style sheet draws it in red)."""
        if self.progress.property("state") == state:
            return
        self.progress.setProperty("state", state)
        self.progress.style().unpolish(self.progress)
        self.progress.style().polish(self.progress)

    def _options_changed(self) -> None:
        self.loss_curves.show_raw = self.show_raw.isChecked()
        self.loss_curves.hidden = (
            set() if self.show_parts.isChecked() else set(self.loss_curves.names()) - {LOSS}
        )
        self.loss_plot.setLogMode(y=self.log_scale.isChecked())
        self.loss_curves.refresh()
        self.loss_curves.range.update(force=True)

    def _extend(self, records: Iterable[tuple[int, float, dict[str, float], float]]) -> None:
        records = [r for r in records if r[0] > self._last_step]
        if not records:
            return
        xs = [r[0] for r in records]
        self.loss_curves.extend(LOSS, xs, [r[1] for r in records])
        part_names = list(dict.fromkeys(name for r in records for name in r[2]))
        for name in part_names:
            pts = [(r[0], r[2][name]) for r in records if name in r[2]]
            self.loss_curves.extend(name, [p[0] for p in pts], [p[1] for p in pts])
        self.lr_curves.extend("learning rate", xs, [r[3] for r in records])
        self._last_step = xs[-1]
        if not self.show_parts.isChecked():
            self.loss_curves.hidden = set(self.loss_curves.names()) - {LOSS}
        if not self._redraw_timer.isActive():
            self._redraw_timer.start()

    def redraw(self) -> None:
        """Draw what arrived since the last redraw: the new points and the newest step's numbers."""
        self._redraw_timer.stop()
        self.loss_curves.refresh()
        self.lr_curves.refresh()
        smooth = self.loss_curves.smooth[LOSS].y if LOSS in self.loss_curves.smooth else []
        if len(smooth):
            self.loss_value.setText(f"{smooth[-1]:.4g}")
        if self._pending_step is not None:
            self._show_step(self._pending_step)
            self._pending_step = None

    def fit_curves(self) -> None:
        """A run that is not growing any more: show exactly its steps."""
        self.loss_curves.fit()
        self.lr_curves.fit()  # its x range follows the loss plot's

    def add_steps(self, steps: list[Any]) -> None:
        """A batch of StepEnded events (already throttled); shown at the next redraw."""
        self._extend((s.step, s.loss, s.parts, s.lr) for s in steps)
        self._pending_step = steps[-1]  # _extend started the redraw timer

    def _show_step(self, last: Any) -> None:
        used = last.time_fraction
        if used is not None and used * last.total_steps > last.step:
            # The time limit will end the run first: the bar and the counts follow the clock, not the epochs.
            self.progress.setRange(0, 1000)
            self.progress.setValue(int(used * 1000))
            self.progress.setFormat(
                f"Epoch {last.epoch + 1}  ·  step {last.step:,}  ·  {100 * used:.0f}% of the time limit"
            )
            self.epoch_value.setText(str(last.epoch + 1))
        else:
            self.progress.setRange(0, max(1, last.total_steps))
            self.progress.setValue(last.step)
            percent = 100.0 * last.step / max(1, last.total_steps)
            epoch = (
                f"Epoch {last.epoch + 1} of {self._epochs}  ·  "
                if self._epochs
                else f"Epoch {last.epoch + 1}  ·  "
            )
            self.progress.setFormat(f"{epoch}step {last.step:,} of {last.total_steps:,}  ·  {percent:.0f}%")
            self.epoch_value.setText(
                f"{last.epoch + 1} / {self._epochs}" if self._epochs else str(last.epoch + 1)
            )
        self.rate_value.setText(f"{last.images_per_sec:,.0f}")
        self.eta_value.setText(format_duration(last.eta_seconds))

    def load_history(self, records: list[dict[str, Any]]) -> None:
        """Curves of a saved run (metrics.jsonl records), e.g. when opening or resuming it."""
        self.loss_curves.clear()
        self.lr_curves.clear()
        self._last_step = 0
        self._extend(
            (
                int(r["step"]),
                float(r.get("loss", math.nan)),
                dict(r.get("parts") or {}),
                float(r.get("lr", math.nan)),
            )
            for r in records
        )
        self.redraw()
        self.fit_curves()
        if records:
            last = records[-1]
            self.epoch_value.setText(str(int(last.get("epoch", 0)) + 1))

    def show_saved_run(self, steps: int) -> None:
        """The progress bar of a saved run that was opened (not resumed): full, with its step count."""
        self.progress.setRange(0, 1)
        self.progress.setValue(1)
        self.progress.setFormat(f"Saved run: {int(steps):,} steps")

    # ---- run lifecycle -----------------------------------------------------------------------
    def run_started(self, event: Any, epochs: int) -> None:
        self._epochs = epochs
        if event.start_step == 0:
            self.clear(keep_log=True)  # cleared at Start; warnings from preparing the run stay
        self._set_progress_state(None)
        self.device_value.setText(event.device)
        self.progress.setRange(0, max(1, event.total_steps))
        self.progress.setValue(event.start_step)
        self.progress.setFormat("Starting…")
        verb = "Resumed" if event.start_step else "Started"
        limit = event.time_limit_s
        until = f" or {format_seconds(limit)} of training, whichever comes first" if limit else ""
        self.append_log(
            f"{verb} run {event.run_dir.name} on {event.device}: {event.total_steps:,} steps, "
            f"{event.steps_per_epoch:,} per epoch{until}."
        )
        self.status.setText(f"Training {event.run_dir.name}")

    def set_status(self, text: str) -> None:
        self.status.setText(text)

    def append_log(self, text: str, level: str = "info") -> None:
        colors = current_colors()
        color = {"warning": colors.warn, "error": colors.bad, "good": colors.good}.get(level)
        stamp = time.strftime("%H:%M:%S")
        body = html.escape(text)
        if color:
            body = f"<span style='color:{color}'>{body}</span>"
        self.log.appendHtml(f"<span style='color:{colors.muted}'>{stamp}</span>&nbsp; {body}")

    def epoch_ended(self, event: Any) -> None:
        self.append_log(
            f"Epoch {event.epoch + 1} done: mean loss {event.mean_loss:.4g} (step {event.step:,})."
        )

    def checkpoint_saved(self, event: Any) -> None:
        self.append_log(f"Checkpoint saved at step {event.step:,} (epoch {event.epoch + 1}).", "good")

    def finished(self, event: Any) -> None:
        self.redraw()
        self.fit_curves()
        if event.status == "completed":
            self.progress.setValue(self.progress.maximum())
            self.progress.setFormat(f"Finished: {event.step:,} steps")
            self.append_log(f"Training finished after {event.step:,} steps.", "good")
            if event.note:  # ended by its time limit, before the planned steps
                self.append_log(event.note, "good")
            self.status.setText("Finished. Look at Views, Embeddings and Evaluate to see what it learned.")
        else:
            self.progress.setFormat(f"Stopped at step {event.step:,} (resumable from the Runs tab)")
            self.append_log(
                f"Stopped at step {event.step:,}; the run can be resumed from the Runs tab.", "warning"
            )
            self.status.setText("Stopped. The run is saved and can be resumed.")
        self.eta_value.setText("–")

    def failed(self, message: str) -> None:
        self.redraw()
        self._set_progress_state("failed")  # an empty bar, its text in the error colour: never "done"
        self.progress.setValue(self.progress.minimum())
        self.progress.setFormat("Failed")
        self.append_log(message, "error")
        self.status.setText("Training failed; see the log below.")
