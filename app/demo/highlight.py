"""A ring around the control a step talks about, drawn over the window and following the control as the
window is resized, its tab shown or hidden, or its panel moved. The rest of the tab is dimmed a little so
the eye finds the ring from across a room; clicks pass through to the controls below."""

from __future__ import annotations

import contextlib

from PySide6.QtCore import QEvent, QObject, QPoint, QRect, QRectF, Qt, QTimer
from PySide6.QtGui import QColor, QPainter, QPainterPath, QPen
from PySide6.QtWidgets import QWidget

from app.theme import current_colors

RING_WIDTH = 5
MARGIN = 6  # the ring sits this far outside the control
DIM_ALPHA = 46
FOLLOW_MS = 300  # a parent that moves (a splitter, a scroll area) sends the control no event: look again


class Highlight(QWidget):
    """Child of the window, above everything in it; `point_at(widget)` (None: nothing) moves the ring."""

    def __init__(self, window: QWidget):
        super().__init__(window)
        self.setObjectName("demo_highlight")
        self.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self.setAttribute(Qt.WidgetAttribute.WA_NoSystemBackground)
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.target: QWidget | None = None
        self.ring = QRect()  # in this widget's coordinates; empty while the target is not on screen
        window.installEventFilter(self)
        self._timer = QTimer(self)
        self._timer.setInterval(FOLLOW_MS)
        self._timer.timeout.connect(self.follow)
        self.hide()

    def point_at(self, widget: QWidget | None) -> None:
        if self.target is not None:
            with contextlib.suppress(RuntimeError):  # the control was deleted meanwhile
                self.target.removeEventFilter(self)
        self.target = widget
        if widget is None:
            self._timer.stop()
            self.hide()
            return
        widget.installEventFilter(self)
        self._timer.start()
        self.follow()

    def follow(self) -> None:
        """Cover the window and put the ring where the target is now (none when it is not visible)."""
        window = self.parentWidget()
        self.setGeometry(window.rect())
        try:
            ring = self._ring_around(self.target, window)
        except RuntimeError:  # the control was deleted (a tab rebuilt it): nothing to point at
            self.target, ring = None, QRect()
        if ring != self.ring or self.isHidden() != ring.isEmpty():
            self.ring = ring
            self.setVisible(not ring.isEmpty())
            self.raise_()
            self.update()

    @staticmethod
    def _ring_around(target: QWidget | None, window: QWidget) -> QRect:
        if target is None or not target.isVisible() or target.window() is not window:
            return QRect()
        ring = QRect(target.mapTo(window, QPoint(0, 0)), target.size()).adjusted(
            -MARGIN, -MARGIN, MARGIN, MARGIN
        )
        return ring.intersected(window.rect().adjusted(2, 2, -2, -2))

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt API
        if event.type() in (
            QEvent.Type.Move,
            QEvent.Type.Resize,
            QEvent.Type.Show,
            QEvent.Type.Hide,
            QEvent.Type.WindowStateChange,
        ):
            QTimer.singleShot(0, self.follow)  # after the layout placed everything
        return False

    def paintEvent(self, event) -> None:  # noqa: N802 - Qt API
        if self.ring.isEmpty():
            return
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        window = self.parentWidget()
        central = getattr(window, "centralWidget", lambda: None)()
        if central is not None:  # dim the tab around the ring, not the narrator or the menus
            area = QPainterPath()
            area.addRect(QRectF(QRect(central.mapTo(window, QPoint(0, 0)), central.size())))
            hole = QPainterPath()
            hole.addRoundedRect(QRectF(self.ring), 8, 8)
            painter.fillPath(area.subtracted(hole), QColor(0, 0, 0, DIM_ALPHA))
        colour = QColor(current_colors().warn)
        for width, alpha in ((RING_WIDTH + 8, 60), (RING_WIDTH, 255)):  # a soft halo, then the ring
            colour.setAlpha(alpha)
            painter.setPen(QPen(colour, width))
            painter.drawRoundedRect(QRectF(self.ring), 8, 8)
        painter.end()

    def stop(self) -> None:
        self.point_at(None)
        self.parentWidget().removeEventFilter(self)
