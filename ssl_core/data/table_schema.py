"""What a table's columns are: the schema a table source stores in `DataInfo.extra["table"]`.

A table sample is one row of F feature columns, float32 in *column space*:
- numeric: the raw value (NaN where missing);
- boolean: 0.0 / 1.0 (NaN where missing);
- categorical: the category's code 0..K-1 as a float (NaN where missing or unseen when the schema was made).

The schema lists those F columns in order (with each categorical column's categories: index = code),
the file's other columns and why they are not features (the label, a row identifier, a constant, or a
column the user left out), and every column the file held. A run keeps it, so a new file can be encoded
exactly as the training data was (`OpenOptions.table_schema`).

    {"columns": [{"name": "age", "kind": "numeric", "missing": 3}, {"name": "city", "kind":
      "categorical", "categories": ["Lyon", "Paris"], "missing": 0}],
     "dropped": [{"name": "id", "kind": "identifier", "reason": "..."}],
     "label_column": "segment", "id_column": "id", "file_columns": ["id", "age", "city", "segment"]}
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ssl_core.data.base import DataInfo
from ssl_core.errors import UserError

FEATURE_KINDS = ("numeric", "boolean", "categorical")
DROPPED_KINDS = ("label", "identifier", "constant", "ignored")
KIND_WORDS = {"numeric": "numeric", "boolean": "boolean", "categorical": "categorical"}


def _damaged(what: str) -> UserError:
    return UserError(
        f"The stored table schema is damaged ({what}); open the data again to infer its columns.",
        field="data.table_schema",
    )


@dataclass(frozen=True)
class TableColumn:
    """One feature column: its name, kind, categories (categorical only; index = code) and missing count."""

    name: str
    kind: str
    categories: tuple[str, ...] = ()
    missing: int = 0

    def __post_init__(self) -> None:
        if self.kind not in FEATURE_KINDS:
            raise ValueError(f"column kind must be one of {FEATURE_KINDS}, not {self.kind!r}")

    @property
    def cardinality(self) -> int:
        return len(self.categories)

    @property
    def can_miss(self) -> bool:
        """Whether the column had missing values in its file (its rows then get a missing flag)."""
        return self.missing > 0

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"name": self.name, "kind": self.kind}
        if self.kind == "categorical":
            d["categories"] = list(self.categories)
        d["missing"] = int(self.missing)
        return d

    @classmethod
    def from_dict(cls, d: Any) -> TableColumn:
        if not isinstance(d, dict) or not isinstance(d.get("name"), str):
            raise _damaged(f"a column entry is {d!r:.80}")
        kind = d.get("kind")
        if kind not in FEATURE_KINDS:
            raise _damaged(f"column {d['name']!r} has the kind {kind!r}")
        categories = d.get("categories", []) if kind == "categorical" else []
        if not isinstance(categories, list) or not all(isinstance(c, str) for c in categories):
            raise _damaged(f"column {d['name']!r} has categories {categories!r:.80}")
        if kind == "categorical" and not categories:
            raise _damaged(f"the categorical column {d['name']!r} lists no categories")
        return cls(d["name"], kind, tuple(categories), int(d.get("missing", 0) or 0))


@dataclass(frozen=True)
class DroppedColumn:
    """A column of the file that is not a feature, and why."""

    name: str
    kind: str  # one of DROPPED_KINDS
    reason: str

    def to_dict(self) -> dict[str, str]:
        return {"name": self.name, "kind": self.kind, "reason": self.reason}

    @classmethod
    def from_dict(cls, d: Any) -> DroppedColumn:
        if (
            not isinstance(d, dict)
            or not isinstance(d.get("name"), str)
            or d.get("kind") not in DROPPED_KINDS
        ):
            raise _damaged(f"a dropped-column entry is {d!r:.80}")
        return cls(d["name"], d["kind"], str(d.get("reason", "")))


@dataclass
class TableSchema:
    """The feature columns of a table (in sample order) and the file's other columns."""

    columns: list[TableColumn]
    dropped: list[DroppedColumn] = field(default_factory=list)
    label_column: str | None = None
    id_column: str | None = None
    file_columns: list[str] = field(default_factory=list)

    @property
    def names(self) -> list[str]:
        """The feature columns' names, in sample order."""
        return [c.name for c in self.columns]

    def column(self, name: str) -> TableColumn:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)

    def kind_counts(self) -> dict[str, int]:
        """How many feature columns of each kind, in FEATURE_KINDS order (kinds with none left out)."""
        counts = {kind: 0 for kind in FEATURE_KINDS}
        for c in self.columns:
            counts[c.kind] += 1
        return {kind: n for kind, n in counts.items() if n}

    def summary(self) -> str:
        """'30 columns (30 numeric)' or '5 columns (3 numeric, 1 boolean, 1 categorical)'."""
        n = len(self.columns)
        parts = ", ".join(f"{k:,} {KIND_WORDS[kind]}" for kind, k in self.kind_counts().items())
        return f"{n:,} column{'' if n == 1 else 's'}" + (f" ({parts})" if parts else "")

    def describe(self, rows: int) -> str:
        """'569 rows x 30 columns (30 numeric)'."""
        return f"{rows:,} row{'' if rows == 1 else 's'} x {self.summary()}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "columns": [c.to_dict() for c in self.columns],
            "dropped": [d.to_dict() for d in self.dropped],
            "label_column": self.label_column,
            "id_column": self.id_column,
            "file_columns": list(self.file_columns),
        }

    @classmethod
    def from_dict(cls, d: Any) -> TableSchema:
        """Read a schema written by `to_dict` (a run's stored one); a UserError when it is damaged."""
        if isinstance(d, TableSchema):
            return d
        if not isinstance(d, dict) or not isinstance(d.get("columns"), list):
            raise _damaged("it has no list of columns")
        columns = [TableColumn.from_dict(c) for c in d["columns"]]
        if not columns:
            raise _damaged("it has no feature columns")
        names = [c.name for c in columns]
        if len(set(names)) != len(names):
            raise _damaged("a feature column is listed twice")
        dropped = [DroppedColumn.from_dict(x) for x in d.get("dropped", []) or []]
        label, ident = d.get("label_column"), d.get("id_column")
        for key, value in (("label_column", label), ("id_column", ident)):
            if value is not None and not isinstance(value, str):
                raise _damaged(f"{key} is {value!r:.80}")
        file_columns = d.get("file_columns", []) or []
        if not isinstance(file_columns, list) or not all(isinstance(c, str) for c in file_columns):
            raise _damaged("file_columns is not a list of names")
        return cls(columns, dropped, label, ident, list(file_columns))


def table_schema_of(info: DataInfo) -> TableSchema | None:
    """The schema a table source put in its DataInfo, or None for other data."""
    d = (info.extra or {}).get("table") if info is not None else None
    return TableSchema.from_dict(d) if isinstance(d, dict) else None


def describe_table(info: DataInfo) -> str:
    """'569 rows x 30 columns (30 numeric)' for a table's DataInfo (the sample shape for other data)."""
    schema = table_schema_of(info)
    if schema is None:
        width = int(info.sample_shape[-1]) if info.sample_shape else 0
        return f"{info.size:,} rows x {width:,} columns"
    return schema.describe(info.size)
