"""Reading text samples from a .txt file, a folder of .txt files or a CSV/TSV file, safely.

- Files are read in 1 MB chunks as strict UTF-8 (a byte-order mark is fine): another encoding is refused
  naming the file and the offset of the first bad byte, a NUL byte means a binary (or UTF-16) file.
- One sample is cut at MAX_SAMPLE_CHARS characters while reading, so one giant line costs one chunk of
  memory, not the line; the cut samples are counted.
- A .txt file holds one sample per line or per paragraph (lines between blank lines): `text_unit` "auto"
  takes paragraphs when blank lines separate multi-line blocks of a paragraph's size (see `_paragraphs_fit`).
  In a folder, "auto" takes each file as one sample (a review, an article, a message); "line" and
  "paragraph" split the files. Blank lines (as samples) are skipped and counted.
- A CSV/TSV has a header; the text column is `text_column` or the column with the longest texts, the label
  column is `label_column`, a column named label/class/category/target/y, or none ("none": none).
"""

from __future__ import annotations

import codecs
import difflib
import statistics
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from ssl_core.data.base import SkippedFile
from ssl_core.data.series import sorted_class_names
from ssl_core.data.table_read import size_limit
from ssl_core.errors import UserError

MAX_SAMPLE_CHARS = 20_000  # longer samples are cut while reading (no model reads that many tokens)
CHUNK_BYTES = 1 << 20
TEXT_UNITS = ("auto", "line", "paragraph", "file")
LABEL_NAMES = ("label", "class", "category", "target", "y", "labels")
TEXT_SUFFIXES = (".txt", ".text")
CSV_SUFFIXES = (".csv", ".tsv", ".tab")


@dataclass
class RawTexts:
    """Texts as read, with their class names (or None) and how they were read."""

    texts: list[str]
    labels: list[str] | None
    where: str  # the file or folder named in messages
    name: str
    unit: str  # "line", "paragraph", "file", "row" or "quote"
    format: str  # "txt", "folder", "csv" or "fortunes"
    notes: list[str] = field(default_factory=list)
    empty_skipped: int = 0
    truncated: int = 0  # samples cut at MAX_SAMPLE_CHARS
    text_column: str | None = None
    skipped: list[SkippedFile] = field(default_factory=list)


# ---- streaming UTF-8 lines ---------------------------------------------------------------------------


def _binary(path: Path, offset: int) -> UserError:
    return UserError(
        f"{path} is not text: it holds a NUL byte (at byte {offset:,}), so it is a binary file or UTF-16 "
        "text; give a UTF-8 text file (save it as UTF-8 if it is UTF-16).",
        path=str(path),
    )


def _not_utf8(path: Path, offset: int, byte: int) -> UserError:
    return UserError(
        f"{path} is not UTF-8 text: byte {offset:,} (0x{byte:02X}) is not valid UTF-8 (Latin-1 or Windows "
        f"text?); re-save the file as UTF-8, e.g. `iconv -f latin1 -t utf-8 {path.name} > utf8-{path.name}`.",
        path=str(path),
    )


def _unreadable(path: Path, exc: OSError) -> UserError:
    return UserError(
        f"{path} cannot be read ({exc.strerror or exc}); check that it exists and that you may read it.",
        path=str(path),
    )


def check_size(path: Path, memory_budget_mb: int | None) -> None:
    """Refuse a file above a quarter of the memory budget (texts are held in memory) before reading it."""
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise _unreadable(path, exc) from None
    limit = size_limit(memory_budget_mb)
    if size > limit:
        raise UserError(
            f"{path} is {size / 2**20:,.0f} MB, more than the {limit / 2**20:,.0f} MB a text file may be "
            "(texts are held in memory; the cap is a quarter of data.memory_budget_mb); take a part of it, "
            f"e.g. `head -n 100000 {path.name} > part.txt`, or raise data.memory_budget_mb.",
            path=str(path),
        )


def decoded_chunks(path: Path) -> Iterator[str]:
    """The file's text in pieces of about CHUNK_BYTES, checked as strict UTF-8 without NUL bytes."""
    decoder = codecs.getincrementaldecoder("utf-8-sig")(errors="strict")
    offset = 0  # of the chunk's first byte in the file
    try:
        with path.open("rb") as fh:
            while True:
                chunk = fh.read(CHUNK_BYTES)
                nul = chunk.find(b"\0")
                if nul >= 0:
                    raise _binary(path, offset + nul)
                pending = len(decoder.getstate()[0])  # bytes of a character split by the last chunk
                try:
                    text = decoder.decode(chunk, final=not chunk)
                except UnicodeDecodeError as exc:
                    at = offset - pending + exc.start
                    raise _not_utf8(path, at, exc.object[exc.start]) from None
                if text:
                    yield text
                if not chunk:
                    return
                offset += len(chunk)
    except OSError as exc:
        raise _unreadable(path, exc) from None


