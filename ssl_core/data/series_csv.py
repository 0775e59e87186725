"""Time series in CSV/TSV files, in one of two layouts (read with the stdlib csv module and NumPy).

Wide layout: one row per series; every numeric column is a time step.

    label,t0,t1,t2,t3            label (or class, or y) is the optional class column; any place
    walk,0.1,0.3,0.2,0.5
    run,1.2,0.9,,               a shorter series ends with empty fields (the columns stay aligned)

- The first row is a header when any of its cells is not a number; without a header every column is a
  time step unless `label=N` names the label's column by number (UCR .tsv files: `label=1`).
- Empty cells, '?', 'NA' and 'NaN' are missing values; missing cells at the end of a row make the series
  shorter, missing cells inside it are gaps (refused, or imputed with data.missing=impute).
- Every row has the header's number of fields; extra fields are allowed only when empty (a trailing
  delimiter). Text in a time-step column is refused with its line, column and value.

Long layout: one row per time step, chosen when a column is named id, series_id or series and some id
appears on more than one row (when every id appears once, the rows are named series in the wide layout).

    id,time,x,y,z,label          id: which series the row belongs to (any text)
    a,0,0.1,0.5,0.2,walk         time (or t, timestamp, step): optional; orders the steps of a series
    a,1,0.2,0.4,0.1,walk         (numbers, or text that sorts in time order such as ISO dates)
    b,0,1.0,0.9,0.7,run          every other column is a channel; label is constant within a series

Options go after the path, separated by ':' (see series_source): `label=COLUMN` (a name, or a 1-based
column number; `label=none` reads no labels), `layout=wide|long`, `id=COLUMN`, `time=COLUMN`.
The delimiter is a tab for .tsv/.tab files; otherwise the most frequent of ',', ';' and tab in the first
line.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ssl_core.data.numbers import parse_numbers
from ssl_core.data.series import RawSeries, sorted_class_names
from ssl_core.errors import UserError

LABEL_NAMES = ("label", "class", "y")
ID_NAMES = ("id", "series_id", "series")
TIME_NAMES = ("time", "t", "timestamp", "step")
MISSING_TOKENS = frozenset({"", "?", "na", "nan", "n/a", "null", "none"})
INDEX_NAMES = ("", "unnamed: 0")  # the unnamed row-index column pandas writes by default
_LABEL_HINT = " If that column holds the class, name it 'label' or add :label=COLUMN to the spec."


@dataclass(frozen=True)
class TableOptions:
    label: str | None = None  # a column name or 1-based number; "none": no labels; None: by name
    layout: str = "auto"  # "auto", "wide" or "long"
    id: str | None = None
    time: str | None = None


@dataclass
class _Table:
    path: Path
    header: list[str] | None
    rows: list[list[str]]
    lines: list[int]  # the line number of each row

    def fail(self, line: int, message: str) -> UserError:
        return UserError(f"{self.path}, line {line}: {message}", path=str(self.path))

    def column_name(self, j: int) -> str:
        return f"column {j + 1} ({self.header[j]!r})" if self.header else f"column {j + 1}"


# ---- reading the text -------------------------------------------------------------------------------
def _text(path: Path) -> str:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise UserError(f"{path} cannot be read ({exc.strerror or exc}).", path=str(path)) from None
    if b"\0" in raw[:65536]:
        raise UserError(
            f"{path} is a binary file, not CSV/TSV text; save the series as comma- or tab-separated text.",
            path=str(path),
        )
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise UserError(
            f"{path}, line {line} (byte {exc.start:,}): not UTF-8 text; save the file as UTF-8 CSV.",
            path=str(path),
        ) from None


def _delimiter(path: Path, text: str) -> str:
    if path.suffix.lower() in (".tsv", ".tab"):
        return "\t"
    first = next((ln for ln in text.splitlines() if ln.strip()), "")
    counts = {d: first.count(d) for d in (",", "\t", ";")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return cell.strip().lower() in MISSING_TOKENS
    return True


def _read_table(path: Path) -> _Table:
    text = _text(path)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(path, text))
    rows, lines = [], []
    try:
        for row in reader:
            if not any(cell.strip() for cell in row) or row[0].lstrip().startswith("#"):
                continue  # blank lines and comment lines
            rows.append(row)
            lines.append(reader.line_num)
    except csv.Error as exc:
        raise UserError(f"{path}, line {reader.line_num}: not valid CSV ({exc}).", path=str(path)) from None
    if not rows:
        raise UserError(
            f"{path} is empty; it needs one row per series (wide) or one row per time step (long).",
            path=str(path),
        )
    header = None
    if not all(_is_number(cell) for cell in rows[0]):
        header = [cell.strip() for cell in rows[0]]
        while header and header[-1] == "":  # a trailing delimiter on the header line
            header.pop()
        rows, lines = rows[1:], lines[1:]
    return _Table(path, header, rows, lines)


# ---- columns ----------------------------------------------------------------------------------------
def _find(table: _Table, wanted: str | None, defaults: tuple[str, ...], what: str) -> int | None:
    """The index of a column named (or numbered) `wanted`, else of the first default name present."""
    names = [h.lower() for h in table.header] if table.header else []
    if wanted is not None:
        if wanted.lower() in names:
            return names.index(wanted.lower())
        width = len(table.header) if table.header else max(len(r) for r in table.rows) if table.rows else 0
        if wanted.isascii() and wanted.isdigit() and 1 <= int(wanted) <= width:
            return int(wanted) - 1
        shown = ", ".join(repr(h) for h in table.header) if table.header else "none (no header row)"
        raise UserError(
            f"{table.path}: there is no column {wanted!r} for the {what}; the columns are {shown}. Give a column "
            "name, or a column number counting from 1.",
            path=str(table.path),
        )
    return next((names.index(d) for d in defaults if d in names), None)


def _width(table: _Table, row: list[str], line: int, width: int) -> list[str]:
    """The row cut to `width` fields: extra fields must be empty; fewer fields are refused."""
    if len(row) > width:
        if any(cell.strip() for cell in row[width:]):
            raise table.fail(
                line,
                f"{len(row)} fields but the {'header has' if table.header else 'first row has'} {width}; "
                "every row needs the same columns.",
            )
        return row[:width]
    if len(row) < width:
        raise table.fail(
            line,
            f"{len(row)} fields but the {'header has' if table.header else 'first row has'} {width}; a "
            "shorter series keeps its delimiters (empty fields at the end, e.g. 1,2,3,,) so the columns "
            "stay aligned.",
        )
    return row


def _floats(table: _Table, cells: list[str], columns: list[int], line: int, hint: str = "") -> np.ndarray:
    """The cells as float64, missing tokens as NaN; text is refused naming line, column and value."""

    def bad_value(k: int, cell: str) -> UserError:
        return table.fail(
            line,
            f"{table.column_name(columns[k])} holds {cell.strip()!r}, which is not a number; time-series "
            f"values must be numbers (leave a cell empty for a missing value).{hint}",
        )

    return parse_numbers(cells, MISSING_TOKENS, bad_value)


def _label_cell(table: _Table, row: list[str], j: int, line: int) -> str:
    label = row[j].strip()
    if not label:
        raise table.fail(
            line,
            f"the label ({table.column_name(j)}) is empty; give every series a label, or read without "
            "labels (:label=none).",
        )
    return label


# ---- the two layouts ------------------------------------------------------------------------------
def _wide(table: _Table, label_col: int | None, name_col: int | None = None) -> RawSeries:
    width = len(table.header) if table.header else len(table.rows[0])
    index_col = 0 if table.header and table.header[0].lower() in INDEX_NAMES and label_col != 0 else None
    columns = [j for j in range(width) if j not in (label_col, index_col, name_col)]
    if not columns:
        raise UserError(
            f"{table.path}: no time-step columns besides the label and names; add one column per time step.",
            path=str(table.path),
        )
    series, labels, origins = [], [], []
    shortened = 0
    hint = "" if label_col is not None else _LABEL_HINT
    for row, line in zip(table.rows, table.lines, strict=True):
        row = _width(table, row, line, width)
        if label_col is not None:
            labels.append(_label_cell(table, row, label_col, line))
        cells = [row[j] for j in columns]
        # Missing cells at the end make a shorter series (how unequal lengths are written in a table).
        end = len(cells)
        while end and cells[end - 1].strip().lower() in MISSING_TOKENS:
            end -= 1
        if end == 0:
            raise table.fail(line, "the row has no values.")
        shortened += end < len(cells)
        values = _floats(table, cells[:end], columns[:end], line, hint)
        series.append(values[None, :])
        origins.append(f"line {line}")
    notes = [f"wide layout: one row per series, {len(columns):,} time-step columns"]
    if table.header is None:
        notes.append(
            "no header row: every column read as a time step"
            + ("" if label_col is None else f" except column {label_col + 1}, the label")
        )
        if label_col is None:
            notes[-1] += " (if the first column is the class, as in UCR .tsv files, add :label=1)"
    elif label_col is not None:
        notes.append(f"labels from column {table.header[label_col]!r}")
    if index_col is not None:
        notes.append("the first, unnamed column was read as a row index and skipped")
    if name_col is not None:
        notes.append(
            f"{table.column_name(name_col)} names the series (one row each): read as the wide layout; use "
            ":layout=long if each row is one time step"
        )
    if shortened:
        notes.append(f"{shortened:,} row(s) end with empty cells: read as shorter series")
    return RawSeries(
        series=series,
        where=str(table.path),
        name=table.path.stem,
        labels=labels if label_col is not None else None,
        class_names=sorted_class_names(labels) if label_col is not None else None,
        origins=origins,
        notes=notes,
    )


def _time_order(table: _Table, times: list[str], lines: list[int], name: str) -> np.ndarray:
    """The order of one series' rows by time: numerically when every time is a number, else as text."""
    try:
        keys: np.ndarray = np.array(times, dtype=np.float64)
    except ValueError:
        keys = np.array(times, dtype=object)
    order = np.argsort(keys, kind="stable")
    ordered = keys[order]
    same = np.flatnonzero(ordered[1:] == ordered[:-1])
    if same.size:
        a, b = sorted((lines[order[same[0]]], lines[order[same[0] + 1]]))
        raise table.fail(
            b,
            f"series {name!r} has the time {times[order[same[0]]]!r} twice (lines {a} and {b}); "
            "each time step appears once per series.",
        )
    return order


