"""Where an audio set's labels come from: class subfolders, file-name prefixes, or a CSV of path,label rows."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path

import torch

from ssl_core.data.base import SkippedFile
from ssl_core.data.spec import user_path
from ssl_core.errors import UserError

_PATH_COLUMNS = ("path", "file", "filename", "file_name", "audio", "wav")
_LABEL_COLUMNS = ("label", "class", "category", "target", "y")


def name_prefix(name: str) -> str | None:
    """The text before the first '_' or '-' of a file's name (without suffix), or None."""
    stem = Path(name).stem
    cut = min((i for i in (stem.find("_"), stem.find("-")) if i > 0), default=-1)
    return stem[:cut].lower() if cut > 0 else None


def prefix_labels(names: Sequence[str]) -> list[str] | None:
    """Each file's name prefix, when every file has one and they make >= 2 classes of ~2+ files each."""
    prefixes = [name_prefix(Path(n).name) for n in names]
    if any(p is None for p in prefixes):
        return None
    distinct = len(set(prefixes))
    if distinct < 2 or distinct > len(prefixes) // 2:
        return None
    return prefixes  # type: ignore[return-value]


def folder_labels(relative: Sequence[str]) -> tuple[list[str | None], bool]:
    """The first folder below the root of each file (None for files in the root), and whether
    there are two or more such folders (the layout then gives the labels)."""
    tops = [r.split("/", 1)[0] if "/" in r else None for r in relative]
    return tops, len({t for t in tops if t is not None}) >= 2


def codes(names: Sequence[str]) -> tuple[torch.Tensor, list[str]]:
    """Names -> (int64 codes, sorted distinct names)."""
    classes = sorted(set(names))
    position = {c: k for k, c in enumerate(classes)}
    return torch.tensor([position[n] for n in names], dtype=torch.long), classes


def read_label_csv(path: Path) -> tuple[list[str], list[str | None], list[SkippedFile]]:
    """(audio paths, their labels (None where empty), rows skipped) of a path,label CSV."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"{path}: cannot be read as a UTF-8 CSV ({exc}).", path=str(path)) from exc
    dialect = "excel-tab" if path.suffix.lower() == ".tsv" else "excel"
    reader = csv.reader(text.splitlines(), dialect=dialect)
    numbered = [(n, r) for n, r in enumerate(reader, start=1) if any(c.strip() for c in r)]
    if not numbered:
        raise UserError(f"{path} is empty; write one 'path,label' row per sound file.", path=str(path))
    head = [c.strip().lower() for c in numbered[0][1]]
    path_col, label_col = 0, 1
    if any(c in _PATH_COLUMNS for c in head):
        path_col = next(i for i, c in enumerate(head) if c in _PATH_COLUMNS)
        label_col = next((i for i, c in enumerate(head) if c in _LABEL_COLUMNS), None)
        numbered = numbered[1:]
    base = path.parent
    paths, labels, skipped = [], [], []
    for n, row in numbered:
        if path_col >= len(row) or not row[path_col].strip():
            skipped.append(SkippedFile(f"{path} line {n}", "has no file path"))
            continue
        target = user_path(row[path_col])
        target = target if target.is_absolute() else base / target
        if not target.is_file():
            skipped.append(SkippedFile(str(target), f"listed in {path.name} line {n} but not found"))
            continue
        paths.append(str(target))
        value = row[label_col].strip() if label_col is not None and label_col < len(row) else ""
        labels.append(value or None)
    return paths, labels, skipped