def read_lines(path: Path) -> tuple[list[str], int]:
    """(the file's lines without their ends, each cut at MAX_SAMPLE_CHARS; how many were cut)."""
    lines: list[str] = []
    carry, cut = "", 0  # the unfinished line (already cut when it grew too long)
    carry_cut = False
    for text in decoded_chunks(path):
        parts = text.split("\n")
        carry += parts[0][: max(0, MAX_SAMPLE_CHARS + 1 - len(carry))]
        if len(carry) > MAX_SAMPLE_CHARS:  # a giant line: keep its start, drop the rest as it streams by
            carry, carry_cut = carry[:MAX_SAMPLE_CHARS], True
        if len(parts) == 1:
            continue
        lines.append(carry)
        cut += carry_cut
        middle = parts[1:-1]
        long = [k for k, line in enumerate(middle) if len(line) > MAX_SAMPLE_CHARS]
        for k in long:
            middle[k] = middle[k][:MAX_SAMPLE_CHARS]
        lines += middle
        cut += len(long)
        carry, carry_cut = parts[-1][: MAX_SAMPLE_CHARS + 1], len(parts[-1]) > MAX_SAMPLE_CHARS
        carry = carry[:MAX_SAMPLE_CHARS]
    if carry:
        lines.append(carry)
        cut += carry_cut
    return [line[:-1] if line.endswith("\r") else line for line in lines], cut


# ---- lines -> samples ---------------------------------------------------------------------------------


def _blocks(lines: list[str]) -> list[list[str]]:
    blocks, block = [], []
    for line in lines:
        if line.strip():
            block.append(line.rstrip())
        elif block:
            blocks.append(block)
            block = []
    if block:
        blocks.append(block)
    return blocks


def _paragraphs_fit(blocks: list[list[str]]) -> bool:
    """Paragraphs when there are at least 3 blocks, a quarter of them or more multi-line, and a typical
    block is paragraph-sized (a stray blank line in a line-per-sample file leaves a few huge blocks)."""
    if len(blocks) < 3:
        return False
    multi = sum(1 for b in blocks if len(b) > 1)
    return multi * 4 >= len(blocks) and statistics.median(len(b) for b in blocks) <= 12


def split_samples(lines: list[str], unit: str) -> tuple[list[str], str, int]:
    """(samples, the unit used, blank lines skipped) for unit "auto", "line", "paragraph" or "file"."""
    if unit == "file":
        text = "\n".join(line.rstrip() for line in lines).strip()
        return ([text] if text else []), "file", 0 if text else 1
    blocks = _blocks(lines) if unit in ("auto", "paragraph") else []
    if unit == "paragraph" or (unit == "auto" and _paragraphs_fit(blocks)):
        return ["\n".join(b).strip() for b in blocks], "paragraph", 0
    samples = [line.strip() for line in lines]
    kept = [s for s in samples if s]
    return kept, "line", len(samples) - len(kept)


def unit_words(unit: str) -> str:
    return {
        "line": "one sample per line (data.text_unit = paragraph takes blank-line separated paragraphs)",
        "paragraph": "one sample per paragraph, between blank lines (data.text_unit = line takes lines)",
        "file": "one sample per file (data.text_unit = line or paragraph splits the files)",
        "row": "one sample per row",
        "quote": "one sample per quote",
    }[unit]


def read_txt(path: Path, unit: str) -> RawTexts:
    lines, cut = read_lines(path)
    samples, used, empty = split_samples(lines, unit)
    return RawTexts(samples, None, str(path), path.stem, used, "txt", empty_skipped=empty, truncated=cut)


# ---- a folder of .txt files ---------------------------------------------------------------------------


def read_folder(path: Path, unit: str, report: Callable[[str, int, int], None]) -> RawTexts:
    """.txt files in class subfolders (labelled; files at the top are skipped), or at the top (unlabelled)."""
    classes = sorted(p for p in path.iterdir() if p.is_dir() and not p.name.startswith("."))
    found = [(f, c.name) for c in classes for f in sorted(c.rglob("*")) if _is_text_file(f)]
    skipped = []
    if found:
        skipped = [
            SkippedFile(str(f), "not in a class subfolder")
            for f in sorted(path.iterdir())
            if _is_text_file(f)
        ]
    else:
        found = [(f, None) for f in sorted(path.iterdir()) if _is_text_file(f)]
    if not found:
        raise UserError(
            f"{path} holds no .txt files; put one text file per sample (or per class: a subfolder per class).",
            path=str(path),
        )
    used = "file" if unit == "auto" else unit
    texts, labels, empty, cut = [], [], 0, 0
    for i, (file, label) in enumerate(found):
        report("reading", i, len(found))
        lines, file_cut = read_lines(file)
        samples, _, file_empty = split_samples(lines, used)
        texts += samples
        labels += [label] * len(samples)
        empty, cut = empty + file_empty, cut + file_cut
    report("reading", len(found), len(found))
    notes = [f"{len(found):,} .txt file(s)" + (", labels from the subfolders" if found[0][1] else "")]
    return RawTexts(
        texts,
        labels if found[0][1] is not None else None,
        str(path),
        path.name,
        used,
        "folder",
        notes=notes,
        empty_skipped=empty,
        truncated=cut,
        skipped=skipped,
    )


