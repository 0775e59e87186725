"""Presentation mode, for showing the workbench to a room: the window full screen, larger text, thick
opaque plot lines and larger axis numbers. Everything it changes is put back when it is switched off.

Plots draw new lines as results arrive (a new run's curves, an evaluation's chart), so the lines are
thickened again a few times a second while the mode is on; each line's own pen is remembered once."""

from __future__ import annotations

import contextlib
import weakref
from typing import Any

import pyqtgraph as pg
from PySide6.QtCore import QByteArray, QObject, Qt, QTimer
from PySide6.QtGui import QFont, QPen
from PySide6.QtWidgets import QApplication, QWidget

FONT_SCALE = 1.3
LINE_WIDTH = 4.0  # at least this thick (the smoothed loss is drawn 1 px wide in the workbench)
FAINT_ALPHA = 200  # lines fainter than this are backgrounds (a curve's raw values): left as they are
TICK_PT = 13
RESTYLE_MS = 400


class Presentation(QObject):
    def __init__(self, window: QWidget):
        super().__init__(window)
        self.window = window
        self.on = False
        self._state = Qt.WindowState.WindowNoState
        self._font: QFont | None = None
        self._geometry: QByteArray | None = None
        self._pens: weakref.WeakKeyDictionary[Any, QPen] = weakref.WeakKeyDictionary()
        self._axes: weakref.WeakSet[Any] = weakref.WeakSet()
        self._timer = QTimer(self)
        self._timer.setInterval(RESTYLE_MS)
        self._timer.timeout.connect(self.restyle)

    def set_on(self, on: bool) -> None:
        if on == self.on:
            return
        self.on = on
        app = QApplication.instance()
        if on:
            self._state = self.window.windowState()
            self._geometry = self.window.saveGeometry()
            self._font = QFont(app.font())
            bigger = QFont(self._font)
            bigger.setPointSizeF(max(6.0, self._font.pointSizeF()) * FONT_SCALE)
            _set_app_font(app, bigger)
            # Without a window manager (a kiosk, a bare X server) nobody resizes for full screen: fill it first.
            self.window.setGeometry(self.window.screen().geometry())
            self.window.showFullScreen()
            self.restyle()
            self._timer.start()
        else:
            self._timer.stop()
            if self._font is not None:
                _set_app_font(app, self._font)
            self.window.setWindowState(self._state)
            if self._geometry is not None:
                self.window.restoreGeometry(self._geometry)
            self._unstyle()

    # ---- plots -------------------------------------------------------------------------------
    def restyle(self) -> None:
        """Thick lines and large tick numbers on every plot of the window (new lines included)."""
        tick_font = QFont(QApplication.instance().font())
        tick_font.setPointSizeF(TICK_PT)
        for plot in self.window.findChildren(pg.PlotWidget):
            item = plot.getPlotItem()
            for axis_name in ("left", "bottom"):
                axis = item.getAxis(axis_name)
                if axis not in self._axes:
                    axis.setStyle(tickFont=tick_font)
                    self._axes.add(axis)
            for line in item.listDataItems():
                self._thicken(line)

    def _thicken(self, line: Any) -> None:
        if line in self._pens or not isinstance(line, pg.PlotDataItem):
            return
        pen = pg.mkPen(line.opts.get("pen"))
        self._pens[line] = QPen(pen)
        if pen.style() == Qt.PenStyle.NoPen or pen.color().alpha() < FAINT_ALPHA:
            return
        thick = QPen(pen)
        thick.setWidthF(max(LINE_WIDTH, pen.widthF() * 2))
        line.setPen(thick)

    def _unstyle(self) -> None:
        for line, pen in list(self._pens.items()):
            with contextlib.suppress(RuntimeError):  # the line's plot is gone
                line.setPen(pen)
        self._pens.clear()
        for axis in list(self._axes):
            with contextlib.suppress(RuntimeError):
                axis.setStyle(tickFont=None)
        self._axes.clear()


def _set_app_font(app: QApplication, font: QFont) -> None:
    """Under a style sheet, widgets keep the font they were polished with: polish them again."""
    app.setFont(font)
    app.setStyleSheet(app.styleSheet())
