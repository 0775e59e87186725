"""A small, fast reader of the UEA/UCR `.ts` time-series format.

We parse the format ourselves rather than import sktime at run time: importing sktime costs about a
second of start-up, for a format that takes a page to read. (Tests compare this reader with sktime's
`load_from_tsfile` on the files bundled with sktime.)

The format: header lines, then `@data`, then one series per line.

    # comment lines start with '#' (or '%'); blank lines are ignored
    @problemName BasicMotions
    @timeStamps false          (true is refused: timestamped values are not supported)
    @missing false             ('?' marks a missing value either way; it is read as NaN)
    @univariate false
    @dimensions 6
    @equalLength true
    @seriesLength 100
    @classLabel true Standing Running Walking Badminton    (or: @classLabel false)
    @targetLabel false         (true: the last field is a numeric regression target)
    @data
    0.1,0.2,...,0.3:0.5,0.4,...,0.1:...:Standing

Dimensions (channels) are separated by ':' and values by ','; with class labels (or a target) the last
':' field is the label. Header names are case-insensitive. Every mistake raises a UserError naming the
file and the line.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ssl_core.data.numbers import parse_numbers
from ssl_core.errors import UserError

_BOOL_TAGS = ("timestamps", "missing", "univariate", "equallength", "classlabel", "targetlabel")
_INT_TAGS = ("dimensions", "serieslength")
KNOWN_TAGS = ("problemname", *_BOOL_TAGS, *_INT_TAGS, "data")
_SPELLING = {
    "problemname": "@problemName",
    "timestamps": "@timeStamps",
    "missing": "@missing",
    "univariate": "@univariate",
    "equallength": "@equalLength",
    "classlabel": "@classLabel",
    "targetlabel": "@targetLabel",
    "dimensions": "@dimensions",
    "serieslength": "@seriesLength",
    "data": "@data",
}


@dataclass
class TsHeader:
    """What the header lines declare (None where a line is absent)."""

    problem_name: str = ""
    timestamps: bool = False
    missing: bool | None = None
    univariate: bool | None = None
    dimensions: int | None = None
    equal_length: bool | None = None
    series_length: int | None = None
    class_label: bool = False
    class_names: list[str] = field(default_factory=list)  # in header order
    target_label: bool = False
    data_line: int = 0  # 1-based line number of "@data"
    class_line: int = 0  # 1-based line number of "@classLabel"

    @property
    def labelled(self) -> bool:
        """True when each data line ends with a label field (a class or a regression target)."""
        return self.class_label or self.target_label

    def metadata(self) -> dict:
        return {
            "problem_name": self.problem_name,
            "timestamps": self.timestamps,
            "missing": self.missing,
            "univariate": self.univariate,
            "dimensions": self.dimensions,
            "equal_length": self.equal_length,
            "series_length": self.series_length,
            "class_label": self.class_label,
            "target_label": self.target_label,
        }


@dataclass
class TsData:
    """A parsed .ts file."""

    path: Path
    header: TsHeader
    series: list[np.ndarray]  # one float32 (C, T_i) array per series
    labels: list[str] | None  # the class of each series (@classLabel true), else None
    targets: np.ndarray | None  # float64 regression targets (@targetLabel true), else None
    lines: list[int]  # the line each series was read from

    @property
    def problem_name(self) -> str:
        return self.header.problem_name or self.path.stem

    @property
    def class_names(self) -> list[str]:
        return list(self.header.class_names)

    @property
    def metadata(self) -> dict:
        return self.header.metadata()


@dataclass
class TsSummary:
    """Cheap facts about a .ts file: its header, how many series it holds, their channels and lengths."""

    header: TsHeader
    count: int
    channels: int  # of the first series (0 when there is none)
    lengths: tuple[int, int]  # (shortest, longest), from the first dimension of every series


# ---- reading text ---------------------------------------------------------------------------------
def _text(path: Path) -> str:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise UserError(f"{path} cannot be read ({exc.strerror or exc}).", path=str(path)) from None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise UserError(
            f"{path}, line {line} (byte {exc.start:,}): not UTF-8 text; a .ts file is plain text (is this "
            "really a .ts file?).",
            path=str(path),
        ) from None


def _fail(path: Path, line: int, message: str) -> UserError:
    return UserError(f"{path}, line {line}: {message}", path=str(path))


def _bool(path: Path, line: int, tag: str, value: str) -> bool:
    word = value.strip().lower()
    if word in ("true", "false"):
        return word == "true"
    shown = value.strip() or "nothing"
    raise _fail(path, line, f"{_SPELLING[tag]} must be followed by true or false, not {shown!r}.")


def _parse_header_line(path: Path, number: int, line: str, header: TsHeader, seen: set[str]) -> bool:
    """Apply one '@' line; True when it was @data."""
    tag, _, rest = line[1:].partition(" ")
    if "\t" in tag:
        tag, _, more = tag.partition("\t")
        rest = more + " " + rest
    tag = tag.lower()
    if tag not in KNOWN_TAGS:
        known = ", ".join(_SPELLING[t] for t in KNOWN_TAGS)
        raise _fail(path, number, f"unknown header {line.split()[0]!r}; the .ts headers are {known}.")
    if tag in seen and tag != "problemname":  # sktime's own UnitTest file names its problem twice
        raise _fail(path, number, f"{_SPELLING[tag]} appears twice; keep one.")
    seen.add(tag)
    words = rest.split()
    if tag == "data":
        if words:
            raise _fail(path, number, "@data takes no value; the series start on the next line.")
        return True
    if tag == "problemname":
        if not words:
            raise _fail(path, number, "@problemName needs a name after it.")
        header.problem_name = header.problem_name or rest.strip()
    elif tag in _INT_TAGS:
        value = words[0] if len(words) == 1 else ""
        if not (value.isascii() and value.isdigit()) or int(value) < 1:
            raise _fail(
                path,
                number,
                f"{_SPELLING[tag]} must be followed by a whole number of 1 or more, not {rest.strip()!r}.",
            )
        if tag == "dimensions":
            header.dimensions = int(value)
        else:
            header.series_length = int(value)
    elif tag == "classlabel":
        header.class_label = _bool(path, number, tag, words[0] if words else "")
        names = words[1:]
        if header.class_label and not names:
            raise _fail(
                path, number, "@classLabel true must list the class names, e.g. @classLabel true a b c."
            )
        if not header.class_label and names:
            raise _fail(path, number, "@classLabel false takes no class names; remove them or write true.")
        if len(set(names)) != len(names):
            twice = sorted({n for n in names if names.count(n) > 1})
            raise _fail(path, number, f"@classLabel lists {', '.join(twice)} more than once.")
        header.class_names = names
        header.class_line = number
    else:  # a boolean tag
        if len(words) != 1:
            raise _fail(path, number, f"{_SPELLING[tag]} must be followed by true or false only.")
        value = _bool(path, number, tag, words[0])
        if tag == "timestamps":
            if value:
                raise _fail(
                    path,
                    number,
                    "@timeStamps true is not supported (values written as (time,value) pairs); save the "
                    "series as plain comma-separated values with @timeStamps false.",
                )
            header.timestamps = value
        elif tag == "missing":
            header.missing = value
        elif tag == "univariate":
            header.univariate = value
        elif tag == "equallength":
            header.equal_length = value
        elif tag == "targetlabel":
            header.target_label = value
    return False


def _check_header(path: Path, header: TsHeader, number: int) -> None:
    if header.class_label and header.target_label:
        raise _fail(
            path, number, "both @classLabel true and @targetLabel true; a file has one kind of label."
        )
    if header.univariate and header.dimensions not in (None, 1):
        raise _fail(path, number, f"@univariate true but @dimensions {header.dimensions}; fix one of them.")


def _lines(text: str) -> Iterator[tuple[int, str]]:
    """(line number, stripped line) for every line that is neither blank nor a comment."""
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if line and line[0] not in "#%":
            yield number, line


def _header(path: Path, text: str) -> tuple[TsHeader, Iterator[tuple[int, str]]]:
    """Parse the header; returns it and the iterator positioned after @data."""
    header, seen = TsHeader(), set()
    lines = _lines(text)
    for number, line in lines:
        if line[0] != "@":
            where = "before any header" if not seen else "before @data"
            raise _fail(
                path, number, f"data {where}; a .ts file lists its @ headers, then @data, then the series."
            )
        if _parse_header_line(path, number, line, header, seen):
            header.data_line = number
            _check_header(path, header, number)
            return header, lines
    if not text.strip():
        raise UserError(
            f"{path} is empty; a .ts file needs @ headers, @data and one series per line.", path=str(path)
        )
    raise UserError(
        f"{path} has no @data line; a .ts file lists its @ headers, then @data, then one series per line.",
        path=str(path),
    )


# ---- values -----------------------------------------------------------------------------------------
def _values(path: Path, number: int, dim: int, text: str) -> np.ndarray:
    text = text.strip()
    if not text:
        return np.empty(0, dtype=np.float64)
    tokens = text.split(",")
    if "?" in text:
        tokens = ["nan" if t.strip() == "?" else t for t in tokens]

    def bad_value(k: int, token: str) -> UserError:
        what = repr(token.strip()) if token.strip() else "empty"
        return _fail(
            path,
            number,
            f"dimension {dim}, value {k + 1} is {what}, which is not a number; values are numbers "
            "separated by commas, with '?' for a missing one.",
        )

    return parse_numbers(tokens, (), bad_value)


def _label(path: Path, number: int, header: TsHeader, text: str) -> str:
    label = text.strip()
    if not label:
        raise _fail(path, number, "the label (the last ':' field) is empty; every series needs one.")
    if header.class_label and label not in header.class_names:
        shown = " ".join(header.class_names[:20]) + (" ..." if len(header.class_names) > 20 else "")
        raise _fail(
            path,
            number,
            f"the class {label!r} is not declared in @classLabel (line {header.class_line}: {shown}); "
            "add it there or fix the label.",
        )
    return label


def _dimension_count(header: TsHeader) -> int | None:
    if header.dimensions is not None:
        return header.dimensions
    if header.univariate:
        return 1
    return None


def read_ts(path: Path | str) -> TsData:
    """Parse a whole .ts file; every series comes back as a float32 (C, T_i) array."""
    path = Path(path)
    text = _text(path)
    header, lines = _header(path, text)
    expected = _dimension_count(header)
    series: list[np.ndarray] = []
    labels: list[str] = []
    targets: list[float] = []
    numbers: list[int] = []
    for number, line in lines:
        if line[0] == "@":
            raise _fail(path, number, f"header {line.split()[0]!r} after @data; move it above @data.")
        fields = line.split(":")
        if header.labelled:
            if len(fields) < 2:
                raise _fail(
                    path, number, "no label: the header declares labels, so the line must end with ':label'."
                )
            *dims, last = fields
            if header.class_label:
                labels.append(_label(path, number, header, last))
            else:
                try:
                    targets.append(float(last))
                except ValueError:
                    raise _fail(
                        path, number, f"the target {last.strip()!r} is not a number (@targetLabel true)."
                    ) from None
        else:
            dims = fields
        if expected is None:
            expected = len(dims)
        if len(dims) != expected:
            declared = "declared" if _dimension_count(header) is not None else "on the first series"
            extra = " (is the last field a class label? then declare it with @classLabel true ...)"
            raise _fail(
                path,
                number,
                f"{len(dims)} dimension(s) separated by ':', but {expected} {declared}"
                + (extra if not header.labelled and len(dims) == expected + 1 else "")
                + ".",
            )
        rows = [_values(path, number, d, text) for d, text in enumerate(dims, start=1)]
        length = len(rows[0])
        if any(len(r) != length for r in rows):
            counts = ", ".join(str(len(r)) for r in rows)
            raise _fail(
                path,
                number,
                f"the dimensions of one series have different lengths ({counts}); give each the same.",
            )
        if length == 0:
            raise _fail(path, number, "the series has no values.")
        if header.equal_length and header.series_length is not None and length != header.series_length:
            raise _fail(
                path,
                number,
                f"the series has {length} values but @seriesLength is {header.series_length} "
                "(@equalLength true); the line may be cut short - fix it or the header.",
            )
        series.append(np.array(rows, dtype=np.float32))
        numbers.append(number)
    return TsData(
        path=path,
        header=header,
        series=series,
        labels=labels if header.class_label else None,
        targets=np.array(targets, dtype=np.float64) if header.target_label else None,
        lines=numbers,
    )


def scan_ts(path: Path | str) -> TsSummary:
    """Header, series count, channels and lengths, counting separators rather than parsing values."""
    path = Path(path)
    text = _text(path)
    header, lines = _header(path, text)
    count, channels, shortest, longest = 0, 0, 0, 0
    for _, line in lines:
        first = line.partition(":")[0]
        steps = first.count(",") + 1 if first.strip() else 0
        if count == 0:
            channels = line.count(":") + 1 - (1 if header.labelled else 0)
            shortest = longest = steps
        shortest, longest = min(shortest, steps), max(longest, steps)
        count += 1
    return TsSummary(header=header, count=count, channels=channels, lengths=(shortest, longest))
