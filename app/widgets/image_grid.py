"""Painted grids of small images: a wrapping thumbnail grid and a grid of labelled rows."""

from __future__ import annotations

from PySide6.QtCore import QRect, QSize, Qt, Signal
from PySide6.QtGui import QImage, QMouseEvent, QPainter, QPaintEvent, QPixmap
from PySide6.QtWidgets import QSizePolicy, QWidget

from app.imaging import scaled_pixmap

CAPTION_H = 16
GAP = 6


def caption_lines(widget: QWidget, captions: list[str], width: int) -> int:
    """1, or 2 when some caption is wider than a cell (it then wraps at a space)."""
    fm = widget.fontMetrics()
    return 2 if any(fm.horizontalAdvance(c) > width + GAP for c in captions) else 1


def _draw_cell(
    painter: QPainter, rect: QRect, pixmap: QPixmap, caption: str, palette, lines: int = 1
) -> None:
    painter.fillRect(rect.adjusted(-1, -1, 1, 1), palette.mid())
    img_rect = QRect(rect)
    painter.fillRect(img_rect, palette.base())
    x = img_rect.x() + (img_rect.width() - pixmap.width()) // 2
    y = img_rect.y() + (img_rect.height() - pixmap.height()) // 2
    painter.drawPixmap(x, y, pixmap)
    if caption:
        cap = QRect(rect.x() - GAP // 2, img_rect.bottom() + 2, rect.width() + GAP, CAPTION_H * lines)
        painter.setPen(palette.text().color())
        if lines > 1:
            flags = Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop | Qt.TextFlag.TextWordWrap
            painter.drawText(cap, flags, caption)
        else:
            text = painter.fontMetrics().elidedText(caption, Qt.TextElideMode.ElideRight, cap.width())
            painter.drawText(cap, Qt.AlignmentFlag.AlignCenter, text)


class ImageGrid(QWidget):
    """Thumbnails that wrap to the widget's width; clicking one emits its index.

    Cells are `cell` pixels tall and `aspect` times as wide (wider cells suit sparklines of series)."""

    clicked = Signal(int)

    def __init__(self, cell: int = 56, parent: QWidget | None = None, aspect: float = 1.0):
        super().__init__(parent)
        self.cell = cell
        self.aspect = aspect
        self._images: list[QImage] = []
        self._captions: list[str] = []
        self._pixmaps: list[QPixmap] = []
        self.placeholder = ""
        sp = QSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Preferred)
        sp.setHeightForWidth(True)
        self.setSizePolicy(sp)

    @property
    def cell_width(self) -> int:
        return max(1, round(self.cell * self.aspect))

    def set_cell(self, cell: int, aspect: float | None = None) -> None:
        """Change the cell size (and shape); the thumbnails are rescaled from their images."""
        self.cell = int(cell)
        if aspect is not None:
            self.aspect = float(aspect)
        self._pixmaps = [scaled_pixmap(im, self.cell_width, self.cell) for im in self._images]
        self.updateGeometry()
        self.update()

    def set_images(self, images: list[QImage], captions: list[str] | None = None) -> None:
        self._images = list(images)
        self._captions = list(captions) if captions else []
        self._pixmaps = [scaled_pixmap(im, self.cell_width, self.cell) for im in self._images]
        self.updateGeometry()
        self.update()

    def count(self) -> int:
        return len(self._images)

    def _row_h(self) -> int:
        return self.cell + GAP + (CAPTION_H if self._captions else 0)

    def _columns(self, width: int) -> int:
        return max(1, (width - GAP) // (self.cell_width + GAP))

    def hasHeightForWidth(self) -> bool:  # noqa: N802 - Qt API
        return True

    def heightForWidth(self, width: int) -> int:  # noqa: N802 - Qt API
        if not self._images:
            return 60
        rows = -(-len(self._images) // self._columns(width))
        return GAP + rows * self._row_h()

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt API
        width = 8 * (self.cell_width + GAP) + GAP
        return QSize(width, self.heightForWidth(width))

    def minimumSizeHint(self) -> QSize:  # noqa: N802 - Qt API
        return QSize(self.cell_width + 2 * GAP, 60)

    def _cell_rect(self, i: int) -> QRect:
        cols = self._columns(self.width())
        r, c = divmod(i, cols)
        w = self.cell_width
        return QRect(GAP + c * (w + GAP), GAP + r * self._row_h(), w, self.cell)

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 - Qt API
        painter = QPainter(self)
        pal = self.palette()
        if not self._pixmaps and self.placeholder:
            painter.setPen(pal.placeholderText().color())
            painter.drawText(
                self.rect(), Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap, self.placeholder
            )
        for i, pm in enumerate(self._pixmaps):
            rect = self._cell_rect(i)
            if rect.intersects(event.rect()):
                _draw_cell(painter, rect, pm, self._captions[i] if i < len(self._captions) else "", pal)

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt API
        for i in range(len(self._pixmaps)):
            if self._cell_rect(i).contains(event.position().toPoint()):
                self.clicked.emit(i)
                return
        super().mousePressEvent(event)


class RowGrid(QWidget):
    """Named rows of images aligned in columns (e.g. view 1 over view 2, input over reconstruction)."""

    def __init__(self, cell: int = 72, label_width: int = 120, parent: QWidget | None = None):
        super().__init__(parent)
        self.cell = cell
        self.label_width = label_width
        self._rows: list[tuple[str, list[QPixmap], list[str]]] = []
        self._images: list[tuple[str, list[QImage], list[str]]] = []
        self.placeholder = ""

    def set_rows(self, rows: list[tuple[str, list[QImage], list[str]]]) -> None:
        self._images = [(name, list(imgs), list(caps)) for name, imgs, caps in rows]
        self._rescale()

    def set_cell(self, cell: int) -> None:
        """Change the image size (e.g. to fill the available width); pixmaps are redrawn from the images."""
        if cell != self.cell:
            self.cell = cell
            self._rescale()

    def _rescale(self) -> None:
        self._rows = [
            (n, [scaled_pixmap(im, self.cell) for im in imgs], caps) for n, imgs, caps in self._images
        ]
        self.updateGeometry()
        self.adjustSize()
        self.update()

    def row_names(self) -> list[str]:
        return [name for name, _, _ in self._rows]

    def columns(self) -> int:
        return max((len(p) for _, p, _ in self._rows), default=0)

    def _row_h(self, caps: list[str]) -> int:
        return self.cell + 2 * GAP + (CAPTION_H * caption_lines(self, caps, self.cell) if any(caps) else 0)

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt API
        if not self._rows:
            return QSize(400, 120)
        width = self.label_width + self.columns() * (self.cell + GAP) + GAP
        height = GAP + sum(self._row_h(caps) for _, _, caps in self._rows)
        return QSize(width, height)

    def minimumSizeHint(self) -> QSize:  # noqa: N802 - Qt API
        return self.sizeHint()

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 - Qt API
        painter = QPainter(self)
        pal = self.palette()
        if not self._rows and self.placeholder:
            painter.setPen(pal.placeholderText().color())
            painter.drawText(
                self.rect(), Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap, self.placeholder
            )
            return
        y = GAP
        bold = painter.font()
        bold.setBold(True)
        for name, pixmaps, caps in self._rows:
            lines = caption_lines(self, caps, self.cell)
            painter.setFont(bold)
            painter.setPen(pal.text().color())
            painter.drawText(
                QRect(0, y, self.label_width - GAP, self.cell),
                Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter | Qt.TextFlag.TextWordWrap,
                name,
            )
            painter.setFont(self.font())
            for j, pm in enumerate(pixmaps):
                rect = QRect(self.label_width + GAP + j * (self.cell + GAP), y, self.cell, self.cell)
                _draw_cell(painter, rect, pm, caps[j] if j < len(caps) else "", pal, lines)
            y += self._row_h(caps)
