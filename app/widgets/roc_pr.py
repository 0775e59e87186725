"""ROC and precision-recall curves of the run's anomaly scores against the baselines (IsolationForest,
LOF, PCA on the raw input), side by side, with a legend above them naming each curve's ROC-AUC and
average precision, and the current threshold marked as a dot on the method's curves.

The curves come from the engine (`ssl_core.anomaly.curves`) on the test samples; this widget only draws
them. Plot items are made once per name and updated with setData.
"""

from __future__ import annotations

import html
from dataclasses import dataclass

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHBoxLayout, QLabel, QStackedWidget, QVBoxLayout, QWidget

from app.theme import Colors, current_colors, series_color, theme_manager
from app.widgets.curves import follow_theme, readable_axes

# Baselines take these series colours (the method takes the theme's accent), so they keep their colour
# from run to run.
BASELINE_COLOURS = {"IsolationForest": series_color(1), "LOF": series_color(2), "PCA": series_color(5)}


@dataclass
class CurveSet:
    """One scorer's curves: ROC (fpr, tpr), PR (recall, precision) and their summaries."""

    name: str
    roc: tuple[np.ndarray, np.ndarray]
    pr: tuple[np.ndarray, np.ndarray]
    roc_auc: float | None
    average_precision: float | None
    is_method: bool = False

    def label(self) -> str:
        parts = []
        if self.roc_auc is not None:
            parts.append(f"AUC {self.roc_auc:.3f}")
        if self.average_precision is not None:
            parts.append(f"AP {self.average_precision:.3f}")
        return f"{self.name} ({', '.join(parts)})" if parts else self.name


def _plot(title: str, x_label: str, y_label: str) -> pg.PlotWidget:
    plot = pg.PlotWidget()
    item = plot.getPlotItem()
    readable_axes(item)
    item.setTitle(title)
    item.setLabel("bottom", x_label)
    item.setLabel("left", y_label)
    item.setMenuEnabled(False)
    item.setMouseEnabled(x=False, y=False)
    item.hideButtons()
    item.showGrid(x=True, y=True, alpha=0.15)
    item.setRange(xRange=(0, 1), yRange=(0, 1.02), padding=0.02)
    item.setAspectLocked(False)
    plot.setMinimumSize(200, 180)
    follow_theme(plot)
    return plot


