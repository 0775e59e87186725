"""Time-series files with broken headers, ragged rows, text, gaps and wrong shapes, through `ssl-core data`.

A series file is all-or-nothing (one file), so each bad one is refused with one line naming the file,
the line (where there is one) and what to do; exit code 2, no traceback. Gaps are refused by default and
load once data.missing=impute is asked for.
"""

from __future__ import annotations

import importlib.util
import io
import os

import numpy as np
import pytest

GROUP = "Bad time series"
pytestmark = pytest.mark.timeout(60)

TS_HEADER = "@problemName demo\n@timeStamps false\n@univariate true\n@classLabel true a b\n@data\n"


def _gaps() -> str:
    """12 missing values spread over 3 of 4 series."""
    rows = ["t0,t1,t2,t3,t4,t5,t6,t7"]
    rows.append("1,,,,5,6,7,8")  # 3 empty cells
    rows.append("1,2,NaN,NaN,NaN,NaN,7,8")  # 4 NaN
    rows.append("?,?,?,4,5,?,?,8")  # 5 '?'
    rows.append("1,2,3,4,5,6,7,8")
    return "\n".join(rows) + "\n"


def _npz(**arrays) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


REFUSED = [
    # id, file name, content, words the one-line message must contain (besides the file's path)
    ("ragged-csv-row", "ragged.csv", "a,b,c\n1,2,3\n1,2\n", ["line 3", "2 fields but the header has 3"]),
    ("extra-values", "wide.csv", "a,b\n1,2\n1,2,3\n", ["line 3", "3 fields"]),
    (
        "text-in-numeric-column",
        "text.csv",
        "a,b,c\n1,2,3\n1,two,3\n",
        ["line 3", "column 2 ('b')", "'two'", "not a number"],
    ),
    ("nan-values", "gaps.csv", _gaps(), ["12 NaN values in 3 series", "data.missing=impute"]),
    ("infinite-values", "inf.csv", "a,b,c\n1,inf,3\n1,2,-inf\n", ["2 infinite values in 2 series"]),
    ("single-time-step", "one.csv", "value\n1\n2\n3\n", ["single time step", "at least 2"]),
    ("header-only-csv", "header.csv", "a,b,c\n", ["header but no rows"]),
    ("empty-csv", "empty.csv", "", ["is empty"]),
    ("binary-as-csv", "photo.csv", b"\x89PNG\r\n\x1a\n\x00\x00", ["binary file"]),
    ("latin-1-csv", "latin.csv", b"a,b\n1,2\n\xe9t\xe9,3\n", ["line 3", "not UTF-8"]),
    ("long-label-changes", "long.csv", "id,v,label\na,1,x\na,2,y\n", ["line 3", "changes label"]),
    ("long-duplicate-time", "dup.csv", "id,time,v\na,0,1\na,0,2\n", ["line 3", "twice"]),
    (
        "ts-broken-header",
        "header.ts",
        TS_HEADER.replace("@classLabel true a b", "@classLabel maybe a b"),
        ["line 4", "true or false", "maybe"],
    ),
    (
        "ts-unknown-header",
        "typo.ts",
        TS_HEADER.replace("@univariate", "@univarite"),
        ["line 3", "unknown header"],
    ),
    (
        "ts-timestamps",
        "stamps.ts",
        TS_HEADER.replace("false", "true", 1),
        ["line 2", "@timeStamps true is not supported"],
    ),
    ("ts-undeclared-label", "label.ts", TS_HEADER + "1,2,3:a\n4,5,6:c\n", ["line 7", "'c'", "not declared"]),
    ("ts-wrong-dimensions", "dims.ts", TS_HEADER + "1,2,3:a\n4,5:6,7:b\n", ["line 7", "2 dimension(s)"]),
    ("ts-text-value", "value.ts", TS_HEADER + "1,2,x:a\n", ["line 6", "value 3", "'x'"]),
    ("ts-no-data-line", "nodata.ts", TS_HEADER.replace("@data\n", ""), ["no @data line"]),
    ("ts-no-series", "noseries.ts", TS_HEADER, ["holds no series"]),
    ("ts-empty", "empty.ts", "", ["is empty"]),
    (
        "npz-series-rank-1",
        "flat.npz",
        _npz(series=np.zeros(12, np.float32)),
        ["2-D (N, T) or 3-D (N, C, T)", "(12,)"],
    ),
    (
        "npz-series-rank-4",
        "cube.npz",
        _npz(series=np.zeros((2, 3, 4, 5), np.float32)),
        ["2-D (N, T) or 3-D (N, C, T)", "(2, 3, 4, 5)"],
    ),
    (
        "npz-series-label-count",
        "labels.npz",
        _npz(series=np.zeros((4, 8), np.float32), labels=np.arange(3)),
        ["3 labels for 4 series"],
    ),
    ("unsupported-suffix", "data.json", "{}", ["reads .ts, .csv, .tsv"]),
]


