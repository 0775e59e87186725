"""Turning a table's columns into float32 samples, as its schema says (see table_schema.py).

numeric -> the value (missing, infinite or beyond the float32 range -> NaN); boolean -> 0.0 / 1.0;
categorical -> the category's code (a category the schema does not list -> NaN, noted). The same code
encodes a file whose schema was inferred from it and a new file encoded with a run's stored schema,
where a column's values may not look as they did (text in a numeric column is read as missing, noted).

Values are compared as text for categories and labels: a number is written without a trailing '.0'
("3", "0.5"), so 3 and 3.0 name the same category whether pandas read the column as numbers or text.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from pandas.api import types as ptypes

from ssl_core.data.table_schema import TableColumn

TRUE_TOKENS = frozenset({"1", "true", "yes", "y", "t"})
FALSE_TOKENS = frozenset({"0", "false", "no", "n", "f"})
_SHOWN = 3  # example values named in a note


def number_text(value: float) -> str:
    """A number as category / label text: whole numbers without '.0' ("3"), others as Python writes them."""
    if math.isfinite(value) and value == int(value) and abs(value) < 2**53:
        return str(int(value))
    return repr(float(value))


def is_number_column(series: pd.Series) -> bool:
    """Whether pandas read the column as numbers (booleans are not numbers here)."""
    return ptypes.is_numeric_dtype(series.dtype) and not ptypes.is_bool_dtype(series.dtype)


def column_text(series: pd.Series) -> tuple[np.ndarray, int]:
    """The column as stripped text (object array, None where missing) and how many cells are numbers.

    Each distinct value is turned into text once and the result spread back over the rows, so a
    million-row column with a few categories costs one hash pass, not a million string operations."""
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    text, is_number = _distinct_text(pd.Series(uniques, dtype=series.dtype if len(uniques) else object))
    out = np.full(len(series), None, dtype=object)
    present = codes >= 0
    out[present] = text[codes[present]]
    return out, int(is_number[codes[present]].sum())


def _distinct_text(series: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Text (None where missing) and whether it is a number, for each value of a column of distinct values."""
    n = len(series)
    out = np.full(n, None, dtype=object)
    is_number = np.zeros(n, dtype=bool)
    if ptypes.is_bool_dtype(series.dtype):
        values = series.to_numpy()
        out[values] = "True"
        out[~values] = "False"
        return out, is_number
    if is_number_column(series):
        values = series.to_numpy(np.float64)
        good = np.isfinite(values)
        out[good] = np.array([number_text(v) for v in values[good].tolist()], dtype=object)
        return out, good
    present = series.notna().to_numpy()
    text = series[present].astype(str).str.strip()
    numbers = pd.to_numeric(text, errors="coerce").to_numpy(np.float64)
    numeric = np.isfinite(numbers)
    values = text.to_numpy(dtype=object)
    if numeric.any():
        values[numeric] = np.array([number_text(v) for v in numbers[numeric].tolist()], dtype=object)
    values[values == ""] = None
    out[present] = values
    is_number[np.flatnonzero(present)[numeric]] = True
    return out, is_number


def _examples(values: np.ndarray) -> str:
    shown = list(dict.fromkeys(str(v) for v in values.tolist()))
    text = ", ".join(repr(v) for v in shown[:_SHOWN])
    return text + (", ..." if len(shown) > _SHOWN else "")


def _rows(k: int) -> str:
    return f"{k:,} row{'' if k == 1 else 's'}"


def _numeric(series: pd.Series, name: str, notes: list[str]) -> np.ndarray:
    if is_number_column(series):
        return series.to_numpy(np.float64)
    present = series.notna().to_numpy()
    values = pd.to_numeric(series, errors="coerce").to_numpy(np.float64)
    text = present & np.isnan(values)
    if text.any():
        notes.append(
            f"column {name!r}: {_rows(int(text.sum()))} with text where numbers are expected "
            f"({_examples(series.to_numpy(dtype=object)[text])}): read as missing"
        )
    return values


def _boolean(series: pd.Series, name: str, notes: list[str]) -> np.ndarray:
    text, _ = column_text(series)
    out = np.full(len(text), np.nan)
    present = text != None  # noqa: E711 - elementwise on an object array
    which, distinct = pd.factorize(text[present])  # lower-case each distinct value once
    lower = np.array([str(v).lower() for v in distinct.tolist()], dtype=object)
    value_of = np.full(len(lower), np.nan)
    value_of[np.isin(lower, list(TRUE_TOKENS))] = 1.0
    value_of[np.isin(lower, list(FALSE_TOKENS))] = 0.0
    codes = value_of[which] if len(which) else np.full(0, np.nan)
    out[present] = codes
    other = np.isnan(codes)
    if other.any():
        notes.append(
            f"column {name!r}: {_rows(int(other.sum()))} with values that are not yes/no "
            f"({_examples(text[present][other])}): read as missing"
        )
    return out


def _categorical(series: pd.Series, column: TableColumn, notes: list[str]) -> np.ndarray:
    text, _ = column_text(series)
    present = text != None  # noqa: E711
    codes = pd.Index(list(column.categories)).get_indexer(text[present]).astype(np.float64)
    unseen = codes < 0
    codes[unseen] = np.nan
    out = np.full(len(text), np.nan)
    out[present] = codes
    if unseen.any():
        notes.append(
            f"column {column.name!r}: {_rows(int(unseen.sum()))} with categories the schema does not list "
            f"({_examples(text[present][unseen])}): read as missing"
        )
    return out


def encode_table(frame: pd.DataFrame, columns: list[TableColumn]) -> tuple[np.ndarray, list[int], list[str]]:
    """The feature columns as float32 (N, F), each column's missing count, and notes on what was unusual."""
    n = len(frame)
    out = np.empty((n, len(columns)), dtype=np.float32)
    notes: list[str] = []
    with np.errstate(over="ignore"):  # beyond the float32 range -> inf -> missing, noted below
        block = [j for j, c in enumerate(columns) if c.kind == "numeric" and is_number_column(frame[c.name])]
        if block:  # plain numeric columns in one go (10,000 columns stay quick)
            out[:, block] = frame[[columns[j].name for j in block]].to_numpy(np.float64)
        done = set(block)
        for j, column in enumerate(columns):
            if j in done:
                continue
            series = frame[column.name]
            if column.kind == "numeric":
                out[:, j] = _numeric(series, column.name, notes)
            elif column.kind == "boolean":
                out[:, j] = _boolean(series, column.name, notes)
            else:
                out[:, j] = _categorical(series, column, notes)
    bad = np.isinf(out)
    if bad.any():
        out[bad] = np.nan
        notes.append(
            f"{int(bad.sum()):,} infinite value(s) or value(s) beyond the float32 range (about 3.4e38) read "
            "as missing"
        )
    missing = np.isnan(out).sum(axis=0)
    return out, [int(m) for m in missing.tolist()], notes