class RocPrCurves(QWidget):
    """ROC and PR curves of the method (accent, thick) and the baselines (thinner, dashed)."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.sets: list[CurveSet] = []
        self.legend = QLabel()
        self.legend.setObjectName("roc_pr_legend")
        self.legend.setWordWrap(True)  # five long entries: they wrap between entries, never inside one
        self.legend.setTextFormat(Qt.TextFormat.RichText)
        self._legend_names: list[str] = []
        self.roc = _plot("ROC curve", "false positive rate", "true positive rate")
        self.roc.setObjectName("roc_plot")
        self.pr = _plot("Precision-recall curve", "recall", "precision")
        self.pr.setObjectName("pr_plot")
        self.chance = pg.PlotDataItem([0, 1], [0, 1])
        self.roc.addItem(self.chance)
        self.prevalence = pg.InfiniteLine(angle=0, movable=False)
        self.pr.addItem(self.prevalence)
        self.items: dict[tuple[str, str], pg.PlotDataItem] = {}
        self.points = {
            "roc": pg.ScatterPlotItem(size=10, pen=None),
            "pr": pg.ScatterPlotItem(size=10, pen=None),
        }
        self.points["roc"].setZValue(30)
        self.points["pr"].setZValue(30)
        self.roc.addItem(self.points["roc"])
        self.pr.addItem(self.points["pr"])
        plots = QWidget()
        row = QHBoxLayout(plots)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.roc, 1)
        row.addWidget(self.pr, 1)
        self.message = QLabel("")
        self.message.setObjectName("roc_pr_message")
        self.message.setWordWrap(True)
        self.message.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.message.setProperty("role", "muted")
        self.stack = QStackedWidget()
        self.stack.addWidget(plots)
        self.stack.addWidget(self.message)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.legend)
        layout.addWidget(self.stack, 1)
        manager = theme_manager()
        if manager is not None:
            manager.changed.connect(self._theme_changed)  # a bound slot: disconnected when self is deleted

    def names(self) -> list[str]:
        return [s.name for s in self.sets]

    def legend_texts(self) -> list[str]:
        return list(self._legend_names)

    def curve_points(self, name: str, kind: str = "roc") -> int:
        item = self.items.get((name, kind))
        return 0 if item is None or item.xData is None else len(item.xData)

    def show_message(self, text: str) -> None:
        """No curves to draw (no labels, or only one class): say why instead."""
        self.sets = []
        for item in self.items.values():
            item.setData([], [])
        for points in self.points.values():
            points.setData([], [])
        self._set_legend([])
        self.message.setText(text)
        self.stack.setCurrentWidget(self.message)

    def set_curves(self, sets: list[CurveSet], prevalence: float | None = None) -> None:
        """Draw each scorer's curves, the method first; `prevalence` is the PR curve's chance level."""
        self.sets = list(sets)
        self.stack.setCurrentIndex(0)
        shown = {s.name for s in sets}
        for (name, _), item in self.items.items():
            if name not in shown:
                item.setData([], [])
        for s in sets:
            for kind, plot, (x, y) in (("roc", self.roc, s.roc), ("pr", self.pr, s.pr)):
                item = self.items.get((s.name, kind))
                if item is None:
                    item = pg.PlotDataItem()
                    plot.addItem(item)
                    self.items[(s.name, kind)] = item
                item.setData(np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64))
        self.prevalence.setValue(prevalence if prevalence is not None else -1)
        self.prevalence.setVisible(prevalence is not None)
        self._restyle()

    def set_operating_point(
        self, fpr: float | None, tpr: float | None, recall: float | None, precision: float | None
    ) -> None:
        """Mark where the threshold puts the method on both curves (None: hide the marks)."""
        colour = current_colors().text
        for kind, x, y in (("roc", fpr, tpr), ("pr", recall, precision)):
            if x is None or y is None or not self.sets:
                self.points[kind].setData([], [])
            else:
                self.points[kind].setData([float(x)], [float(y)], brush=pg.mkBrush(colour), symbol="o")

    def _pen(self, s: CurveSet, colors: Colors):
        if s.is_method:
            pen = pg.mkPen(colors.accent, width=3)
        else:
            pen = pg.mkPen(BASELINE_COLOURS.get(s.name, colors.muted), width=1.6, style=Qt.PenStyle.DashLine)
        pen.setCosmetic(True)
        return pen

    def _theme_changed(self, _colors=None) -> None:
        self._restyle()

    def _restyle(self) -> None:
        colors = current_colors()
        entries = []
        for s in self.sets:
            pen = self._pen(s, colors)
            for kind in ("roc", "pr"):
                item = self.items[(s.name, kind)]
                item.setPen(pen)
                item.setZValue(10 if s.is_method else 5)
            entries.append((s.label(), pen))
        chance = pg.mkPen(colors.muted, width=1, style=Qt.PenStyle.DotLine)
        self.chance.setPen(chance)
        self.prevalence.setPen(chance)
        if self.sets:
            entries.append(("chance", chance))
        self._set_legend(entries)

    def _set_legend(self, entries: list[tuple[str, object]]) -> None:
        """A wrapping legend: a line in each curve's colour (dashed for dashed curves), then its name."""
        self._legend_names = [name for name, _ in entries]
        parts = []
        for name, pen in entries:
            dashed = pen.style() != Qt.PenStyle.SolidLine
            line = "╍╍╍" if dashed else "━━━"
            weight = "bold" if pen.widthF() >= 2.5 else "normal"
            text = html.escape(name).replace(" ", "&nbsp;")
            parts.append(
                f"<span style='color:{pen.color().name()}'>{line}</span>&nbsp;<span style='font-weight:{weight}'>{text}</span>"
            )
        self.legend.setText(" &nbsp;&nbsp; ".join(parts))
