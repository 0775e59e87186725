"""Texts stored as samples: each text's UTF-8 bytes in a zero-padded uint8 row.

Bytes keep text on the loader, cache and resident-memory paths that images use (uint8 tensors); the
modality's input adapter turns them into token ids on the device side. A NUL byte never occurs in UTF-8
text read by the sources (they refuse binary files), so 0 marks the end of a text.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch


def utf8_cut(data: bytes, max_bytes: int) -> bytes:
    """`data` cut to at most `max_bytes` without splitting a character (continuation bytes are 10xxxxxx)."""
    if len(data) <= max_bytes:
        return data
    cut = max_bytes
    while cut > 0 and (data[cut] & 0xC0) == 0x80:
        cut -= 1
    return data[:cut]


def texts_to_bytes(texts: Sequence[str], max_bytes: int) -> torch.Tensor:
    """uint8 (n, max_bytes): each text's UTF-8 bytes (cut at a character boundary), then zeros.

    NUL characters are dropped: a zero byte ends a stored text."""
    out = np.zeros((len(texts), max_bytes), dtype=np.uint8)
    for row, text in enumerate(texts):
        data = utf8_cut(text.replace("\x00", "").encode("utf-8"), max_bytes)
        out[row, : len(data)] = np.frombuffer(data, dtype=np.uint8)
    return torch.from_numpy(out)


def bytes_to_texts(batch: torch.Tensor | np.ndarray) -> list[str]:
    """The texts of a uint8 (n, max_bytes) batch made by texts_to_bytes (on any device)."""
    if isinstance(batch, torch.Tensor):
        batch = batch.detach().to("cpu").numpy()
    batch = np.ascontiguousarray(batch, dtype=np.uint8)
    if batch.ndim == 1:
        batch = batch[None, :]
    # Every byte up to the first zero belongs to the text (zeros only pad).
    has_zero = batch == 0
    ends = np.where(has_zero.any(axis=1), has_zero.argmax(axis=1), batch.shape[1])
    return [batch[i, : ends[i]].tobytes().decode("utf-8", errors="replace") for i in range(len(batch))]
