"""The data part of Setup: pick a source (bundled digits, a folder, an array file, a torchvision dataset),
load it in the background, and show sample thumbnails and a plain summary."""

from __future__ import annotations

import inspect
import logging
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMenu,
    QPushButton,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app import dialogs
from app.imaging import qimages
from app.widgets.image_grid import ImageGrid
from app.workers import JobRunner, Worker

log = logging.getLogger(__name__)

THUMBNAILS = 40
DEFAULT_SPEC = "digits"
CHANNEL_CHOICES = [
    ("Keep the source's colours", None),
    ("Grayscale (1 channel)", 1),
    ("Colour (3 channels)", 3),
]


def load_preview(spec: str, channels: int | None, progress=None) -> dict[str, Any]:
    """Open a source and read evenly spaced sample images (runs on a worker thread)."""
    from ssl_core.data import open_source

    kwargs: dict[str, Any] = {"channels": channels}
    if progress is not None and "progress" in inspect.signature(open_source).parameters:
        kwargs["progress"] = lambda phase, done, total: progress(
            done / max(1, total), f"{phase.capitalize()} {done}/{total}"
        )
    source = open_source(spec, **kwargs)
    n = len(source)
    idx = np.unique(np.linspace(0, n - 1, num=min(THUMBNAILS, n)).round().astype(np.int64)) if n else []
    images, labels = source.read(list(map(int, idx)))
    return {"spec": spec, "info": source.info, "images": images, "labels": labels}


def summary_html(info: Any, image_size: int | None = None) -> str:
    """A plain-language description of a loaded source for the Setup panel."""
    colour = "grayscale" if info.channels == 1 else f"colour ({info.channels} channels)"
    native = info.native_size or (info.height, info.width)
    lines = [
        f"<b>{info.name}</b>",
        f"{info.size:,} images, {info.width}×{info.height} pixels, {colour}",
    ]
    if tuple(native) != (info.height, info.width):
        lines.append(f"Originally {native[1]}×{native[0]} pixels")
    if image_size:
        lines.append(f"Resized to {image_size}×{image_size} for training")
    if info.has_labels:
        names = ", ".join(info.class_names[:12]) + (" …" if len(info.class_names) > 12 else "")
        lines.append(f"Labelled: {len(info.class_names)} classes ({names})")
    else:
        lines.append("No labels: training works; accuracy evaluation needs labels")
    if info.skipped:
        first = info.skipped[0]
        lines.append(
            f"<span style='color:#c77800'>Skipped {len(info.skipped)} unreadable file(s), "
            f"e.g. {Path(first.path).name}: {first.reason}</span>"
        )
    return "<br>".join(lines)


