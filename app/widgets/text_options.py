"""The Setup panel's options for text: the tokenizer, its vocabulary size, the longest sequence in tokens,
what one sample is (a line or a paragraph of a .txt file) and which column of a CSV holds the text.

Each choice maps one to one onto the config's [data] settings (tokenizer, vocab_size, length, text_unit,
text_column), so a GUI session saved as a config file re-runs in the CLI. Changing one opens the data
again (`reopen`), so the summary and the samples show what training will get.
"""

from __future__ import annotations

import html
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QFormLayout, QLabel, QSpinBox, QWidget

from ssl_core.config_schema import SCHEMA

INFERRED = ""  # the text-column entry that leaves the choice to the engine
# What each setting is called and means where the config schema does not (yet) say.
FALLBACK = {
    "data.tokenizer": ("Tokenizer", "How text is cut into tokens: byte-level BPE, WordPiece, or characters."),
    "data.vocab_size": ("Vocabulary size", "How many different tokens the tokenizer may learn."),
    "data.length": ("Max tokens", "Text: each sample is cut to this many tokens, [CLS] and [SEP] included."),
    "data.text_unit": (
        "Sample",
        "A .txt file: one sample per line, or per paragraph (blank-line separated).",
    ),
    "data.text_column": ("Text column", "CSV/TSV: the column that holds the text; empty: the longest."),
}
DEFAULTS = {"tokenizer": "bpe", "vocab_size": 2000, "length": 64, "text_unit": "auto", "text_column": None}
VOCAB_RANGE, LENGTH_RANGE = (16, 200_000), (4, 4096)


def choices(key: str, fallback: tuple[tuple[str, str], ...]) -> list[tuple[str, str]]:
    """(value, words) of a setting's choices, from the config schema where it has them."""
    field = SCHEMA.get(key)
    if field is None or not field.choices:
        return list(fallback)
    words = field.choice_words or field.choices
    return [(str(v), str(w)[:1].upper() + str(w)[1:]) for v, w in zip(field.choices, words, strict=True)]


TOKENIZERS = choices(
    "data.tokenizer", (("bpe", "Byte-level BPE"), ("wordpiece", "WordPiece"), ("char", "Characters"))
)
UNITS = choices(
    "data.text_unit", (("auto", "Inferred"), ("line", "One per line"), ("paragraph", "One per paragraph"))
)


def text_extra(info: Any) -> dict:
    """What a text source put in its DataInfo (the contract's extra["text"])."""
    extra = getattr(info, "extra", None) or {}
    text = extra.get("text")
    return text if isinstance(text, dict) else {}


def _title_tip(key: str) -> tuple[str, str]:
    field = SCHEMA.get(key)
    if field is not None and key != "data.length":  # data.length's schema words are about series
        return field.title, f"<p>{html.escape(field.describe(), quote=False)}</p>"
    title, text = FALLBACK[key]
    return title, f"<p>{html.escape(text, quote=False)}</p>"


