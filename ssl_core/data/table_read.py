"""Reading a table file (CSV, TSV, gzip-compressed or not) into a pandas DataFrame, safely.

- The size is checked before anything is read: a table is read whole into memory, and parsing text into
  columns takes several times the file's size, so a file may be at most a quarter of data.memory_budget_mb
  (512 MB with the default 2,048 MB; never less than 64 MB). A .gz file is checked by its stored
  uncompressed size, then decompressed with that cap.
- The first megabyte decides the rest: binary files (NUL bytes, Excel workbooks) are refused, the text is
  UTF-8 (a byte-order mark is fine) or else read as Latin-1 with a note, the delimiter is a tab for .tsv
  files, otherwise the most frequent of ',', tab and ';' in the first line (runs of spaces for .txt files
  without any), and the first row is the header unless every cell of it is a number.
- Column names are the header's, stripped; an empty one becomes "column N"; a name given twice is refused.
- Empty cells, '?', 'NA', 'N/A', 'NaN', 'null' and 'None' (any case) are missing values.
What each column *is* is decided later (ssl_core/data/table_infer.py).
"""

from __future__ import annotations

import csv
import gzip
import io
import re
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from ssl_core.errors import UserError

TABLE_SUFFIXES = (".csv", ".tsv", ".txt", ".tab", ".csv.gz", ".tsv.gz", ".txt.gz", ".tab.gz")
_MISSING_WORDS = ("", "?", "na", "n/a", "nan", "-nan", "null", "none", "#n/a", "<na>")
MISSING_TOKENS = tuple(
    sorted({v for w in _MISSING_WORDS for v in (w, w.upper(), w.title())} | {"NaN", "-NaN"})
)
PEEK_BYTES = 1 << 20  # the header (and the delimiter, encoding and binary checks) come from this much
MAX_COLUMNS = 20_000
MIN_LIMIT_MB = 64
DEFAULT_BUDGET_MB = 2048
SAMPLE_ROWS = 100_000
_MAX_DEFLATE_RATIO = 1032
_LATIN_1 = "the file is not UTF-8 text: read as Latin-1 (save it as UTF-8 if letters look wrong)"
_BINARY_MAGIC = {
    b"PK\x03\x04": "a zip archive or Excel workbook",
    b"\xd0\xcf\x11\xe0": "an Excel workbook",
    b"\x1f\x8b": "gzip-compressed (name it .csv.gz to read it)",
}


@dataclass
class RawTable:
    """A table as read: its columns by name (pandas' own dtypes), before any column is interpreted."""

    frame: pd.DataFrame
    where: str  # the file named in messages
    name: str
    notes: list[str] = field(default_factory=list)
    unnamed: frozenset[str] = frozenset()  # names given to columns whose header cell was empty
    class_names: list[str] | None = None  # the label's classes in a declared order (bundled sets)
    label_column: str | None = None  # the label column a bundled set declares


def table_suffix(path: Path) -> str:
    """'.csv', '.tsv.gz', ...: the suffix that says how a table file is read ('' when none fits)."""
    name = path.name.lower()
    return next((s for s in sorted(TABLE_SUFFIXES, key=len, reverse=True) if name.endswith(s)), "")


