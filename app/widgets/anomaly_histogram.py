"""The anomaly scores as a histogram, normal and anomalous samples apart, with a threshold to drag.

Samples scoring above the threshold are flagged. Dragging the line (a pyqtgraph InfiniteLine) updates
the counts beside the plot live: which anomalies are caught (true positives), which normal samples are
flagged by mistake (false positives), and precision, recall and F1, computed by the engine's pure
`threshold_metrics` on the shown (test) samples. Updates are throttled to at most one per
`interval_ms` while dragging, plus one when the line is dropped. Without labels the histogram shows all
scores in one colour and the counts say how many samples are flagged, no more.

Each group is drawn as its share of the group (so a few anomalies are as visible as many normal
samples). Positive scores that span more than two decades (reconstruction errors often do) are drawn
on a logarithmic axis; otherwise the rare very high scores above the 99.5th percentile are gathered in
the last bin.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QGridLayout, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from app.theme import Colors, current_colors, theme_manager
from app.widgets.curves import follow_theme, readable_axes, set_axis_label
from app.widgets.legend_bar import LegendBar

TOP_PERCENTILE = 99.5  # scores above it share the last bin (linear axis)
LOG_SPAN = 100.0  # positive scores whose 99.5th / 0.5th percentiles differ more than this: a log axis
MetricsFn = Callable[[np.ndarray, np.ndarray, float], dict[str, Any]]


def default_metrics(scores: np.ndarray, is_anomaly: np.ndarray, threshold: float) -> dict[str, Any]:
    from ssl_core.anomaly import threshold_metrics

    return threshold_metrics(scores, is_anomaly, threshold)


def wants_log(scores: np.ndarray) -> bool:
    """True for positive scores spanning more than LOG_SPAN (drawn on a log axis)."""
    finite = scores[np.isfinite(scores)]
    if finite.size < 2 or finite.min() <= 0:
        return False
    low, high = np.percentile(finite, [100 - TOP_PERCENTILE, TOP_PERCENTILE])
    return bool(high / low > LOG_SPAN)


def log_ticks(low: float, high: float) -> list[list[tuple[float, str]]]:
    """Axis ticks for log10 values: each power of ten labelled, 2..9 times it unlabelled."""
    major, minor = [], []
    for k in range(int(np.floor(low)), int(np.ceil(high)) + 1):
        major.append((float(k), f"{10.0**k:g}"))
        minor += [(float(np.log10(m) + k), "") for m in range(2, 10)]
    return [major, minor]


def histogram_bins(scores: np.ndarray, threshold: float | None = None, clip: bool = True) -> np.ndarray:
    """Bin edges over the finite scores, up to the TOP_PERCENTILE when `clip` (and the threshold, when
    higher)."""
    finite = scores[np.isfinite(scores)]
    if finite.size == 0:
        return np.linspace(0.0, 1.0, 11)
    low = float(finite.min())
    high = float(np.percentile(finite, TOP_PERCENTILE)) if clip else float(finite.max())
    if threshold is not None and np.isfinite(threshold):
        low, high = min(low, float(threshold)), max(high, float(threshold))
    if high <= low:
        high = low + max(1e-6, abs(low) * 1e-3)
    bins = int(np.clip(2 * np.sqrt(finite.size), 10, 80))
    return np.linspace(low, high, bins + 1)


def shares(scores: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Percent of `scores` in each bin, values beyond the edges counted in the first or last bin."""
    finite = scores[np.isfinite(scores)]
    if finite.size == 0:
        return np.zeros(len(edges) - 1)
    counts, _ = np.histogram(np.clip(finite, edges[0], edges[-1]), bins=edges)
    return 100.0 * counts / finite.size


