"""A one-line legend drawn beside a plot rather than over it, so it never covers data."""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRect, QSize, Qt
from PySide6.QtGui import QPainter, QPaintEvent, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget


class LegendBar(QWidget):
    """A one-line legend drawn above the plots (so it never covers a curve): a pen swatch and a name."""

    SWATCH = 22

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.entries: list[tuple[str, QPen]] = []
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)

    def set_entries(self, entries: list[tuple[str, QPen]]) -> None:
        self.entries = list(entries)
        self.updateGeometry()
        self.update()

    def names(self) -> list[str]:
        return [name for name, _ in self.entries]

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt API
        fm = self.fontMetrics()
        width = sum(self.SWATCH + 6 + fm.horizontalAdvance(n) + 16 for n, _ in self.entries)
        return QSize(width, fm.height() + 6)

    def minimumSizeHint(self) -> QSize:  # noqa: N802 - Qt API
        return self.sizeHint()  # every entry stays readable

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 - Qt API
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        fm = self.fontMetrics()
        x, mid = 2, self.height() // 2
        for name, pen in self.entries:
            swatch = QPen(pen)
            swatch.setWidthF(max(2.0, pen.widthF()))
            painter.setPen(swatch)
            painter.drawLine(QPointF(x, mid + 0.5), QPointF(x + self.SWATCH, mid + 0.5))
            x += self.SWATCH + 6
            painter.setPen(self.palette().text().color())
            width = fm.horizontalAdvance(name)
            painter.drawText(QRect(x, 0, width + 2, self.height()), Qt.AlignmentFlag.AlignVCenter, name)
            x += width + 16
