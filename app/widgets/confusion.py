"""A confusion matrix drawn as a heat map with counts in the cells and class names on the axes."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QRect, QSize, Qt
from PySide6.QtGui import QColor, QPainter, QPaintEvent
from PySide6.QtWidgets import QSizePolicy, QWidget

from app.theme import current_colors


class ConfusionMatrix(QWidget):
    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.matrix = np.zeros((0, 0), dtype=np.int64)
        self.names: list[str] = []
        self.title = "Confusion matrix"
        self.placeholder = "Run an evaluation to see which classes get confused."
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(260, 260)

    def set_matrix(self, matrix, names: list[str], title: str = "Confusion matrix") -> None:
        self.matrix = np.asarray(matrix, dtype=np.int64)
        k = self.matrix.shape[0] if self.matrix.ndim == 2 else 0
        self.names = list(names)[:k] + [str(i) for i in range(len(names), k)]
        self.title = title
        self.update()

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt API
        return QSize(420, 420)

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 - Qt API
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        colors = current_colors()
        pal = self.palette()
        k = self.matrix.shape[0] if self.matrix.ndim == 2 else 0
        if k == 0:
            painter.setPen(pal.placeholderText().color())
            painter.drawText(
                self.rect(), Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap, self.placeholder
            )
            return
        fm = painter.fontMetrics()
        label_w = min(110, max(fm.horizontalAdvance(n) for n in self.names) + 10)
        top = fm.height() * 2 + 6
        left = label_w + fm.height() + 4
        side = max(10, min(self.width() - left - 8, self.height() - top - fm.height() - 12))
        cell = side / k
        painter.setPen(pal.text().color())
        bold = painter.font()
        bold.setBold(True)
        painter.setFont(bold)
        painter.drawText(
            QRect(0, 0, self.width(), fm.height() + 2), Qt.AlignmentFlag.AlignHCenter, self.title
        )
        painter.setFont(self.font())
        painter.drawText(
            QRect(left, fm.height() + 2, int(side), fm.height()),
            Qt.AlignmentFlag.AlignHCenter,
            "predicted class",
        )
        painter.save()
        painter.translate(fm.height() - 2, top + side / 2)
        painter.rotate(-90)
        painter.drawText(
            QRect(int(-side / 2), -fm.height(), int(side), fm.height()),
            Qt.AlignmentFlag.AlignHCenter,
            "true class",
        )
        painter.restore()
        rows = self.matrix.sum(axis=1, keepdims=True).clip(min=1)
        share = self.matrix / rows  # colour by the share of each true class, so rare classes read alike
        accent = QColor(colors.accent)
        base = QColor(colors.base)
        show_numbers = cell >= fm.horizontalAdvance("000") + 4
        for i in range(k):
            for j in range(k):
                t = float(share[i, j])
                color = QColor(
                    int(base.red() + (accent.red() - base.red()) * t),
                    int(base.green() + (accent.green() - base.green()) * t),
                    int(base.blue() + (accent.blue() - base.blue()) * t),
                )
                rect = QRect(int(left + j * cell), int(top + i * cell), int(cell) + 1, int(cell) + 1)
                painter.fillRect(rect, color)
                if show_numbers and self.matrix[i, j]:
                    painter.setPen(QColor("#ffffff") if t > 0.5 else pal.text().color())
                    painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, str(int(self.matrix[i, j])))
        painter.setPen(QColor(colors.border))
        painter.drawRect(QRect(left, top, int(side), int(side)))
        painter.setPen(pal.text().color())
        step = max(1, int(np.ceil(fm.height() / max(cell, 1))))
        for i in range(0, k, step):
            name = fm.elidedText(self.names[i], Qt.TextElideMode.ElideRight, label_w - 6)
            painter.drawText(
                QRect(fm.height() + 2, int(top + i * cell), label_w, int(cell)),
                Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
                name,
            )
            painter.drawText(
                QRect(int(left + i * cell), int(top + side + 2), int(cell), fm.height()),
                Qt.AlignmentFlag.AlignHCenter,
                fm.elidedText(self.names[i], Qt.TextElideMode.ElideRight, int(cell * step)),
            )
