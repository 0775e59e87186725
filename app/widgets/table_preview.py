"""The "table_rows" preview renderer: a few table rows as a table, one block of rows per sample.

Registered for the "table_rows" payload type in app/widgets/previews.py. A table Preview carries named
(n, F) arrays in the data's original units (categorical columns as category codes, NaN where a value is
missing or hidden from the model) and `meta` = {"columns": [...], "kinds": [...], "categories": {name:
[...]}}. Each sample is a block: the untouched input first, then what the method made of it (a corrupted
copy, another view, a reconstruction). Cells are marked against the input: a changed value is tinted
amber, a hidden or missing one is shown as "—" on grey, and a reconstruction is tinted red by how far it
is from the input (its column's spread in the shown rows as the unit), in bold where the model got the
value hidden or changed and had to fill it in.
"""

from __future__ import annotations

import html
import math
from typing import Any

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QBrush, QColor, QFont
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
)

from app.theme import Colors, current_colors, theme_manager
from app.widgets.preview_base import MAX_SAMPLES, PreviewRenderer, as_numpy

# Names a method may use for the untouched row (the reference the others are compared with) ...
REFERENCE = ("input", "original")
# ... and for rows the model produced (tinted by their error rather than marked as changed).
OUTPUT_WORDS = ("recon", "output", "predict", "rebuilt")
CHANGED_COLOUR = "#F58518"
MISSING_TEXT = "—"
COLUMN_MAX_PX = 140

HIDDEN, CHANGED, ERROR, SAME = "hidden", "changed", "error", ""


def is_output(name: str) -> bool:
    low = name.lower()
    return any(word in low for word in OUTPUT_WORDS)


def format_value(value: float, kind: str, categories: list[str] | None) -> str:
    """A cell's text in the data's own terms: a category's name, yes/no, or a number."""
    if not math.isfinite(value):
        return MISSING_TEXT
    if kind == "categorical":
        code = int(round(value))
        if categories and 0 <= code < len(categories):
            return str(categories[code])
        return f"#{code}"
    if kind == "boolean":
        return "yes" if value >= 0.5 else "no"
    if float(value).is_integer() and abs(value) < 1e9:
        return str(int(value))
    return f"{value:.4g}"


def _differs(a: float, b: float, kind: str) -> bool:
    if kind in ("categorical", "boolean"):
        return round(a) != round(b) if kind == "categorical" else (a >= 0.5) != (b >= 0.5)
    return abs(a - b) > 1e-6 * max(1.0, abs(a), abs(b))


def column_spread(reference: np.ndarray) -> np.ndarray:
    """(F,) a unit for reconstruction errors: the spread of each column in the shown input rows."""
    with np.errstate(all="ignore"):
        spread = np.nanstd(reference, axis=0) if len(reference) > 1 else np.full(reference.shape[1], np.nan)
        size = np.nanmean(np.abs(reference), axis=0)
    spread = np.where(np.isfinite(spread) & (spread > 1e-9), spread, size)
    return np.where(np.isfinite(spread) & (spread > 1e-9), spread, 1.0)