@pytest.mark.parametrize("name, content, needles", [r[1:] for r in REFUSED], ids=[r[0] for r in REFUSED])
def test_bad_series_file_is_refused(case, tmp_path, cli, name, content, needles):
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
        shown = f"{len(content)} bytes"
    else:
        path.write_text(content, encoding="utf-8")
        shown = repr(content if len(content) < 70 else content[:67] + "...")
    case.describe(
        f"`ssl-core data series:{name}` holding {shown}",
        f"exit 2, one line naming {name} and saying: {', '.join(needles)}",
    )
    line = cli.assert_refused(cli.run("data", f"series:{path}"), str(path), *needles)
    case.observe(line.replace(str(tmp_path), "TMP"))


def test_gaps_load_once_imputation_is_asked_for(case, tmp_path, cli):
    case.describe(
        "the 12-gap file with `--set data.missing=impute`",
        "exit 0; the summary notes 12 values imputed in 3 series",
    )
    path = tmp_path / "gaps.csv"
    path.write_text(_gaps(), encoding="utf-8")
    result = cli.run("data", f"series:{path}", "--set", "data.missing=impute")
    assert result.code == 0, result.err
    assert "imputed 12 NaN values in 3 series" in result.out and "4, each 1 channel x 8 steps" in result.out
    case.observe(next(ln.strip() for ln in result.out.splitlines() if "imputed" in ln))


def test_bad_series_settings(case, tmp_path, cli):
    case.describe(
        "data.length=1 and data.missing=drop for a good .ts file",
        "exit 2 each time, one line naming the setting and its range or choices",
    )
    path = tmp_path / "ok.ts"
    path.write_text(TS_HEADER + "1,2,3:a\n4,5,6:b\n", encoding="utf-8")
    lines = [
        cli.assert_refused(cli.run("data", f"series:{path}", "--set", "data.length=1"), "data.length", "2"),
        cli.assert_refused(
            cli.run("data", f"series:{path}", "--set", "data.missing=drop"), "data.missing", "impute"
        ),
    ]
    case.observe(" | ".join(lines))


def test_unknown_bundled_set_and_missing_paths(case, tmp_path, cli):
    case.describe(
        "series:GunPiont (a typo), series:PATH to a missing file, to a folder and to a named pipe",
        "exit 2 each time: a suggestion or what the path is; no hang on the pipe",
    )
    fifo = tmp_path / "stream.csv"
    os.mkfifo(fifo)
    checks = [
        (f"series:{tmp_path / 'none.csv'}", ["does not exist"]),
        (f"series:{tmp_path}/", ["is a folder"]),
        (f"series:{fifo}", ["not a regular file"]),
    ]
    if importlib.util.find_spec("sktime") is not None:
        checks.append(("series:GunPiont", ["not a bundled time-series set", "GunPoint"]))
    lines = [cli.assert_refused(cli.run("data", spec), *needles) for spec, needles in checks]
    case.observe(" | ".join(line.replace(str(tmp_path), "TMP") for line in lines))


def test_bundled_sets_without_sktime(case, cli, monkeypatch):
    case.describe(
        "series:BasicMotions where sktime is not installed", "exit 2: 'install it (pip install sktime)'"
    )
    from ssl_core.data import series_bundled

    real = importlib.util.find_spec
    monkeypatch.setattr(
        series_bundled.importlib.util,
        "find_spec",
        lambda name, *a: None if name == "sktime" else real(name, *a),
    )
    line = cli.assert_refused(cli.run("data", "series:BasicMotions"), "pip install sktime")
    case.observe(line)


def test_unequal_lengths_are_padded_and_stated(case, tmp_path, cli):
    case.describe(
        "a wide CSV whose rows end early (trailing empty cells), and --length 3",
        "exit 0; padded by holding the last value, then cropped to 3 steps, both stated",
    )
    path = tmp_path / "unequal.csv"
    path.write_text("a,b,c,d,e\n1,2,3,4,5\n1,2,,,\n", encoding="utf-8")
    padded = cli.run("data", f"series:{path}")
    cropped = cli.run("data", f"series:{path}", "--length", "3")
    assert padded.code == 0 and "1 of 2 series padded to 5 steps by holding their last value" in padded.out
    assert cropped.code == 0 and "1 of 2 series cropped to their first 3 steps" in cropped.out
    case.observe("padded to 5 steps by holding the last value; cropped to the first 3 steps")
