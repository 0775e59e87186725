"""Conversions shared by the in-memory sources: array values to uint8, channel count, square resize."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from ssl_core.errors import UserError

_RESIZE_CHUNK_BYTES = 64 << 20  # float32 working memory per resize chunk


def array_to_uint8(arr: np.ndarray, where: str) -> np.ndarray:
    """Check an image array's values and return it as uint8 0..255.

    uint8 passes through; floats must be finite and in [0, 1] (scaled by 255); other integer
    types must already hold 0..255; booleans become 0/255. `where` names the file for messages.
    """
    kind = arr.dtype.kind
    if kind == "u" and arr.dtype.itemsize == 1:
        return arr
    if kind == "b":
        return arr.astype(np.uint8) * np.uint8(255)
    if arr.size == 0:
        return arr.astype(np.uint8)
    if kind == "f":
        if not np.isfinite(arr).all():
            bad = int((~np.isfinite(arr)).sum())
            raise UserError(
                f"{where}: the images contain {bad:,} NaN or infinite value(s); replace them "
                "(e.g. np.nan_to_num) before loading.",
                path=where,
            )
        low, high = float(arr.min()), float(arr.max())
        if low < 0.0 or high > 1.0:
            raise UserError(
                f"{where}: float images must hold values in [0, 1], but they range from {low:g} to "
                f"{high:g}; divide by 255 (or rescale) first, or save them as uint8.",
                path=where,
            )
        out = np.empty(arr.shape, dtype=np.uint8)
        np.rint(arr * 255.0, out=out, casting="unsafe")
        return out
    if kind in "iu":
        low, high = int(arr.min()), int(arr.max())
        if low < 0 or high > 255:
            raise UserError(
                f"{where}: integer images must hold values 0..255, but they range from {low} to {high}; "
                "rescale them to uint8 (0..255) or to floats in [0, 1].",
                path=where,
            )
        return arr.astype(np.uint8)
    raise UserError(
        f"{where}: images have dtype {arr.dtype}, which is not an image type; save them as uint8 "
        "(0..255) or float (0..1).",
        path=where,
    )


def gray_from_rgb(images: torch.Tensor) -> torch.Tensor:
    """(N, 3, H, W) uint8 -> (N, 1, H, W) with ITU-R 601-2 luma, the same weights PIL's convert("L") uses."""
    x = images.to(torch.int32)
    luma = (x[:, 0] * 299 + x[:, 1] * 587 + x[:, 2] * 114 + 500) // 1000
    return luma.unsqueeze(1).to(torch.uint8)


def to_channels(images: torch.Tensor, channels: int) -> torch.Tensor:
    """Convert (N, C, H, W) uint8 to `channels` (1 or 3); alpha (C = 2 or 4) is dropped first."""
    c = images.shape[1]
    if c == 4:
        images, c = images[:, :3], 3
    elif c == 2:
        images, c = images[:, :1], 1
    if c == channels:
        return images.contiguous()
    if c == 1 and channels == 3:
        return images.expand(-1, 3, -1, -1).contiguous()
    if c == 3 and channels == 1:
        return gray_from_rgb(images)
    raise ValueError(f"cannot convert {c} channels to {channels}")


def resize_square(images: torch.Tensor, size: int) -> torch.Tensor:
    """Resize (N, C, H, W) uint8 so the shorter side is `size`, then centre-crop to size x size.

    Keeping the aspect ratio (as torchvision's Resize + CenterCrop do) avoids squashing shapes;
    antialiasing avoids aliasing when shrinking. Work is done in chunks to bound memory.
    """
    n, c, h, w = images.shape
    if h == size and w == size:
        return images
    scale = size / min(h, w)
    nh, nw = max(size, round(h * scale)), max(size, round(w * scale))
    top, left = (nh - size) // 2, (nw - size) // 2
    if (nh, nw) == (h, w):  # only a crop is needed: exact, no resampling
        return images[:, :, top : top + size, left : left + size].contiguous()
    out = torch.empty((n, c, size, size), dtype=torch.uint8)
    per_image = 4 * c * max(h * w, nh * nw)
    chunk = max(1, _RESIZE_CHUNK_BYTES // per_image)
    for start in range(0, n, chunk):
        x = images[start : start + chunk].to(torch.float32)
        x = F.interpolate(x, size=(nh, nw), mode="bilinear", align_corners=False, antialias=True)
        x = x[:, :, top : top + size, left : left + size]
        out[start : start + chunk] = x.round_().clamp_(0, 255).to(torch.uint8)
    return out
