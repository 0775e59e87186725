"""Live training curves: growable arrays, display smoothing, and plots whose items are made once and
updated with setData (clip-to-view and peak downsampling keep long runs fast)."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QObject, Slot

from app.theme import Colors, current_colors, series_color, theme_manager


class Series:
    """x/y float arrays that grow by doubling, so appending a batch is amortised O(batch)."""

    def __init__(self, capacity: int = 1024):
        self._x = np.empty(capacity, dtype=np.float64)
        self._y = np.empty(capacity, dtype=np.float64)
        self.n = 0

    def clear(self) -> None:
        self.n = 0

    def extend(self, xs: Iterable[float], ys: Iterable[float]) -> None:
        x = np.asarray(list(xs), dtype=np.float64)
        y = np.asarray(list(ys), dtype=np.float64)
        need = self.n + len(x)
        if need > len(self._x):
            cap = max(need, 2 * len(self._x))
            self._x = np.resize(self._x, cap)
            self._y = np.resize(self._y, cap)
        self._x[self.n : need] = x
        self._y[self.n : need] = y
        self.n = need

    @property
    def x(self) -> np.ndarray:
        return self._x[: self.n]

    @property
    def y(self) -> np.ndarray:
        return self._y[: self.n]


class EmaSmoother:
    """Debiased exponential moving average (as TensorBoard's smoothing slider), updated incrementally."""

    def __init__(self, weight: float = 0.9):
        self.weight = weight
        self._avg = 0.0
        self._count = 0

    def reset(self) -> None:
        self._avg = 0.0
        self._count = 0

    def __call__(self, values: Iterable[float]) -> list[float]:
        out = []
        for v in values:
            if not np.isfinite(v):
                out.append(float("nan"))
                continue
            self._count += 1
            self._avg = self.weight * self._avg + (1 - self.weight) * v
            out.append(self._avg / (1 - self.weight**self._count))
        return out


class IntegerAxis(pg.AxisItem):
    """An axis of counts (steps, epochs): ticks only at whole numbers, written with thousands separators."""

    def tickValues(self, minVal, maxVal, size):  # noqa: N802, N803 - pyqtgraph API
        levels = super().tickValues(minVal, maxVal, size)
        out = []
        for spacing, values in levels:
            whole = [v for v in values if abs(v - round(v)) < 1e-9]
            if spacing >= 1 or whole:
                out.append((max(1.0, spacing), whole))
        return out

    def tickStrings(self, values, scale, spacing):  # noqa: N802 - pyqtgraph API
        return [f"{int(round(v * scale)):,}" for v in values]


def readable_axes(item: pg.PlotItem) -> None:
    """Axes a person reads as they are: no SI multiplier ("loss (x0.001)") on any side."""
    for side in ("left", "bottom", "right", "top"):
        axis = item.getAxis(side)
        if axis is not None:
            axis.enableAutoSIPrefix(False)


def set_axis_label(item: pg.PlotItem, side: str, text: str) -> None:
    """Change an axis label and centre it again: pyqtgraph places the label only when the axis is resized,
    so a longer text set later hangs off to one side, over the next plot or out of view."""
    axis = item.getAxis(side)
    axis.setLabel(text)
    axis.resizeEvent()


LEGEND_ROW = 4  # PlotItem's grid: 0 title, 1 top axis, 2 the plot, 3 bottom axis; the legend goes below


def legend_below(item: pg.PlotItem, columns: int = 6) -> pg.LegendItem:
    """A legend in its own row under the x axis, never over the data; `item.plot(name=...)` adds to it."""
    if item.legend is not None and item.layout.itemAt(LEGEND_ROW, 1) is item.legend:
        return item.legend  # already placed below
    if item.legend is not None and item.legend.scene() is not None:
        item.legend.scene().removeItem(item.legend)  # a floating legend from addLegend
    legend = pg.LegendItem(colCount=columns)
    item.layout.addItem(legend, LEGEND_ROW, 1)
    item.legend = legend
    return legend


def make_plot(title: str, y_label: str, x_label: str = "step", grid: bool = True) -> pg.PlotWidget:
    """A line plot. `grid=False` for live plots: pyqtgraph draws grid lines as part of the axes, which
    makes every redraw of a curve repaint the axes' tick labels too (half the cost of a live update).
    A step or epoch x axis gets whole-number ticks."""
    counts = x_label in ("step", "epoch", "steps", "epochs")
    plot = pg.PlotWidget(axisItems={"bottom": IntegerAxis("bottom")} if counts else None)
    plot.setTitle(title)
    plot.setLabel("left", y_label)
    plot.setLabel("bottom", x_label)
    if grid:
        plot.showGrid(x=True, y=True, alpha=0.2)
    item = plot.getPlotItem()
    item.setClipToView(True)
    item.setDownsampling(auto=True, mode="peak")
    plot.setMenuEnabled(True)
    plot.setMinimumHeight(140)
    readable_axes(item)
    follow_theme(plot)
    return plot


class _ThemeFollower(QObject):
    """Recolours its parent plot; as the plot's child it (and its connection) dies with the plot."""

    def __init__(self, plot: pg.PlotWidget):
        super().__init__(plot)
        self.plot = plot

    @Slot(object)
    def apply(self, colors: Colors) -> None:
        plot = self.plot
        plot.setBackground(colors.plot_bg)
        item = plot.getPlotItem()
        for axis in ("left", "bottom", "right", "top"):
            ax = item.getAxis(axis)
            ax.setPen(pg.mkPen(colors.plot_fg))
            ax.setTextPen(pg.mkPen(colors.plot_fg))
        item.titleLabel.setText(item.titleLabel.text, color=colors.plot_fg)
        legend = item.legend
        if legend is not None:
            legend.setLabelTextColor(colors.plot_fg)
            legend.setBrush(pg.mkBrush(colors.plot_bg + "c8"))


def follow_theme(plot: pg.PlotWidget) -> None:
    """Recolour a plot now and whenever the theme changes."""
    follower = _ThemeFollower(plot)
    follower.apply(current_colors())
    manager = theme_manager()
    if manager is not None:
        manager.changed.connect(follower.apply)


def _nice_ceil(x: float) -> float:
    """x rounded up to a multiple of half its power of ten (510 -> 550, 5_010 -> 5_500)."""
    if x <= 0 or not np.isfinite(x):
        return 1.0
    unit = 10.0 ** np.floor(np.log10(x)) / 2.0
    return float(np.ceil(x / unit) * unit)


class FollowRange:
    """Keeps a live plot's view around its data with ranges that change in steps, not every update.

    pyqtgraph's auto-range sets the range exactly to the data on every setData, so every live update
    moves the axes and regenerates their ticks and labels: that was most of a redraw's cost. Here the
    x range grows to the next "nice" value and the y range only changes when the data leaves it or
    fills less than half of it. Panning or zooming by hand stops following; the plot's "A" button (or
    `follow()`) resumes it.
    """

    Y_PAD = 0.06  # margin above and below the data when the y range is set to fit it
    Y_ROOM = 0.2  # extra room when the data grows out of the view, so the next step fits too
    X_ROOM = 1.25
    Y_MIN_RELATIVE = 0.05  # the y span is at least this share of the values' size

    def __init__(self, plot: pg.PlotWidget, manage_x: bool = True):
        self.plot = plot
        self.manage_x = manage_x
        self.following = True
        item = plot.getPlotItem()
        self.vb = item.vb
        self.vb.disableAutoRange()
        self.vb.sigRangeChangedManually.connect(self._user_moved)
        item.autoBtn.clicked.connect(self.follow)

    def _user_moved(self, *_) -> None:
        self.following = False

    def follow(self) -> None:
        self.following = True
        self.vb.disableAutoRange()  # the "A" button turned pyqtgraph's own back on
        self.update(force=True)

    def _bounds(self) -> tuple[float, float, float, float] | None:
        log_y = bool(self.plot.getPlotItem().getAxis("left").logMode)
        x_hi, y_lo, y_hi, x_lo = -np.inf, np.inf, -np.inf, np.inf
        for it in self.plot.getPlotItem().listDataItems():
            if not it.isVisible() or it.xData is None or not len(it.xData):
                continue
            y = np.asarray(it.yData, dtype=np.float64)
            if log_y:
                y = np.log10(y[y > 0])
            y = y[np.isfinite(y)]
            if len(y):
                y_lo, y_hi = min(y_lo, float(y.min())), max(y_hi, float(y.max()))
            x_lo, x_hi = min(x_lo, float(it.xData[0])), max(x_hi, float(it.xData[-1]))
        if not np.isfinite([x_lo, x_hi, y_lo, y_hi]).all():
            return None
        return x_lo, x_hi, y_lo, y_hi

    def update(self, force: bool = False, tight: bool = False) -> None:
        """Move the view to the data if it left it; `force` refits, `tight` leaves no room to grow."""
        if not self.following:
            return
        bounds = self._bounds()
        if bounds is None:
            return
        x_lo, x_hi, y_lo, y_hi = bounds
        (cx0, cx1), (cy0, cy1) = self.vb.viewRange()
        x_range = None
        if self.manage_x and (force or x_hi > cx1 or x_lo < cx0 or x_hi < cx0 + 0.5 * (cx1 - cx0)):
            # a quarter of room to grow into: the x axis changes a few times per doubling of steps
            x_range = (min(0.0, x_lo), x_hi * 1.01 if tight else _nice_ceil(x_hi * self.X_ROOM))
        # A nearly flat curve (a constant learning rate) keeps a span of a few percent of its size, so it
        # looks flat rather than steep.
        span = max(y_hi - y_lo, self.Y_MIN_RELATIVE * max(abs(y_hi), abs(y_lo)), 1e-12)
        y_range = None
        if force or (cy1 - cy0) > 2.5 * span * (1 + 2 * self.Y_PAD):  # the data fills too little
            y_range = (y_lo - self.Y_PAD * span, y_hi + self.Y_PAD * span)
        elif y_lo < cy0 or y_hi > cy1:  # the data left the view: widen that side with room to spare
            y_range = (
                y_lo - self.Y_ROOM * span if y_lo < cy0 else cy0,
                y_hi + self.Y_ROOM * span if y_hi > cy1 else cy1,
            )
        if x_range is not None or y_range is not None:
            self.vb.setRange(xRange=x_range, yRange=y_range, padding=0, update=True)


class CurveSet:
    """Named curves on one plot: a faint raw line plus a bold smoothed line per series."""

    def __init__(
        self,
        plot: pg.PlotWidget,
        smoothing: float = 0.9,
        manage_x: bool = True,
        line_width: float = 2.0,
        legend: bool = True,
    ):
        self.plot = plot
        # Live plots use 1: Qt draws 1-pixel lines on a fast path, wider ones through a stroker that
        # costs as much again as the rest of a redraw.
        self.line_width = line_width
        self.range = FollowRange(plot, manage_x=manage_x)
        self._fresh = True
        self.smoothing = smoothing
        self.raw: dict[str, Series] = {}
        self.smooth: dict[str, Series] = {}
        self._smoothers: dict[str, EmaSmoother] = {}
        self._raw_items: dict[str, pg.PlotDataItem] = {}
        self._smooth_items: dict[str, pg.PlotDataItem] = {}
        self.show_raw = True
        self.hidden: set[str] = set()
        if legend:  # a plot of one named quantity (its title says which) needs none
            legend_below(plot.getPlotItem())

    def clear(self) -> None:
        self.range.following = True  # a new run: show it whole again
        self._fresh = True
        for item in [*self._raw_items.values(), *self._smooth_items.values()]:
            self.plot.removeItem(item)
        self.raw.clear()
        self.smooth.clear()
        self._smoothers.clear()
        self._raw_items.clear()
        self._smooth_items.clear()

    def _ensure(self, name: str) -> None:
        if name in self.raw:
            return
        i = len(self.raw)
        color = series_color(i)
        self.raw[name] = Series()
        self.smooth[name] = Series()
        self._smoothers[name] = EmaSmoother(self.smoothing)
        # faint, but not lost: on the dark background a third of the colour is near-black
        raw_pen = pg.mkPen(color + ("99" if current_colors().dark else "55"), width=1)
        # the faint raw line is the noisy one: antialiasing it costs the most and shows the least
        smoothed = self.smoothing > 0
        # The legend tells the faint raw line from the smoothed one (named once, on the first series).
        raw_name = f"{name}, raw" if smoothed and i == 0 else None
        self._raw_items[name] = self.plot.plot([], [], pen=raw_pen, antialias=False, name=raw_name)
        self._smooth_items[name] = self.plot.plot(
            [], [], pen=pg.mkPen(color, width=self.line_width), name=f"{name}, smoothed" if smoothed else name
        )

    def extend(self, name: str, xs: list[float], ys: list[float]) -> None:
        """Append points to a series (the plot is redrawn by `refresh`)."""
        self._ensure(name)
        self.raw[name].extend(xs, ys)
        self.smooth[name].extend(xs, self._smoothers[name](ys))

    def refresh(self) -> None:
        for name, series in self.raw.items():
            visible = name not in self.hidden
            raw_item, smooth_item = self._raw_items[name], self._smooth_items[name]
            raw_item.setVisible(visible and self.show_raw)
            smooth_item.setVisible(visible)
            if visible:
                raw_item.setData(series.x, series.y)
                smooth_item.setData(self.smooth[name].x, self.smooth[name].y)
        self.range.update(force=self._fresh)
        self._fresh = False

    def fit(self) -> None:
        """Fit the view to the data with no room to grow (a finished or saved run)."""
        self.range.following = True
        self.range.update(force=True, tight=True)

    def names(self) -> list[str]:
        return list(self.raw)

    def point_count(self, name: str) -> int:
        return self.raw[name].n if name in self.raw else 0

    def rows(self) -> list[tuple[str, int | float, float, float]]:
        """Every point of every series, shown or hidden: (series, step, raw value, smoothed value)."""
        return [
            (name, _whole(x), float(raw), float(smooth))
            for name, series in self.raw.items()
            for x, raw, smooth in zip(series.x, series.y, self.smooth[name].y, strict=True)
        ]


def _whole(x: float) -> int | float:
    return int(x) if float(x).is_integer() else float(x)


def plotted_rows(plot: pg.PlotWidget) -> list[tuple[str, int | float, float]]:
    """The named lines of a plot as drawn, every point (not the on-screen downsampling): (name, x, y)."""
    rows = []
    for item in plot.getPlotItem().listDataItems():
        name = item.name()
        if not name or item.xData is None or item.yData is None:
            continue
        rows += [(name, _whole(x), float(y)) for x, y in zip(item.xData, item.yData, strict=True)]
    return rows
