"""The data part of Setup: pick a source from the kinds the data-source registry offers (its Open menu is
built from ssl_core.data.DATA_SOURCES, so a newly registered kind appears without edits here), load it in
the background, and show a few samples in their own form (images, sparklines of series, the words of a
text, the spectrogram of a clip: one painter per modality, app/widgets/sample_thumbnails.py) and a plain
summary. Tables, texts and audio have their own options (app/widgets/table_options.py, text_options.py,
audio_options.py)."""

from __future__ import annotations

import html
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
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app import dialogs
from app.widgets.audio_options import AudioOptions
from app.widgets.data_summary import summary_html
from app.widgets.image_grid import ImageGrid
from app.widgets.sample_thumbnails import thumbnail_painter
from app.widgets.table_options import TableOptions
from app.widgets.text_options import TextOptions
from app.workers import JobRunner, Worker
from ssl_core.config_schema import SCHEMA

log = logging.getLogger(__name__)

THUMBNAILS = 40
# Fewer, larger samples where one needs room to be read (a sparkline); others show THUMBNAILS.
THUMBNAIL_COUNT = {"series": 12, "text": 12, "audio": 12}
THUMBNAIL_CELL = {"series": 64, "text": 60, "audio": 64}  # cell height in pixels (images: 52)
# Settings of the data rows that mean something only for some kinds of data.
COLOURS_FOR = ("image",)
SERIES_OPTIONS_FOR = ("series",)
TABLE_OPTIONS_FOR = ("table",)
TEXT_OPTIONS_FOR = ("text",)
AUDIO_OPTIONS_FOR = ("audio",)
# Readable names for a kind's named entries where the registry gives only the name: the bundled sound
# says what it is, recorded or generated here.
CHOICE_TITLES = {
    "audio:sonic-pi": "Recorded sound (sonic-pi samples)",
    "audio:speech": "Synthetic speech (espeak-ng, generated on this machine)",
}
TEXT_CONFIG_KEYS = ("tokenizer", "vocab_size", "text_unit", "text_column")  # length: series_options
LENGTH, MISSING = "data.length", "data.missing"
DEFAULT_SPEC = SCHEMA["data.spec"].default  # the bundled digits


def channel_choices() -> list[tuple[str, int | None]]:
    """The Colours box's entries, from the config schema's data.channels: (text, value)."""
    field = SCHEMA["data.channels"]
    out: list[tuple[str, int | None]] = [(field.none_label, None)]
    for value, word in zip(field.choices, field.choice_words, strict=True):
        out.append((f"{word.capitalize()} ({value} channel{'s' if value != 1 else ''})", value))
    return out


