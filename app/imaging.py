"""Turn image arrays from the engine (N, C, H, W; uint8 or float in [0, 1]) into QImages."""

from __future__ import annotations

from typing import Any

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage, QPixmap


def to_uint8_nchw(images: Any) -> np.ndarray:
    """A torch tensor or numpy array (N,C,H,W) or (C,H,W), uint8 or float [0,1] -> uint8 (N,C,H,W)."""
    if hasattr(images, "detach"):
        images = images.detach().cpu().numpy()
    arr = np.asarray(images)
    if arr.ndim == 3:
        arr = arr[None]
    if arr.ndim != 4:
        raise ValueError(f"expected images (N, C, H, W); got shape {arr.shape}")
    if arr.dtype != np.uint8:
        arr = np.clip(np.nan_to_num(arr.astype(np.float32)), 0.0, 1.0)
        arr = (arr * 255.0 + 0.5).astype(np.uint8)
    return arr


def qimage(image_chw: np.ndarray) -> QImage:
    """One uint8 (C, H, W) image -> a QImage that owns its pixels (1, 3 or 4 channels)."""
    c, h, w = image_chw.shape
    if c == 1:
        data = np.ascontiguousarray(image_chw[0])
        img = QImage(data.data, w, h, w, QImage.Format.Format_Grayscale8)
    elif c == 2:  # gray + alpha: drop alpha
        return qimage(image_chw[:1])
    else:
        channels = 4 if c >= 4 else 3
        data = np.ascontiguousarray(np.transpose(image_chw[:channels], (1, 2, 0)))
        fmt = QImage.Format.Format_RGBA8888 if channels == 4 else QImage.Format.Format_RGB888
        img = QImage(data.data, w, h, w * channels, fmt)
    return img.copy()  # detach from the numpy buffer


def qimages(images: Any) -> list[QImage]:
    return [qimage(im) for im in to_uint8_nchw(images)]


def scaled_pixmap(img: QImage, size: int, height: int | None = None) -> QPixmap:
    """Fit an image into a size x size cell (size x height when given); tiny images are enlarged with
    hard pixel edges, and an image that already fits exactly is not resampled."""
    height = size if height is None else height
    if img.width() == size and img.height() <= height or img.height() == height and img.width() <= size:
        return QPixmap.fromImage(img)
    mode = (
        Qt.TransformationMode.FastTransformation
        if img.width() * 2 <= size and img.height() * 2 <= height
        else Qt.TransformationMode.SmoothTransformation
    )
    return QPixmap.fromImage(img.scaled(size, height, Qt.AspectRatioMode.KeepAspectRatio, mode))