class TablePreview(PreviewRenderer):
    """A few table rows: for each sample its input row and the rows the method made of it."""

    reading_hint = (
        "Each block is one {noun}: the input row first, then what the method made of it. Amber: a value "
        "that was changed; — on grey: hidden or missing; red: a reconstruction, darker the further it is "
        "from the input (bold where the model had to fill the value in)."
    )

    def __init__(self, max_samples: int = MAX_SAMPLES, parent=None):
        super().__init__(max_samples, parent)
        self._preview: Any = None
        self._names: list[str] = []
        self._arrays: dict[str, np.ndarray] = {}
        self._states: dict[tuple[int, str, int], str] = {}
        self._n = 0
        self.key = QLabel()
        self.key.setObjectName("table_preview_key")
        self.key.setWordWrap(True)
        self.table = QTableWidget()
        self.table.setObjectName("table_preview")
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.table.verticalHeader().hide()
        self.table.setHorizontalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.key)
        layout.addWidget(self.table, 1)
        manager = theme_manager()
        if manager is not None:
            manager.changed.connect(self._theme_changed)  # a bound slot: disconnected when self is deleted

    # ---- what it shows -------------------------------------------------------------------------------
    def rows(self) -> list[str]:
        return list(self._names) if self._preview is not None else []

    def columns(self) -> int:
        return self._n if self._preview is not None else 0

    def captions(self, name: str) -> list[str]:
        if self._preview is None:
            return []
        return list(self._preview.captions.get(name, []))[: self._n]

    def feature_names(self) -> list[str]:
        return list(self._meta().get("columns") or [])

    def cell_text(self, sample: int, name: str, feature: int) -> str:
        """The text shown for one value (for tests and tooltips)."""
        item = self.table.item(self._row_of(sample, name), 2 + feature)
        return item.text() if item is not None else ""

    def cell_state(self, sample: int, name: str, feature: int) -> str:
        """How a value is marked: "hidden", "changed", "error" (a reconstruction's) or "" (as the input)."""
        return self._states.get((sample, name, feature), SAME)

    def show_preview(self, preview: Any) -> None:
        arrays = {}
        for name, array in preview.images.items():
            a = as_numpy(array).astype(np.float64, copy=False)
            if a.ndim == 1:
                a = a[None]
            if a.ndim == 2:
                arrays[name] = a
        if not arrays:
            return
        self._preview = preview
        self._n = min(self.max_samples, min(len(a) for a in arrays.values()))
        self._arrays = {k: v[: self._n] for k, v in arrays.items()}
        names = list(self._arrays)
        ref = next((n for n in names if n.lower() in REFERENCE), names[0])
        self._names = [ref] + [n for n in names if n != ref]
        self._redraw()

    # ---- drawing -------------------------------------------------------------------------------------
    def _meta(self) -> dict:
        meta = getattr(self._preview, "meta", None)
        return meta if isinstance(meta, dict) else {}

    def _row_of(self, sample: int, name: str) -> int:
        return sample * len(self._names) + self._names.index(name)

    def _theme_changed(self, _colors=None) -> None:
        self._redraw()

    def _redraw(self) -> None:
        if self._preview is None:
            return
        colors = current_colors()
        meta = self._meta()
        width = next(iter(self._arrays.values())).shape[1]
        columns = [str(c) for c in (meta.get("columns") or [])][:width]
        columns += [f"column {j + 1}" for j in range(len(columns), width)]
        kinds = [str(k) for k in (meta.get("kinds") or [])][:width]
        kinds += ["numeric"] * (width - len(kinds))
        categories = meta.get("categories") or {}
        captions = {k: list(v) for k, v in self._preview.captions.items()}
        has_captions = any(captions.get(n) for n in self._names)
        ref_name = self._names[0]
        reference = self._arrays[ref_name]
        spread = column_spread(reference)
        table = self.table
        table.clearSpans()
        table.clear()
        table.setRowCount(self._n * len(self._names))
        table.setColumnCount(2 + width + (1 if has_captions else 0))
        headers = ["", ""] + columns + (["note"] if has_captions else [])
        table.setHorizontalHeaderLabels(headers)
        for j, (col, kind) in enumerate(zip(columns, kinds, strict=True)):
            table.horizontalHeaderItem(2 + j).setToolTip(f"{col}: {kind}")
        self._states = {}
        bold = QFont(table.font())
        bold.setBold(True)
        for i in range(self._n):
            first = i * len(self._names)
            sample = QTableWidgetItem(str(i + 1))
            sample.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
            sample.setToolTip(f"sample {i + 1}")
            table.setItem(first, 0, sample)
            if len(self._names) > 1:
                table.setSpan(first, 0, len(self._names), 1)
            for r, name in enumerate(self._names):
                row = first + r
                label = QTableWidgetItem(name)
                if name != ref_name:
                    label.setForeground(QBrush(QColor(colors.muted)))
                table.setItem(row, 1, label)
                values = self._arrays[name][i]
                damaged = self._damaged(i)
                for j in range(width):
                    cats = categories.get(columns[j]) if isinstance(categories, dict) else None
                    item = self._cell(
                        i, name, j, values[j], reference[i, j], kinds[j], cats, spread[j], colors
                    )
                    if name != ref_name and is_output(name) and damaged[j]:
                        item.setFont(bold)
                    table.setItem(row, 2 + j, item)
                if has_captions:
                    texts = captions.get(name, [])
                    table.setItem(row, 2 + width, QTableWidgetItem(texts[i] if i < len(texts) else ""))
        header = table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        table.resizeColumnsToContents()
        for c in range(2, table.columnCount()):
            table.setColumnWidth(c, min(COLUMN_MAX_PX, table.columnWidth(c)))
        table.resizeRowsToContents()
        header.setStretchLastSection(True)  # the last column fills the width (notes, when there are any)
        self.key.setText(self._key_html(colors))

    def _damaged(self, sample: int) -> np.ndarray:
        """(F,) True where a non-output row of this sample hid or changed the input's value."""
        ref = self._arrays[self._names[0]][sample]
        out = np.zeros(len(ref), dtype=bool)
        for name in self._names[1:]:
            if is_output(name):
                continue
            values = self._arrays[name][sample]
            with np.errstate(invalid="ignore"):
                out |= ~np.isfinite(values) | (
                    np.isfinite(ref) & (np.abs(values - ref) > 1e-6 * np.maximum(1, np.abs(ref)))
                )
        return out

    def _cell(
        self,
        sample: int,
        name: str,
        j: int,
        value: float,
        ref: float,
        kind: str,
        categories: list[str] | None,
        spread: float,
        colors: Colors,
    ) -> QTableWidgetItem:
        text = format_value(float(value), kind, categories)
        item = QTableWidgetItem(text)
        item.setTextAlignment(
            (Qt.AlignmentFlag.AlignRight if kind == "numeric" else Qt.AlignmentFlag.AlignLeft)
            | Qt.AlignmentFlag.AlignVCenter
        )
        tip = [f"{name}: {text}"]
        state = SAME
        if name == self._names[0]:
            if not math.isfinite(value):
                state = HIDDEN
                tip = [f"{name}: missing in the data"]
        elif not math.isfinite(value):
            state = HIDDEN
            tip = [f"{name}: hidden from the model (input {format_value(float(ref), kind, categories)})"]
        elif is_output(name) and math.isfinite(ref):
            if kind == "numeric":
                err = abs(value - ref) / spread
                state = ERROR if err > 0.05 else SAME
                shade = min(1.0, err / 2.0)
                tip.append(
                    f"input {format_value(float(ref), kind, categories)}, off by {abs(value - ref):.4g}"
                )
            else:
                wrong = _differs(value, ref, kind)
                state, shade = (ERROR, 1.0) if wrong else (SAME, 0.0)
                tip.append(
                    f"input {format_value(float(ref), kind, categories)}" + (" (wrong)" if wrong else "")
                )
                if kind == "boolean" and not float(value).is_integer():
                    tip.append(f"value {value:.3g}")
            if state == ERROR:
                colour = QColor(colors.bad)
                colour.setAlpha(40 + int(150 * shade))
                item.setBackground(QBrush(colour))
        elif math.isfinite(ref) and _differs(value, ref, kind):
            state = CHANGED
            tip.append(f"changed from {format_value(float(ref), kind, categories)}")
        if state == HIDDEN:
            item.setBackground(QBrush(QColor(colors.border)))
            item.setForeground(QBrush(QColor(colors.muted)))
            item.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
        elif state == CHANGED:
            colour = QColor(CHANGED_COLOUR)
            colour.setAlpha(120)
            item.setBackground(QBrush(colour))
        if state != SAME:
            self._states[(sample, name, j)] = state
        item.setToolTip("\n".join(tip))
        return item

    def _key_html(self, colors: Colors) -> str:
        def swatch(colour: str, alpha: int = 255) -> str:
            c = QColor(colour)
            return (
                f"<span style='background-color: rgba({c.red()},{c.green()},{c.blue()},{alpha / 255:.2f})'>"
                "&nbsp;&nbsp;&nbsp;&nbsp;</span>"
            )

        parts = [
            f"{swatch(CHANGED_COLOUR, 120)} changed",
            f"{swatch(colors.border)} {MISSING_TEXT} hidden or missing",
        ]
        if any(is_output(n) for n in self._names):
            parts.append(f"{swatch(colors.bad, 140)} reconstruction error (darker: further from the input)")
        names = " · ".join(html.escape(n) for n in self._names)
        return (
            f"<span style='color:{colors.muted}'>Rows per sample: {names}</span> &nbsp; "
            + " &nbsp; ".join(parts)
        )
