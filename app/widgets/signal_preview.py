"""The "signal" preview renderer: small plots, one per sample, overlaying a preview's named (n, C, T) curves.

Registered for the "signal" payload type in app/widgets/previews.py. The untouched input is drawn in a
neutral grey, what the method made of it in accent colours; several channels are stacked in labelled
bands (or one is shown with its values); NaN (e.g. before a forecast starts) is left undrawn; the legend
sits above the plots. Plot items are made once and updated with setData.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPainter
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QSizePolicy, QVBoxLayout, QWidget

from app.theme import Colors, current_colors, theme_manager
from app.widgets.legend_bar import LegendBar
from app.widgets.preview_base import MAX_SAMPLES, PreviewRenderer, as_numpy

# ---- signals -----------------------------------------------------------------------------------------
# How a named curve is drawn: the untouched input in a neutral grey, what the model changed or made in
# accent colours. Names a method may use for its untouched input:
NEUTRAL = ("original", "history", "input")
# ... for the input's continuation that a forecast is compared with (grey, dashed):
REFERENCE = ("truth",)
# ... for a damaged or partial input (a lighter accent, thin):
SECONDARY = ("corrupted", "masked input", "masked", "context")
SECONDARY_COLOUR = "#54A24B"
ACCENTS = ("@accent", "#F58518", "#B279A2", "#E45756", "#72B7B2", "#9D755D")
BAND = 0.42  # a stacked channel's curve spans +-BAND around its band's centre (bands are 1 apart)
# Curves are 1 px wide: Qt strokes wider antialiased lines ~3x slower, and a preview redraws while training.
LINE = 1.0


def curve_style(names: list[str], colors: Colors) -> dict[str, dict[str, Any]]:
    """name -> {"pen": QPen, "z": int} for the curves of one preview, accents assigned in order."""
    styles: dict[str, dict[str, Any]] = {}
    k = 0
    for name in names:
        low = name.lower()
        if low in NEUTRAL:
            pen, z = pg.mkPen(colors.muted, width=LINE), 0
        elif low in REFERENCE:
            pen, z = pg.mkPen(colors.muted, width=LINE, style=Qt.PenStyle.DashLine), 0
        elif low in SECONDARY:
            colour = QColor(SECONDARY_COLOUR)
            colour.setAlpha(200)
            pen, z = pg.mkPen(colour, width=LINE), 1
        else:
            colour = ACCENTS[k % len(ACCENTS)]
            colour = colors.accent if colour == "@accent" else colour
            pen, z = pg.mkPen(colour, width=LINE), 2 + k
            k += 1
        pen.setCosmetic(True)
        styles[name] = {"pen": pen, "z": z}
    return styles


def stacked_curve(values: np.ndarray, centre: np.ndarray, half: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(x, y) of a (C, T) sample's channels one above the other (channel 0 on top), each scaled into its
    band, joined into one curve with a NaN between channels (drawn with connect="finite")."""
    c, t = values.shape
    y = np.full((c, t + 1), np.nan)
    offsets = (c - 1 - np.arange(c))[:, None]
    with np.errstate(invalid="ignore"):
        y[:, :t] = offsets + BAND * np.clip((values - centre[:, None]) / half[:, None], -1.2, 1.2)
    x = np.empty((c, t + 1))
    x[:, :t] = np.arange(t)
    x[:, t] = max(t - 1, 0)
    return x.ravel(), y.ravel()


