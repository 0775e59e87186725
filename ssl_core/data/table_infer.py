"""Deciding what each column of a table is: a feature (numeric, boolean, categorical) or not (the label,
a row identifier, a constant, a column left out), with the user's overrides.

The label column is data.label_column (`'none'`: no labels), else the first column named label, class,
target, y or anomaly (any case) that can hold classes. The other columns, in order:
- data.ignore_columns: left out; data.id_column: the row id (kept for scoring output, not a feature);
- a column with one value (or none) is constant: left out, with a note;
- data.categorical: categorical, whatever its values look like;
- two values that read as yes/no (0/1, true/false, yes/no, y/n, t/f, any case): boolean;
- numbers: numeric, unless whole numbers that are all different in a column named like an id (id,
  row_id, index, customer_id, CustomerId, ...) or an unnamed column counting rows (a saved index):
  identifier-like;
- text: categorical (categories sorted as text), unless every value is different (at least 10 rows, or a
  column named like an id): identifier-like. A column that mixes numbers and text is read as
  categorical, with a note naming a text value, since a stray word most often marks a value that is
  unknown (fix or empty those cells to keep the column numeric).
The first identifier-like column becomes the row id when data.id_column is not given.

With a run's stored schema (`schema_for_file`), nothing is inferred: the schema's feature columns must all
be in the file; its label and id columns are used when present; any other column is ignored (noted).
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from ssl_core.data.spec import OpenOptions
from ssl_core.data.table_encode import FALSE_TOKENS, TRUE_TOKENS, column_text, is_number_column
from ssl_core.data.table_read import RawTable
from ssl_core.data.table_schema import DroppedColumn, TableColumn, TableSchema
from ssl_core.errors import UserError

LABEL_NAMES = ("label", "class", "target", "y", "anomaly")
ID_NAMES = frozenset({"id", "row_id", "rowid", "row", "index", "idx", "key", "uuid", "guid", "record_id"})
NO_LABEL = "none"
MIN_ROWS_TEXT_ID = 10  # fewer rows of all-different text are more likely categories than ids
MANY_CATEGORIES = 1000  # more categories than this earns a note (free text?)
MAX_CLASSES = 1000
_BLOCK_CELLS = 4_000_000  # numeric columns are examined this many cells at a time
_NAMES_SHOWN = 20


@dataclass(frozen=True)
class TableOverrides:
    """The user's say over the columns (config data.label_column, id_column, ignore_columns, categorical)."""

    label_column: str | None = None
    id_column: str | None = None
    ignore_columns: tuple[str, ...] = ()
    categorical: tuple[str, ...] = ()

    @classmethod
    def of(cls, options: OpenOptions) -> TableOverrides:
        return cls(options.label_column, options.id_column, options.ignore_columns, options.categorical)


@dataclass
class _Facts:
    """What one column holds, as far as choosing its kind needs."""

    dtype: str  # "bool", "number" or "text"
    distinct: int  # numbers: 0, 1, 2, or 3 for "3 or more" (counting them all needs a sort)
    missing: int
    integer: bool = False  # numbers: all whole
    increasing: bool = False  # numbers: strictly increasing down the rows
    categories: tuple[str, ...] = ()  # text: the distinct values, sorted
    numbers: int = 0  # text: cells that are numbers
    text_example: tuple[int, str] | None = None  # text mixing numbers: (row, value) of a text cell

    def unique(self, rows: int) -> bool:
        """Text: no value missing and every value different (numbers: see `_all_different`)."""
        return self.missing == 0 and self.distinct == rows


def _shown(names: list[str]) -> str:
    text = ", ".join(repr(n) for n in names[:_NAMES_SHOWN])
    return text + (f", ... ({len(names):,} in all)" if len(names) > _NAMES_SHOWN else "")


