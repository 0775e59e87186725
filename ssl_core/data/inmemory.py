"""Finish an in-memory source: apply the requested channels and size, and describe the result."""

from __future__ import annotations

import logging

import numpy as np
import torch

from ssl_core.data.base import DataInfo, SkippedFile, TensorSource
from ssl_core.data.convert import resize_square, to_channels
from ssl_core.data.spec import OpenOptions
from ssl_core.errors import UserError

log = logging.getLogger(__name__)


def default_channels(native: int) -> int:
    """The channel count kept when the caller does not choose: alpha is dropped, colour stays colour."""
    return 1 if native in (1, 2) else 3


def remap_labels(raw: np.ndarray, where: str) -> tuple[torch.Tensor, list[str]]:
    """Integer labels of any values -> 0..K-1 (int64) and names: the sorted original values as strings."""
    if raw.ndim == 2 and raw.shape[1] == 1:
        raw = raw[:, 0]
    if raw.ndim != 1:
        raise UserError(
            f"{where}: labels must be a 1-D array with one integer per image; got shape {tuple(raw.shape)}.",
            path=where,
        )
    if raw.dtype.kind == "f":
        if raw.size and (not np.isfinite(raw).all() or not np.equal(np.mod(raw, 1), 0).all()):
            raise UserError(
                f"{where}: labels must be whole numbers; found fractional, NaN or infinite values.",
                path=where,
            )
        raw = raw.astype(np.int64)
    elif raw.dtype.kind == "b":
        raw = raw.astype(np.int64)
    elif raw.dtype.kind not in "iu":
        raise UserError(
            f"{where}: labels must be integers; got dtype {raw.dtype}. Map class names to 0..K-1 first.",
            path=where,
        )
    raw = raw.astype(np.int64, copy=False)
    if raw.size and raw.min() < 0:
        count = int((raw < 0).sum())
        raise UserError(
            f"{where}: {count:,} label(s) are negative (smallest {int(raw.min())}); labels must be 0 or "
            "more. Drop unlabelled images or save them without labels.",
            path=where,
        )
    values = np.unique(raw)
    labels = torch.from_numpy(np.searchsorted(values, raw).astype(np.int64))
    return labels, [str(int(v)) for v in values]


def in_memory_source(
    images: torch.Tensor,
    labels: torch.Tensor | None,
    class_names: list[str],
    *,
    spec: str,
    name: str,
    options: OpenOptions,
    notes: list[str] | None = None,
    skipped: list[SkippedFile] | None = None,
    mirror_safe: bool = True,
) -> TensorSource:
    """Images (N, C, H, W) uint8 at their native size and channels -> a TensorSource as requested."""
    if images.dtype != torch.uint8 or images.dim() != 4:
        raise ValueError(f"expected uint8 (N, C, H, W), got {images.dtype} {tuple(images.shape)}")
    n, c, h, w = images.shape
    if n == 0:
        raise UserError(f"{spec}: the data holds zero images; give a source with at least 2 images.")
    if labels is not None and len(labels) != n:
        raise UserError(
            f"{spec}: there are {len(labels):,} labels for {n:,} images; give exactly one label per image.",
        )
    notes = list(notes or [])
    channels = options.channels or default_channels(c)
    if c == 4 and options.channels is None:
        notes.append("alpha channel dropped")
    images = to_channels(images, channels)
    if options.image_size is not None and (h, w) != (options.image_size, options.image_size):
        images = resize_square(images, options.image_size)
        notes.append(f"resized from {h}x{w} to {options.image_size}x{options.image_size}")
    _, c, h2, w2 = images.shape
    info = DataInfo(
        spec=spec,
        name=name,
        size=n,
        channels=c,
        height=h2,
        width=w2,
        has_labels=labels is not None,
        class_names=list(class_names) if labels is not None else [],
        skipped=list(skipped or []),
        native_size=(h, w),
        notes=notes,
        mirror_safe=mirror_safe,
    )
    log.info("opened %s: %d images, shape %s", spec, n, info.image_shape)
    return TensorSource(images.contiguous(), labels, info)