def channel_scale(arrays: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel (centre, half-range) over every finite value of a sample's (C, T) arrays."""
    both = np.concatenate([a for a in arrays], axis=1)
    with np.errstate(all="ignore"):
        low, high = np.nanmin(both, axis=1), np.nanmax(both, axis=1)
    low, high = np.nan_to_num(low), np.nan_to_num(high)
    half = (high - low) / 2
    return (low + high) / 2, np.where(half > 1e-12, half, 1.0)


class _Caption(pg.GraphicsWidget):
    """One line of text under a plot, elided to the plot's width (it never widens its column)."""

    def __init__(self, font: QFont):
        super().__init__()
        self.font = QFont(font)
        self.text = ""
        self.color = QColor(current_colors().text)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        self.set_text("", self.color.name())

    def set_text(self, text: str, color: str) -> None:
        """Show `text` (no text: no height, so plots without captions use the space)."""
        self.text = text
        self.color = QColor(color)
        height = QFontMetrics(self.font).height() + 4 if text else 0
        self.setMinimumHeight(height)
        self.setMaximumHeight(height)
        self.setToolTip(text)
        self.update()

    def paint(self, painter: QPainter, *args: Any) -> None:
        if not self.text:
            return
        rect = self.boundingRect()
        painter.setFont(self.font)
        painter.setPen(self.color)
        shown = QFontMetrics(self.font).elidedText(self.text, Qt.TextElideMode.ElideRight, int(rect.width()))
        painter.drawText(rect, int(Qt.AlignmentFlag.AlignCenter), shown)


class _SamplePlot:
    """One sample's plot: a PlotItem with one PlotDataItem per name (made once, updated with setData)
    and a caption label under it."""

    def __init__(self, font: QFont):
        self.plot = pg.PlotItem()
        self.plot.setMenuEnabled(False)
        self.plot.setMouseEnabled(x=False, y=False)
        self.plot.hideButtons()
        self.plot.setDefaultPadding(0.02)
        for side in ("left", "bottom"):
            axis = self.plot.getAxis(side)
            axis.setStyle(tickFont=font, tickLength=-4)
        self.plot.getAxis("left").setWidth(40)
        self.curves: dict[str, pg.PlotDataItem] = {}
        self.caption = _Caption(font)
        # What was last applied, so an update with the same layout only moves the curves' data:
        # setting ticks, ranges or pens again would regenerate the axes and restyle every curve.
        self.axes_state: tuple = ()
        self.style_key: tuple = ()

    def curve(self, name: str) -> pg.PlotDataItem:
        item = self.curves.get(name)
        if item is None:
            item = pg.PlotDataItem(connect="finite", antialias=True)
            item.setClipToView(True)
            item.setDownsampling(auto=True, method="peak")
            self.plot.addItem(item)
            self.curves[name] = item
        return item


class SignalPreview(PreviewRenderer):
    """Small plots, one per sample (up to `max_samples`), each overlaying the named (C, T) arrays.

    Several channels are stacked in bands (each scaled to its band, labelled on the left axis), or one
    is shown alone with its values (the Channels box). NaN marks where a curve has no value (e.g. a
    forecast before its cut) and is left undrawn. The legend sits above the plots, never over a curve.
    """

    reading_hint = (
        "Each plot is one {noun}: the untouched input in grey, what the method made of it in colour. "
        "Several channels are stacked in bands, each scaled to fit; the Channels box shows one with its values."
    )

    def __init__(self, max_samples: int = MAX_SAMPLES, parent: QWidget | None = None):
        super().__init__(max_samples, parent)
        self._preview: Any = None
        self._names: list[str] = []
        self._channel_names: list[str] | None = None
        self._shape: tuple[int, int] = (0, 0)  # (channels, steps) of the last preview
        self._placed = -1  # the sample count the grid is laid out for
        self.legend = LegendBar()
        self.legend.setObjectName("signal_legend")
        self.channel_label = QLabel("Channels")
        self.channel_box = QComboBox()
        self.channel_box.setObjectName("signal_channels")
        self.channel_box.setToolTip(
            "Show every channel stacked in its own band (each scaled to fit), or one channel with its values."
        )
        self.channel_box.currentIndexChanged.connect(lambda _: self._redraw())
        header = QHBoxLayout()
        header.setContentsMargins(4, 0, 4, 0)
        header.addWidget(self.legend, 1)
        header.addWidget(self.channel_label)
        header.addWidget(self.channel_box)

        self.view = pg.GraphicsLayoutWidget()
        self.view.setObjectName("signal_plots")
        self.view.ci.setSpacing(2)
        self.view.ci.setContentsMargins(2, 2, 2, 2)
        self._font = QFont(self.font())
        self._font.setPointSizeF(max(6.5, self._font.pointSizeF() - 1.5))
        self.plots: list[_SamplePlot] = []
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addLayout(header)
        layout.addWidget(self.view, 1)
        self._apply_theme(current_colors())
        manager = theme_manager()
        if manager is not None:
            manager.changed.connect(self._apply_theme)

    # ---- what it shows -------------------------------------------------------------------------------
    def rows(self) -> list[str]:
        return list(self._names) if self._preview is not None else []

    def columns(self) -> int:
        return sum(1 for p in self.plots if p.plot.isVisible()) if self._preview is not None else 0

    def captions(self, name: str) -> list[str]:
        if self._preview is None:
            return []
        return list(self._preview.captions.get(name, []))[: self.columns()]

    def curve_count(self) -> int:
        """Curves drawn now (visible, with at least one finite value), over every plot."""
        return sum(
            1
            for p in self.plots
            if p.plot.isVisible()
            for c in p.curves.values()
            if c.isVisible() and c.yData is not None and np.isfinite(c.yData).any()
        )

    def stacked(self) -> bool:
        """True when several channels are shown one above the other."""
        return self._shape[0] > 1 and self.channel_box.currentData() is None

    def set_channel_names(self, names: list[str] | None) -> None:
        self._channel_names = [str(n) for n in names] if names else None
        if self._shape[0]:
            self._fill_channel_box(self._shape[0], force=True)
            self._redraw()

    def show_preview(self, preview: Any) -> None:
        arrays = {name: as_numpy(a).astype(np.float64, copy=False) for name, a in preview.images.items()}
        arrays = {k: (v[:, None, :] if v.ndim == 2 else v) for k, v in arrays.items() if v.ndim in (2, 3)}
        if not arrays:
            return
        first = next(iter(arrays.values()))
        n = min(self.max_samples, min(len(a) for a in arrays.values()))
        self._preview = preview
        self._arrays = {k: v[:n] for k, v in arrays.items()}
        self._names = list(self._arrays)
        self._fill_channel_box(int(first.shape[1]))
        self._shape = (int(first.shape[1]), int(first.shape[2]))
        self._layout(n)
        self._redraw()

    # ---- drawing -------------------------------------------------------------------------------------
    def _channel_name(self, c: int) -> str:
        names = self._channel_names
        return names[c] if names and c < len(names) else f"ch {c + 1}"

    def _fill_channel_box(self, channels: int, force: bool = False) -> None:
        box = self.channel_box
        if channels == self._shape[0] and not force and box.count():
            return
        keep = box.currentData()
        box.blockSignals(True)
        box.clear()
        box.addItem("All, stacked", None)
        for c in range(channels):
            box.addItem(self._channel_name(c), c)
        index = box.findData(keep) if keep is not None and keep < channels else 0
        box.setCurrentIndex(max(0, index))
        box.blockSignals(False)
        for w in (self.channel_box, self.channel_label):
            w.setVisible(channels > 1)

    def _layout(self, n: int) -> None:
        """Place n sample plots in a grid (made once; more are made only when more samples come)."""
        while len(self.plots) < n:
            self.plots.append(_SamplePlot(self._font))
            self._style_plot(self.plots[-1], current_colors())
        if n == self._placed:
            return
        ci = self.view.ci
        ci.clear()
        columns = n if n <= 2 else math.ceil(n / 2)
        first = None
        for i, sp in enumerate(self.plots):
            if i >= n:
                sp.plot.hide()
                continue
            r, c = divmod(i, columns)
            ci.addItem(sp.plot, row=2 * r, col=c)
            ci.addItem(sp.caption, row=2 * r + 1, col=c)
            sp.plot.show()
            if first is None:
                first = sp.plot
            else:
                sp.plot.setXLink(first)
        self._placed = n

    def _redraw(self) -> None:
        if self._preview is None:
            return
        colors = current_colors()
        styles = curve_style(self._names, colors)
        style_key = (tuple(self._names), colors)
        self.legend.set_entries([(name, styles[name]["pen"]) for name in self._names])
        channels, steps = self._shape
        only = self.channel_box.currentData()
        stacked = channels > 1 and only is None
        captions = {k: list(v) for k, v in self._preview.captions.items()}
        n = self._placed
        for i, sp in enumerate(self.plots[:n]):
            sample = {name: a[i] for name, a in self._arrays.items()}
            if stacked:
                centre, half = channel_scale(list(sample.values()))
            for name, item in sp.curves.items():
                if name not in sample:
                    item.setData([], [])
                    item.hide()
            for name, values in sample.items():
                item = sp.curve(name)
                if stacked:
                    x, y = stacked_curve(values, centre, half)
                else:
                    row = values[0 if only is None else int(only)]
                    x, y = np.arange(len(row), dtype=np.float64), row
                item.setData(x, y)
                if sp.style_key != style_key:
                    item.setPen(styles[name]["pen"])
                    item.setZValue(styles[name]["z"])
                item.show()
            sp.style_key = style_key
            names = tuple(self._channel_name(c) for c in range(channels))
            axes_state = (stacked, channels, steps, names)
            if sp.axes_state != axes_state:
                self._set_axes(sp, stacked, channels, steps)
                sp.axes_state = axes_state
            text = "  ·  ".join(captions[name][i] for name in self._names if i < len(captions.get(name, [])))
            sp.caption.set_text(text, colors.text)

    def _set_axes(self, sp: _SamplePlot, stacked: bool, channels: int, steps: int) -> None:
        left = sp.plot.getAxis("left")
        if stacked:
            left.setTicks([[(channels - 1 - c, self._channel_name(c)) for c in range(channels)], []])
            sp.plot.setYRange(-0.5, channels - 0.5, padding=0)
            sp.plot.disableAutoRange(axis="y")
        else:
            left.setTicks(None)
            sp.plot.enableAutoRange(axis="y")
        sp.plot.setXRange(0, max(1, steps - 1), padding=0.01)

    # ---- theme ---------------------------------------------------------------------------------------
    def _style_plot(self, sp: _SamplePlot, colors: Colors) -> None:
        sp.plot.getViewBox().setBackgroundColor(QColor(colors.plot_bg))
        for side in ("left", "bottom"):
            axis = sp.plot.getAxis(side)
            axis.setPen(pg.mkPen(colors.border))
            axis.setTextPen(pg.mkPen(colors.plot_fg))

    def _apply_theme(self, colors: Colors) -> None:
        self.view.setBackground(colors.plot_bg)
        for sp in self.plots:
            self._style_plot(sp, colors)
        self._redraw()