def _is_text_file(path: Path) -> bool:
    return path.suffix.lower() in TEXT_SUFFIXES and path.is_file() and not path.name.startswith(".")


# ---- CSV / TSV -----------------------------------------------------------------------------------------


def _delimiter(path: Path, first_line: str) -> str:
    if path.suffix.lower() in (".tsv", ".tab"):
        return "\t"
    counts = {d: first_line.count(d) for d in (",", "\t", ";")}
    best = max(counts, key=counts.get)
    return best if counts[best] else ","


def _column(frame: pd.DataFrame, path: Path, name: str, setting: str) -> str:
    if name in frame.columns:
        return name
    lower = {c.lower(): c for c in frame.columns}
    if name.lower() in lower:
        return lower[name.lower()]
    shown = ", ".join(repr(c) for c in list(frame.columns)[:20])
    close = difflib.get_close_matches(name, [str(c) for c in frame.columns], n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    raise UserError(
        f"{path} has no column {name!r} (set by {setting}).{hint} Its columns are: {shown}; set {setting} "
        "to one of them, or leave it empty to have it inferred.",
        path=str(path),
    )


def _label_column(frame: pd.DataFrame, path: Path, label_column: str | None) -> str | None:
    if label_column is not None:
        return (
            None
            if label_column.lower() == "none"
            else _column(frame, path, label_column, "data.label_column")
        )
    lower = {str(c).strip().lower(): c for c in frame.columns}
    return next((lower[n] for n in LABEL_NAMES if n in lower), None)


def _longest_column(frame: pd.DataFrame, others: set[str], path: Path) -> str:
    candidates = [c for c in frame.columns if c not in others]
    if not candidates:
        raise UserError(f"{path} has no column left for the text besides the labels.", path=str(path))
    return max(candidates, key=lambda c: (frame[c].str.len().mean(), -list(frame.columns).index(c)))


def read_csv_texts(path: Path, text_column: str | None, label_column: str | None) -> RawTexts:
    """One sample per row of a CSV/TSV file with a header (text cells cut at MAX_SAMPLE_CHARS)."""
    first = ""
    for text in decoded_chunks(path):  # the whole file checked as UTF-8 without NUL, 1 MB at a time
        first = first or text.split("\n", 1)[0]
    try:
        frame = pd.read_csv(
            path,
            sep=_delimiter(path, first),
            dtype=str,
            keep_default_na=False,
            na_filter=False,
            encoding="utf-8-sig",
        )
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError) as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UserError(f"{path} cannot be read as CSV: {first_line}.", path=str(path)) from None
    frame.columns = [str(c).strip() for c in frame.columns]
    label = _label_column(frame, path, label_column)
    if text_column is not None:
        column = _column(frame, path, text_column, "data.text_column")
        how = f"text from the column {column!r}"
    else:
        column = _longest_column(frame, {label} if label else set(), path)
        how = f"text from the column {column!r} (the longest texts; data.text_column chooses another)"
    if label == column:
        raise UserError(
            f"{path}: the column {column!r} cannot be both the text and the label.", path=str(path)
        )
    cells = frame[column].str.strip()
    keep = cells.str.len() > 0
    texts = cells[keep].tolist()
    cut = sum(1 for t in texts if len(t) > MAX_SAMPLE_CHARS)
    texts = [t[:MAX_SAMPLE_CHARS] for t in texts] if cut else texts
    notes, labels = [how], None
    if label is not None:
        values = frame[label].str.strip()[keep]
        blank = values.index[values.str.len() == 0]
        if len(blank):
            raise UserError(
                f"{path}: the label column {label!r} is empty on data row {int(blank[0]) + 1:,}; give every row "
                "a label, or read without labels (data.label_column = 'none').",
                path=str(path),
            )
        labels = values.tolist()
        notes.append(f"labels from the column {label!r}")
    return RawTexts(
        texts,
        labels,
        str(path),
        path.stem,
        "row",
        "csv",
        notes=notes,
        empty_skipped=int((~keep).sum()),
        truncated=cut,
        text_column=column,
    )


def class_names_of(labels: list[str] | None) -> list[str]:
    return sorted_class_names(labels) if labels is not None else []
