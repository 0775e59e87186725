"""Pictures inside the report file: data URIs for PNG and SVG, and the kept previews drawn per payload
type (one drawer per payload, as the GUI keeps one renderer per payload)."""

from __future__ import annotations

import base64
import io
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from PIL import Image

from ssl_core.report.svg import signal_strip
from ssl_core.train.preview_archive import ArchivedPreview

THUMB = 72  # pixels per sample in a preview row (small images are enlarged without blurring)
MAX_TABLE_COLUMNS = 8
MAX_TABLE_SAMPLES = 3  # rows of the data shown per table preview
MAX_SERIES = 4  # series shown per signal preview (each needs room to be read)
MAX_TEXT_ROWS = 4  # texts shown per token-text preview


def png_uri(data: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(data).decode("ascii")


def svg_uri(svg: str) -> str:
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode("utf-8")).decode("ascii")


@dataclass
class PreviewRow:
    """One named array of a preview: a picture (data URI) or, for table rows, cells of text."""

    name: str
    image: str = ""  # data URI
    cells: list[list[str]] | None = None  # table rows: one list of cell texts per sample
    columns: list[str] | None = None


def _image_row(values: np.ndarray) -> str:
    """(n, C, H, W) in [0, 1] -> one PNG strip of the n images, each enlarged to about THUMB pixels."""
    n, c, h, w = values.shape
    scale = max(1, THUMB // max(h, w))
    gap = 4
    strip = Image.new("RGB", (n * (w * scale + gap) - gap, h * scale), (255, 255, 255))
    for i in range(n):
        pixels = np.rint(np.clip(values[i], 0.0, 1.0) * 255).astype(np.uint8)
        picture = Image.fromarray(pixels[0] if c == 1 else np.moveaxis(pixels[:3], 0, -1))
        picture = picture.convert("RGB")
        if scale > 1:
            picture = picture.resize((w * scale, h * scale), Image.Resampling.NEAREST)
        strip.paste(picture, (i * (w * scale + gap), 0))
    data = io.BytesIO()
    strip.save(data, format="PNG", optimize=True)
    return png_uri(data.getvalue())


def _image_grid(preview: ArchivedPreview) -> list[PreviewRow]:
    return [
        PreviewRow(name, image=_image_row(values))
        for name, values in preview.arrays.items()
        if values.ndim == 4
    ]


def _signal(preview: ArchivedPreview) -> list[PreviewRow]:
    return [
        PreviewRow(name, image=svg_uri(signal_strip(values[:MAX_SERIES].tolist(), name)))
        for name, values in preview.arrays.items()
        if values.ndim == 3
    ]


def _cell(value: float, column: str, meta: dict) -> str:
    if not math.isfinite(value):
        return "–"
    categories = (meta.get("categories") or {}).get(column)
    if categories and float(value).is_integer() and 0 <= int(value) < len(categories):
        return str(categories[int(value)])
    return f"{value:.3g}"


def _table_rows(preview: ArchivedPreview) -> list[PreviewRow]:
    """One table: for each of the first few rows of the data, what each array made of it, one above the
    other, so a reader compares a row with its corrupted copy and its reconstruction at a glance."""
    arrays = {name: values for name, values in preview.arrays.items() if values.ndim == 2}
    if not arrays:
        return []
    width = min(next(iter(arrays.values())).shape[1], MAX_TABLE_COLUMNS)
    columns = [str(c) for c in (preview.meta.get("columns") or [])][:width]
    columns += [f"column {i + 1}" for i in range(len(columns), width)]
    samples = min(len(values) for values in arrays.values())
    cells = [
        [
            f"row {i + 1}: {name}",
            *(_cell(float(v), c, preview.meta) for v, c in zip(values[i], columns, strict=False)),
        ]
        for i in range(min(samples, MAX_TABLE_SAMPLES))
        for name, values in arrays.items()
    ]
    return [PreviewRow("rows", cells=cells, columns=["", *columns])]


def _guesses(row: dict) -> str:
    slots = row.get("slots") or []
    return "; ".join(
        f"{slot.get('truth', '?')}: "
        + ", ".join(f"{w} {float(p):.0%}" for w, p in (slot.get("top") or [])[:3])
        for slot in slots
    )


# Row kind of the "token_text" payload (Preview.meta["text_rows"]) -> (column titles, cells of one row).
_TEXT_COLUMNS: dict[str, tuple[list[str], Callable[[dict], list[str]]]] = {
    "masked": (["text", "hidden word: top guesses"], lambda r: [r.get("text", ""), _guesses(r)]),
    "continuation": (
        ["prompt", "the network's continuation", "the real rest"],
        lambda r: [r.get("prompt", ""), r.get("text", ""), r.get("truth", "")],
    ),
    "neighbours": (
        ["word", "nearest (cosine)"],
        lambda r: [r.get("word", ""), ", ".join(f"{w} {float(c):.2f}" for w, c in r.get("top") or [])],
    ),
    "views": (["views"], lambda r: [" | ".join(f"{k}: {v}" for k, v in (r.get("texts") or {}).items())]),
}


def _token_text(preview: ArchivedPreview) -> list[PreviewRow]:
    """The first few text rows of a text preview as a table (what the GUI's text renderer shows)."""
    rows = [r for r in preview.meta.get("text_rows") or [] if isinstance(r, dict)]
    if not rows or rows[0].get("kind") not in _TEXT_COLUMNS:
        return []
    columns, cells_of = _TEXT_COLUMNS[rows[0]["kind"]]
    cells = [
        [str(i + 1), *cells_of(r)]
        for i, r in enumerate(rows[:MAX_TEXT_ROWS])
        if r.get("kind") == rows[0]["kind"]
    ]
    return [PreviewRow("texts", cells=cells, columns=["", *columns])]


PREVIEW_DRAWERS: dict[str, Callable[[ArchivedPreview], list[PreviewRow]]] = {
    "image_grid": _image_grid,
    "signal": _signal,
    "table_rows": _table_rows,
    "token_text": _token_text,
}


def preview_rows(preview: ArchivedPreview) -> list[PreviewRow]:
    """The preview's arrays as rows to show; [] for a payload this report cannot draw."""
    drawer = PREVIEW_DRAWERS.get(preview.payload)
    return drawer(preview) if drawer else []
