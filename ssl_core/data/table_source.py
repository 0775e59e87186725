"""`csv:PATH` and `table:NAME`: tables, one row per sample, each row F feature values.

csv:~/data/customers.csv        a CSV, TSV or space-separated .txt file, maybe gzip-compressed (.csv.gz)
table:wine                      a real table bundled with an installed package (see table_bundled)

Every kind ends in `finish_table`: the columns' kinds are inferred (table_infer) or taken from a run's
stored schema (`OpenOptions.table_schema`), the features are encoded as float32 (N, F) (table_encode),
the label column's values become classes 0..K-1, and the identifier column's values become row ids.
The schema goes in `DataInfo.extra["table"]` (table_schema), so a run can encode new files the same way.
"""

from __future__ import annotations

import logging
from dataclasses import replace

import numpy as np
import pandas as pd
import torch

from ssl_core.data.base import DataInfo, TensorSource
from ssl_core.data.inmemory import remap_labels
from ssl_core.data.series import sorted_class_names
from ssl_core.data.spec import OpenOptions, SourceKind, require_regular_file, user_path
from ssl_core.data.table_bundled import bundled_table_names, load_bundled_table
from ssl_core.data.table_encode import column_text, encode_table
from ssl_core.data.table_infer import TableOverrides, infer_schema, schema_for_file
from ssl_core.data.table_read import RawTable, read_table_file
from ssl_core.data.table_schema import TableColumn, TableSchema
from ssl_core.errors import UserError

log = logging.getLogger(__name__)


class TableSource(TensorSource):
    """A table held in memory: float32 (N, F) in column space, labels, and the rows' ids (if any)."""

    def __init__(
        self,
        values: torch.Tensor,
        labels: torch.Tensor | None,
        info: DataInfo,
        row_ids: list[str] | None = None,
    ):
        super().__init__(values, labels, info)
        if row_ids is not None and len(row_ids) != len(values):
            raise ValueError(f"{len(row_ids)} row ids for {len(values)} rows")
        self._row_ids = row_ids

    def row_ids(self) -> list[str] | None:
        """The id column's value for every row (as text), or None when the table has no id column."""
        return list(self._row_ids) if self._row_ids is not None else None


def _labels(raw: RawTable, column: str, required: bool) -> tuple[torch.Tensor | None, list[str], list[str]]:
    """(class codes 0..K-1, class names, notes) from the label column."""
    text, _ = column_text(raw.frame[column])
    empty = np.flatnonzero(text == None)  # noqa: E711 - elementwise on an object array
    if empty.size:
        if required:
            others = f" and {empty.size - 1:,} other row(s)" if empty.size > 1 else ""
            raise UserError(
                f"{raw.where}: the label column {column!r} is empty on data row {int(empty[0]) + 1:,}{others}; "
                "give every row a label, or read without labels (data.label_column = 'none').",
                path=raw.where,
            )
        return None, [], [f"the label column {column!r} has empty cells: read without labels"]
    values = text.tolist()
    distinct = set(values)
    declared = raw.class_names
    names = list(declared) if declared and distinct <= set(declared) else sorted_class_names(list(distinct))
    codes = pd.Index(names).get_indexer(values).astype(np.int64)
    return torch.from_numpy(codes), names, [f"labels from the column {column!r}"]


def _row_ids(raw: RawTable, column: str | None) -> list[str] | None:
    if column is None:
        return None
    text, _ = column_text(raw.frame[column])
    return ["" if v is None else str(v) for v in text.tolist()]


def _info(spec: str, name: str, schema: TableSchema, size: int, labels, class_names, notes) -> DataInfo:
    width = len(schema.columns)
    return DataInfo(
        spec=spec,
        name=name,
        size=size,
        channels=width,
        height=0,
        width=0,
        has_labels=labels is not None,
        class_names=list(class_names) if labels is not None else [],
        notes=notes,
        modality="table",
        sample_shape=(width,),
        sample_dtype="float32",
        extra={"table": schema.to_dict()},
    )


def finish_table(raw: RawTable, *, spec: str, options: OpenOptions) -> TableSource:
    """A table as read -> a TableSource: columns decided, features encoded, labels and row ids taken."""
    stored = TableSchema.from_dict(options.table_schema) if options.table_schema is not None else None
    if stored is not None:
        schema, notes = schema_for_file(raw, stored)
    else:
        schema, notes = infer_schema(raw, TableOverrides.of(options))
    values, missing, encode_notes = encode_table(raw.frame, schema.columns)
    schema.columns = [replace(c, missing=m) for c, m in zip(schema.columns, missing, strict=True)]
    labels, class_names, label_notes = (None, [], [])
    if schema.label_column is not None:
        labels, class_names, label_notes = _labels(raw, schema.label_column, required=stored is None)
        if labels is None:
            schema.label_column = None
    gaps = sum(missing)
    gap_note = []
    if gaps:
        gappy = sum(1 for m in missing if m)
        gap_note = [
            f"{gaps:,} missing value(s) in {gappy:,} column(s), stored as NaN (the model sees a mask)"
        ]
    info = _info(
        spec,
        raw.name,
        schema,
        len(raw.frame),
        labels,
        class_names,
        [*raw.notes, *label_notes, *notes, *encode_notes, *gap_note],
    )
    log.info("opened %s: %s", spec, schema.describe(info.size))
    return TableSource(torch.from_numpy(values), labels, info, _row_ids(raw, schema.id_column))