class TorchvisionDialog(QDialog):
    """Pick a torchvision dataset name and the folder it lives in."""

    def __init__(self, names: list[str], parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Open a torchvision dataset")
        form = QFormLayout(self)
        self.name = QComboBox()
        self.name.addItems(names)
        self.root = QLineEdit()
        self.root.setPlaceholderText("Folder that holds the dataset files (empty: the default cache)")
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        row = QHBoxLayout()
        row.addWidget(self.root, 1)
        row.addWidget(browse)
        note = QLabel("Nothing is downloaded: the dataset files must already be in this folder.")
        note.setProperty("role", "muted")
        note.setWordWrap(True)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow("Dataset", self.name)
        form.addRow("Folder", row)
        form.addRow(note)
        form.addRow(buttons)

    def _browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Dataset folder", self.root.text())
        if folder:
            self.root.setText(folder)

    def spec(self) -> str:
        root = self.root.text().strip()
        return f"torchvision:{self.name.currentText()}" + (f":{root}" if root else "")


def _source_kinds() -> list[Any]:
    try:
        from ssl_core.data import DATA_SOURCES
    except ImportError:
        return []
    return [kind for _, kind in DATA_SOURCES.items()]


class DataPanel(QWidget):
    """Emits `loaded(info)` after a source opened; on a UserError shows it and keeps the previous one."""

    loaded = Signal(object)  # DataInfo
    loading_changed = Signal(bool)

    def __init__(self, runner: JobRunner, parent: QWidget | None = None):
        super().__init__(parent)
        self.runner = runner
        self.info: Any = None
        self._spec = ""
        self._pending: Worker | None = None
        self._image_size: int | None = None
        self.recent: list[str] = []

        layout = QVBoxLayout(self)
        row = QHBoxLayout()
        self.spec_box = QComboBox()
        self.spec_box.setEditable(True)
        self.spec_box.setObjectName("data_spec")
        self.spec_box.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        self.spec_box.setToolTip(
            "The data spec: digits, folder:PATH, npz:FILE, npy:FILE or torchvision:NAME[:FOLDER]. "
            "Type one and press Enter, or use Open."
        )
        self.spec_box.lineEdit().returnPressed.connect(
            lambda: self.open_spec(self.spec_box.currentText().strip())
        )
        self.spec_box.activated.connect(lambda i: self.open_spec(self.spec_box.itemText(i)))
        self.open_button = QToolButton()
        self.open_button.setText("Open…")
        self.open_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.open_button.setMenu(self._open_menu())
        self.open_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        row.addWidget(self.spec_box, 1)
        row.addWidget(self.open_button)
        layout.addLayout(row)

        colour_row = QHBoxLayout()
        colour_label = QLabel("Colours")
        self.channels_box = QComboBox()
        for text, value in CHANNEL_CHOICES:
            self.channels_box.addItem(text, value)
        self.channels_box.setToolTip(
            "Convert every image to grayscale or colour, or keep what the files have."
        )
        self.channels_box.currentIndexChanged.connect(
            lambda _: self._spec and self.open_spec(self._spec, force=True)
        )
        colour_row.addWidget(colour_label)
        colour_row.addWidget(self.channels_box, 1)
        layout.addLayout(colour_row)

        self.summary = QLabel("No data loaded yet.")
        self.summary.setObjectName("data_summary")
        self.summary.setWordWrap(True)
        self.summary.setTextFormat(Qt.TextFormat.RichText)
        self.summary.setProperty("role", "banner")
        layout.addWidget(self.summary)
        caption = QLabel("Sample images")
        caption.setProperty("role", "muted")
        layout.addWidget(caption)
        self.thumbnails = ImageGrid(cell=52)
        self.thumbnails.setObjectName("data_thumbnails")
        self.thumbnails.placeholder = "Images appear here once the data is loaded."
        layout.addWidget(self.thumbnails, 1)

    # ---- opening -----------------------------------------------------------------------------
    def _open_menu(self) -> QMenu:
        menu = QMenu(self)
        menu.addAction("Bundled digits (8×8, labelled)", lambda: self.open_spec(DEFAULT_SPEC))
        menu.addSeparator()
        self._folder_action = menu.addAction("Image folder…", self.browse_folder)
        menu.addAction("Array file (.npz / .npy)…", self.browse_array)
        menu.addAction("torchvision dataset…", self.browse_torchvision)
        menu.setToolTipsVisible(True)
        return menu

    def engine_loaded(self) -> None:
        """The data registry is importable now: describe the kinds of source it offers."""
        folder = {k.scheme: k for k in _source_kinds()}.get("folder")
        if folder is not None:
            self._folder_action.setToolTip(folder.description)

    def browse_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Open an image folder")
        if folder:
            self.open_spec(f"folder:{folder}")

    def browse_array(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open an array file", "", "NumPy arrays (*.npz *.npy)")
        if path:
            self.open_spec(f"{Path(path).suffix.lstrip('.').lower()}:{path}")

    def browse_torchvision(self) -> None:
        names = ["MNIST", "FashionMNIST", "CIFAR10", "CIFAR100", "STL10"]
        for kind in _source_kinds():
            if kind.scheme == "torchvision" and kind.choices:
                names = list(kind.choices)
        dialog = TorchvisionDialog(names, self)
        if dialog.exec() == QDialog.DialogCode.Accepted:
            self.open_spec(dialog.spec())

    def open_spec(self, spec: str, force: bool = False) -> Worker | None:
        """Load a source in the background; returns the worker (tests wait on its `finished`)."""
        spec = spec.strip()
        if not spec:
            return None
        if spec == self._spec and not force and self.info is not None:
            return None
        if self._pending is not None:
            self._pending.quit()
        worker = Worker(load_preview, spec, self.channels_box.currentData(), inject=("progress",))
        worker.returned.connect(lambda result, w=worker: self._loaded(w, result))
        worker.errored.connect(lambda exc, tb, w=worker: self._failed(w, exc, tb))
        worker.progress.connect(lambda f, m: self.summary.setText(f"Loading {spec}… {m}"))
        worker.finished.connect(lambda w=worker: self._done(w))
        self._pending = worker
        self.summary.setText(f"Loading {spec}…")
        self.loading_changed.emit(True)
        return self.runner.start(worker, "data")

    def _loaded(self, worker: Worker, result: dict[str, Any]) -> None:
        if worker is not self._pending:
            return  # a newer request replaced this one
        self.info = result["info"]
        self._spec = result["spec"]
        self._remember(self._spec)
        labels = result["labels"]
        names = self.info.class_names
        captions = (
            [names[int(y)] if 0 <= int(y) < len(names) else str(int(y)) for y in labels]
            if labels is not None
            else None
        )
        self.thumbnails.set_images(qimages(result["images"]), captions)
        self._refresh_summary()
        self.loaded.emit(self.info)

    def _failed(self, worker: Worker, exc: BaseException, tb: str) -> None:
        if worker is not self._pending:
            return
        self._set_box_text(self._spec)
        self._refresh_summary()
        dialogs.show_error(self.window(), exc, tb, title="Cannot open this data")

    def _done(self, worker: Worker) -> None:
        if worker is self._pending:
            self._pending = None
            self.loading_changed.emit(False)

    def _refresh_summary(self) -> None:
        if self.info is None:
            self.summary.setText("No data loaded yet. Choose a source with Open….")
        else:
            self.summary.setText(summary_html(self.info, self._image_size))

    def _remember(self, spec: str) -> None:
        self.recent = [spec] + [s for s in self.recent if s != spec][:7]
        if DEFAULT_SPEC not in self.recent:
            self.recent.append(DEFAULT_SPEC)
        self.spec_box.blockSignals(True)
        self.spec_box.clear()
        self.spec_box.addItems(self.recent)
        self.spec_box.setCurrentIndex(0)
        self.spec_box.blockSignals(False)

    def _set_box_text(self, text: str) -> None:
        self.spec_box.blockSignals(True)
        self.spec_box.setEditText(text)
        self.spec_box.blockSignals(False)

    # ---- state -------------------------------------------------------------------------------
    @property
    def loading(self) -> bool:
        return self._pending is not None

    def spec(self) -> str:
        return self._spec or DEFAULT_SPEC

    def channels(self) -> int | None:
        return self.channels_box.currentData()

    def set_channels(self, channels: int | None) -> None:
        self.channels_box.blockSignals(True)
        self.channels_box.setCurrentIndex(max(0, self.channels_box.findData(channels)))
        self.channels_box.blockSignals(False)

    def set_image_size(self, size: int | None) -> None:
        self._image_size = size
        if self.info is not None:
            self._refresh_summary()

    def set_recent(self, specs: list[str]) -> None:
        self.recent = [s for s in specs if isinstance(s, str) and s][:8]
        self.spec_box.blockSignals(True)
        self.spec_box.clear()
        self.spec_box.addItems(self.recent or [DEFAULT_SPEC])
        self.spec_box.blockSignals(False)