class ThresholdCounts(QWidget):
    """The outcome at the threshold: a 2x2 table of counts and precision, recall and F1."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.title = QLabel("<b>At this threshold</b>")
        self.cells: dict[str, QLabel] = {}
        self.values: dict[str, int] = {}  # the counts shown (tp, fp, fn, tn)
        grid = QGridLayout()
        grid.setHorizontalSpacing(10)
        for c, text in enumerate(("flagged", "not flagged"), start=1):
            head = QLabel(text)
            head.setProperty("role", "muted")
            grid.addWidget(head, 0, c, Qt.AlignmentFlag.AlignRight)
        for r, (text, keys) in enumerate((("anomalies", ("tp", "fn")), ("normal", ("fp", "tn"))), start=1):
            grid.addWidget(QLabel(text), r, 0)
            for c, key in enumerate(keys, start=1):
                cell = QLabel("–")
                cell.setObjectName(f"count_{key}")
                cell.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                grid.addWidget(cell, r, c)
                self.cells[key] = cell
        self.scores_line = QLabel("")
        self.scores_line.setObjectName("threshold_scores")
        self.scores_line.setWordWrap(True)
        self.scores_line.setTextFormat(Qt.TextFormat.RichText)
        self.grid_box = QWidget()
        self.grid_box.setLayout(grid)
        grid.setContentsMargins(0, 0, 0, 0)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.title)
        layout.addWidget(self.grid_box)
        layout.addWidget(self.scores_line)
        layout.addStretch(1)
        self.setMinimumWidth(210)

    def show_metrics(self, metrics: dict[str, Any] | None, flagged: int, total: int, colors: Colors) -> None:
        share = f"{100.0 * flagged / total:.1f}%" if total else "–"
        if metrics is None:
            self.values = {}
            self.grid_box.hide()
            self.scores_line.setText(f"Flagged <b>{flagged:,}</b> of {total:,} samples ({share}).")
            return
        self.grid_box.show()
        tones = {"tp": colors.good, "tn": colors.good, "fp": colors.bad, "fn": colors.bad}
        for key, cell in self.cells.items():
            value = int(metrics.get(key, 0))
            self.values[key] = value
            cell.setText(f"<b style='color:{tones[key]}'>{value:,}</b>" if value else "0")
        self.scores_line.setText(
            f"precision <b>{metrics['precision']:.2f}</b><br>recall <b>{metrics['recall']:.2f}</b><br>"
            f"F1 <b>{metrics['f1']:.2f}</b><br><span style='color:{colors.muted}'>flagged {flagged:,} of "
            f"{total:,} ({share})</span>"
        )

    def text(self) -> str:
        """Everything shown, as plain text (for tests)."""
        counts = (
            " ".join(f"{k}={c.text()}" for k, c in self.cells.items()) if self.grid_box.isVisible() else ""
        )
        return f"{counts} {self.scores_line.text()}"


class AnomalyHistogram(QWidget):
    """Score histogram of normal vs anomalous samples with a draggable threshold and live counts."""

    threshold_changed = Signal(float)  # dragged by the user (throttled); not emitted by set_threshold
    metrics_changed = Signal(object)  # the counts dict at the new threshold (None without labels)

    def __init__(
        self, interval_ms: int = 33, metrics_fn: MetricsFn | None = None, parent: QWidget | None = None
    ):
        super().__init__(parent)
        self.metrics_fn = metrics_fn or default_metrics
        self.scores = np.zeros(0)
        self.is_anomaly: np.ndarray | None = None
        self.log = False  # scores drawn on a log10 axis
        self.metrics: dict[str, Any] | None = None
        self.updates = 0  # metric updates made (the throttle keeps this far below the mouse moves)
        self._threshold = 0.0
        self._pending: float | None = None
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(int(interval_ms))
        self._timer.timeout.connect(self._apply_pending)

        self.legend = LegendBar()
        self.legend.setObjectName("histogram_legend")
        self.plot = pg.PlotWidget()
        self.plot.setObjectName("score_histogram")
        item = self.plot.getPlotItem()
        readable_axes(item)
        item.setMenuEnabled(False)
        item.setMouseEnabled(x=False, y=False)
        item.hideButtons()
        item.setLabel("left", "share of the group (%)")
        item.setLabel("bottom", "anomaly score")
        item.showGrid(x=False, y=True, alpha=0.2)
        follow_theme(self.plot)
        self.region = pg.LinearRegionItem(orientation="vertical", movable=False)
        self.region.setZValue(-10)
        for line in self.region.lines:
            line.setPen(pg.mkPen(None))
        item.addItem(self.region)
        self.bars: dict[str, pg.PlotDataItem] = {}
        for key in ("normal", "anomalous"):
            bars = pg.PlotDataItem(stepMode="center", fillLevel=0)
            self.bars[key] = bars
            item.addItem(bars)
        self.line = pg.InfiniteLine(
            angle=90,
            movable=True,
            label="threshold",
            labelOpts={"position": 0.93, "movable": False, "anchors": [(0, 0), (0, 0)]},
        )
        self.line.setZValue(20)
        self.line.setToolTip("Drag to move the threshold: samples scoring above it are flagged.")
        self.line.sigPositionChanged.connect(self._dragging)
        self.line.sigPositionChangeFinished.connect(self._dropped)
        item.addItem(self.line)
        self.message = pg.TextItem("", anchor=(0.5, 0.5))
        item.addItem(self.message, ignoreBounds=True)
        self.counts = ThresholdCounts()
        self.counts.setObjectName("threshold_counts")

        left = QVBoxLayout()
        left.setContentsMargins(0, 0, 0, 0)
        left.addWidget(self.legend)
        left.addWidget(self.plot, 1)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(left, 1)
        layout.addWidget(self.counts)
        self._apply_theme(current_colors())
        manager = theme_manager()
        if manager is not None:
            manager.changed.connect(self._apply_theme)
        self.clear("No scores yet.")

    # ---- data ----------------------------------------------------------------------------------------
    @property
    def labelled(self) -> bool:
        return self.is_anomaly is not None

    def threshold(self) -> float:
        return self._threshold

    def set_score_name(self, name: str) -> None:
        set_axis_label(
            self.plot.getPlotItem(), "bottom", f"anomaly score ({name})" if name else "anomaly score"
        )

    def clear(self, message: str = "") -> None:
        self.scores = np.zeros(0)
        self.is_anomaly = None
        self.metrics = None
        for bars in self.bars.values():
            bars.setData([], [])
        self.line.hide()
        self.region.hide()
        self.legend.set_entries([])
        self.message.setText(message)
        self.message.setPos(0.5, 0.5)
        self.plot.getPlotItem().setRange(xRange=(0, 1), yRange=(0, 1), padding=0)
        self.counts.hide()

    def set_scores(self, scores: np.ndarray, is_anomaly: np.ndarray | None, threshold: float) -> None:
        """Show these (test) scores; `is_anomaly` None: the data has no labels (one colour, no metrics)."""
        self.scores = np.asarray(scores, dtype=np.float64).reshape(-1)
        self.is_anomaly = None if is_anomaly is None else np.asarray(is_anomaly, dtype=bool).reshape(-1)
        self.message.setText("")
        self.counts.show()
        self.log = wants_log(self.scores)
        shown = self.to_axis(self.scores)
        edges = histogram_bins(shown, self.to_axis(np.asarray([threshold]))[0], clip=not self.log)
        colors = current_colors()
        entries = []
        groups = (
            [("normal", ~self.is_anomaly, colors.accent), ("anomalous", self.is_anomaly, colors.bad)]
            if self.labelled
            else [("normal", np.ones(len(self.scores), dtype=bool), colors.muted)]
        )
        self.bars["anomalous"].setData([], [])
        for key, mask, colour in groups:
            y = shares(shown[mask], edges)
            fill = QColor(colour)
            fill.setAlpha(90)
            pen = pg.mkPen(colour, width=1.5)
            self.bars[key].setData(edges, y, pen=pen, brush=fill)
            name = "scores" if not self.labelled else ("anomalies" if key == "anomalous" else "normal")
            entries.append((f"{name} ({int(mask.sum()):,})", pen))
        self.legend.set_entries(entries)
        item = self.plot.getPlotItem()
        item.getAxis("bottom").setTicks(log_ticks(edges[0], edges[-1]) if self.log else None)
        top = max(
            1.0,
            max(
                (float(np.max(b.yData)) for b in self.bars.values() if b.yData is not None and len(b.yData)),
                default=1.0,
            ),
        )
        item.setRange(xRange=(edges[0], edges[-1]), yRange=(0, top * 1.12), padding=0.02)
        span = edges[-1] - edges[0]
        self.line.setBounds([edges[0] - 0.02 * span, edges[-1] + 0.02 * span])
        self.line.show()
        self.region.show()
        self.set_threshold(threshold)

    def set_threshold(self, value: float) -> None:
        """Move the line (e.g. the rule changed) and update the counts; threshold_changed is not emitted."""
        self._timer.stop()
        self._pending = None
        self._setting = True
        try:
            self.line.setValue(float(self.to_axis(np.asarray([value]))[0]))
        finally:
            self._setting = False
        self._update(float(value))

    # ---- dragging ------------------------------------------------------------------------------------
    _setting = False

    # ---- the axis ------------------------------------------------------------------------------------
    def to_axis(self, scores: np.ndarray) -> np.ndarray:
        """Scores as placed on the x axis: log10 on a log axis (values <= 0 at the axis' left end)."""
        scores = np.asarray(scores, dtype=np.float64)
        if not self.log:
            return scores
        with np.errstate(divide="ignore", invalid="ignore"):
            out = np.log10(scores)
        floor = np.nanmin(np.log10(self.scores[self.scores > 0])) if np.any(self.scores > 0) else 0.0
        return np.where(scores > 0, out, floor)

    def from_axis(self, x: float) -> float:
        return float(10.0**x) if self.log else float(x)

    def _dragging(self) -> None:
        self._move_region(float(self.line.value()))
        self.line.label.setFormat(f"threshold {self.from_axis(float(self.line.value())):.4g}")
        if self._setting:
            return
        self._pending = self.from_axis(float(self.line.value()))
        if not self._timer.isActive():
            self._timer.start()

    def _dropped(self) -> None:
        if self._setting:
            return
        self._timer.stop()
        self._pending = self.from_axis(float(self.line.value()))
        self._apply_pending()

    def _apply_pending(self) -> None:
        if self._pending is None:
            return
        value, self._pending = self._pending, None
        self._update(value)
        self.threshold_changed.emit(value)

    def _update(self, value: float) -> None:
        self._threshold = value
        self._move_region(float(self.line.value()))
        self.line.label.setFormat(f"threshold {value:.4g}")
        flagged = int(np.count_nonzero(self.scores > value))
        if self.labelled and len(self.scores):
            self.metrics = dict(self.metrics_fn(self.scores, self.is_anomaly, value))
        else:
            self.metrics = None
        self.updates += 1
        self.counts.show_metrics(self.metrics, flagged, int(np.isfinite(self.scores).sum()), current_colors())
        self.metrics_changed.emit(self.metrics)

    def _move_region(self, value: float) -> None:
        """Shade the flagged side of the line (`value` on the axis)."""
        x_max = self.plot.getPlotItem().getViewBox().viewRange()[0][1]
        self.region.setRegion((value, max(value, x_max)))

    # ---- theme ---------------------------------------------------------------------------------------
    def _apply_theme(self, colors: Colors) -> None:
        self.line.setPen(pg.mkPen(colors.text, width=2))
        self.line.setHoverPen(pg.mkPen(colors.accent, width=3))
        self.line.label.setColor(colors.text)
        tint = QColor(colors.bad)
        tint.setAlpha(28)
        self.region.setBrush(tint)
        self.message.setColor(colors.muted)
        if len(self.scores):
            self.set_scores(self.scores, self.is_anomaly, self._threshold)