def _long(table: _Table, options: TableOptions, label_col: int | None) -> RawSeries:
    if table.header is None:
        raise UserError(
            f"{table.path}: the long layout needs a header row naming the id column; add one "
            "(e.g. id,time,x,y,label).",
            path=str(table.path),
        )
    width = len(table.header)
    id_col = _find(table, options.id, ID_NAMES, "series id")
    if id_col is None:
        raise UserError(
            f"{table.path}: the long layout needs an id column (named id, series_id or series, or chosen with "
            f":id=COLUMN); the columns are {', '.join(repr(h) for h in table.header)}.",
            path=str(table.path),
        )
    time_col = _find(table, options.time, TIME_NAMES, "time")
    used = {id_col, time_col, label_col}
    channels = [j for j in range(width) if j not in used]
    if not channels:
        raise UserError(
            f"{table.path}: no value columns besides id, time and label; add one column per channel.",
            path=str(table.path),
        )
    groups: dict[str, list[int]] = {}
    for i, (row, line) in enumerate(zip(table.rows, table.lines, strict=True)):
        row = _width(table, row, line, width)
        table.rows[i] = row
        key = row[id_col].strip()
        if not key:
            raise table.fail(line, f"the id ({table.column_name(id_col)}) is empty; every row needs one.")
        groups.setdefault(key, []).append(i)
    hint = "" if label_col is not None else _LABEL_HINT
    cells = [[row[j] for j in channels] for row in table.rows]
    try:
        matrix = np.array(cells, dtype=np.float64)  # every value at once; row by row only to find a mistake
    except ValueError:
        matrix = np.stack(
            [_floats(table, c, channels, line, hint) for c, line in zip(cells, table.lines, strict=True)]
        )
    series, labels, origins = [], [], []
    for key, members in groups.items():
        lines = [table.lines[i] for i in members]
        if time_col is not None:
            order = _time_order(table, [table.rows[i][time_col].strip() for i in members], lines, key)
            members = [members[k] for k in order]
            lines = [lines[k] for k in order]
        values = matrix[members].T
        if label_col is not None:
            first = _label_cell(table, table.rows[members[0]], label_col, lines[0])
            for i, line in zip(members, lines, strict=True):
                other = _label_cell(table, table.rows[i], label_col, line)
                if other != first:
                    raise table.fail(
                        line,
                        f"series {key!r} changes label from {first!r} (line {lines[0]}) to {other!r}; a series "
                        "has one label.",
                    )
            labels.append(first)
        series.append(values)
        origins.append(f"id {key!r}, from line {min(lines)}")
    names = [table.header[j] for j in channels]
    notes = [
        f"long layout: one row per time step, grouped by {table.header[id_col]!r}"
        + (f", ordered by {table.header[time_col]!r}" if time_col is not None else ", in file order")
    ]
    if label_col is not None:
        notes.append(f"labels from column {table.header[label_col]!r}")
    return RawSeries(
        series=series,
        where=str(table.path),
        name=table.path.stem,
        labels=labels if label_col is not None else None,
        class_names=sorted_class_names(labels) if label_col is not None else None,
        channel_names=names,
        origins=origins,
        notes=notes,
    )


def read_table_series(path: Path, options: TableOptions | None = None) -> RawSeries:
    """Parse a CSV/TSV file of time series (wide or long layout, see the module docstring)."""
    options = options or TableOptions()
    if options.layout not in ("auto", "wide", "long"):
        raise UserError(
            f"layout={options.layout!r} is not a layout; use layout=wide (one row per series) or layout=long "
            "(one row per time step with an id column).",
            field="data.spec",
        )
    table = _read_table(path)
    if not table.rows:
        raise UserError(f"{path} has a header but no rows of data.", path=str(path))
    no_labels = options.label is not None and options.label.lower() == "none"
    label_col = None if no_labels else _find(table, options.label, LABEL_NAMES, "label")
    if options.layout == "long":
        return _long(table, options, label_col)
    id_col = _find(table, options.id, ID_NAMES, "series id")
    if options.layout == "wide" or id_col is None:
        return _wide(table, label_col, name_col=id_col)
    if options.id is not None:
        return _long(table, options, label_col)
    ids = [row[id_col].strip() if id_col < len(row) else "" for row in table.rows]
    if len(set(ids)) == len(ids):  # one row per id: a wide table whose rows are named, not a long one
        return _wide(table, label_col, name_col=id_col)
    return _long(table, options, label_col)
