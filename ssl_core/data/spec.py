"""What a data-source kind is (the registry entry) and the options every kind receives when opened."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ssl_core.data.base import DataSource
from ssl_core.errors import UserError
from ssl_core.progress import ProgressFn, report_count

# Callbacks written for the earlier data-only shape, (phase, done, total), are still accepted.
CountsFn = Callable[[str, int, int], None]

MIN_IMAGE_SIZE = 4
MAX_IMAGE_SIZE = 1024
SUPPORTED_CHANNELS = (1, 3)


@dataclass(frozen=True)
class OpenOptions:
    """What the caller asked for; each kind applies it while loading (resizing early saves memory)."""

    image_size: int | None = None  # square side; None keeps the source's own size
    channels: int | None = None  # 1 or 3; None keeps the source's own (alpha is always dropped)
    download: bool = False  # only torchvision datasets download, and only when this is True
    # (fraction, message) while a folder is scanned and decoded (phases "scanning", "decoding"), called
    # from the opening thread; see ssl_core.progress. A (phase, done, total) callback also works.
    progress: ProgressFn | CountsFn | None = None
    modality: str | None = None  # "image", "series", ...: settles an ambiguous array; None: inferred
    length: int | None = None  # series: pad or crop to this many time steps; None: the longest series
    missing: str = "refuse"  # series: "refuse" NaN/inf with a message naming the file, or "impute" them
    # Tables (csv:, table:, npz with modality "table"): the user's say over the columns; None / (): inferred.
    label_column: str | None = None  # "none": read without labels
    id_column: str | None = None
    ignore_columns: tuple[str, ...] = ()
    categorical: tuple[str, ...] = ()
    # A run's stored schema (TableSchema.to_dict()): encode a new file exactly as the run's data was.
    table_schema: dict | None = field(default=None, hash=False)
    memory_budget_mb: int | None = None  # tables, texts: files above a quarter of this are refused unread
    # Text (text:): the tokenizer the run will train (kind, vocabulary size; `length` is the most tokens per
    # text), what one sample of a .txt file is, and which CSV column holds the text (None: the longest).
    tokenizer: str = "bpe"
    vocab_size: int = 2000
    text_unit: str = "auto"
    text_column: str | None = None
    # Audio (audio:): clips of clip_seconds at sample_rate Hz, mixed to "mono" or "keep"ing the files'
    # channels; the log-mel settings are recorded in DataInfo.extra["audio"] for the backbones.
    sample_rate: int = 16000
    clip_seconds: float = 1.0
    audio_channels: str = "mono"
    n_mels: int = 64
    win_ms: float = 25.0
    hop_ms: float = 10.0
    _counts: bool = field(default=False, init=False, repr=False, compare=False)  # progress is a CountsFn

    def __post_init__(self) -> None:
        object.__setattr__(self, "_counts", _takes_counts(self.progress))
        self._check_table_options()
        if self.image_size is not None:
            size = self.image_size
            if (
                isinstance(size, bool)
                or not isinstance(size, int)
                or not (MIN_IMAGE_SIZE <= size <= MAX_IMAGE_SIZE)
            ):
                raise UserError(
                    f"data.image_size = {size!r} is out of range; use a whole number from "
                    f"{MIN_IMAGE_SIZE} to {MAX_IMAGE_SIZE}, or leave it empty to keep the source's size.",
                    field="data.image_size",
                )
        if self.channels is not None and self.channels not in SUPPORTED_CHANNELS:
            raise UserError(
                f"data.channels = {self.channels!r} is not supported; use 1 (grayscale) or 3 (colour), "
                "or leave it empty to keep the source's own.",
                field="data.channels",
            )

    def _check_table_options(self) -> None:
        for key in ("ignore_columns", "categorical"):
            object.__setattr__(self, key, _column_names(getattr(self, key), f"data.{key}"))
        for key in ("label_column", "id_column", "text_column"):
            value = getattr(self, key)
            if value is not None and not isinstance(value, str):
                raise UserError(
                    f"data.{key} = {value!r} is not a column name; give the column's name as text.",
                    field=f"data.{key}",
                )
            object.__setattr__(self, key, (value or "").strip() or None)
        schema = self.table_schema
        if schema is not None and not isinstance(schema, dict):
            if not hasattr(schema, "to_dict"):
                raise TypeError(f"table_schema must be a dict (TableSchema.to_dict()), not {type(schema)}")
            object.__setattr__(self, "table_schema", schema.to_dict())

    def report(self, phase: str, done: int, total: int) -> None:
        """`done` of `total` files of a phase ("scanning", "decoding") to the caller's progress callback."""
        if self._counts:
            self.progress(phase, done, total)
        else:
            report_count(self.progress, phase, done, total)


def _column_names(value: Any, field_name: str) -> tuple[str, ...]:
    """A list of column names as a tuple of stripped names; a single name is one column."""
    if value is None:
        return ()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        raise UserError(
            f"{field_name} = {value!r} is not a list of column names; give names as text, e.g. ['city', 'plan'].",
            field=field_name,
        )
    return tuple(v.strip() for v in value if v.strip())


def _takes_counts(progress: Callable[..., Any] | None) -> bool:
    """Whether a progress callback has the (phase, done, total) shape rather than (fraction, message)."""
    if progress is None:
        return False
    try:
        params = inspect.signature(progress).parameters.values()
    except (TypeError, ValueError):  # no signature to read (some builtins): the one ProgressFn shape
        return False
    kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    return sum(p.kind in kinds and p.default is p.empty for p in params) == 3


Opener = Callable[[str, str, OpenOptions], DataSource]  # (full spec, argument after "scheme:", options)


@dataclass(frozen=True)
class SourceKind:
    """Registry entry for one scheme of data spec, with what the GUI needs to offer it."""

    scheme: str
    title: str
    description: str  # one or two plain sentences
    example: str  # a complete spec a person could type
    argument: str  # what follows "scheme:" (e.g. "PATH"); "" when the kind takes none
    browse: str  # what a GUI picker should ask for: "folder", "file", "name" or "" (nothing)
    opener: Opener
    file_pattern: str = ""  # for browse == "file", e.g. "*.npz"
    choices: tuple[str, ...] = ()  # for browse == "name": the accepted names
    noun: str = ""  # what one source of this kind is, for names people read ("time series", "table")

    @property
    def usage(self) -> str:
        return f"{self.scheme}:{self.argument}" if self.argument else self.scheme

    def to_dict(self) -> dict[str, Any]:
        return {
            "scheme": self.scheme,
            "title": self.title,
            "description": self.description,
            "example": self.example,
            "usage": self.usage,
            "argument": self.argument,
            "browse": self.browse,
            "file_pattern": self.file_pattern,
            "choices": list(self.choices),
        }


def user_path(text: str) -> Path:
    """A path as a person typed it: `~` expanded, surrounding quotes and spaces removed."""
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        text = text[1:-1]
    return Path(text).expanduser()


def require_regular_file(path: Path, *, missing: str, folder: str, special: str) -> Path:
    """`path` when it is a regular file; otherwise a UserError naming it, with the advice given for each
    case: `missing` (no such path), `folder` (a directory) or `special` (a pipe, socket or device, which
    could block a reader forever)."""
    if not path.exists():
        raise UserError(f"{path} does not exist; {missing}", path=str(path))
    if path.is_dir():
        raise UserError(f"{path} is a folder; {folder}", path=str(path))
    if not path.is_file():
        raise UserError(
            f"{path} is not a regular file (it is a pipe, socket or device); {special}", path=str(path)
        )
    return path
