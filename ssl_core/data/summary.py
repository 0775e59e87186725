"""A human summary of a loaded source, printed by `ssl-core data SPEC` and shown by the GUI."""

from __future__ import annotations

import torch

from ssl_core.data.base import DataInfo, DataSource
from ssl_core.data.table_schema import table_schema_of

_MAX_CLASSES_SHOWN = 20
_MAX_SKIPPED_SHOWN = 10
_MAX_COLUMNS_SHOWN = 40


def _bytes(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GB"


def _table_lines(info: DataInfo) -> list[str]:
    """Rows x columns, then each feature column's kind, missing count and categories, and the dropped ones."""
    schema = table_schema_of(info)
    if schema is None:
        return [f"  table:    {info.size:,} rows x {info.sample_shape[-1]:,} columns"]
    lines = [f"  table:    {schema.describe(info.size)}"]
    width = min(32, max((len(c.name) for c in schema.columns[:_MAX_COLUMNS_SHOWN]), default=0))
    for column in schema.columns[:_MAX_COLUMNS_SHOWN]:
        facts = [column.kind]
        if column.kind == "categorical":
            facts.append(f"{len(column.categories):,} categories")
        if column.missing:
            facts.append(f"{column.missing:,} missing")
        lines.append(f"    {column.name:<{width}}  {', '.join(facts)}")
    if len(schema.columns) > _MAX_COLUMNS_SHOWN:
        lines.append(f"    ... and {len(schema.columns) - _MAX_COLUMNS_SHOWN:,} more columns")
    for dropped in schema.dropped[:_MAX_COLUMNS_SHOWN]:
        lines.append(f"  dropped:  {dropped.name} ({dropped.kind}): {dropped.reason}")
    if len(schema.dropped) > _MAX_COLUMNS_SHOWN:
        lines.append(f"  dropped:  ... and {len(schema.dropped) - _MAX_COLUMNS_SHOWN:,} more columns")
    return lines


_UNIT_NOUNS = {"line": "lines", "paragraph": "paragraphs", "file": "files", "row": "rows", "quote": "quotes"}


def _text_lines(info: DataInfo) -> list[str]:
    """How many texts (of what unit), how long, and the tokenizer a run will train on them."""
    text = info.extra.get("text") or {}
    unit = _UNIT_NOUNS.get(text.get("unit", ""), "texts")
    longest = text.get("longest_chars")
    lines = [
        f"  texts:    {info.size:,} {unit}"
        + (f", up to {longest:,} characters" if longest else "")
        + f" (stored as up to {info.length:,} UTF-8 bytes)"
    ]
    if text.get("text_column"):
        lines.append(f"  column:   {text['text_column']}")
    if "tokenizer" in text:
        lines.append(
            f"  tokens:   {text['tokenizer']} vocabulary of {int(text['vocab_size']):,}, at most "
            f"{int(text['max_tokens']):,} tokens per text (the tokenizer learns from the training split "
            "when a run starts)"
        )
    return lines


_ORIGIN_WORDS = {
    "recorded": "recorded sound (bundled demo data)",
    "synthetic": "SYNTHETIC sound, generated on this machine",
    "files": "your sound files",
}
_LABEL_ORIGINS = {
    "folders": "class subfolders",
    "prefix": "file-name prefixes",
    "csv": "the CSV's label column",
    "word": "the spoken word",
}


def _audio_lines(info: DataInfo) -> list[str]:
    """Clips, files, rate, clip length, channels, where the sound and its labels come from."""
    audio = info.extra.get("audio") or {}
    rate = int(audio.get("sample_rate", 0))
    seconds = float(audio.get("clip_seconds", 0.0))
    mode = audio.get("channels_mode", "mono")
    channels = f"{info.channels} channel" + ("" if info.channels == 1 else "s")
    channels += " (mixed to mono)" if mode == "mono" else " (as recorded)"
    lines = [
        f"  clips:    {info.size:,} of {seconds:g} s at {rate:,} Hz = {info.length:,} samples, {channels}, "
        "float32 waveform in [-1, 1]",
        (
            f"  utterances: {int(audio.get('files', 0)):,} (one word in one voice, at every speed and pitch, "
            "stays on one side of a split)"
            if audio.get("origin") == "synthetic"
            else f"  files:    {int(audio.get('files', 0)):,} (clips of one file stay on one side of a split)"
        ),
        f"  origin:   {_ORIGIN_WORDS.get(audio.get('origin'), audio.get('origin', 'files'))}",
    ]
    label_from = audio.get("label_from")
    lines.append(f"  labels from: {_LABEL_ORIGINS.get(label_from, 'none (unlabelled)')}")
    if "n_mels" in audio:
        lines.append(
            f"  log-mel:  {int(audio['n_mels'])} mel bands, {float(audio['win_ms']):g} ms window, "
            f"{float(audio['hop_ms']):g} ms hop (computed on the device)"
        )
    return lines


def _shape_lines(source: DataSource) -> list[str]:
    """The size and sample layout: images as C x H x W, series as C channels x T steps, tables as columns."""
    info = source.info
    if info.modality == "table":
        return _table_lines(info)
    if info.modality == "text":
        return _text_lines(info)
    if info.modality == "audio":
        return _audio_lines(info)
    if info.modality == "series":
        channels = f"{info.channels} channel" + ("" if info.channels == 1 else "s")
        lines = [f"  series:   {info.size:,}, each {channels} x {info.length:,} steps ({info.sample_dtype})"]
        lengths = info.extra.get("lengths")
        if lengths and lengths[0] != lengths[1]:
            lines.append(f"  lengths:  {lengths[0]:,} to {lengths[1]:,} steps before padding/cropping")
        elif lengths and lengths[1] != info.length:
            lines.append(f"  lengths:  {lengths[1]:,} steps before padding/cropping")
        names = info.extra.get("channel_names")
        if names:
            lines.append(f"  channels: {', '.join(str(n) for n in names)}")
        return lines
    colour = "grayscale" if info.channels == 1 else "RGB"
    lines = [
        f"  images:   {info.size:,}, each {info.channels} x {info.height} x {info.width} ({colour}, uint8)"
    ]
    return lines


def describe(source: DataSource) -> str:
    """Multi-line text: size, sample shape, labels with per-class counts, notes, skipped files."""
    info = source.info
    lines = [f"{info.name}  ({info.spec})", *_shape_lines(source)]
    lines.append(
        f"  memory:   {_bytes(source.nbytes())} decoded"
        + ("" if source.in_memory else ", decoded from disk as needed")
    )
    if info.native_size is not None and info.native_size != (info.height, info.width):
        lines.append(f"  original: {info.native_size[0]} x {info.native_size[1]}")
    facets = source.facets() if hasattr(source, "facets") else {}
    if info.has_labels:
        labels = source.labels()
        counts = torch.bincount(labels, minlength=info.num_classes).tolist() if labels is not None else []
        shown = [
            f"{name} ({counts[i]:,})" if i < len(counts) else name
            for i, name in enumerate(info.class_names[:_MAX_CLASSES_SHOWN])
        ]
        more = info.num_classes - len(shown)
        lines.append(
            f"  labels:   {info.num_classes} classes: "
            + ", ".join(shown)
            + (f", ... and {more} more" if more else "")
        )
    else:
        lines.append("  labels:   none (unlabelled; probes and kNN need labels)")
    for facet, (_, names) in facets.items():
        shown = ", ".join(names[:_MAX_CLASSES_SHOWN]) + (", ..." if len(names) > _MAX_CLASSES_SHOWN else "")
        lines.append(f"  {facet + ':':<9} {len(names)} (a second labelling): {shown}")
    for note in info.notes:
        lines.append(f"  note:     {note}")
    if info.skipped:
        lines.append(f"  skipped:  {len(info.skipped):,} file(s)")
        for item in info.skipped[:_MAX_SKIPPED_SHOWN]:
            lines.append(f"    {item.path}: {item.reason}")
        if len(info.skipped) > _MAX_SKIPPED_SHOWN:
            lines.append(f"    ... and {len(info.skipped) - _MAX_SKIPPED_SHOWN:,} more")
    return "\n".join(lines)