def table_from_array(
    values: np.ndarray, labels: np.ndarray | None, *, spec: str, name: str, where: str, options: OpenOptions
) -> TableSource:
    """Numbers (N, F) already in column space -> a table of numeric columns f0..f{F-1} (npz/npy files)."""
    if values.dtype.kind not in "biuf" or values.ndim != 2:
        raise UserError(
            f"{where}: a table must be a 2-D array of numbers (N rows, F columns); got {values.ndim}-D "
            f"{values.dtype} with shape {tuple(values.shape)}.",
            path=where,
        )
    n, width = values.shape
    if n == 0 or width == 0:
        raise UserError(f"{where}: the table array {tuple(values.shape)} holds no values.", path=where)
    if options.table_schema is not None:
        schema = TableSchema.from_dict(options.table_schema)
        if len(schema.columns) != width:
            raise UserError(
                f"{where}: the array has {width:,} columns but the run was trained on {len(schema.columns):,}; "
                "give the same columns in the same order.",
                path=where,
            )
        schema = TableSchema([replace(c, missing=0) for c in schema.columns], file_columns=schema.names)
    else:
        names = [f"f{j}" for j in range(width)]
        schema = TableSchema([TableColumn(c, "numeric") for c in names], file_columns=names)
    with np.errstate(over="ignore"):
        data = np.array(values, dtype=np.float32)  # a copy: overflow becomes inf, then missing
    data[~np.isfinite(data)] = np.nan
    missing = np.isnan(data).sum(axis=0).tolist()
    schema.columns = [replace(c, missing=int(m)) for c, m in zip(schema.columns, missing, strict=True)]
    label_tensor, class_names = None, []
    if labels is not None:
        if len(labels) != n:
            raise UserError(
                f"{where}: there are {len(labels):,} labels for {n:,} rows; give exactly one label per row.",
                path=where,
            )
        if labels.ndim == 1 and labels.dtype.kind == "U":
            text = [str(v).strip() for v in labels.tolist()]
            class_names = sorted_class_names(text)
            label_tensor = torch.from_numpy(pd.Index(class_names).get_indexer(text).astype(np.int64))
        else:
            label_tensor, class_names = remap_labels(labels, where)
    notes = [f"read as a table of {width:,} numeric columns (f0 to f{width - 1})"]
    if sum(missing):
        notes.append(f"{int(sum(missing)):,} missing (NaN or infinite) value(s), stored as NaN")
    info = _info(spec, name, schema, n, label_tensor, class_names, notes)
    return TableSource(torch.from_numpy(data), label_tensor, info)


def _check_modality(options: OpenOptions, scheme: str, argument: str) -> None:
    if options.modality not in (None, "table"):
        raise UserError(
            f"{scheme}: reads tables, not {options.modality} data (data.modality = {options.modality!r}); for "
            f"time series in a CSV file use series:{argument}, or leave data.modality empty.",
            field="data.modality",
        )


def open_csv(spec: str, argument: str, options: OpenOptions) -> TableSource:
    _check_modality(options, "csv", argument)
    if not argument.strip():
        raise UserError("csv: needs a file path, e.g. csv:~/data/customers.csv", field="data.spec")
    path = require_regular_file(
        user_path(argument),
        missing=f"check the path in csv:{argument}.",
        folder="csv: expects a .csv, .tsv or .csv.gz file (for a folder of images use folder:PATH).",
        special="save the table to a file.",
    )
    raw = read_table_file(path, memory_budget_mb=options.memory_budget_mb)
    return finish_table(raw, spec=spec, options=options)


def open_bundled_table(spec: str, argument: str, options: OpenOptions) -> TableSource:
    _check_modality(options, "table", argument)
    if not argument.strip():
        raise UserError(
            f"table: needs the name of a bundled table: {', '.join(bundled_table_names())}.",
            field="data.spec",
        )
    return finish_table(load_bundled_table(argument), spec=spec, options=options)


CSV_KIND = SourceKind(
    scheme="csv",
    title="Table (CSV)",
    noun="table",
    description="A table of your own, one row per sample: a .csv, .tsv or space-separated .txt file (also "
    "gzip-compressed, .csv.gz). Each column's kind is inferred (numeric, yes/no, categorical; id-like and "
    "constant columns left out); a column named label, class, target, y or anomaly holds the classes.",
    example="csv:~/data/customers.csv",
    argument="PATH",
    browse="file",
    file_pattern="*.csv *.tsv *.txt *.gz",
    opener=open_csv,
)

TABLE_KIND = SourceKind(
    scheme="table",
    title="Tables (bundled)",
    noun="table",
    description="Real tables that come with installed packages, for trying things out: wine (178 wines, 13 "
    "measurements, 3 cultivars), breast_cancer (569 biopsies, 30 measurements, malignant or benign) and "
    "shuttle (49,097 rows of 9 sensor readings, ~7% anomalies).",
    example="table:wine",
    argument="NAME",
    browse="name",
    choices=bundled_table_names(),
    opener=open_bundled_table,
)
