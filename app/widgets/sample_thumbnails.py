"""One thumbnail painter per modality: a sample drawn in its own form, for the data summary's samples and
the embedding map's hover, neighbour and selection panels.

Images are shown as themselves; a time series as a sparkline (channels stacked in bands, each in its own
colour). `thumbnail_painter(modality, reference)` gives the painter registered for the data's modality
(`SAMPLE_THUMBNAILS`); `painter.paint(samples, width, height)` turns a batch as the data source returns it
into QImages. Series painters scale each channel by the reference samples (e.g. a few hundred of the
data set), so a quiet recording looks quiet next to a busy one.

Adding a modality adds one painter class here (docs/modalities.md, step 5).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QImage, QPainter, QPainterPath, QPen

from app.imaging import qimage, to_uint8_nchw
from app.theme import current_colors, series_color

# A band keeps this share of its height free above and below its curve.
BAND_MARGIN = 0.08
# Below this many pixels per channel band, channels are overlaid instead of stacked.
MIN_BAND_PX = 6


def _numpy(samples: Any) -> np.ndarray:
    if hasattr(samples, "detach"):
        samples = samples.detach().cpu().numpy()
    return np.asarray(samples)


class ImageThumbnails:
    """Images as they are (uint8 or float in [0, 1]); `aspect` is a thumbnail's width / height."""

    aspect = 1.0
    needs_reference = False  # an image needs no scale

    def __init__(self, reference: Any = None):
        del reference

    def paint(self, samples: Any, width: int, height: int) -> list[QImage]:
        del width, height  # the grid scales images to its cells (hard pixel edges when tiny)
        arr = _numpy(samples)
        if len(arr) == 0:
            return []
        return [qimage(im) for im in to_uint8_nchw(arr)]


class SeriesThumbnails:
    """Sparklines of (n, C, T) series: channels stacked in bands (overlaid when too many for the height).

    Each channel is centred on the reference's median and scaled by its largest deviation (the 99.5th
    percentile, so one spike does not flatten everything); without a reference each sample is scaled by
    itself. Series longer than twice the width are drawn as a min/max envelope per pixel column.
    """

    aspect = 1.6
    needs_reference = True  # channel scales come from a few hundred samples of the data

    def __init__(self, reference: Any = None):
        self.centre: np.ndarray | None = None
        self.half: np.ndarray | None = None
        if reference is not None:
            self.fit(reference)

    def fit(self, reference: Any) -> None:
        ref = _numpy(reference).astype(np.float64)
        if ref.ndim != 3 or ref.shape[0] == 0:
            return
        per_channel = np.moveaxis(ref, 1, 0).reshape(ref.shape[1], -1)  # (C, n * T)
        with np.errstate(all="ignore"):
            centre = np.nanmedian(per_channel, axis=1)
            half = np.nanpercentile(np.abs(per_channel - centre[:, None]), 99.5, axis=1)
        self.centre = np.nan_to_num(centre)
        self.half = np.where(np.isfinite(half) & (half > 1e-12), half, 1.0)

    def _scale(self, sample: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        c = sample.shape[0]
        if self.centre is not None and self.half is not None and len(self.centre) == c:
            return self.centre, self.half
        with np.errstate(all="ignore"):
            low, high = np.nanmin(sample, axis=1), np.nanmax(sample, axis=1)
        centre = np.nan_to_num((low + high) / 2)
        half = np.nan_to_num((high - low) / 2)
        return centre, np.where(half > 1e-12, half, 1.0)

    def paint(self, samples: Any, width: int, height: int) -> list[QImage]:
        arr = _numpy(samples).astype(np.float32)
        if arr.ndim == 2:
            arr = arr[None]
        return [self.paint_one(s, int(width), int(height)) for s in arr]

    def paint_one(self, sample: np.ndarray, width: int, height: int) -> QImage:
        """One (C, T) series as a width x height sparkline on a transparent background."""
        width, height = max(8, width), max(8, height)
        image = QImage(width, height, QImage.Format.Format_ARGB32_Premultiplied)
        image.fill(Qt.GlobalColor.transparent)
        colors = current_colors()
        channels = sample.shape[0]
        stacked = channels > 1 and height / channels >= MIN_BAND_PX
        bands = channels if stacked else 1
        band_h = height / bands
        centre, half = self._scale(sample)
        painter = QPainter(image)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        if stacked:
            painter.setPen(QPen(QColor(colors.border), 1))
            for b in range(1, bands):
                y = round(b * band_h) - 0.5
                painter.drawLine(QPointF(0, y), QPointF(width, y))
        for c in range(channels):
            colour = colors.accent if channels == 1 else series_color(c)
            pen = QPen(QColor(colour), 1.3 if width >= 100 else 1.1)
            pen.setCapStyle(Qt.PenCapStyle.RoundCap)
            pen.setJoinStyle(Qt.PenJoinStyle.RoundJoin)
            painter.setPen(pen)
            top = (c if stacked else 0) * band_h
            box = QRectF(1, top + band_h * BAND_MARGIN, width - 2, band_h * (1 - 2 * BAND_MARGIN))
            values = np.clip((sample[c] - centre[c]) / half[c], -1.0, 1.0)
            painter.drawPath(_sparkline_path(values, box))
        painter.end()
        return image


def _sparkline_path(values: np.ndarray, box: QRectF) -> QPainterPath:
    """A path through values in [-1, 1] (NaN: a gap) filling `box`; a min/max envelope when long."""
    t = len(values)
    path = QPainterPath()
    if t == 0:
        return path
    columns = int(box.width())
    if t > 2 * columns > 0:
        edges = np.linspace(0, t, columns + 1).astype(np.int64)
        xs, ys = [], []
        for i in range(columns):
            chunk = values[edges[i] : max(edges[i + 1], edges[i] + 1)]
            finite = chunk[np.isfinite(chunk)]
            lo, hi = (finite.min(), finite.max()) if len(finite) else (np.nan, np.nan)
            xs += [i + 0.25, i + 0.75]
            ys += [lo, hi] if i % 2 == 0 else [hi, lo]
        x = box.left() + np.asarray(xs, dtype=np.float64)
        y = np.asarray(ys, dtype=np.float64)
    else:
        x = box.left() + (np.arange(t) + 0.5) * box.width() / t
        y = values.astype(np.float64)
    y = box.top() + (1.0 - (y + 1.0) / 2.0) * box.height()
    drawing = False
    for xi, yi in zip(x.tolist(), y.tolist(), strict=True):
        if not np.isfinite(yi):
            drawing = False
            continue
        if drawing:
            path.lineTo(xi, yi)
        else:
            path.moveTo(xi, yi)
            drawing = True
    return path


# modality name -> painter class (constructed with reference samples, or None)
SAMPLE_THUMBNAILS: dict[str, type] = {"image": ImageThumbnails, "series": SeriesThumbnails}


def thumbnail_painter(modality: str, reference: Any = None) -> Any:
    """The painter for a modality's samples (images as a fallback for a modality without one)."""
    return SAMPLE_THUMBNAILS.get(str(modality), ImageThumbnails)(reference)


def thumbnail_size(painter: Any, height: int) -> tuple[int, int]:
    """(width, height) of a thumbnail `height` pixels tall in the painter's aspect."""
    return max(8, round(height * float(getattr(painter, "aspect", 1.0)))), int(height)
