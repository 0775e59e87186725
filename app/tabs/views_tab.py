"""Views: what the method looks at. Pairs of augmented views (joint-embedding methods), input /
corrupted / reconstruction rows (generative, refreshed live while training), or predictions with
captions (pretext tasks)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QScrollArea, QVBoxLayout, QWidget

from app import dialogs
from app.imaging import qimages
from app.run_context import run_is_gone
from app.widgets.image_grid import RowGrid
from app.workers import JobRunner, Worker
from ssl_core.config import RunConfig

PREVIEW_COUNT = 8

EXPLAIN = {
    "views": "Each column shows two random <b>augmented views</b> of the same image (<i>New views</i> also "
    "shows the original above them). The method learns to give both views the same representation, so it has "
    "to ignore crops, colours and blur and keep what the picture shows.",
    "reconstruction": "The model squeezes each image through a bottleneck (and some methods first <b>damage</b> "
    "it: noise, masks, hidden regions, removed colour) and tries to <b>rebuild</b> the original. Rows show the "
    "input, what the model got when it differs, and the reconstruction. During training this updates live, "
    "so you can watch the reconstructions sharpen.",
    "prediction": "The model solves a <b>puzzle</b> made from each image (e.g. which way it was rotated, or how "
    "its tiles were shuffled). Captions show its guess and the truth.",
}


def compute_preview(config: RunConfig, run_dir: Path | None, seed: int) -> Any:
    """A preview of a few images: the trained model of `run_dir` when given, else the untrained setup."""
    from ssl_core.eval.previews import preview_images

    return preview_images(run_dir if run_dir is not None else config, n=PREVIEW_COUNT, seed=seed)


class ViewsTab(QWidget):
    """Shows a Preview; `request` asks the main window to compute one for the current setup or run."""

    request = Signal()
    run_missing = Signal(object, str)  # run_dir, dialog title: its folder went away under the job

    def __init__(self, runner: JobRunner, parent: QWidget | None = None):
        super().__init__(parent)
        self.runner = runner
        self.kind = "views"
        self.worker: Worker | None = None
        self._blocked = False  # the app is busy (training, loading): see set_busy
        self._seed = 0
        self.last_step: int | None = None

        self.explain = QLabel()
        self.explain.setObjectName("views_explain")
        self.explain.setWordWrap(True)
        self.explain.setProperty("role", "banner")
        self.button = QPushButton("New views")
        self.button.setObjectName("views_button")
        self.button.setProperty("role", "primary")
        self.button.clicked.connect(self.request)
        self.status = QLabel("")
        self.status.setObjectName("views_status")
        self.status.setProperty("role", "muted")
        top = QHBoxLayout()
        top.addWidget(self.button)
        top.addWidget(self.status, 1)

        self.grid = RowGrid(cell=120)
        self.grid.setObjectName("views_grid")
        self.grid.placeholder = "Nothing to show yet."
        scroll = QScrollArea()
        scroll.setWidget(self.grid)
        scroll.setWidgetResizable(False)
        scroll.setAlignment(Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop)
        self.scroll = scroll

        layout = QVBoxLayout(self)
        layout.addWidget(self.explain)
        layout.addLayout(top)
        layout.addWidget(scroll, 1)
        self.set_kind("views")

    def set_kind(self, kind: str) -> None:
        self.kind = kind
        self.explain.setText(EXPLAIN.get(kind, EXPLAIN["views"]))
        self.button.setText("New views" if kind == "views" else "Refresh")
        self.button.setToolTip(
            "Draw new random augmentations of the same images."
            if kind == "views"
            else "Run the current model on a few held-out images."
        )
        self._update_button()

    def set_busy(self, busy: bool) -> None:
        """The app is training or loading. New views can still be drawn; while training, a rebuild by
        an untrained model would mislead (reconstructions then come live from the trainer)."""
        self._blocked = busy
        self._update_button()

    def _update_button(self) -> None:
        self.button.setEnabled(self.worker is None and (not self._blocked or self.kind == "views"))

    def set_status(self, text: str) -> None:
        """A line next to the button, e.g. why no preview can be made for the current setup."""
        self.status.setText(text)

    def compute(self, config: RunConfig, run_dir: Path | None) -> Worker | None:
        if self.worker is not None:
            return None
        self._seed += 1
        worker = Worker(compute_preview, config, run_dir, self._seed)
        worker.returned.connect(lambda p: self.show_preview(p, None))
        worker.errored.connect(lambda exc, tb: self._failed(run_dir, exc, tb))
        worker.finished.connect(self._done)
        self.worker = worker
        self._update_button()
        self.status.setText("Computing…")
        return self.runner.start(worker, "preview")

    def _failed(self, run_dir: Path | None, exc: BaseException, tb: str) -> None:
        if run_is_gone(run_dir):
            self.run_missing.emit(run_dir, "Cannot make a preview")
        else:
            dialogs.show_error(self.window(), exc, tb, "Cannot make a preview")

    def _done(self) -> None:
        self.worker = None
        self._update_button()
        if self.status.text() == "Computing…":
            self.status.setText("")

    def show_preview(self, preview: Any, step: int | None) -> None:
        """Draw a Preview: each named image set is a row; captions go under the images."""
        if preview.kind != self.kind:
            self.set_kind(preview.kind)
        rows = []
        for name, images in preview.images.items():
            caps = list(preview.captions.get(name, []))
            rows.append((name, qimages(images), caps))
        self.grid.set_rows(rows)
        self._fit()
        self.last_step = step
        self.status.setText(f"Live from training, step {step:,}" if step is not None else "")

    def rows(self) -> list[str]:
        return self.grid.row_names()

    def _fit(self) -> None:
        """Size the images so the columns fill the visible width (within readable limits)."""
        columns = self.grid.columns()
        if not columns:
            return
        width = self.scroll.viewport().width() - self.grid.label_width - 8 * (columns + 1)
        self.grid.set_cell(max(56, min(160, width // columns)))

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt API
        super().resizeEvent(event)
        self._fit()

    def showEvent(self, event) -> None:  # noqa: N802 - Qt API
        super().showEvent(event)  # previews that arrived while hidden were sized for a hidden viewport
        self._fit()
