"""`series:NAME|PATH`: time series from a bundled UEA/UCR set, a .ts file, a CSV/TSV table or NumPy arrays.

series:BasicMotions              a set bundled with sktime (any case), TRAIN and TEST joined
series:~/data/ecg.ts             a UEA/UCR .ts file (series_ts)
series:~/data/ecg.csv            a CSV/TSV table, wide or long layout (series_csv)
series:~/data/ecg.csv:label=diagnosis:layout=long      table options after the path, separated by ':'
series:~/data/ecg.npz            NumPy arrays read as series: 'series' (N, C, T), or 'x'/'images' (arrays)

Every kind ends in `series.finish_series`: one float32 tensor (N, C, T), padded or cropped to one length,
NaN/inf refused or imputed, labels mapped to 0..K-1.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from ssl_core.data import arrays
from ssl_core.data.base import DataSource
from ssl_core.data.series import RawSeries, check_series_options, finish_series
from ssl_core.data.series_bundled import bundled_names, load_bundled
from ssl_core.data.series_csv import TableOptions, read_table_series
from ssl_core.data.series_ts import read_ts
from ssl_core.data.spec import OpenOptions, SourceKind, require_regular_file, user_path
from ssl_core.errors import UserError

TS_SUFFIXES = (".ts",)
TABLE_SUFFIXES = (".csv", ".tsv", ".tab", ".txt")
ARRAY_SUFFIXES = (".npz", ".npy")
TABLE_OPTION_KEYS = ("label", "layout", "id", "time")


def split_table_options(argument: str) -> tuple[str, dict[str, str]]:
    """'PATH:label=x:layout=long' -> ('PATH', {'label': 'x', 'layout': 'long'}).

    Only trailing ':key=value' parts whose key is a table option are taken, so 'C:\\data\\x.csv' and
    paths with colons stay whole.
    """
    text, options = argument.strip(), {}
    while True:
        head, sep, tail = text.rpartition(":")
        key, eq, value = tail.partition("=")
        if not sep or not eq or key.strip().lower() not in TABLE_OPTION_KEYS:
            return text, options
        key = key.strip().lower()
        if key in options:
            raise UserError(f"series: the option {key}= is given twice in {argument!r}.", field="data.spec")
        options[key] = value.strip()
        text = head


def _existing(path: Path, argument: str) -> Path:
    bundled = ", ".join(bundled_names()) or "install sktime for them: pip install sktime"
    return require_regular_file(
        path,
        missing=f"check the path in series:{argument}, or name a bundled set ({bundled}).",
        folder="series: expects a .ts, .csv or .tsv file (or .npz/.npy arrays).",
        special="save the series to a file.",
    )


def _looks_like_name(text: str) -> bool:
    return not any(ch in text for ch in "/\\~") and not Path(text).suffix


def ts_raw(path: Path) -> RawSeries:
    """A .ts file as parsed series (regression targets are noted, not used as classes)."""
    data = read_ts(path)
    notes = [f"UEA/UCR .ts file, problem {data.problem_name!r}"]
    if data.targets is not None:
        notes.append("the file holds regression targets (@targetLabel), not classes: loaded unlabelled")
    return RawSeries(
        series=data.series,
        where=str(path),
        name=path.stem,
        labels=data.labels,
        class_names=data.class_names if data.labels is not None else None,
        origins=[f"line {n}" for n in data.lines],
        notes=notes,
        extra={"problem_name": data.problem_name},
    )


def open_series(spec: str, argument: str, options: OpenOptions) -> DataSource:
    check_series_options(options)
    text, table_options = split_table_options(argument)
    if not text:
        raise UserError(
            "series: needs a bundled set name or a file path, e.g. series:BasicMotions or series:~/data/ecg.csv",
            field="data.spec",
        )
    path = user_path(text)
    if _looks_like_name(text) and not path.is_file():
        if table_options:
            raise UserError(
                f"series:{argument}: {', '.join(table_options)}= only applies to CSV/TSV files.",
                field="data.spec",
            )
        return finish_series(load_bundled(text), spec=spec, options=options)
    path = _existing(path, argument)
    suffix = path.suffix.lower()
    if table_options and suffix not in TABLE_SUFFIXES:
        raise UserError(
            f"series:{argument}: {', '.join(table_options)}= only applies to CSV/TSV files, not {suffix or 'this'} "
            "files.",
            field="data.spec",
        )
    if suffix in ARRAY_SUFFIXES:
        forced = dataclasses.replace(options, modality="series")
        opener = arrays.open_npz if suffix == ".npz" else arrays.open_npy
        return opener(spec, str(path), forced)
    if suffix in TS_SUFFIXES:
        raw = ts_raw(path)
    elif suffix in TABLE_SUFFIXES:
        raw = read_table_series(path, TableOptions(**table_options))
    else:
        raise UserError(
            f"{path}: series: reads .ts, .csv, .tsv (and .npz/.npy) files, not {suffix or 'files without a suffix'}; "
            "save the series in one of those formats.",
            path=str(path),
        )
    return finish_series(raw, spec=spec, options=options)


KIND = SourceKind(
    scheme="series",
    title="Time series",
    noun="time series",
    description="Signals over time (sensor readings, ECG, motion): a set bundled with sktime by name (e.g. "
    "BasicMotions), a UEA/UCR .ts file, or a CSV/TSV table - one row per series (numeric columns are the "
    "time steps, optional 'label' column), or one row per time step with an 'id' column (optional 'time' "
    "and 'label' columns, every other column a channel). Shorter series are padded to the longest.",
    example="series:BasicMotions",
    argument="NAME|PATH",
    browse="file",
    file_pattern="*.ts *.csv *.tsv",
    choices=bundled_names(),
    opener=open_series,
)