class TextOptions(QWidget):
    """Tokenizer, vocabulary size, max tokens, sample unit and text column for loaded text."""

    reopen = Signal()  # the data must be opened again with the new options

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("text_options")
        form = QFormLayout(self)
        form.setContentsMargins(0, 0, 0, 0)
        self.tokenizer_box = QComboBox()
        self.tokenizer_box.setObjectName("text_tokenizer")
        for value, word in TOKENIZERS:
            self.tokenizer_box.addItem(word, value)
        self.vocab_box = QSpinBox()
        self.vocab_box.setObjectName("text_vocab_size")
        self.vocab_box.setRange(*VOCAB_RANGE)
        self.vocab_box.setSingleStep(500)
        self.vocab_box.setValue(DEFAULTS["vocab_size"])
        self.length_box = QSpinBox()
        self.length_box.setObjectName("text_max_tokens")
        self.length_box.setRange(*LENGTH_RANGE)
        self.length_box.setValue(DEFAULTS["length"])
        self.unit_box = QComboBox()
        self.unit_box.setObjectName("text_unit")
        for value, word in UNITS:
            self.unit_box.addItem(word, value)
        self.column_box = QComboBox()
        self.column_box.setObjectName("text_column")
        self.column_box.addItem("Inferred", INFERRED)
        self.column_title = QLabel()
        self.unit_title = QLabel()
        rows = (
            ("data.tokenizer", self.tokenizer_box, QLabel()),
            ("data.vocab_size", self.vocab_box, QLabel()),
            ("data.length", self.length_box, QLabel()),
            ("data.text_unit", self.unit_box, self.unit_title),
            ("data.text_column", self.column_box, self.column_title),
        )
        for key, box, label in rows:
            title, tip = _title_tip(key)
            label.setText(title)
            label.setToolTip(tip)
            box.setToolTip(tip)
            form.addRow(label, box)
        for box in (self.vocab_box, self.length_box):
            box.setKeyboardTracking(False)  # typing 3000 does not reopen at 3, 30, 300
            box.valueChanged.connect(lambda _: self.reopen.emit())
        self.tokenizer_box.currentIndexChanged.connect(lambda _: self._tokenizer_changed(reopen=True))
        self.unit_box.currentIndexChanged.connect(lambda _: self.reopen.emit())
        self.column_box.activated.connect(lambda _: self.reopen.emit())
        self._column = ""  # the column a person chose ("" leaves it to the engine)
        self._tokenizer_changed()

    def _tokenizer_changed(self, reopen: bool = False) -> None:
        # characters: the vocabulary is the characters of the corpus, whatever the size says
        self.vocab_box.setEnabled(self.tokenizer_box.currentData() != "char")
        if reopen:
            self.reopen.emit()

    # ---- showing loaded text --------------------------------------------------------------------
    def set_info(self, info: Any) -> None:
        """Show what the opened text is: the text column's choices for a CSV, the unit for a .txt."""
        extra = text_extra(info)
        fmt = str(extra.get("format", ""))
        is_csv = fmt == "csv"
        for widget in (self.column_box, self.column_title):
            widget.setVisible(is_csv)
        for widget in (self.unit_box, self.unit_title):
            widget.setVisible(fmt in ("txt", "folder", ""))
        self.column_box.blockSignals(True)
        self.column_box.clear()
        current = extra.get("text_column")
        self.column_box.addItem(f"Inferred ({current})" if current else "Inferred", INFERRED)
        for name in extra.get("columns") or ([current] if current else []):
            self.column_box.addItem(str(name), str(name))
        self.column_box.setCurrentIndex(max(0, self.column_box.findData(self._column)) if self._column else 0)
        self.column_box.blockSignals(False)

    # ---- the settings, as open_source and the config take them -----------------------------------
    def options(self) -> dict[str, Any]:
        """Every text setting as the config's [data] holds it (length: max tokens)."""
        if self.column_box.count():
            self._column = self.column_box.currentData() or ""
        return {
            "tokenizer": self.tokenizer_box.currentData(),
            "vocab_size": int(self.vocab_box.value()),
            "length": int(self.length_box.value()),
            "text_unit": self.unit_box.currentData(),
            "text_column": self._column or None,
        }

    def open_options(self) -> dict[str, Any]:
        """Only the settings a person changed from the defaults (open_source's keyword arguments)."""
        return {k: v for k, v in self.options().items() if k != "length" and v != DEFAULTS[k]}

    def set_options(self, data: Any) -> None:
        """Show a config's [data] text settings (applied when the text opens)."""
        boxes = (self.tokenizer_box, self.vocab_box, self.length_box, self.unit_box)
        for box in boxes:
            box.blockSignals(True)
        tokenizer = getattr(data, "tokenizer", DEFAULTS["tokenizer"])
        self.tokenizer_box.setCurrentIndex(max(0, self.tokenizer_box.findData(tokenizer)))
        self.vocab_box.setValue(int(getattr(data, "vocab_size", None) or DEFAULTS["vocab_size"]))
        unit = getattr(data, "text_unit", DEFAULTS["text_unit"])
        self.unit_box.setCurrentIndex(max(0, self.unit_box.findData(unit)))
        self._column = getattr(data, "text_column", None) or ""
        for box in boxes:
            box.blockSignals(False)
        self.vocab_box.setEnabled(self.tokenizer_box.currentData() != "char")

    def set_length(self, length: int | None) -> None:
        self.length_box.blockSignals(True)
        self.length_box.setValue(int(length) if length else DEFAULTS["length"])
        self.length_box.blockSignals(False)
