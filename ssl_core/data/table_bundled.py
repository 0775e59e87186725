"""Real tables that ship inside installed packages (`table:wine`, `table:breast_cancer`, `table:shuttle`).

Nothing is downloaded and nothing is copied into this project:
- wine and breast_cancer are scikit-learn's bundled copies of the UCI sets, read with its own loaders
  (`load_wine(as_frame=True)`, `load_breast_cancer(as_frame=True)`); class names as scikit-learn gives
  them (class_0..class_2; malignant, benign);
- shuttle is the UCI Statlog (Shuttle) set as the ODDS anomaly benchmark casts it (49,097 rows, 9 sensor
  readings, label `anomaly`: 1 for the ~7% rare-class rows), kept by the river package as
  `river/datasets/shuttle.csv.gz`. We find that file with `importlib.util.find_spec` (river itself is
  never imported) and read it like any .csv.gz.
"""

from __future__ import annotations

import difflib
import importlib.util
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ssl_core.data.table_read import RawTable, read_table_file
from ssl_core.errors import UserError


@dataclass(frozen=True)
class BundledTable:
    name: str
    description: str
    package: str  # the package it comes from
    install: str  # how to install that package
    rows: int
    features: int
    classes: int

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "description": self.description,
            "package": self.package,
            "rows": self.rows,
            "features": self.features,
            "classes": self.classes,
        }


BUNDLED = {
    t.name: t
    for t in (
        BundledTable(
            "wine",
            "Wine recognition (UCI): 13 chemical measurements of 178 wines from 3 cultivars.",
            "sklearn",
            "pip install scikit-learn",
            178,
            13,
            3,
        ),
        BundledTable(
            "breast_cancer",
            "Breast cancer Wisconsin (diagnostic, UCI): 30 measurements of cell nuclei in 569 biopsies, "
            "malignant or benign.",
            "sklearn",
            "pip install scikit-learn",
            569,
            30,
            2,
        ),
        BundledTable(
            "shuttle",
            "Statlog Shuttle (UCI, as the ODDS anomaly benchmark): 9 sensor readings of 49,097 moments of a "
            "space shuttle's flight; label anomaly = 1 for the rare classes (about 7%).",
            "river",
            "pip install river",
            49_097,
            9,
            2,
        ),
    )
}
SHUTTLE_FILE = Path("datasets") / "shuttle.csv.gz"


def bundled_table_names() -> tuple[str, ...]:
    """The names `table:` accepts (whether or not their package is installed)."""
    return tuple(BUNDLED)


def _package_folder(package: str) -> Path | None:
    """Where an installed package lives, found without importing it; None when it is not installed."""
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def shuttle_path() -> Path | None:
    """river's copy of the Shuttle table, or None when river (or the file) is not there."""
    folder = _package_folder("river")
    path = folder / SHUTTLE_FILE if folder is not None else None
    return path if path is not None and path.is_file() else None


def resolve_bundled_table(name: str) -> BundledTable:
    """The bundled table called `name` (any case; '-' for '_'); a UserError listing them when none."""
    key = name.strip().lower().replace("-", "_")
    if key in BUNDLED:
        return BUNDLED[key]
    close = difflib.get_close_matches(key, list(BUNDLED), n=1)
    hint = f" Did you mean {close[0]}?" if close else ""
    raise UserError(
        f"{name.strip()!r} is not a bundled table.{hint} The bundled tables are: {', '.join(BUNDLED)}; for a "
        "file of your own use csv:PATH.",
        field="data.spec",
    )


def _missing_package(table: BundledTable) -> UserError:
    return UserError(
        f"The bundled table {table.name!r} comes with the {table.package} package, which is not installed; "
        f"install it ({table.install}), or open a file of your own with csv:PATH.",
        field="data.spec",
    )


def _sklearn_table(table: BundledTable) -> RawTable:
    if _package_folder("sklearn") is None:
        raise _missing_package(table)
    from sklearn import datasets

    loader = datasets.load_wine if table.name == "wine" else datasets.load_breast_cancer
    bunch = loader(as_frame=True)
    frame = bunch.frame.copy()
    names = [str(n) for n in bunch.target_names]
    frame["target"] = np.asarray(names, dtype=object)[bunch.target.to_numpy()]
    return RawTable(
        frame=frame,
        where=f"scikit-learn's {table.name} data",
        name=table.name,
        notes=[f"the {table.name} table bundled with scikit-learn (from the UCI repository)"],
        class_names=names,
        label_column="target",
    )


def _shuttle(table: BundledTable) -> RawTable:
    path = shuttle_path()
    if path is None:
        raise _missing_package(table)
    raw = read_table_file(path)
    raw.name = table.name
    raw.notes.append(
        "the Statlog Shuttle table bundled with river (UCI, as the ODDS benchmark): anomaly = 1 marks the rare "
        "classes"
    )
    raw.class_names = ["0", "1"]
    raw.label_column = "anomaly"
    return raw


def load_bundled_table(name: str) -> RawTable:
    """A bundled table, read from its package's files (nothing downloaded)."""
    table = resolve_bundled_table(name)
    return _shuttle(table) if table.name == "shuttle" else _sklearn_table(table)
