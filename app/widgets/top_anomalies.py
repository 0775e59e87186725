"""The highest-scoring samples, each shown in its own form: an image as a thumbnail, a series as a
sparkline, a table row as its values with the most unusual ones highlighted.

For a table row, each numeric value is compared with the normal training rows: its robust z-score is
(value - their median) / (their interquartile range / 1.349), so 1 means "one typical spread away from
the usual". Values two or more spreads away are tinted (red above, blue below the usual), and the three
furthest of each row are bold and named in the "most unusual" column. A category is tinted when fewer
than RARE_SHARE of the normal rows have it. Thumbnails come from the modality's painter in
app/widgets/sample_thumbnails.py (SAMPLE_THUMBNAILS), a table's being a strip of its deviations.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QBrush, QColor, QFont, QPixmap
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableWidget, QTableWidgetItem

from app.theme import Colors, current_colors, theme_manager
from app.widgets.sample_thumbnails import (
    SAMPLE_THUMBNAILS,
    ImageThumbnails,
    TableThumbnails,
    deviations,
    robust_scale,
)
from app.widgets.table_preview import format_value

UNUSUAL_Z = 2.0  # tint values at least this many typical spreads from the normal rows' median
NAMED = 3  # the furthest values of a row named in its "most unusual" cell
RARE_SHARE = 0.05  # a category seen in fewer normal rows than this is unusual
THUMB_H = {"image": 44, "series": 36, "table": 22}


@dataclass
class TopSamples:
    """What the table shows, prepared on a worker: the top samples, highest score first."""

    rows: np.ndarray  # (K,) sample indices in the data
    scores: np.ndarray  # (K,)
    samples: Any  # (K, ...) as the data source returns them
    modality: str = "image"
    ids: list[str] | None = None  # the id column's values, when the data has one
    id_name: str = "id"
    labels: list[str] | None = None  # each sample's class name, when labelled
    anomalous: list[bool] | None = None  # each sample's truth, when labelled
    splits: list[str] = field(default_factory=list)  # "training", "calibration", "test"
    reference: Any = None  # normal training samples: the usual values (tables), channel scales (series)
    table: dict | None = None  # {"columns", "kinds", "categories"} for tables


class TopAnomalies(QTableWidget):
    """A table of the top-scoring samples; `set_threshold` updates the "flagged" column."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.top: TopSamples | None = None
        self._threshold = math.inf
        self._base: list[str] = []  # the leading columns' names
        self._flag_col = -1
        self.z: np.ndarray | None = None  # (K, F) robust z of table rows
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setHorizontalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.verticalHeader().hide()
        self.setAlternatingRowColors(False)
        manager = theme_manager()
        if manager is not None:
            manager.changed.connect(self._theme_changed)  # a bound slot: disconnected when self is deleted

    # ---- what it shows -------------------------------------------------------------------------------
    def header_names(self) -> list[str]:
        return [self.horizontalHeaderItem(c).text() for c in range(self.columnCount())]

    def column_of(self, name: str) -> int:
        return self.header_names().index(name)

    def text(self, row: int, name: str) -> str:
        item = self.item(row, self.column_of(name))
        return item.text() if item is not None else ""

    def unusual_cells(self, row: int) -> list[str]:
        """The feature columns highlighted in a row (tables)."""
        if self.top is None or self.top.table is None:
            return []
        columns = self.top.table.get("columns") or []
        start = len(self._base)
        return [
            columns[j]
            for j in range(len(columns))
            if self.item(row, start + j) is not None
            and self.item(row, start + j).data(Qt.ItemDataRole.UserRole)
        ]

    def flagged_count(self) -> int:
        return sum(1 for r in range(self.rowCount()) if self.text(r, "flagged") == "yes")

    def clear_samples(self) -> None:
        self.top = None
        self.z = None
        self.clear()
        self.setRowCount(0)
        self.setColumnCount(0)

    def set_samples(self, top: TopSamples, threshold: float) -> None:
        self.top = top
        self._threshold = float(threshold)
        self.z = None
        if top.modality == "table" and top.table is not None:
            centre, scale = robust_scale(top.reference) if top.reference is not None else (None, None)
            if centre is not None and len(centre) == np.asarray(top.samples).shape[-1]:
                self.z = deviations(top.samples, centre, scale)
        self._fill()

    def set_threshold(self, threshold: float) -> None:
        """Mark which of the shown samples the threshold flags (cheap: one column)."""
        self._threshold = float(threshold)
        if self.top is None or self._flag_col < 0:
            return
        colors = current_colors()
        for r, score in enumerate(self.top.scores.tolist()):
            self.setItem(r, self._flag_col, self._flag_item(score, colors))

    # ---- filling -------------------------------------------------------------------------------------
    def _flag_item(self, score: float, colors: Colors) -> QTableWidgetItem:
        flagged = score > self._threshold
        item = QTableWidgetItem("yes" if flagged else "no")
        item.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
        if flagged:
            item.setForeground(QBrush(QColor(colors.bad)))
            font = QFont(self.font())
            font.setBold(True)
            item.setFont(font)
        return item

    def _painter(self, top: TopSamples) -> Any:
        cls = SAMPLE_THUMBNAILS.get(top.modality, ImageThumbnails)
        if cls is TableThumbnails:
            return TableThumbnails(top.reference, (top.table or {}).get("kinds"))
        return cls(top.reference if getattr(cls, "needs_reference", False) else None)

    def _theme_changed(self, _colors=None) -> None:
        self._fill()

    def _fill(self) -> None:
        top = self.top
        if top is None:
            return
        colors = current_colors()
        table = top.table if top.modality == "table" else None
        columns = list((table or {}).get("columns") or [])
        base = ["#", top.id_name if top.ids is not None else "index", "score", "flagged"]
        if top.labels is not None:
            base.append("label")
        base += ["split", "sample"]
        if table is not None:
            base.append("most unusual")
        self._base = base
        self._flag_col = base.index("flagged")
        self.clear()
        self.setColumnCount(len(base) + len(columns))
        self.setHorizontalHeaderLabels(base + columns)
        k = len(top.rows)
        self.setRowCount(k)
        painter = self._painter(top)
        height = THUMB_H.get(top.modality, 40)
        width = max(8, round(height * float(getattr(painter, "aspect", 1.0))))
        if top.modality == "table":
            width = max(width, min(160, 8 * max(1, len(columns))))
        images = painter.paint(top.samples, width, height) if k else []
        self.setIconSize(QSize(width, height))
        for r in range(k):
            cells = {
                "#": str(r + 1),
                "index": str(int(top.rows[r])),
                top.id_name: top.ids[r] if top.ids is not None else "",
                "score": f"{float(top.scores[r]):.4g}",
                "label": top.labels[r] if top.labels is not None else "",
                "split": top.splits[r] if r < len(top.splits) else "",
            }
            for c, name in enumerate(base):
                if name == "flagged":
                    self.setItem(r, c, self._flag_item(float(top.scores[r]), colors))
                elif name == "sample":
                    item = QTableWidgetItem()
                    if r < len(images):
                        item.setData(Qt.ItemDataRole.DecorationRole, QPixmap.fromImage(images[r]))
                    item.setToolTip(f"sample #{int(top.rows[r])}")
                    self.setItem(r, c, item)
                elif name != "most unusual":
                    item = QTableWidgetItem(cells.get(name, ""))
                    if name in ("#", "index", "score"):
                        item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                    if name == "label" and top.anomalous is not None and top.anomalous[r]:
                        item.setForeground(QBrush(QColor(colors.bad)))
                        item.setToolTip("an anomaly: its class is not one of the normal classes")
                    self.setItem(r, c, item)
            if table is not None:
                self._fill_table_row(r, table, colors)
        self.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        self.verticalHeader().setDefaultSectionSize(max(height + 6, self.fontMetrics().height() + 8))
        self.resizeColumnsToContents()
        sample_col = base.index("sample")
        self.setColumnWidth(sample_col, max(self.columnWidth(sample_col), width + 12))
        if "most unusual" in base:
            col = base.index("most unusual")
            self.setColumnWidth(col, min(280, self.columnWidth(col)))

    def _fill_table_row(self, r: int, table: dict, colors: Colors) -> None:
        top = self.top
        columns = list(table.get("columns") or [])
        kinds = list(table.get("kinds") or ["numeric"] * len(columns))
        categories = table.get("categories") or {}
        values = np.asarray(top.samples, dtype=np.float64)[r]
        start = len(self._base)
        strength: list[tuple[float, int, str]] = []
        rare = self._rare_categories(kinds)
        for j, name in enumerate(columns):
            kind = kinds[j] if j < len(kinds) else "numeric"
            cats = categories.get(name) if isinstance(categories, dict) else None
            value = float(values[j]) if j < len(values) else math.nan
            text = format_value(value, kind, cats)
            item = QTableWidgetItem(text)
            item.setTextAlignment(
                (Qt.AlignmentFlag.AlignRight if kind == "numeric" else Qt.AlignmentFlag.AlignLeft)
                | Qt.AlignmentFlag.AlignVCenter
            )
            tip = f"{name}: {text}"
            if not math.isfinite(value):
                item.setForeground(QBrush(QColor(colors.muted)))
                tip += " (missing)"
            elif kind == "categorical":
                share = rare.get((j, int(round(value))))
                if share is not None:
                    strength.append((10.0 + (1.0 - share), j, f"{name} = {text} (rare)"))
                    tip += f": seen in {share * 100:.1f}% of the normal rows"
            elif self.z is not None and j < self.z.shape[1] and math.isfinite(self.z[r, j]):
                z = float(self.z[r, j])
                tip += (
                    f": {abs(z):.1f} typical spreads {'above' if z > 0 else 'below'} the normal rows' median"
                )
                if abs(z) >= UNUSUAL_Z:
                    strength.append(
                        (
                            abs(z),
                            j,
                            f"{name} {text} ({z:+.1f})" if abs(z) < 100 else f"{name} {text} ({z:+.0f})",
                        )
                    )
            item.setToolTip(tip)
            self.setItem(r, start + j, item)
        strength.sort(reverse=True)
        named = strength[:NAMED]
        bold = QFont(self.font())
        bold.setBold(True)
        for rank, (s, j, _) in enumerate(strength):
            item = self.item(r, start + j)
            categorical = kinds[j] == "categorical" if j < len(kinds) else False
            z = float(self.z[r, j]) if (self.z is not None and not categorical) else 1.0
            colour = QColor("#B279A2" if categorical else (colors.bad if z > 0 else colors.accent))
            colour.setAlpha(int(min(200, 50 + 25 * min(s, 6.0))) if not categorical else 120)
            item.setBackground(QBrush(colour))
            item.setData(Qt.ItemDataRole.UserRole, True)
            if rank < NAMED:
                item.setFont(bold)
        unusual = QTableWidgetItem("; ".join(text for _, _, text in named) or "nothing stands out")
        unusual.setToolTip(
            "The values furthest from the normal training rows, in typical spreads from their median "
            "(robust z: the median and the interquartile range / 1.349 of the normal rows)."
        )
        if not named:
            unusual.setForeground(QBrush(QColor(colors.muted)))
        self.setItem(r, self._base.index("most unusual"), unusual)

    def _rare_categories(self, kinds: list[str]) -> dict[tuple[int, int], float]:
        """(column, code) -> share of the normal rows with it, for the codes rarer than RARE_SHARE."""
        ref = self.top.reference
        if ref is None:
            return {}
        ref = np.asarray(ref, dtype=np.float64)
        out: dict[tuple[int, int], float] = {}
        samples = np.asarray(self.top.samples, dtype=np.float64)
        for j, kind in enumerate(kinds):
            if kind != "categorical" or j >= ref.shape[1]:
                continue
            column = ref[:, j][np.isfinite(ref[:, j])]
            for code in {int(round(v)) for v in samples[:, j] if math.isfinite(v)}:
                share = float(np.mean(np.round(column) == code)) if len(column) else 0.0
                if share < RARE_SHARE:
                    out[(j, code)] = share
        return out