def load_preview(
    spec: str,
    channels: int | None,
    progress=None,
    series: dict[str, Any] | None = None,
    table: dict[str, Any] | None = None,
    text: dict[str, Any] | None = None,
    audio: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Open a source and read evenly spaced samples (runs on a worker thread). `series`: the series
    options (length, missing) as the config holds them; `table`: the table options a person set (label
    column, ignored and categorical columns); `text`: the text options a person changed (tokenizer,
    vocabulary size, sample unit, text column); `audio`: the audio options a person changed (sample
    rate, clip length, channels, mel settings)."""
    from ssl_core.data import open_source

    table = {key: value for key, value in (table or {}).items() if value}
    accepted = inspect.signature(open_source).parameters
    audio = {key: value for key, value in (audio or {}).items() if key in accepted}
    kwargs: dict[str, Any] = {"channels": channels, **(series or {}), **table, **(text or {}), **audio}
    if progress is not None and "progress" in accepted:
        kwargs["progress"] = lambda phase, done, total: progress(
            done / max(1, total), f"{phase.capitalize()} {done}/{total}"
        )
    source = open_source(spec, **kwargs)
    n = len(source)
    count = THUMBNAIL_COUNT.get(source.info.modality, THUMBNAILS)
    idx = np.unique(np.linspace(0, n - 1, num=min(count, n)).round().astype(np.int64)) if n else []
    samples, labels = source.read(list(map(int, idx)))
    return {"spec": spec, "info": source.info, "samples": samples, "labels": labels}


class NameDialog(QDialog):
    """Pick one of a kind's names (e.g. a torchvision dataset) and, when the kind takes one, its folder."""

    def __init__(self, kind: Any, parent: QWidget | None = None):
        super().__init__(parent)
        self.kind = kind
        self.setWindowTitle(f"Open: {kind.title}")
        form = QFormLayout(self)
        self.name = QComboBox()
        self.name.setEditable(True)  # the registry's names, or another one the kind understands
        self.name.addItems(list(kind.choices))
        self.root = QLineEdit()
        self.root.setPlaceholderText("Folder that holds the files (empty: the default)")
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        row = QHBoxLayout()
        row.addWidget(self.root, 1)
        row.addWidget(browse)
        note = QLabel(kind.description)
        note.setProperty("role", "muted")
        note.setWordWrap(True)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow("Name", self.name)
        if takes_folder(kind):
            form.addRow("Folder", row)
        else:
            for widget in (self.root, browse):
                widget.hide()
        form.addRow(note)
        form.addRow(buttons)

    def _browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Folder", self.root.text() or str(Path.home()))
        if folder:
            self.root.setText(folder)

    def spec(self) -> str:
        name = self.name.currentText().strip()
        root = self.root.text().strip() if takes_folder(self.kind) else ""
        return f"{self.kind.scheme}:{name}" + (f":{root}" if root else "")


def is_text_spec(spec: str) -> bool:
    """A spec that opens text (text:..., or a bare .txt path): its length is a number of tokens."""
    scheme, sep, _ = spec.strip().partition(":")
    return (sep != "" and scheme.lower() == "text") or spec.strip().lower().endswith(".txt")


def takes_folder(kind: Any) -> bool:
    """A kind named by NAME that also takes a folder after it (its usage reads NAME[:ROOT])."""
    return kind.browse == "name" and "[:" in kind.argument


def choice_title(kind: Any, name: str) -> str:
    """The Open menu's words for one of a kind's named entries (the registry's own, where it has them)."""
    words = tuple(getattr(kind, "choice_words", ()) or ())
    if words and name in kind.choices and len(words) == len(kind.choices):
        return str(words[kind.choices.index(name)])
    return CHOICE_TITLES.get(f"{kind.scheme}:{name}", str(name))


def _source_kinds() -> list[Any]:
    try:
        from ssl_core.data import DATA_SOURCES
    except ImportError:
        return []
    return [kind for _, kind in DATA_SOURCES.items()]


def file_filter(kind: Any) -> str:
    """A file dialog's filter for a kind: its patterns first, then any file."""
    pattern = kind.file_pattern or "*"
    return f"{kind.title} ({pattern});;All files (*)"


class DataPanel(QWidget):
    """Emits `loaded(info)` after a source opened; on a UserError shows it and keeps the previous one."""

    loaded = Signal(object)  # DataInfo
    loading_changed = Signal(bool)
    options_changed = (
        Signal()
    )  # a data setting that needs no reopening changed (tables: train on normal rows)

    def __init__(self, runner: JobRunner, parent: QWidget | None = None):
        super().__init__(parent)
        self.runner = runner
        self.info: Any = None
        self._spec = ""
        self._pending: Worker | None = None
        self._retry_spec = ""  # a spec refused for its gaps: the Missing values box opens it again
        self._image_size: int | None = None
        self.recent: list[str] = []

        layout = QVBoxLayout(self)
        row = QHBoxLayout()
        self.spec_box = QComboBox()
        self.spec_box.setEditable(True)
        self.spec_box.setObjectName("data_spec")
        self.spec_box.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        self.spec_box.setToolTip("The data spec. Type one and press Enter, or use Open.")
        self.spec_box.lineEdit().returnPressed.connect(
            lambda: self.open_spec(self.spec_box.currentText().strip())
        )
        self.spec_box.activated.connect(lambda i: self.open_spec(self.spec_box.itemText(i)))
        self.open_button = QToolButton()
        self.open_button.setText("Open…")
        self.open_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self._kinds: tuple[Any, ...] = ()  # the kinds the Open menu was built from
        self._kind_menus: list[QMenu] = []
        self._engine_ready = False
        self.open_menu = QMenu(self)
        self.open_menu.setObjectName("open_data_menu")
        self.open_menu.setToolTipsVisible(True)
        # a kind registered after the menu was built appears the next time it opens
        self.open_menu.aboutToShow.connect(self._refresh_open_menu)
        self._fill_open_menu(())
        self.open_button.setMenu(self.open_menu)
        self.open_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        row.addWidget(self.spec_box, 1)
        row.addWidget(self.open_button)
        layout.addLayout(row)

        self.colour_row = QWidget()  # images only: hidden for other kinds of data
        colour_row = QHBoxLayout(self.colour_row)
        colour_row.setContentsMargins(0, 0, 0, 0)
        colour_label = QLabel(SCHEMA["data.channels"].title)
        colour_label.setToolTip(f"<p>{html.escape(SCHEMA['data.channels'].describe(), quote=False)}</p>")
        self.channels_box = QComboBox()
        for text, value in channel_choices():
            self.channels_box.addItem(text, value)
        self.channels_box.setToolTip(f"<p>{html.escape(SCHEMA['data.channels'].describe(), quote=False)}</p>")
        self.channels_box.currentIndexChanged.connect(
            lambda _: self._spec and self.open_spec(self._spec, force=True)
        )
        colour_row.addWidget(colour_label)
        colour_row.addWidget(self.channels_box, 1)
        layout.addWidget(self.colour_row)
        layout.addWidget(self._series_options())
        self.table_options = TableOptions()
        self.table_options.reopen.connect(self._series_options_changed)
        self.table_options.changed.connect(self.options_changed)
        self.table_options.hide()
        layout.addWidget(self.table_options)
        self.text_options = TextOptions()
        self.text_options.reopen.connect(self._series_options_changed)
        self.text_options.hide()
        layout.addWidget(self.text_options)
        self.audio_options = AudioOptions()
        self.audio_options.reopen.connect(self._audio_options_changed)
        self.audio_options.hide()
        layout.addWidget(self.audio_options)

        self.summary = QLabel("No data loaded yet.")
        self.summary.setObjectName("data_summary")
        self.summary.setWordWrap(True)
        self.summary.setTextFormat(Qt.TextFormat.RichText)
        self.summary.setProperty("role", "banner")
        layout.addWidget(self.summary)
        self.samples_caption = QLabel("Samples")
        self.samples_caption.setProperty("role", "muted")
        layout.addWidget(self.samples_caption)
        self.thumbnails = ImageGrid(cell=52)
        self.thumbnails.setObjectName("data_thumbnails")
        self.thumbnails.placeholder = "Samples appear here once the data is loaded."
        layout.addWidget(self.thumbnails, 1)

    def _series_options(self) -> QWidget:
        """Series length and missing values (series only; opening the data again applies them)."""
        self.series_row = QWidget()
        self.series_row.setObjectName("series_options")
        row = QHBoxLayout(self.series_row)
        row.setContentsMargins(0, 0, 0, 0)
        length, missing = SCHEMA[LENGTH], SCHEMA[MISSING]
        self.length_box = QSpinBox()
        self.length_box.setObjectName("series_length")
        self.length_box.setRange(int(length.low) - 1, int(length.high or 10_000_000))
        self.length_box.setSpecialValueText(length.none_label)  # the minimum stands for None
        self.length_box.setValue(self.length_box.minimum())
        self.length_box.setKeyboardTracking(False)
        self.missing_box = QComboBox()
        self.missing_box.setObjectName("series_missing")
        for choice in missing.choices:
            self.missing_box.addItem(str(choice).capitalize(), choice)
        for box, field in ((self.length_box, length), (self.missing_box, missing)):
            tip = f"<p>{html.escape(field.describe(), quote=False)}</p>"
            box.setToolTip(tip)
            label = QLabel(field.title)
            label.setToolTip(tip)  # the label explains itself too
            row.addWidget(label)
            row.addWidget(box, 1)
        self.length_box.valueChanged.connect(lambda _: self._series_options_changed())
        self.missing_box.currentIndexChanged.connect(lambda _: self._series_options_changed())
        self.series_row.hide()
        return self.series_row

    def _series_options_changed(self) -> None:
        spec = self._retry_spec or self._spec
        if spec:
            self.open_spec(spec, force=True)

    def _audio_options_changed(self) -> None:
        """Audio settings apply to audio: reopen it; for other data they wait for the next audio opened."""
        spec = self._retry_spec or self._spec
        if spec and (self.is_audio() or spec.strip().lower().startswith("audio:")):
            self.open_spec(spec, force=True)

    # ---- the Open menu, from the data-source registry ----------------------------------------
    def engine_loaded(self) -> None:
        """The data registry is importable now: offer its kinds of source."""
        self._engine_ready = True
        self._refresh_open_menu()

    def show_open_menu(self) -> None:
        """Pop up the Open menu under its button (File → Open data…)."""
        self.open_button.showMenu()

    def _refresh_open_menu(self) -> None:
        if not self._engine_ready:
            return  # importing the registry now would wait for PyTorch on the GUI thread
        kinds = tuple(_source_kinds())
        if kinds != self._kinds:
            self._fill_open_menu(kinds)

    def _fill_open_menu(self, kinds: tuple[Any, ...]) -> None:
        menu = self.open_menu
        menu.clear()
        for sub in self._kind_menus:
            sub.deleteLater()
        self._kind_menus = []
        self._kinds = kinds
        if not kinds:
            menu.addAction("Loading the kinds of data…").setEnabled(False)
            return
        usages = ", ".join(kind.usage for kind in kinds)
        self.spec_box.setToolTip(f"The data spec: {usages}. Type one and press Enter, or use Open.")
        # kinds that open at once (the bundled digits) first, then those that ask for something
        direct = [k for k in kinds if not k.browse and not k.choices]
        others = [k for k in kinds if k not in direct]
        for kind in direct:
            self._add_kind(menu, kind)
        if direct and others:
            menu.addSeparator()
        for kind in others:
            self._add_kind(menu, kind)

    def _add_kind(self, menu: QMenu, kind: Any) -> None:
        if kind.choices:
            sub = menu.addMenu(kind.title)
            sub.setObjectName(f"open_{kind.scheme}")
            sub.setToolTipsVisible(True)
            sub.menuAction().setToolTip(kind.description)
            sub.menuAction().setData(kind.scheme)
            self._kind_menus.append(sub)
            for name in kind.choices:
                action = sub.addAction(choice_title(kind, name))
                action.setData(f"{kind.scheme}:{name}")
                action.triggered.connect(lambda _=False, spec=action.data(): self.open_spec(spec))
            if kind.browse in ("file", "folder") or takes_folder(kind):
                sub.addSeparator()
                text = {"file": "Open a file…", "folder": "Open a folder…"}.get(kind.browse, "From a folder…")
                sub.addAction(text, lambda: self.browse(kind))
            return
        text = kind.title if not kind.browse else f"{kind.title}…"
        action = menu.addAction(text, lambda: self.browse(kind))
        action.setToolTip(kind.description)
        action.setData(kind.scheme)

    def browse(self, kind: Any) -> Worker | None:
        """Ask for what the kind needs (a folder, a file, a name) and open it; None when cancelled."""
        scheme = kind.scheme
        if kind.browse == "folder":
            folder = QFileDialog.getExistingDirectory(self, f"Open: {kind.title}", str(Path.home()))
            return self.open_spec(f"{scheme}:{folder}") if folder else None
        if kind.browse == "file":
            path, _ = QFileDialog.getOpenFileName(
                self, f"Open: {kind.title}", str(Path.home()), file_filter(kind)
            )
            return self.open_spec(f"{scheme}:{path}") if path else None
        if kind.browse == "name":
            dialog = NameDialog(kind, self)
            if dialog.exec() == QDialog.DialogCode.Accepted and dialog.name.currentText().strip():
                return self.open_spec(dialog.spec())
            return None
        if not kind.argument:
            return self.open_spec(scheme)
        # a kind the GUI has no picker for: its example goes into the spec box, ready to edit
        self._set_box_text(kind.example)
        self.spec_box.setFocus()
        return None

    def open_spec(self, spec: str, force: bool = False) -> Worker | None:
        """Load a source in the background; returns the worker (tests wait on its `finished`)."""
        spec = spec.strip()
        if not spec:
            return None
        if spec == self._spec and not force and self.info is not None:
            return None
        if self._pending is not None:
            self._pending.quit()
        worker = Worker(
            load_preview,
            spec,
            self.channels_box.currentData(),
            series=self.series_options(text=is_text_spec(spec)),
            table=self.table_options.open_options(),
            text=self.text_options.open_options(),
            audio=self.audio_options.open_options(),
            inject=("progress",),
        )
        worker.returned.connect(lambda result, w=worker: self._loaded(w, result))
        worker.errored.connect(lambda exc, tb, w=worker: self._failed(w, spec, exc, tb))
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
        self._retry_spec = ""
        self._remember(self._spec)
        labels = result["labels"]
        names = self.info.class_names
        captions = (
            [names[int(y)] if 0 <= int(y) < len(names) else str(int(y)) for y in labels]
            if labels is not None
            else None
        )
        self._show_samples(result["samples"], captions)
        self.colour_row.setVisible(self.info.modality in COLOURS_FOR)
        self.series_row.setVisible(self.info.modality in SERIES_OPTIONS_FOR)
        self.table_options.setVisible(self.info.modality in TABLE_OPTIONS_FOR)
        if self.info.modality in TABLE_OPTIONS_FOR:
            self.table_options.set_info(self.info)
        self.text_options.setVisible(self.info.modality in TEXT_OPTIONS_FOR)
        if self.info.modality in TEXT_OPTIONS_FOR:
            self.text_options.set_info(self.info)
        self.audio_options.setVisible(self.info.modality in AUDIO_OPTIONS_FOR)
        if self.info.modality in AUDIO_OPTIONS_FOR:
            self.audio_options.set_info(self.info)
        self._refresh_summary()
        self.loaded.emit(self.info)

    def _show_samples(self, samples: Any, captions: list[str] | None) -> None:
        """The samples in their own form: images, or sparklines scaled by the samples shown."""
        from ssl_core.modalities import modality_of

        modality = modality_of(self.info)
        painter = thumbnail_painter(modality.name, samples, info=self.info)
        cell = THUMBNAIL_CELL.get(modality.name, 52)
        width = max(8, round(cell * painter.aspect))
        self.thumbnails.set_cell(cell, painter.aspect)
        self.thumbnails.set_images(painter.paint(samples, width, cell), captions)
        self.samples_caption.setText(f"Sample {modality.plural}")

    def _failed(self, worker: Worker, spec: str, exc: BaseException, tb: str) -> None:
        if worker is not self._pending:
            return
        if MISSING in str(exc):
            # Series with gaps: offer the choice the message names, and keep the spec to open again.
            self._retry_spec = spec
            self.series_row.show()
            self._set_box_text(spec)
        else:
            self._retry_spec = ""
            self.series_row.setVisible(self.info is not None and self.info.modality in SERIES_OPTIONS_FOR)
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

    def series_options(self, text: bool | None = None) -> dict[str, Any]:
        """The series options as open_source (and the config's [data]) take them; for text (`text`: the
        data is text; None: the data loaded now is), length is the max tokens of the text options."""
        length = self.length_box.value()
        if self.is_text() if text is None else text:
            return {
                "length": self.text_options.options()["length"],
                "missing": self.missing_box.currentData(),
            }
        return {
            "length": None if length == self.length_box.minimum() else int(length),
            "missing": self.missing_box.currentData(),
        }

    def set_series_options(self, length: int | None, missing: str | None) -> None:
        for box in (self.length_box, self.missing_box):
            box.blockSignals(True)
        self.length_box.setValue(self.length_box.minimum() if length is None else int(length))
        self.missing_box.setCurrentIndex(max(0, self.missing_box.findData(missing or "refuse")))
        for box in (self.length_box, self.missing_box):
            box.blockSignals(False)
        self.text_options.set_length(length)

    def is_audio(self) -> bool:
        return self.info is not None and self.info.modality in AUDIO_OPTIONS_FOR

    def is_text(self) -> bool:
        return self.info is not None and self.info.modality in TEXT_OPTIONS_FOR

    def table_run_options(self) -> dict[str, Any]:
        """The table settings as the config's [data] holds them (empty lists where a person set nothing)."""
        opened = self.table_options.open_options()
        return {
            "label_column": opened["label_column"],
            "ignore_columns": opened["ignore_columns"],
            "categorical": opened["categorical"],
            **self.table_options.run_options(),
            **self.text_run_options(),
            **self.audio_run_options(),
        }

    def text_run_options(self) -> dict[str, Any]:
        """The text settings as the config's [data] holds them (those the config knows)."""
        from dataclasses import fields

        from ssl_core.config import DataConfig

        known = {f.name for f in fields(DataConfig)}
        options = self.text_options.options()
        return {key: options[key] for key in TEXT_CONFIG_KEYS if key in known}

    def audio_run_options(self) -> dict[str, Any]:
        """The audio settings as the config's [data] holds them (those the config knows)."""
        from dataclasses import fields

        from ssl_core.config import DataConfig

        known = {f.name for f in fields(DataConfig)}
        return {key: value for key, value in self.audio_options.options().items() if key in known}

    def set_table_options(self, data: Any) -> None:
        """A config's [data] table, text and audio settings (applied when the data opens)."""
        self.table_options.set_options(data)
        self.text_options.set_options(data)
        self.audio_options.set_options(data)

    def set_channels(self, channels: int | None) -> None:
        self.channels_box.blockSignals(True)
        self.channels_box.setCurrentIndex(max(0, self.channels_box.findData(channels)))
        self.channels_box.blockSignals(False)

    def show_message(self, text: str) -> None:
        """A line in place of the data's summary, e.g. while the engine loads."""
        self.summary.setText(text)

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
