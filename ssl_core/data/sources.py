"""The registry of data-source kinds and `open_source`, which turns a spec string into a DataSource."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ssl_core.data import (
    arrays,
    audio_source,
    digits,
    folder,
    series_source,
    table_source,
    text_source,
    tvsets,
)
from ssl_core.data.base import DataSource
from ssl_core.data.spec import OpenOptions, ProgressFn, SourceKind, user_path
from ssl_core.data.table_read import table_suffix
from ssl_core.errors import UserError
from ssl_core.registry import Registry

DATA_SOURCES: Registry[SourceKind] = Registry("data source")
for _kind in (
    digits.KIND,
    folder.KIND,
    arrays.NPZ_KIND,
    arrays.NPY_KIND,
    tvsets.KIND,
    series_source.KIND,
    table_source.CSV_KIND,
    table_source.TABLE_KIND,
    text_source.KIND,
    audio_source.KIND,
):
    DATA_SOURCES.register(_kind.scheme, _kind)

DEFAULT_SPEC = "digits"
_SUFFIX_SCHEMES = {
    ".npz": "npz",
    ".npy": "npy",
    ".ts": "series",
    ".csv": "csv",
    ".tsv": "csv",
    ".csv.gz": "csv",
    ".tsv.gz": "csv",
}
# A bare .txt path in a data spec is text; the app's launcher (spec_for_path) leaves .txt files alone,
# since a stray notes file is more often not meant as data.
# Sound files too: `ssl-core data x.wav` reads one recording's clips.
_SPEC_ONLY_SUFFIXES = {".txt": "text", ".wav": "audio", ".flac": "audio", ".ogg": "audio"}


def _known_kinds() -> str:
    return ", ".join(kind.usage for _, kind in DATA_SOURCES.items())


def _infer_from_path(spec: str, *, text: bool = True) -> tuple[str, str] | None:
    """A bare path is accepted for convenience: a folder, an .npz, .npy, .ts (time series), .csv/.tsv
    (table, maybe .gz) or .txt (text) file."""
    try:
        path = user_path(spec)
        if path.is_dir():
            return "folder", spec
        suffix = table_suffix(path) or path.suffix.lower()
        schemes = {**_SUFFIX_SCHEMES, **_SPEC_ONLY_SUFFIXES} if text else _SUFFIX_SCHEMES
        if path.is_file() and suffix in schemes:
            return schemes[suffix], spec
    except OSError:
        pass
    return None


# The file suffixes a bare path may end with to be opened as data (a folder needs none).
DATA_FILE_SUFFIXES: tuple[str, ...] = tuple(_SUFFIX_SCHEMES)


def spec_for_path(path: str | Path) -> str | None:
    """The data spec ("folder:PATH", "npz:PATH", "csv:PATH", ...) that opens an existing folder or data file
    (any of DATA_FILE_SUFFIXES), or None when the path is neither (missing, or a file of another kind)."""
    inferred = _infer_from_path(str(path), text=False)
    return f"{inferred[0]}:{inferred[1]}" if inferred is not None else None


def parse_spec(spec: str) -> tuple[SourceKind, str]:
    """Split "scheme:argument" and find the scheme's registry entry.

    Besides the schemes, a bare existing path (folder, .npz, .npy, .ts, .csv, .tsv, .txt) and a bare torchvision
    dataset name (e.g. "cifar10") are understood.
    """
    text = str(spec or "").strip()
    if not text:
        raise UserError(f"The data spec is empty; use one of: {_known_kinds()}.", field="data.spec")
    scheme, sep, argument = text.partition(":")
    if scheme.lower() in DATA_SOURCES and (sep or not DATA_SOURCES.get(scheme).argument):
        kind = DATA_SOURCES.get(scheme)
        if kind.argument and not argument.strip():
            raise UserError(
                f"{kind.scheme}: needs {kind.argument} after the colon, e.g. {kind.example}",
                field="data.spec",
            )
        return kind, argument
    inferred = _infer_from_path(text)  # also catches Windows paths such as C:\data
    if inferred is not None:
        return DATA_SOURCES.get(inferred[0]), inferred[1]
    if tvsets.find_set(text) is not None:
        return DATA_SOURCES.get("torchvision"), text
    if scheme.lower() in DATA_SOURCES:  # e.g. "folder" alone
        kind = DATA_SOURCES.get(scheme)
        raise UserError(
            f"{kind.scheme}: needs {kind.argument} after a colon, e.g. {kind.example}", field="data.spec"
        )
    looks_like_path = sep == "" and ("/" in text or "\\" in text or Path(text).suffix)
    if looks_like_path:
        raise UserError(
            f"Data {text!r} is not an existing folder or .npz/.npy/.ts/.csv/.txt file; check the path, or write the "
            f"kind explicitly: {_known_kinds()}.",
            field="data.spec",
        )
    raise UserError(
        f"Unknown data source {scheme!r} in {text!r}{DATA_SOURCES.did_you_mean(scheme)}; known kinds are: "
        f"{_known_kinds()} "
        "(e.g. digits, folder:~/pictures, torchvision:CIFAR10, series:BasicMotions, text:fortunes, audio:speech).",
        field="data.spec",
    )


def open_source(
    spec: str,
    image_size: int | None = None,
    channels: int | None = None,
    download: bool = False,
    *,
    progress: ProgressFn | None = None,
    modality: str | None = None,
    length: int | None = None,
    missing: str = "refuse",
    label_column: str | None = None,
    id_column: str | None = None,
    ignore_columns: Sequence[str] = (),
    categorical: Sequence[str] = (),
    table_schema: dict | None = None,
    memory_budget_mb: int | None = None,
    tokenizer: str = "bpe",
    vocab_size: int = 2000,
    text_unit: str = "auto",
    text_column: str | None = None,
    sample_rate: int = 16000,
    clip_seconds: float = 1.0,
    audio_channels: str = "mono",
    n_mels: int = 64,
    win_ms: float = 25.0,
    hop_ms: float = 10.0,
) -> DataSource:
    """Open the data named by `spec`: uint8 images (N, C, H, W), float32 time series (N, C, T) or float32
    table rows (N, F).

    image_size: resize to a square of this side (None keeps the source's size; folders choose one).
    channels: 1 or 3 (None keeps the source's own; alpha is always dropped).
    download: let torchvision datasets download when missing (never otherwise).
    progress: optional callback (fraction, message) while a folder is scanned and decoded (see ssl_core.progress;
        older (phase, done, total) callbacks still work).
    modality: "image" or "series" where an array is ambiguous (None: inferred).
    length: series are padded or cropped to this many steps (None: the longest series).
    missing: series with NaN/inf are "refuse"d (a message names the file) or "impute"d.
    label_column, id_column, ignore_columns, categorical: tables' column choices (None / empty: inferred;
        label_column "none": no labels).
    table_schema: a run's stored table schema (TableSchema.to_dict()): encode a new file exactly as the run's
        data was (its columns must be there; labels are optional).
    memory_budget_mb: tables and text files above a quarter of this (at least 64 MB) are refused unread.
    tokenizer, vocab_size: text: the tokenizer a run trains on the training split ("bpe", "wordpiece",
        "char"), recorded in DataInfo.extra["text"] with `length` as the most tokens per text (None: 64).
    text_unit: a .txt file's sample: "auto", "line", "paragraph" or "file" (a folder's "auto": "file").
    text_column: a CSV's text column (None: the one with the longest texts).
    sample_rate, clip_seconds, audio_channels: audio: clips of clip_seconds at sample_rate Hz, mixed to
        "mono" or keeping the files' channels ("keep"); n_mels, win_ms, hop_ms: the log-mel settings a
        run's spectrogram front end uses, recorded in DataInfo.extra["audio"].
    """
    options = OpenOptions(
        image_size=image_size,
        channels=channels,
        download=download,
        progress=progress,
        modality=modality,
        length=length,
        missing=missing,
        label_column=label_column,
        id_column=id_column,
        ignore_columns=ignore_columns,
        categorical=categorical,
        table_schema=table_schema,
        memory_budget_mb=memory_budget_mb,
        tokenizer=tokenizer,
        vocab_size=vocab_size,
        text_unit=text_unit,
        text_column=text_column,
        sample_rate=sample_rate,
        clip_seconds=clip_seconds,
        audio_channels=audio_channels,
        n_mels=n_mels,
        win_ms=win_ms,
        hop_ms=hop_ms,
    )
    kind, argument = parse_spec(spec)
    return kind.opener(str(spec).strip(), argument, options)


def spec_title(spec: str) -> str:
    """A data spec as a person reads it: "Handwritten digits", "BasicMotions (time series)",
    "customers.csv (table)". Specs that no longer parse are shown as written."""
    text = str(spec or "").strip()
    if not text:
        return ""
    scheme, sep, argument = text.partition(":")
    kind = DATA_SOURCES.get(scheme) if scheme.lower() in DATA_SOURCES and (sep or scheme) else None
    if kind is not None and kind.argument and not sep:
        kind = None  # "folder" alone is no spec
    if kind is None:
        inferred = _infer_from_path(text)
        kind, argument = (DATA_SOURCES.get(inferred[0]), inferred[1]) if inferred else (None, "")
    if kind is None:
        return text
    if not kind.argument:  # e.g. digits: the kind is the data
        return kind.title.replace(" (built in)", "")
    name = argument.split(":")[0] if kind.browse == "name" else user_path(argument).name or argument
    return f"{name} ({kind.noun})" if kind.noun else name