def resolve_column(names: list[str], wanted: str, field: str, where: str) -> str:
    """The column `wanted` names: exactly, else ignoring case and surrounding spaces; a UserError if none."""
    wanted = str(wanted)
    if wanted in names:
        return wanted
    folded = [n for n in names if n.strip().lower() == wanted.strip().lower()]
    if len(folded) == 1:
        return folded[0]
    close = difflib.get_close_matches(wanted.strip(), names, n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    raise UserError(
        f"{where}: there is no column {wanted!r} (from {field}).{hint} The columns are {_shown(names)}; "
        "check the name in the file's header row.",
        field=field,
        path=where,
    )


def _id_named(name: str) -> bool:
    low = name.strip().lower()
    return (
        low in ID_NAMES
        or low.endswith(("_id", " id", "-id", ".id"))
        or re.search(r"[a-z]Id$", name) is not None
    )


def _number_facts(frame: pd.DataFrame, names: list[str]) -> dict[str, _Facts]:
    """Facts about the numeric columns, a block of columns at a time (wide tables stay quick, long ones
    stay within a few copies of one block). No sorting: whether every value differs is asked only of the
    few columns that could be identifiers (`_all_different`)."""
    facts: dict[str, _Facts] = {}
    step = max(1, _BLOCK_CELLS // max(1, len(frame)))
    for start in range(0, len(names), step):
        block = names[start : start + step]
        values = frame[block].to_numpy(np.float64, copy=True)
        finite = np.isfinite(values)
        values[~finite] = np.nan
        count = finite.sum(axis=0)
        with np.errstate(invalid="ignore"):  # all-missing columns: NaN bounds, counted as none below
            lo, hi = np.fmin.reduce(values, axis=0), np.fmax.reduce(values, axis=0)
            two = (~finite | (values == lo) | (values == hi)).all(axis=0)
        distinct = np.where(count == 0, 0, np.where(lo == hi, 1, np.where(two, 2, 3)))
        whole = np.where(finite, values == np.round(values), True).all(axis=0)
        rising = (np.diff(values, axis=0) > 0).all(axis=0)
        missing = len(values) - count
        for j, name in enumerate(block):
            facts[name] = _Facts("number", int(distinct[j]), int(missing[j]), bool(whole[j]), bool(rising[j]))
    return facts


def _all_different(series: pd.Series) -> bool:
    """Whether a numeric column has a value in every row and no value twice."""
    values = series.to_numpy(np.float64)
    return bool(np.isfinite(values).all()) and len(np.unique(values)) == len(values)


def _distinct_numbers(series: pd.Series) -> int:
    values = series.to_numpy(np.float64)
    return len(np.unique(values[np.isfinite(values)]))


def _other_facts(series: pd.Series) -> _Facts:
    if pd.api.types.is_bool_dtype(series.dtype):
        return _Facts("bool", int(series.nunique()), 0)
    text, numbers = column_text(series)
    present = text != None  # noqa: E711 - elementwise on an object array
    values = text[present]
    categories = tuple(sorted(set(values.tolist())))
    example = None
    if 0 < numbers < len(values):
        is_text = pd.to_numeric(pd.Series(values), errors="coerce").isna().to_numpy()
        k = int(np.flatnonzero(is_text)[0])
        example = (int(np.flatnonzero(present)[k]) + 1, str(values[k]))
    missing = int((~present).sum())
    return _Facts(
        "text", len(categories), missing, categories=categories, numbers=numbers, text_example=example
    )


def _yes_no(categories: tuple[str, ...]) -> bool:
    lower = {c.lower() for c in categories}
    return len(lower) == 2 and len(lower & TRUE_TOKENS) == 1 and len(lower & FALSE_TOKENS) == 1


def _categories_of(series: pd.Series) -> tuple[str, ...]:
    text, _ = column_text(series)
    return tuple(sorted({v for v in text.tolist() if v is not None}))


@dataclass
class _Choice:
    kind: str  # a feature kind, or "constant" / "identifier"
    reason: str = ""
    categories: tuple[str, ...] = ()


def _choose(
    name: str, facts: _Facts, series: pd.Series, rows: int, *, categorical: bool, unnamed: bool
) -> _Choice:
    if facts.distinct <= 1:
        if facts.distinct == 0:
            return _Choice("constant", "every value is missing")
        value = (facts.categories or _categories_of(series))[0]
        return _Choice("constant", f"every row holds the same value ({value!r})")
    if categorical:
        return _Choice("categorical", categories=facts.categories or _categories_of(series))
    if facts.dtype == "bool":
        return _Choice("boolean")
    if facts.dtype == "number":
        if facts.distinct == 2 and set(_categories_of(series)) == {"0", "1"}:
            return _Choice("boolean")
        if facts.integer and facts.missing == 0:
            if _id_named(name) and _all_different(series):
                return _Choice("identifier", "named like an id, and every value is a different whole number")
            if unnamed and facts.increasing:
                return _Choice("identifier", "an unnamed column counting the rows (a saved row index)")
        return _Choice("numeric")
    if _yes_no(facts.categories):
        return _Choice("boolean")
    if facts.numbers == 0 and facts.unique(rows) and (rows >= MIN_ROWS_TEXT_ID or _id_named(name)):
        return _Choice("identifier", "every value is different, like a row id")
    return _Choice("categorical", categories=facts.categories)


def _label_column(
    raw: RawTable, names: list[str], overrides: TableOverrides, ignored: set[str]
) -> tuple[str | None, str]:
    """(the label column or None, how it was chosen: "config", "declared" by a bundled table, or "name")."""
    wanted = (overrides.label_column or "").strip()
    if wanted.lower() == NO_LABEL and NO_LABEL not in [n.lower() for n in names]:
        return None, "config"
    if wanted:
        name = resolve_column(names, wanted, "data.label_column", raw.where)
        if name in ignored:
            raise UserError(
                f"{raw.where}: the column {name!r} is both the label (data.label_column) and left out "
                "(data.ignore_columns); remove it from one of them.",
                field="data.ignore_columns",
            )
        return name, "config"
    if raw.label_column is not None:
        return raw.label_column, "declared"
    lower = {}
    for n in names:
        lower.setdefault(n.strip().lower(), n)
    found = next((lower[c] for c in LABEL_NAMES if c in lower and lower[c] not in ignored), None)
    return found, "name"


_LABEL_REASONS = {
    "config": "the label (data.label_column)",
    "declared": "the label",
    "name": "the label (found by its name)",
}


def _label_problem(facts: _Facts) -> str | None:
    """Why a column cannot hold classes (fractional numbers, too many values), or None."""
    if facts.dtype == "number" and not facts.integer and facts.distinct > 2:
        return "holds fractional numbers (a measurement, not classes)"
    if facts.distinct > MAX_CLASSES:
        return (
            f"has {facts.distinct:,} different values, more than the {MAX_CLASSES:,} classes a label may have"
        )
    return None


def infer_schema(raw: RawTable, overrides: TableOverrides) -> tuple[TableSchema, list[str]]:
    """Each column's kind (see the module docstring) and notes on what was decided."""
    frame, where = raw.frame, raw.where
    names = [str(n) for n in frame.columns]
    rows = len(frame)
    ignored = {resolve_column(names, n, "data.ignore_columns", where) for n in overrides.ignore_columns}
    categorical = {resolve_column(names, n, "data.categorical", where) for n in overrides.categorical}
    label, chosen = _label_column(raw, names, overrides, ignored)
    ident = (
        resolve_column(names, overrides.id_column, "data.id_column", where) if overrides.id_column else None
    )
    if ident is not None and ident == label:
        raise UserError(
            f"{where}: the column {ident!r} cannot be both the label and the row id; choose another "
            "data.id_column or data.label_column.",
            field="data.id_column",
        )
    numeric = [n for n in names if is_number_column(frame[n])]
    facts = _number_facts(frame, numeric)
    notes: list[str] = []
    if label is not None:
        label_facts = facts.get(label) or _other_facts(frame[label])
        if label_facts.dtype == "number":
            label_facts = replace(label_facts, distinct=_distinct_numbers(frame[label]))
        problem = _label_problem(label_facts)
        if problem and chosen != "name":
            raise UserError(
                f"{where}: the label column {label!r} {problem}; choose the column that holds classes with "
                "data.label_column, or read without labels (data.label_column = 'none').",
                field="data.label_column",
            )
        if problem:
            notes.append(f"column {label!r} {problem}: read as a feature, not as labels")
            label = None
    columns, dropped, identifiers = [], [], []
    for name in names:
        if name in ignored:
            dropped.append(DroppedColumn(name, "ignored", "left out (data.ignore_columns)"))
        elif name == label:
            dropped.append(DroppedColumn(name, "label", _LABEL_REASONS[chosen]))
        elif name == ident:
            dropped.append(DroppedColumn(name, "identifier", "the row id (data.id_column)"))
        else:
            fact = facts.get(name) or _other_facts(frame[name])
            choice = _choose(
                name, fact, frame[name], rows, categorical=name in categorical, unnamed=name in raw.unnamed
            )
            if choice.kind in ("constant", "identifier"):
                dropped.append(DroppedColumn(name, choice.kind, choice.reason))
                if choice.kind == "identifier":
                    identifiers.append(len(dropped) - 1)
                continue
            columns.append(TableColumn(name, choice.kind, choice.categories))
            notes.extend(_column_notes(name, fact, choice))
    if ident is None and identifiers:
        first = dropped[identifiers[0]]
        ident = first.name
        dropped[identifiers[0]] = DroppedColumn(first.name, first.kind, first.reason + "; kept as the row id")
    if not columns:
        raise UserError(
            f"{where}: no feature columns are left ("
            + "; ".join(f"{d.name!r}: {d.reason}" for d in dropped[:8])
            + "); a table needs at least one column of values. Check data.ignore_columns and data.label_column.",
            path=where,
        )
    constant = [d.name for d in dropped if d.kind == "constant"]
    if constant:
        notes.append(f"{len(constant):,} constant column(s) left out: {_shown(constant)}")
    return TableSchema(columns, dropped, label, ident, names), notes


def _column_notes(name: str, facts: _Facts, choice: _Choice) -> list[str]:
    notes = []
    if choice.kind == "categorical" and facts.text_example is not None:
        row, value = facts.text_example
        notes.append(
            f"column {name!r} mixes numbers and text (e.g. {value!r} on data row {row:,}): read as categorical; "
            "if it holds numbers, fix or empty those cells (an empty cell is a missing value)"
        )
    if choice.kind == "categorical" and len(choice.categories) > MANY_CATEGORIES:
        notes.append(
            f"column {name!r} has {len(choice.categories):,} categories (free text?); leave it out with "
            "data.ignore_columns if it does not help"
        )
    return notes


def schema_for_file(raw: RawTable, stored: TableSchema) -> tuple[TableSchema, list[str]]:
    """A run's stored schema applied to a new file: its columns must be there; others are ignored."""
    names = [str(n) for n in raw.frame.columns]
    present = set(names)
    absent = [c.name for c in stored.columns if c.name not in present]
    if absent:
        more = f" (and {len(absent) - 1:,} more: {_shown(absent[1:])})" if len(absent) > 1 else ""
        raise UserError(
            f"{raw.where}: the column {absent[0]!r}{more} is missing, but the run was trained on it; the file "
            "needs every feature column of the run's data (empty cells are fine: they are missing values).",
            path=raw.where,
        )
    label = stored.label_column if stored.label_column in present else None
    ident = stored.id_column if stored.id_column in present else None
    features = set(stored.names)
    known = {d.name: d for d in stored.dropped}
    dropped, extra = [], []
    for name in names:
        if name in features:
            continue
        if name == label:
            dropped.append(DroppedColumn(name, "label", "the label (the run's label column)"))
        elif name == ident:
            dropped.append(DroppedColumn(name, "identifier", "the row id (the run's id column)"))
        elif name in known:
            dropped.append(known[name])
        else:
            dropped.append(DroppedColumn(name, "ignored", "not a column of the run's data"))
            extra.append(name)
    notes = [f"columns encoded with the run's stored schema ({len(stored.columns):,} feature columns)"]
    if extra:
        notes.append(f"{len(extra):,} column(s) the run did not train on ignored: {_shown(extra)}")
    if stored.label_column and label is None:
        notes.append(f"no label column {stored.label_column!r}: read without labels")
    columns = [TableColumn(c.name, c.kind, c.categories) for c in stored.columns]
    return TableSchema(columns, dropped, label, ident, names), notes
