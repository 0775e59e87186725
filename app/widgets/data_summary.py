"""The Setup panel's plain-language summary of loaded data: how many samples of what shape (one function
per modality: images in pixels, series in channels x steps), the labels, the source's notes (padding,
cropping, imputed gaps) and skipped files."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any


def _image_lines(info: Any, image_size: int | None) -> list[str]:
    colour = "grayscale" if info.channels == 1 else f"colour ({info.channels} channels)"
    native = info.native_size or (info.height, info.width)
    lines = [f"{info.size:,} images, {info.width}×{info.height} pixels, {colour}"]
    if tuple(native) != (info.height, info.width):
        lines.append(f"Originally {native[1]}×{native[0]} pixels")
    if image_size:
        lines.append(f"Resized to {image_size}×{image_size} for training")
    return lines


def _series_lines(info: Any, image_size: int | None) -> list[str]:
    channels, length = info.sample_shape
    plural = "" if channels == 1 else "s"
    lines = [f"{info.size:,} series, {channels} channel{plural} × {length:,} steps each"]
    extra = info.extra or {}
    names = extra.get("channel_names")
    if names:
        shown = ", ".join(html.escape(str(n)) for n in names[:8]) + (" …" if len(names) > 8 else "")
        lines.append(f"Channels: {shown}")
    return lines  # padding, cropping and imputation are in the source's notes, shown below


def _table_lines(info: Any, image_size: int | None) -> list[str]:
    schema = (info.extra or {}).get("table") or {}
    columns = schema.get("columns", [])
    kinds: dict[str, int] = {}
    for col in columns:
        kinds[col.get("kind", "numeric")] = kinds.get(col.get("kind", "numeric"), 0) + 1
    words = {"numeric": "numeric", "categorical": "categorical", "boolean": "yes/no"}
    parts = ", ".join(f"{n:,} {words.get(kind, kind)}" for kind, n in kinds.items())
    lines = [f"{info.size:,} rows × {len(columns):,} feature columns ({parts})"]
    missing = sum(int(col.get("missing", 0) or 0) for col in columns)
    if missing:
        gappy = sum(1 for col in columns if int(col.get("missing", 0) or 0))
        lines.append(
            f"{missing:,} missing values in {gappy} column(s): filled in, with a flag the model sees"
        )
    dropped = [d for d in schema.get("dropped", []) if d.get("kind") != "label"]
    if dropped:
        shown = ", ".join(
            f"{html.escape(str(d.get('name')))} ({html.escape(str(d.get('kind')))})" for d in dropped[:6]
        )
        lines.append(f"Not used as features: {shown}" + (" …" if len(dropped) > 6 else ""))
    return lines  # the label column is named in the source's notes


# modality name -> the summary's lines about its samples (others get one line from the modality)
SHAPE_LINES = {"image": _image_lines, "series": _series_lines, "table": _table_lines}
NOTES_SHOWN = 4


def summary_html(info: Any, image_size: int | None = None) -> str:
    """A plain-language description of a loaded source for the Setup panel."""
    from ssl_core.modalities import modality_of

    modality = modality_of(info)
    shape = SHAPE_LINES.get(info.modality)
    lines = [f"<b>{html.escape(info.name)}</b>"]
    lines += (
        shape(info, image_size)
        if shape is not None
        else [f"{info.size:,} {modality.plural}: {html.escape(modality.describe(info))}"]
    )
    if info.has_labels:
        names = ", ".join(info.class_names[:12]) + (" …" if len(info.class_names) > 12 else "")
        lines.append(f"Labelled: {len(info.class_names)} classes ({html.escape(names)})")
    else:
        lines.append("No labels: training works; accuracy evaluation needs labels")
    for note in info.notes[:NOTES_SHOWN]:
        lines.append(f"<span style='color:gray'>{html.escape(note[:1].upper() + note[1:])}</span>")
    if info.skipped:
        first = info.skipped[0]
        lines.append(
            f"<span style='color:#c77800'>Skipped {len(info.skipped)} unreadable file(s), "
            f"e.g. {Path(first.path).name}: {first.reason}</span>"
        )
    return "<br>".join(lines)
