"""One thumbnail painter per modality: a sample drawn in its own form, for the data summary's samples and
the embedding map's hover, neighbour and selection panels.

Images are shown as themselves; a time series as a sparkline (channels stacked in bands, each in its own
colour); a table row as a strip of bars, one per feature, showing how far each value is from the usual; a text as its
words, wrapped to fit; an audio clip as its log-mel spectrogram. `thumbnail_painter(modality, reference)` gives the painter registered for the data's modality
(`SAMPLE_THUMBNAILS`); `painter.paint(samples, width, height)` turns a batch as the data source returns it
into QImages. Series painters scale each channel by the reference samples (e.g. a few hundred of the
data set), so a quiet recording looks quiet next to a busy one.

Adding a modality adds one painter class here (docs/modalities.md, step 5).
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QImage, QPainter, QPainterPath, QPen

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


def robust_scale(reference: Any) -> tuple[np.ndarray, np.ndarray]:
    """Per-column (centre, scale) of (n, F) rows: the median and the interquartile range / 1.349 (the
    standard deviation of a normal distribution with that IQR), ignoring NaN. A column whose IQR is 0
    (mostly one value) is scaled by its standard deviation, and a constant or empty one by 1."""
    ref = _numpy(reference).astype(np.float64)
    if ref.ndim != 2 or ref.shape[0] == 0:
        width = ref.shape[-1] if ref.ndim == 2 else 0
        return np.zeros(width), np.ones(width)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns
        centre = np.nanmedian(ref, axis=0)
        q1, q3 = np.nanpercentile(ref, [25, 75], axis=0)
        std = np.nanstd(ref, axis=0)
    scale = (q3 - q1) / 1.349
    scale = np.where(np.isfinite(scale) & (scale > 1e-12), scale, std)
    scale = np.where(np.isfinite(scale) & (scale > 1e-12), scale, 1.0)
    return np.nan_to_num(centre), scale


def deviations(rows: Any, centre: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """(n, F) robust z-scores of rows against (centre, scale); NaN stays NaN (a missing value)."""
    arr = _numpy(rows).astype(np.float64)
    if arr.ndim == 1:
        arr = arr[None]
    with np.errstate(invalid="ignore"):
        return (arr - centre) / scale


class TableThumbnails:
    """A table row as a strip of bars, one per feature column: up for a value above the usual (the
    reference rows' median), down for one below, as far as its robust z-score (clipped at Z_CLIP). A
    categorical column (`kinds`, when known) gets a full bar in its own colour when its category is not
    the reference's most common one; a missing value is a small grey square."""

    aspect = 2.0
    needs_reference = True  # the usual values come from the rows of the data
    Z_CLIP = 4.0

    def __init__(self, reference: Any = None, kinds: list[str] | None = None):
        self.kinds = list(kinds) if kinds else None
        self.centre: np.ndarray | None = None
        self.scale: np.ndarray | None = None
        self.mode: np.ndarray | None = None  # the most common code of each column
        if reference is not None:
            self.fit(reference)

    def fit(self, reference: Any) -> None:
        ref = _numpy(reference).astype(np.float64)
        if ref.ndim != 2 or ref.shape[0] == 0:
            return
        self.centre, self.scale = robust_scale(ref)
        modes = []
        for column in ref.T:
            values, counts = np.unique(column[np.isfinite(column)], return_counts=True)
            modes.append(values[np.argmax(counts)] if len(values) else np.nan)
        self.mode = np.asarray(modes)

    def _categorical(self, f: int) -> bool:
        return self.kinds is not None and f < len(self.kinds) and self.kinds[f] == "categorical"

    def levels(self, row: np.ndarray) -> np.ndarray:
        """(F,) bar heights in [-1, 1] (NaN: missing); categorical columns 1 where unusual, else 0."""
        row = np.asarray(row, dtype=np.float64).reshape(-1)
        f = len(row)
        if self.centre is not None and self.scale is not None and len(self.centre) == f:
            centre, scale = self.centre, self.scale
        else:  # no reference: the row against itself (only its shape is meaningful then)
            centre = np.full(f, np.nanmedian(row) if np.isfinite(row).any() else 0.0)
            spread = np.nanstd(row) if np.isfinite(row).any() else 1.0
            scale = np.full(f, spread if spread > 1e-12 else 1.0)
        z = deviations(row, centre, scale)[0]
        out = np.clip(z / self.Z_CLIP, -1.0, 1.0)
        for c in range(f):
            if self._categorical(c) and np.isfinite(row[c]):
                usual = self.mode is not None and c < len(self.mode) and row[c] == self.mode[c]
                out[c] = 0.0 if usual else 1.0
        return out

    def paint(self, samples: Any, width: int, height: int) -> list[QImage]:
        arr = _numpy(samples).astype(np.float32)
        if arr.ndim == 1:
            arr = arr[None]
        return [self.paint_one(row, int(width), int(height)) for row in arr.reshape(len(arr), -1)]

    def paint_one(self, row: np.ndarray, width: int, height: int) -> QImage:
        width, height = max(8, width), max(8, height)
        image = QImage(width, height, QImage.Format.Format_ARGB32_Premultiplied)
        image.fill(Qt.GlobalColor.transparent)
        colors = current_colors()
        levels = self.levels(row)
        f = max(1, len(levels))
        mid = height / 2.0
        half = mid - 1.0
        slot = (width - 2) / f
        gap = 1.0 if slot >= 4 else 0.0
        painter = QPainter(image)
        painter.setPen(QPen(QColor(colors.border), 1))
        painter.drawLine(QPointF(0, mid), QPointF(width, mid))
        painter.setPen(Qt.PenStyle.NoPen)
        above, below = QColor(colors.bad), QColor(colors.accent)
        for c, level in enumerate(levels.tolist()):
            x = 1 + c * slot
            w = max(1.0, slot - gap)
            if not np.isfinite(level):
                side = min(w, height / 4)
                painter.fillRect(QRectF(x + (w - side) / 2, mid - side / 2, side, side), QColor(colors.muted))
                continue
            if self._categorical(c):
                colour = QColor(series_color(5)) if level > 0 else QColor(colors.border)
                h = half if level > 0 else max(1.0, half * 0.08)
                painter.fillRect(QRectF(x, mid - h, w, 2 * h), colour)
                continue
            h = max(1.0, abs(level) * half)
            colour = QColor(above if level >= 0 else below)
            colour.setAlpha(110 + int(145 * min(1.0, abs(level))))
            rect = QRectF(x, mid - h, w, h) if level >= 0 else QRectF(x, mid, w, h)
            painter.fillRect(rect, colour)
        painter.end()
        return image


def decode_texts(samples: Any) -> list[str]:
    """The texts of stored text samples (UTF-8 bytes, zero-padded: (n, max_bytes) uint8)."""
    arr = _numpy(samples)
    if arr.ndim == 1:
        arr = arr[None]
    try:
        from ssl_core.data.text_bytes import bytes_to_texts
    except ImportError:  # pragma: no cover - the engine ships it; a plain decode says the same
        return [bytes(row).rstrip(b"\0").decode("utf-8", "replace") for row in arr.astype(np.uint8)]
    return list(bytes_to_texts(arr.astype(np.uint8)))


class TextThumbnails:
    """A text as its words, wrapped into the thumbnail, in the largest font (down to MIN_PX) that fits;
    what still does not fit ends in an ellipsis."""

    aspect = 2.4
    needs_reference = False
    MIN_PX, MAX_PX = 8, 12

    def __init__(self, reference: Any = None):
        del reference

    def paint(self, samples: Any, width: int, height: int) -> list[QImage]:
        return [self.paint_text(t, int(width), int(height)) for t in decode_texts(samples)]

    def paint_text(self, text: str, width: int, height: int) -> QImage:
        width, height = max(16, width), max(8, height)
        image = QImage(width, height, QImage.Format.Format_ARGB32_Premultiplied)
        image.fill(Qt.GlobalColor.transparent)
        colors = current_colors()
        text = " ".join(str(text).split()) or "(empty)"
        painter = QPainter(image)
        painter.setRenderHint(QPainter.RenderHint.TextAntialiasing, True)
        painter.setPen(QColor(colors.text if text != "(empty)" else colors.muted))
        box = QRectF(3, 2, width - 6, height - 4)
        flags = int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop | Qt.TextFlag.TextWordWrap)
        font = QFont(painter.font())
        size = max(self.MIN_PX, min(self.MAX_PX, height // 4))
        while True:
            font.setPixelSize(size)
            painter.setFont(font)
            used = painter.boundingRect(box, flags, text)
            if used.height() <= box.height() or size <= self.MIN_PX:
                break
            size -= 1
        if used.height() > box.height():  # still too long: as many words as fit, then an ellipsis
            words = text.split(" ")
            low, high = 0, len(words)
            while low < high:
                mid = (low + high + 1) // 2
                fits = painter.boundingRect(box, flags, " ".join(words[:mid]) + " …").height() <= box.height()
                low, high = (mid, high) if fits else (low, mid - 1)
            text = " ".join(words[:low]) + " …"
        painter.drawText(box, flags, text)
        painter.end()
        return image


class AudioThumbnails:
    """An audio clip ((C, T) waveform in [-1, 1]) as a small log-mel spectrogram: time to the right, low
    pitches at the bottom, brighter is louder (app/widgets/spectrogram.py, the engine's LogMel with the
    data's settings from `info.extra["audio"]`). The brightest colour is the loudest bin of the reference
    clips (a few hundred of the data), so a quiet clip looks quiet next to a loud one; without a reference
    each clip is scaled by itself."""

    aspect = 1.6
    needs_reference = True  # the loudness scale comes from clips of the data
    uses_info = True  # the sample rate and mel settings

    def __init__(self, reference: Any = None, info: Any = None):
        from app.widgets.spectrogram import settings_of

        extra = getattr(info, "extra", None) or {}
        self.settings = settings_of(extra.get("audio") if isinstance(extra.get("audio"), dict) else {})
        self.high: float | None = None
        if reference is not None:
            self.fit(reference)

    def fit(self, reference: Any) -> None:
        arr = _numpy(reference)
        if arr.ndim not in (2, 3) or len(arr) == 0:
            return
        loudest = [float(np.nanmax(s)) for s in self.spectrograms(arr)]
        self.high = float(np.percentile(loudest, 99)) if loudest else None

    def spectrograms(self, samples: Any) -> np.ndarray:
        """(n, M, F) log-mel spectrograms of the samples, a batch of 64 clips at a time."""
        from app.widgets.spectrogram import log_mel

        arr = _numpy(samples).astype(np.float32)
        if arr.ndim == 2:
            arr = arr[None]
        parts = [log_mel(arr[i : i + 64], self.settings) for i in range(0, len(arr), 64)]
        return np.concatenate(parts) if parts else np.zeros((0, 1, 1), dtype=np.float32)

    def paint(self, samples: Any, width: int, height: int) -> list[QImage]:
        from app.widgets.spectrogram import LN_RANGE, spectrogram_image, value_range

        out = []
        for spec in self.spectrograms(samples):
            if self.high is not None:
                low, high = self.high - LN_RANGE, self.high
            else:
                low, high = value_range([spec])
            image = spectrogram_image(spec, low, high)
            out.append(
                image.scaled(
                    max(8, int(width)),
                    max(8, int(height)),
                    Qt.AspectRatioMode.IgnoreAspectRatio,
                    Qt.TransformationMode.SmoothTransformation,
                )
            )
        return out


# modality name -> painter class (constructed with reference samples, or None; those with `uses_info` also
# get the DataInfo)
SAMPLE_THUMBNAILS: dict[str, type] = {
    "image": ImageThumbnails,
    "series": SeriesThumbnails,
    "table": TableThumbnails,
    "text": TextThumbnails,
    "audio": AudioThumbnails,
}


def thumbnail_painter(modality: str, reference: Any = None, info: Any = None) -> Any:
    """The painter for a modality's samples (images as a fallback for a modality without one); `info`
    (the DataInfo) for painters that need more than the samples (audio: the sample rate)."""
    cls = SAMPLE_THUMBNAILS.get(str(modality), ImageThumbnails)
    return cls(reference, info=info) if getattr(cls, "uses_info", False) else cls(reference)


def thumbnail_size(painter: Any, height: int) -> tuple[int, int]:
    """(width, height) of a thumbnail `height` pixels tall in the painter's aspect."""
    return max(8, round(height * float(getattr(painter, "aspect", 1.0)))), int(height)
