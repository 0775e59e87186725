"""The .ts reader: agreement with sktime's own loader on its bundled files, the format's corners, bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ssl_core.data.series_bundled import data_folder
from ssl_core.data.series_ts import read_ts, scan_ts
from ssl_core.errors import UserError

DATA = data_folder()
needs_sktime = pytest.mark.skipif(DATA is None, reason="sktime (which ships the .ts files) is not installed")

HEADER = "@problemName demo\n@timeStamps false\n@univariate true\n@classLabel true a b\n@data\n"


def write(tmp_path: Path, text: str, name: str = "demo.ts") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def error(path: Path) -> str:
    with pytest.raises(UserError) as info:
        read_ts(path)
    message = str(info.value)
    assert str(path) in message and "\n" not in message
    return message


# ---- agreement with sktime ------------------------------------------------------------------------
@needs_sktime
@pytest.mark.parametrize(
    "name",
    [
        "GunPoint/GunPoint_TRAIN.ts",
        "BasicMotions/BasicMotions_TEST.ts",
        "JapaneseVowels/JapaneseVowels_TRAIN.ts",
    ]
    + ["Tecator/Tecator_TEST.ts", "UnitTest/UnitTest_TRAIN.ts"],
)
def test_values_and_labels_equal_sktimes_loader(name):
    from sktime.datasets import load_from_tsfile  # only here: sktime is slow to import

    path = DATA / name
    ours = read_ts(path)
    frame, y = load_from_tsfile(str(path))
    assert len(ours.series) == len(frame) == len(ours.lines)
    for i in range(len(frame)):
        ref = np.stack([np.asarray(frame.iloc[i, c], dtype=np.float64) for c in range(frame.shape[1])])
        got = ours.series[i]
        assert got.dtype == np.float32 and got.shape == ref.shape
        assert np.array_equal(got, ref.astype(np.float32), equal_nan=True)
    if ours.labels is not None:
        # sktime lowercases every line it reads; we keep the file's own spelling.
        assert [label.lower() for label in ours.labels] == [str(v) for v in y]
        assert set(ours.labels) <= set(ours.class_names)
    else:  # Tecator is a regression problem: the last field is a numeric target
        assert ours.header.target_label and np.allclose(ours.targets, y.astype(np.float64))


@needs_sktime
def test_multivariate_unequal_length_file():
    data = read_ts(DATA / "JapaneseVowels" / "JapaneseVowels_TRAIN.ts")
    lengths = {s.shape[1] for s in data.series}
    assert {s.shape[0] for s in data.series} == {12} and min(lengths) < max(lengths)
    assert data.class_names == [str(i) for i in range(1, 10)]
    assert data.problem_name == "JapaneseVowels" and data.metadata["equal_length"] is False


@needs_sktime
def test_class_names_keep_header_order_and_case():
    data = read_ts(DATA / "BasicMotions" / "BasicMotions_TRAIN.ts")
    assert data.class_names == ["Standing", "Running", "Walking", "Badminton"]
    assert data.series[0].shape == (6, 100) and data.labels[0] == "Standing"


@needs_sktime
def test_scan_counts_without_parsing():
    summary = scan_ts(DATA / "JapaneseVowels" / "JapaneseVowels_TEST.ts")
    assert summary.count == 370 and summary.channels == 12
    full = read_ts(DATA / "JapaneseVowels" / "JapaneseVowels_TEST.ts")
    lengths = [s.shape[1] for s in full.series]
    assert summary.lengths == (min(lengths), max(lengths))
    gun = scan_ts(DATA / "GunPoint" / "GunPoint_TRAIN.ts")
    assert (gun.count, gun.channels, gun.lengths, gun.header.series_length) == (50, 1, (150, 150), 150)


# ---- the format's corners -------------------------------------------------------------------------
def test_comments_blank_lines_missing_values_and_case_insensitive_headers(tmp_path):
    text = (
        "# a comment\n% another\n\n@PROBLEMNAME Demo\n@timestamps FALSE\n@missing true\n@Univariate false\n"
        "@dimensions 2\n@equallength false\n@classlabel true x y\n@data\n"
        "1,2,?,4:5,6,7,8:x\n\n# comment between series\n 1.5e1 , -2 , 3 :7,8,9:y\n"
    )
    data = read_ts(write(tmp_path, text))
    assert data.problem_name == "Demo" and data.lines == [12, 15]
    first, second = data.series
    assert first.shape == (2, 4) and np.isnan(first[0, 2]) and first[1].tolist() == [5, 6, 7, 8]
    assert second.tolist() == [[15.0, -2.0, 3.0], [7.0, 8.0, 9.0]]
    assert data.labels == ["x", "y"] and data.header.missing is True


def test_unlabelled_file_uses_every_field_as_a_dimension(tmp_path):
    text = (
        "@problemName u\n@timeStamps false\n@univariate false\n@classLabel false\n@data\n1,2:3,4\n5,6:7,8\n"
    )
    data = read_ts(write(tmp_path, text))
    assert data.labels is None and data.targets is None and data.class_names == []
    assert [s.tolist() for s in data.series] == [[[1, 2], [3, 4]], [[5, 6], [7, 8]]]


def test_target_label_is_a_number(tmp_path):
    text = "@problemName r\n@timeStamps false\n@univariate true\n@targetLabel true\n@data\n1,2,3:0.5\n4,5,6:1.5\n"
    data = read_ts(write(tmp_path, text))
    assert data.labels is None and data.targets.tolist() == [0.5, 1.5]
    assert "not a number" in error(write(tmp_path, text.replace(":1.5", ":high"), "bad.ts"))


def test_byte_order_mark_and_windows_line_ends(tmp_path):
    path = tmp_path / "bom.ts"
    path.write_bytes(b"\xef\xbb\xbf" + HEADER.replace("\n", "\r\n").encode() + b"1,2,3:a\r\n4,5,6:b\r\n")
    data = read_ts(path)
    assert data.labels == ["a", "b"] and data.series[1].tolist() == [[4, 5, 6]]


# ---- bad input ----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "text, needles",
    [
        (HEADER.replace("@univariate true", "@univariat true"), ["line 3", "unknown header", "@univariate"]),
        (HEADER.replace("@timeStamps false", "@timeStamps maybe"), ["line 2", "true or false", "maybe"]),
        (HEADER.replace("@timeStamps false", "@timeStamps true"), ["line 2", "not supported"]),
        (HEADER.replace("@classLabel true a b", "@classLabel true"), ["line 4", "class names"]),
        (HEADER.replace("@classLabel true a b", "@classLabel true a a"), ["line 4", "more than once"]),
        (HEADER.replace("@univariate true", "@dimensions two"), ["line 3", "whole number", "two"]),
        (HEADER.replace("@univariate true", "@seriesLength 0"), ["line 3", "whole number"]),
        (HEADER.replace("@data", "@data now"), ["line 5", "no value"]),
        (HEADER + "@missing false\n1,2:a\n", ["line 6", "after @data"]),
        (HEADER.replace("@univariate true\n", "@univariate true\n@univariate true\n"), ["line 4", "twice"]),
        ("1,2,3:a\n" + HEADER, ["line 1", "before any header"]),
        (HEADER.replace("@data\n", ""), ["no @data line"]),
        (HEADER + "1,2:3,4:a\n", ["line 6", "2 dimension(s)", "but 1 declared"]),
        (HEADER + "1,2,x3:a\n", ["line 6", "dimension 1, value 3", "'x3'", "not a number"]),
        (HEADER + "1,,3:a\n", ["line 6", "value 2 is empty"]),
        (HEADER + "1,2,3:a\n1,2,3:c\n", ["line 7", "'c'", "not declared in @classLabel", "line 4"]),
        (HEADER + "1,2,3\n", ["line 6", "no label"]),
        (HEADER + "1,2,3:\n", ["line 6", "label", "empty"]),
        (HEADER + ":a\n", ["line 6", "no values"]),
        (
            HEADER.replace("@univariate true", "@univariate false\n@dimensions 2") + "1,2:3:a\n",
            ["line 7", "different lengths (2, 1)"],
        ),
        (
            HEADER.replace("@univariate true", "@univariate true\n@equalLength true\n@seriesLength 4")
            + "1,2,3,4:a\n1,2,3:b\n",
            ["line 9", "3 values", "@seriesLength is 4"],
        ),
        (
            HEADER.replace("@classLabel true a b", "@classLabel false") + "1,2:3,4\n",
            ["line 6", "@classLabel true"],
        ),
        (
            HEADER.replace("@univariate true", "@univariate true\n@dimensions 3"),
            ["@univariate true but @dimensions 3"],
        ),
        ("", ["is empty"]),
        ("# only a comment\n", ["no @data line"]),
    ],
    ids=[
        "unknown-header",
        "bad-boolean",
        "timestamps",
        "classlabel-without-names",
        "duplicate-class",
        "dimensions-not-a-number",
        "serieslength-zero",
        "data-with-value",
        "header-after-data",
        "header-twice",
        "data-before-header",
        "no-data-line",
        "too-many-dimensions",
        "text-value",
        "empty-value",
        "undeclared-label",
        "missing-label",
        "empty-label",
        "empty-series",
        "dimensions-of-different-lengths",
        "series-length-mismatch",
        "label-like-extra-dimension",
        "univariate-with-three-dimensions",
        "empty-file",
        "comment-only",
    ],
)
def test_bad_files_name_the_file_and_line(tmp_path, text, needles):
    message = error(write(tmp_path, text))
    for needle in needles:
        assert needle in message, message


def test_binary_file_is_refused_with_the_byte(tmp_path):
    path = tmp_path / "photo.ts"
    path.write_bytes(b"@problemName x\n\x89PNG\xff\xfe\n")
    message = error(path)
    assert "line 2" in message and "not UTF-8" in message and "byte 15" in message


def test_zero_series_parse_to_an_empty_list(tmp_path):
    data = read_ts(write(tmp_path, HEADER))
    assert data.series == [] and data.labels == []
    assert scan_ts(write(tmp_path, HEADER, "again.ts")).count == 0
