"""Reading one image file with Pillow: a cheap header probe, and a full decode to (C, S, S) uint8.

Every Pillow mode is reduced to "L" or "RGB": 16-bit and 32-bit integer images are scaled (not clipped)
to 0..255, float images are scaled from [0, 1] (or min..max when outside), palettes are expanded, and
alpha is dropped. EXIF orientation is applied before anything else, as a photo viewer would.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

log = logging.getLogger(__name__)

IMAGE_EXTENSIONS = frozenset(
    {".png", ".jpg", ".jpeg", ".jpe", ".jfif", ".bmp", ".dib", ".gif", ".tif", ".tiff", ".webp"}
)
_GRAY_MODES = frozenset({"1", "L", "LA", "La", "I", "I;16", "I;16L", "I;16B", "I;16N", "F"})
_WIDE_GRAY_MODES = frozenset({"I", "I;16", "I;16L", "I;16B", "I;16N", "F"})
_ORIENTATION_TAG = 0x0112
_ROTATED_ORIENTATIONS = (5, 6, 7, 8)  # these swap width and height
# Errors Pillow raises for damaged or unsupported files (SyntaxError comes from some plugins).
_DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, IndexError, TypeError, KeyError, MemoryError)


class BadImage(Exception):
    """A file that cannot be used; the message is the reason shown to the user."""


@dataclass(frozen=True)
class ImageHeader:
    height: int  # after EXIF orientation
    width: int
    gray: bool  # no colour information (grayscale modes, or a palette of grays)


def is_image_name(name: str) -> bool:
    # os.path.splitext gives Path(name).suffix here, without building a Path (called once per file).
    return os.path.splitext(name)[1].lower() in IMAGE_EXTENSIONS


def _pixel_limit() -> int | None:
    return Image.MAX_IMAGE_PIXELS  # read each time, so a caller can change Pillow's limit


def _check_pixels(width: int, height: int) -> None:
    limit = _pixel_limit()
    if limit and width * height > limit:
        raise BadImage(
            f"too many pixels ({width}x{height} > {limit:,}); it may be a decompression bomb, so it was not decoded"
        )


def _is_gray_palette(img: Image.Image) -> bool:
    palette = img.getpalette("RGB") or []
    return bool(palette) and all(
        palette[i] == palette[i + 1] == palette[i + 2] for i in range(0, len(palette) - 2, 3)
    )


def probe(path: Path) -> ImageHeader:
    """Read only the header: size (after EXIF rotation) and whether the image is grayscale."""
    try:
        if path.stat().st_size == 0:
            raise BadImage("empty file (0 bytes)")
        with Image.open(path) as img:
            width, height = img.size
            _check_pixels(width, height)
            try:
                orientation = img.getexif().get(_ORIENTATION_TAG, 1)
            except _DECODE_ERRORS:  # a damaged EXIF block: the pixels may still be fine
                orientation = 1
            if orientation in _ROTATED_ORIENTATIONS:
                width, height = height, width
            if img.mode in _GRAY_MODES:
                gray = True
            elif img.mode in ("P", "PA"):
                gray = _is_gray_palette(img)
            else:
                gray = False
            if width <= 0 or height <= 0:
                raise BadImage(f"image has no pixels ({width}x{height})")
    except BadImage:
        raise
    except Image.DecompressionBombError as exc:
        raise BadImage(
            f"too many pixels; it may be a decompression bomb, so it was not decoded ({exc})"
        ) from None
    except UnidentifiedImageError:
        raise BadImage("not an image Pillow can read (unknown format or damaged header)") from None
    except _DECODE_ERRORS as exc:
        raise BadImage(f"cannot be read ({type(exc).__name__}: {exc})") from None
    return ImageHeader(height=height, width=width, gray=gray)


def _scale_wide(arr: np.ndarray) -> np.ndarray:
    """16/32-bit integer or float pixels -> uint8, keeping relative brightness."""
    if arr.dtype.kind == "f":
        arr = np.nan_to_num(arr.astype(np.float64), nan=0.0, posinf=0.0, neginf=0.0)
        low, high = float(arr.min()), float(arr.max())
        if low >= 0.0 and high <= 1.0:
            scaled = arr * 255.0
        else:  # arbitrary units (e.g. a scientific TIFF): stretch min..max
            scaled = (arr - low) * (255.0 / (high - low)) if high > low else np.zeros_like(arr)
    else:
        arr = arr.astype(np.int64)
        low, high = int(arr.min()), int(arr.max())
        if low >= 0 and high <= 255:
            scaled = arr.astype(np.float64)
        elif low >= 0 and high <= 65535:
            scaled = arr / 257.0  # 16-bit full range 0..65535 -> 0..255
        else:
            scaled = (arr - low) * (255.0 / (high - low))
    return np.clip(np.rint(scaled), 0, 255).astype(np.uint8)


def to_l_or_rgb(img: Image.Image, channels: int) -> Image.Image:
    """Any Pillow mode -> "L" (channels 1) or "RGB" (channels 3); alpha is dropped."""
    mode = img.mode
    if mode in _WIDE_GRAY_MODES:
        img = Image.fromarray(_scale_wide(np.asarray(img)), mode="L")
    elif mode in ("P", "PA"):
        # Via RGBA so palette transparency is read (Pillow warns when going straight to RGB).
        img = img.convert("RGBA").convert("RGB")
    elif mode in ("1", "LA", "La"):
        img = img.convert("L")
    elif mode != "L" and mode != "RGB":
        img = img.convert("RGB")  # RGBA, RGBa, RGBX, CMYK, YCbCr, LAB, HSV, ...
    target = "L" if channels == 1 else "RGB"
    return img if img.mode == target else img.convert(target)


def decode(path: Path, size: int, channels: int) -> np.ndarray:
    """Decode a file to a (channels, size, size) uint8 array: EXIF-rotated, converted, resized, centre-cropped."""
    try:
        with Image.open(path) as img:
            _check_pixels(*img.size)
            if img.format == "JPEG":
                # Let libjpeg decode at 1/2, 1/4 or 1/8 scale when the target is much smaller: far faster.
                img.draft(None, (size, size))
            img = ImageOps.exif_transpose(img)  # loads the pixels; truncation errors surface here
            img = to_l_or_rgb(img, channels)
            if img.size != (size, size):
                # Shorter side to `size`, then centre crop: keeps the aspect ratio.
                img = ImageOps.fit(img, (size, size), method=Image.Resampling.BICUBIC)
            arr = np.asarray(img, dtype=np.uint8)
    except BadImage:
        raise
    except Image.DecompressionBombError as exc:
        raise BadImage(
            f"too many pixels; it may be a decompression bomb, so it was not decoded ({exc})"
        ) from None
    except UnidentifiedImageError:
        raise BadImage("not an image Pillow can read (unknown format or damaged header)") from None
    except _DECODE_ERRORS as exc:
        raise BadImage(f"cannot be decoded ({type(exc).__name__}: {exc})") from None
    return arr[None] if arr.ndim == 2 else arr.transpose(2, 0, 1)
