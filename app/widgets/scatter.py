"""The embedding scatter plot: one item per class with one shared brush and no point borders, hover and
click found by a vectorised nearest-point search in screen pixels, and box selection."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QPen
from PySide6.QtWidgets import QGraphicsRectItem

from app.theme import current_colors, series_color
from app.widgets.curves import follow_theme

HOVER_RADIUS_PX = 8.0
SCORE_BINS = 32


class SelectViewBox(pg.ViewBox):
    """A ViewBox whose left-drag draws a selection box while `select_mode` is on (else it pans)."""

    box_selected = Signal(QRectF)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.select_mode = False
        self._band = QGraphicsRectItem()
        self._band.setPen(QPen(QColor(current_colors().accent), 0))
        self._band.setBrush(QBrush(QColor(current_colors().accent + "33")))
        self._band.setZValue(1e9)
        self._band.hide()
        self.addItem(self._band, ignoreBounds=True)

    def mouseDragEvent(self, ev, axis=None):  # noqa: N802 - pyqtgraph API
        if not self.select_mode or ev.button() != Qt.MouseButton.LeftButton:
            super().mouseDragEvent(ev, axis)
            return
        ev.accept()
        start = self.mapToView(ev.buttonDownPos())
        end = self.mapToView(ev.pos())
        rect = QRectF(start, end).normalized()
        if ev.isFinish():
            self._band.hide()
            self.box_selected.emit(rect)
        else:
            self._band.setRect(rect)
            self._band.show()


class EmbeddingScatter(pg.PlotWidget):
    hovered = Signal(int)  # index of the point under the mouse, -1 when none
    clicked = Signal(int)
    selected = Signal(object)  # np.ndarray of indices inside the selection box

    def __init__(self, parent=None):
        self.view_box = SelectViewBox()
        super().__init__(parent, viewBox=self.view_box)
        self.setObjectName("embedding_scatter")
        item = self.getPlotItem()
        item.hideAxis("left")
        item.hideAxis("bottom")
        item.setAspectLocked(False)
        self.legend = item.addLegend(offset=(-10, 10))
        follow_theme(self)
        self.xy = np.zeros((0, 2), dtype=np.float64)
        self.items: list[pg.ScatterPlotItem] = []
        self._gradient: pg.GradientLegend | None = None
        self._hover_index = -1
        colors = current_colors()
        self.marks = pg.ScatterPlotItem(
            size=13, pen=pg.mkPen(colors.accent, width=2), brush=None, pxMode=True
        )
        self.hover_mark = pg.ScatterPlotItem(
            size=15, pen=pg.mkPen(colors.text, width=2), brush=None, pxMode=True
        )
        for mark in (self.marks, self.hover_mark):
            mark.setZValue(10)
            self.addItem(mark, ignoreBounds=True)
        self.scene().sigMouseMoved.connect(self._mouse_moved)
        self.scene().sigMouseClicked.connect(self._mouse_clicked)
        self.view_box.box_selected.connect(self._box_selected)
        self.placeholder = pg.TextItem("", anchor=(0.5, 0.5), color=colors.muted)
        self.addItem(self.placeholder, ignoreBounds=True)

    # ---- content -----------------------------------------------------------------------------
    def _clear_points(self) -> None:
        for it in self.items:
            self.removeItem(it)
        self.items = []
        self.legend.clear()
        if self._gradient is not None:
            self.getPlotItem().vb.removeItem(self._gradient)
            self.scene().removeItem(self._gradient)
            self._gradient = None
        self.marks.clear()
        self.hover_mark.clear()

    def set_message(self, text: str) -> None:
        self.placeholder.setText(text)
        self.placeholder.setVisible(bool(text))
        if text and not len(self.xy):
            self.placeholder.setPos(0, 0)
            self.setRange(xRange=(-1, 1), yRange=(-1, 1), padding=0)

    def set_points(self, xy: np.ndarray, labels: np.ndarray | None, class_names: list[str]) -> None:
        """Colour by class: one ScatterPlotItem (shared pen and brush, no borders) per class."""
        self._clear_points()
        self.xy = np.asarray(xy, dtype=np.float64)
        size = _point_size(len(self.xy))
        if labels is None:
            groups = [("images", np.arange(len(self.xy)))]
        else:
            labels = np.asarray(labels)
            groups = []
            for k in np.unique(labels):
                name = class_names[k] if 0 <= k < len(class_names) else str(k)
                groups.append((name, np.flatnonzero(labels == k)))
        for i, (name, idx) in enumerate(groups):
            brush = pg.mkBrush(series_color(i))
            item = pg.ScatterPlotItem(
                x=self.xy[idx, 0], y=self.xy[idx, 1], pen=None, brush=brush, size=size, pxMode=True, name=name
            )
            item.indices = idx
            self.addItem(item)
            self.items.append(item)
        self.set_message("")
        self._fit_view()

    def set_scores(self, xy: np.ndarray, scores: np.ndarray) -> None:
        """Colour by a per-point score (e.g. anomaly): binned colours, one shared brush per bin."""
        self._clear_points()
        self.xy = np.asarray(xy, dtype=np.float64)
        scores = np.asarray(scores, dtype=np.float64)
        lo, hi = np.nanpercentile(scores, [1, 99]) if len(scores) else (0.0, 1.0)
        norm = np.clip((scores - lo) / max(hi - lo, 1e-12), 0, 1)
        cmap = pg.colormap.get("viridis")
        brushes = [pg.mkBrush(c) for c in cmap.getLookupTable(0.0, 1.0, SCORE_BINS, alpha=False)]
        bins = np.minimum((norm * SCORE_BINS).astype(int), SCORE_BINS - 1)
        order = np.argsort(bins, kind="stable")  # draw the highest scores last, on top
        item = pg.ScatterPlotItem(
            x=self.xy[order, 0],
            y=self.xy[order, 1],
            pen=None,
            brush=[brushes[b] for b in bins[order]],
            size=_point_size(len(self.xy)),
            pxMode=True,
        )
        item.indices = order
        self.addItem(item)
        self.items.append(item)
        gradient = pg.GradientLegend((14, 120), (-80, 30))
        gradient.setGradient(cmap.getGradient())
        gradient.setLabels({"typical": 0.0, "unusual": 1.0})
        gradient.setParentItem(self.getPlotItem().vb)
        self._gradient = gradient
        self.set_message("")
        self._fit_view()

    def _fit_view(self, legend_room: float = 0.16) -> None:
        """Show every point, with a margin on the right where the legend sits (not over the points)."""
        if not len(self.xy):
            return
        (x0, y0), (x1, y1) = self.xy.min(axis=0), self.xy.max(axis=0)
        w, h = max(x1 - x0, 1e-9), max(y1 - y0, 1e-9)
        self.setXRange(x0 - 0.04 * w, x1 + legend_room * w, padding=0)
        self.setYRange(y0 - 0.04 * h, y1 + 0.04 * h, padding=0)

    def point_count(self) -> int:
        return sum(len(it.indices) for it in self.items)

    def mark(self, indices: np.ndarray | list[int]) -> None:
        idx = np.asarray(indices, dtype=int)
        if len(idx) == 0 or not len(self.xy):
            self.marks.clear()
            return
        self.marks.setData(x=self.xy[idx, 0], y=self.xy[idx, 1])

    def set_select_mode(self, on: bool) -> None:
        self.view_box.select_mode = on
        self.setCursor(Qt.CursorShape.CrossCursor if on else Qt.CursorShape.ArrowCursor)

    # ---- interaction -------------------------------------------------------------------------
    def nearest(self, scene_pos: QPointF, radius_px: float = HOVER_RADIUS_PX) -> int:
        """Index of the point closest to a scene position, if within radius_px screen pixels."""
        if not len(self.xy) or not self.view_box.sceneBoundingRect().contains(scene_pos):
            return -1
        p = self.view_box.mapSceneToView(scene_pos)
        pw, ph = self.view_box.viewPixelSize()
        if pw <= 0 or ph <= 0:
            return -1
        d2 = ((self.xy[:, 0] - p.x()) / pw) ** 2 + ((self.xy[:, 1] - p.y()) / ph) ** 2
        i = int(np.argmin(d2))
        return i if d2[i] <= radius_px**2 else -1

    def _mouse_moved(self, scene_pos: QPointF) -> None:
        i = self.nearest(scene_pos)
        if i == self._hover_index:
            return
        self._hover_index = i
        if i < 0:
            self.hover_mark.clear()
        else:
            self.hover_mark.setData(x=[self.xy[i, 0]], y=[self.xy[i, 1]])
        self.hovered.emit(i)

    def _mouse_clicked(self, ev) -> None:
        if ev.button() != Qt.MouseButton.LeftButton or ev.double():
            return
        i = self.nearest(ev.scenePos())
        if i >= 0:
            self.clicked.emit(i)

    def _box_selected(self, rect: QRectF) -> None:
        if not len(self.xy):
            return
        x, y = self.xy[:, 0], self.xy[:, 1]
        inside = (x >= rect.left()) & (x <= rect.right()) & (y >= rect.top()) & (y <= rect.bottom())
        self.selected.emit(np.flatnonzero(inside))


def _point_size(n: int) -> float:
    # Smaller dots for bigger clouds keep structure visible without hiding neighbours.
    return 7.0 if n <= 2_000 else 5.0 if n <= 10_000 else 3.0