def size_limit(memory_budget_mb: int | None) -> int:
    """The largest table file (bytes, uncompressed) read: a quarter of the memory budget, at least 64 MB."""
    budget = DEFAULT_BUDGET_MB if memory_budget_mb is None else int(memory_budget_mb)
    return max(MIN_LIMIT_MB, budget // 4) << 20


def _mb(n: int) -> str:
    return f"{n / 2**30:.1f} GB" if n >= 2**30 else f"{n / 2**20:,.0f} MB"


def _too_big(path: Path, size: int, limit: int, budget_mb: int | None, gz: bool) -> UserError:
    budget = DEFAULT_BUDGET_MB if budget_mb is None else budget_mb
    take = (
        f"zcat {path.name} | head -n {SAMPLE_ROWS + 1:,}"
        if gz
        else f"head -n {SAMPLE_ROWS + 1:,} {path.name}"
    )
    take = take.replace(",", "")
    what = "decompresses to" if gz else "is"
    return UserError(
        f"{path} {what} {_mb(size)}, more than the {_mb(limit)} a table file may be (tables are read whole "
        f"into memory; the cap is a quarter of data.memory_budget_mb = {budget:,} MB); take a sample of its "
        f"rows, e.g. `{take} > sample.csv` (the header and {SAMPLE_ROWS:,} rows), or raise "
        "data.memory_budget_mb if this machine has the memory.",
        path=str(path),
    )


def _unreadable(path: Path, exc: OSError) -> UserError:
    return UserError(
        f"{path} cannot be read ({exc.strerror or exc}); check that the file exists and that you may read it.",
        path=str(path),
    )


def _gz_stored_size(path: Path, size: int) -> int:
    """The uncompressed size a gzip file records in its last 4 bytes (modulo 4 GB); 0 when unknown or not
    believable (deflate shrinks at most ~1,032 times: a truncated file ends in arbitrary bytes)."""
    with path.open("rb") as fh:
        if fh.read(2) != b"\x1f\x8b" or size < 18:
            return 0
        fh.seek(-4, io.SEEK_END)
        stored = int.from_bytes(fh.read(4), "little")
    return stored if stored <= size * _MAX_DEFLATE_RATIO else 0


def _load_bytes(path: Path, limit: int, budget_mb: int | None) -> tuple[bytes | None, bytes]:
    """(the whole decompressed text for .gz files, else None; the first PEEK_BYTES bytes)."""
    gz = table_suffix(path).endswith(".gz")
    try:
        size = path.stat().st_size
        if size > limit:
            raise _too_big(path, size, limit, budget_mb, gz)
        if not gz:
            with path.open("rb") as fh:
                return None, fh.read(PEEK_BYTES)
        stored = _gz_stored_size(path, size)
        if stored > limit:
            raise _too_big(path, stored, limit, budget_mb, gz)
        with gzip.open(path, "rb") as fh:
            data = fh.read(limit + 1)
    except OSError as exc:
        if isinstance(exc, gzip.BadGzipFile):
            raise UserError(
                f"{path} is not a gzip file ({exc}); name it without .gz if it is plain text, or compress "
                "it again with gzip.",
                path=str(path),
            ) from None
        raise _unreadable(path, exc) from None
    except (EOFError, zlib.error) as exc:
        raise UserError(
            f"{path} is a damaged gzip file ({exc}); compress the table again with gzip.", path=str(path)
        ) from None
    if len(data) > limit:
        raise _too_big(path, len(data), limit, budget_mb, gz)
    return data, data[:PEEK_BYTES]


def _decode_head(path: Path, head: bytes, notes: list[str]) -> tuple[str, str]:
    """(the first bytes as text, the encoding to read the file with); binary files are refused."""
    for magic, what in _BINARY_MAGIC.items():
        if head.startswith(magic):
            raise UserError(
                f"{path} is {what}, not CSV/TSV text; save the table as CSV (comma-separated values).",
                path=str(path),
            )
    if b"\0" in head:
        raise UserError(
            f"{path} is a binary file, not CSV/TSV text; save the table as comma- or tab-separated text.",
            path=str(path),
        )
    try:
        return head.decode("utf-8-sig"), "utf-8-sig"
    except UnicodeDecodeError as exc:
        if len(head) == PEEK_BYTES and exc.start >= len(head) - 3:  # a character cut by the peek
            return head[: exc.start].decode("utf-8-sig"), "utf-8-sig"
        notes.append(_LATIN_1)
        return head.decode("latin-1"), "latin-1"


def _separator(path: Path, first_line: str) -> str:
    suffix = table_suffix(path)
    if suffix.startswith((".tsv", ".tab")):
        return "\t"
    counts = {d: first_line.count(d) for d in (",", "\t", ";")}
    best = max(counts, key=lambda d: counts[d])
    if counts[best]:
        return best
    if suffix.startswith(".txt") and len(first_line.split()) > 1:
        return r"\s+"
    return ","


def _first_row(path: Path, text: str, sep: str) -> list[str]:
    if sep == r"\s+":
        return next(ln for ln in text.splitlines() if ln.strip()).split()
    try:
        for row in csv.reader(io.StringIO(text, newline=""), delimiter=sep):
            if any(cell.strip() for cell in row):
                return row
    except csv.Error as exc:
        raise UserError(f"{path}: the first row is not valid CSV ({exc}).", path=str(path)) from None
    return []


def _is_number(cell: str) -> bool:
    cell = cell.strip()
    if cell in MISSING_TOKENS:
        return True
    try:
        float(cell)
    except ValueError:
        return False
    return True


def _column_names(path: Path, row: list[str], notes: list[str]) -> tuple[bool, list[str], frozenset[str]]:
    """(whether the first row is a header, the column names, those made up for empty header cells)."""
    if len(row) > MAX_COLUMNS:
        raise UserError(
            f"{path} has {len(row):,} columns, more than the {MAX_COLUMNS:,} a table may have; keep the "
            "columns that matter (e.g. with `cut -d, -f1-1000`), or reduce them (e.g. PCA) first.",
            path=str(path),
        )
    if all(_is_number(cell) for cell in row):
        names = [f"column {j + 1}" for j in range(len(row))]
        notes.append(
            f"no header row: the columns are named 'column 1' to 'column {len(row)}' (name the label with "
            f"data.label_column = 'column {len(row)}', for example)"
        )
        return False, names, frozenset()
    names, unnamed, seen = [], set(), {}
    for j, cell in enumerate(row):
        name = cell.strip()
        if not name:
            name = f"column {j + 1}"
            unnamed.add(name)
        if name in seen:
            raise UserError(
                f"{path}: the column name {name!r} appears twice (columns {seen[name] + 1} and {j + 1}); give "
                "every column its own name in the header row.",
                path=str(path),
            )
        seen[name] = j
        names.append(name)
    return True, names, frozenset(unnamed)


@dataclass(frozen=True)
class _Layout:
    """How the file's text is laid out: what pandas needs to read it."""

    sep: str
    header: bool
    names: list[str]
    encoding: str
    decimal: str = "."


_DECIMAL_COMMA = re.compile(r"(?<![\d,.])-?\d+,\d+(?![\d,.])")
_DECIMAL_POINT = re.compile(r"\d\.\d")


def _decimal(sep: str, text: str) -> str:
    """',' for semicolon-separated files that write numbers with decimal commas (1,5), else '.'."""
    if sep != ";":
        return "."
    body = text.split("\n", 1)[-1][:PEEK_BYTES]
    return "," if _DECIMAL_COMMA.search(body) and not _DECIMAL_POINT.search(body) else "."


def _parse(source, layout: _Layout, encoding: str) -> pd.DataFrame:
    return pd.read_csv(
        source,
        sep=layout.sep,
        header=0 if layout.header else None,
        names=layout.names,
        index_col=False,
        keep_default_na=False,
        na_values=list(MISSING_TOKENS),
        skipinitialspace=layout.sep != r"\s+",
        skip_blank_lines=True,
        encoding=encoding,
        decimal=layout.decimal,
        low_memory=False,
        engine="c",
    )


_FIELDS = re.compile(r"Expected (\d+) fields in line (\d+), saw (\d+)")


def _read_frame(data: bytes | None, path: Path, layout: _Layout, notes: list[str]) -> pd.DataFrame:
    def source():
        return io.BytesIO(data) if data is not None else path

    try:
        try:
            return _parse(source(), layout, layout.encoding)
        except UnicodeDecodeError:
            notes.append(_LATIN_1)
            return _parse(source(), layout, "latin-1")
    except pd.errors.EmptyDataError:
        return pd.DataFrame(columns=layout.names)
    except pd.errors.ParserError as exc:
        found = _FIELDS.search(str(exc))
        if found:
            want, line, saw = found.groups()
            raise UserError(
                f"{path}, line {line}: {saw} fields but the header has {want}; every row needs the same "
                "columns (quote text that holds the delimiter).",
                path=str(path),
            ) from None
        raise UserError(f"{path}: not valid CSV ({str(exc).strip()}).", path=str(path)) from None
    except MemoryError:
        raise UserError(
            f"{path} does not fit in memory once parsed; take a sample of its rows (e.g. `head -n "
            f"{SAMPLE_ROWS + 1} {path.name} > sample.csv`).",
            path=str(path),
        ) from None
    except OSError as exc:
        raise _unreadable(path, exc) from None


def read_table_file(path: Path, *, memory_budget_mb: int | None = None) -> RawTable:
    """Read a CSV/TSV (maybe .gz) table: header, delimiter and encoding found, size capped before reading."""
    limit = size_limit(memory_budget_mb)
    data, head = _load_bytes(path, limit, memory_budget_mb)
    notes: list[str] = []
    text, encoding = _decode_head(path, head, notes)
    lines = (ln for ln in text.splitlines() if ln.strip())
    first_line = next(lines, None)
    if first_line is None:
        raise UserError(
            f"{path} is empty; a table needs a header row naming the columns and one row per sample.",
            path=str(path),
        )
    if len(head) == PEEK_BYTES and "\n" not in text.lstrip("\r\n"):
        raise UserError(
            f"{path}: the first row is longer than {PEEK_BYTES // 2**20} MB (more columns than a table may "
            f"have, at most {MAX_COLUMNS:,}), or the file is not a table; keep the columns that matter.",
            path=str(path),
        )
    sep = _separator(path, first_line)
    header, names, unnamed = _column_names(path, _first_row(path, text, sep), notes)
    layout = _Layout(sep, header, names, encoding, _decimal(sep, text))
    if layout.decimal == ",":
        notes.append("semicolon-separated with decimal commas (1,5): read as decimal numbers")
    frame = _read_frame(data, path, layout, notes)
    if len(frame) == 0:
        raise UserError(
            f"{path} has a header but no rows of data; add one row per sample below the header.",
            path=str(path),
        )
    if sep == r"\s+":
        notes.append("columns separated by spaces")
    return RawTable(frame=frame, where=str(path), name=_stem(path), notes=notes, unnamed=unnamed)


def _stem(path: Path) -> str:
    suffix = table_suffix(path)
    return path.name[: -len(suffix)] if suffix else path.stem
