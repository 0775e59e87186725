"""The UEA/UCR time-series sets that ship inside the sktime package (`series:BasicMotions`).

sktime keeps a few archive sets as .ts files in `sktime/datasets/data/<Name>/<Name>_TRAIN.ts` and
`_TEST.ts`. We find that folder with `importlib.util.find_spec` (which does not import sktime: importing
it costs about a second) and read the files with our own .ts reader. A set opens as TRAIN and TEST
joined, since a run makes its own split.
"""

from __future__ import annotations

import difflib
import importlib.util
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from ssl_core.data.series import RawSeries
from ssl_core.data.series_ts import read_ts, scan_ts
from ssl_core.errors import UserError

PACKAGE = "sktime"
INSTALL_HINT = "pip install sktime"


@dataclass(frozen=True)
class BundledSeries:
    """Short facts about one bundled set, read from the headers and by counting lines."""

    name: str
    channels: int
    length: str  # "150", or "7-29" when the series' lengths vary
    classes: int  # 0 for regression sets (@targetLabel) and unlabelled ones
    task: str  # "classification", "regression" or "unlabelled"
    train: int  # series in the TRAIN file
    test: int  # series in the TEST file
    folder: str

    @property
    def size(self) -> int:
        return self.train + self.test

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "channels": self.channels,
            "length": self.length,
            "classes": self.classes,
            "task": self.task,
            "series": self.size,
            "train": self.train,
            "test": self.test,
        }


def data_folder() -> Path | None:
    """sktime's bundled data folder, or None when sktime is not installed (sktime is never imported)."""
    try:
        spec = importlib.util.find_spec(PACKAGE)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        folder = Path(location) / "datasets" / "data"
        if folder.is_dir():
            return folder
    return None


@lru_cache(maxsize=4)
def _names_in(folder: Path) -> tuple[str, ...]:
    names = []
    for sub in sorted(folder.iterdir(), key=lambda p: p.name.lower()):
        if (sub / f"{sub.name}_TRAIN.ts").is_file() and (sub / f"{sub.name}_TEST.ts").is_file():
            names.append(sub.name)
    return tuple(names)


def bundled_names() -> tuple[str, ...]:
    """The names of the bundled sets (directory listing only); empty without sktime."""
    folder = data_folder()
    return _names_in(folder) if folder is not None else ()


def _require_folder() -> Path:
    folder = data_folder()
    if folder is None:
        raise UserError(
            "The bundled time-series sets (BasicMotions, GunPoint, ...) come with the sktime package, which "
            f"is not installed; install it ({INSTALL_HINT}), or give a path to a .ts, .csv or .tsv file.",
            field="data.spec",
        )
    return folder


def find_bundled(name: str) -> str | None:
    """The bundled set's own spelling of `name` (case-insensitive), or None."""
    wanted = name.strip().lower()
    return next((n for n in bundled_names() if n.lower() == wanted), None)


def resolve_bundled(name: str) -> str:
    """The bundled set called `name` (any case); a UserError listing the sets when there is none."""
    folder = _require_folder()
    found = find_bundled(name)
    if found is not None:
        return found
    names = _names_in(folder)
    close = difflib.get_close_matches(name.strip().lower(), [n.lower() for n in names], n=1)
    hint = ""
    if close:
        hint = f" Did you mean {next(n for n in names if n.lower() == close[0])}?"
    raise UserError(
        f"{name.strip()!r} is not a bundled time-series set nor an existing file.{hint} The bundled sets are: "
        f"{', '.join(names)}; or give a path to a .ts, .csv or .tsv file.",
        field="data.spec",
    )


def _files(name: str) -> tuple[Path, Path]:
    folder = _require_folder() / name
    return folder / f"{name}_TRAIN.ts", folder / f"{name}_TEST.ts"


@lru_cache(maxsize=64)
def _facts(name: str) -> BundledSeries:
    train_path, test_path = _files(name)
    train, test = scan_ts(train_path), scan_ts(test_path)
    header = train.header
    channels = header.dimensions or train.channels or 1
    shortest = min(train.lengths[0], test.lengths[0]) if test.count else train.lengths[0]
    longest = max(train.lengths[1], test.lengths[1])
    length = str(longest) if shortest == longest else f"{shortest}-{longest}"
    task = "classification" if header.class_label else ("regression" if header.target_label else "unlabelled")
    return BundledSeries(
        name=name,
        channels=int(channels),
        length=length,
        classes=len(header.class_names),
        task=task,
        train=train.count,
        test=test.count,
        folder=str(train_path.parent),
    )


def list_bundled_series() -> list[BundledSeries]:
    """Every bundled set with its facts (headers and line counts only; no values are parsed)."""
    return [_facts(name) for name in bundled_names()]


def load_bundled(name: str) -> RawSeries:
    """TRAIN and TEST of a bundled set, joined in that order, as parsed series."""
    name = resolve_bundled(name)
    train_path, test_path = _files(name)
    train, test = read_ts(train_path), read_ts(test_path)
    notes = [
        f"TRAIN and TEST files joined ({len(train.series):,} + {len(test.series):,}); the run's own split "
        "decides what is held out",
        "from the UEA/UCR archive copy bundled with sktime",
    ]
    labels, class_names = None, None
    if train.labels is not None and test.labels is not None:
        labels = train.labels + test.labels
        class_names = train.class_names + [c for c in test.class_names if c not in train.class_names]
    elif train.targets is not None:
        notes.append(
            f"{name} is a regression problem (@targetLabel): its numeric targets are not classes, so the "
            "series are loaded unlabelled"
        )
    origins = [f"{train_path.name} line {n}" for n in train.lines]
    origins += [f"{test_path.name} line {n}" for n in test.lines]
    return RawSeries(
        series=train.series + test.series,
        where=str(train_path.parent),
        name=name,
        labels=labels,
        class_names=class_names,
        origins=origins,
        notes=notes,
        extra={"problem_name": train.problem_name, "train_size": len(train.series)},
    )
