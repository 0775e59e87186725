"""Toolbar glyphs (start, pause, resume, stop) drawn in the theme's text colour.

Fusion's media icons are dark pixmaps: on the dark theme they were dark grey on near-black. These are
drawn as vector shapes for each theme, with a muted copy for the disabled state, and redrawn when the
theme changes."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QIcon, QPainter, QPixmap, QPolygonF

from app.theme import Colors

SIZE = 32  # drawn at 32 px, scaled down by Qt for 16-24 px toolbars and buttons


def _play(p: QPainter) -> None:
    p.drawPolygon(QPolygonF([QPointF(9, 6), QPointF(26, 16), QPointF(9, 26)]))


def _pause(p: QPainter) -> None:
    p.drawRoundedRect(QRectF(8, 6, 6, 20), 1.5, 1.5)
    p.drawRoundedRect(QRectF(18, 6, 6, 20), 1.5, 1.5)


def _resume(p: QPainter) -> None:  # "continue": two triangles, as on a media player's fast forward
    for x in (4, 16):
        p.drawPolygon(QPolygonF([QPointF(x, 7), QPointF(x + 12, 16), QPointF(x, 25)]))


def _stop(p: QPainter) -> None:
    p.drawRoundedRect(QRectF(8, 8, 16, 16), 2, 2)


GLYPHS: dict[str, Callable[[QPainter], None]] = {
    "start": _play,
    "pause": _pause,
    "resume": _resume,
    "stop": _stop,
}


def _pixmap(draw: Callable[[QPainter], None], color: str) -> QPixmap:
    pixmap = QPixmap(SIZE, SIZE)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(QColor(color))
    draw(painter)
    painter.end()
    return pixmap


def glyph_icon(name: str, colors: Colors) -> QIcon:
    """The icon for a glyph name in these colours: text colour when enabled, muted when disabled."""
    draw = GLYPHS[name]
    icon = QIcon()
    icon.addPixmap(_pixmap(draw, colors.text), QIcon.Mode.Normal)
    icon.addPixmap(_pixmap(draw, colors.muted), QIcon.Mode.Disabled)
    return icon
