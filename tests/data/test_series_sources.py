"""series:NAME|PATH and series arrays: every format, the shared finishing step, and every bad input."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from ssl_core.data import DATA_SOURCES, describe, open_source, parse_spec
from ssl_core.data import series_bundled as bundled
from ssl_core.data.series import impute_series
from ssl_core.data.series_source import split_table_options
from ssl_core.errors import UserError

needs_sktime = pytest.mark.skipif(bundled.data_folder() is None, reason="sktime is not installed")


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def error(spec: str, **kwargs) -> str:
    with pytest.raises(UserError) as info:
        open_source(spec, **kwargs)
    message = str(info.value)
    assert "\n" not in message
    return message


def values(source) -> np.ndarray:
    return source.read(torch.arange(len(source)))[0].numpy()


# ---- bundled sets ---------------------------------------------------------------------------------
@needs_sktime
def test_bundled_set_joins_train_and_test_and_ignores_case():
    source = open_source("series:basicMOTIONS")
    info = source.info
    assert (info.name, info.size, info.modality, info.sample_shape) == (
        "BasicMotions",
        80,
        "series",
        (6, 100),
    )
    assert info.sample_dtype == "float32" and (info.height, info.width) == (0, 0)
    assert info.class_names == ["Standing", "Running", "Walking", "Badminton"]
    assert torch.bincount(source.labels()).tolist() == [20, 20, 20, 20]
    assert "TRAIN and TEST files joined (40 + 40); the run's own split decides what is held out" in info.notes
    x = values(source)
    assert x.dtype == np.float32 and x.shape == (80, 6, 100)
    from ssl_core.data.series_ts import read_ts

    first = read_ts(bundled.data_folder() / "BasicMotions" / "BasicMotions_TRAIN.ts").series[0]
    assert np.array_equal(x[0], first)  # raw values: no standardisation in the source


@needs_sktime
def test_unequal_bundled_set_is_padded_to_the_longest_and_says_so():
    info = open_source("series:JapaneseVowels").info
    assert info.sample_shape == (12, 29) and info.extra["lengths"] == [7, 29]
    assert any("padded to 29 steps by holding their last value" in n for n in info.notes)
    assert any("vary from 7 to 29" in n for n in info.notes)


@needs_sktime
def test_regression_set_loads_unlabelled_with_a_note():
    info = open_source("series:Tecator").info
    assert not info.has_labels and any("regression" in n for n in info.notes)


@needs_sktime
def test_list_of_bundled_sets_has_their_facts():
    facts = {b.name: b for b in bundled.list_bundled_series()}
    assert {"BasicMotions", "GunPoint", "JapaneseVowels"} <= set(facts)
    basic = facts["BasicMotions"]
    assert (basic.channels, basic.length, basic.classes, basic.train, basic.test) == (6, "100", 4, 40, 40)
    assert facts["JapaneseVowels"].length == "7-29" and facts["JapaneseVowels"].size == 640
    assert facts["Tecator"].task == "regression" and facts["Tecator"].classes == 0
    assert set(DATA_SOURCES.get("series").choices) == set(facts)


@needs_sktime
def test_unknown_bundled_name_suggests_and_lists():
    message = error("series:GunPiont")
    assert "Did you mean GunPoint?" in message and "BasicMotions" in message and ".csv" in message


def test_missing_sktime_says_how_to_install(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(
        bundled.importlib.util, "find_spec", lambda name, *a: None if name == "sktime" else real(name, *a)
    )
    assert bundled.data_folder() is None and bundled.bundled_names() == ()
    message = error("series:BasicMotions")
    assert "pip install sktime" in message and "not installed" in message


# ---- .ts files and spec parsing -------------------------------------------------------------------
TS = (
    "@problemName demo\n@timeStamps false\n@univariate false\n@dimensions 2\n@equalLength false\n"
    "@classLabel true up down\n@data\n1,2,3,4:5,6,7,8:down\n1,2:3,4:up\n9,8,7,6,5:1,1,1,1,1:down\n"
)


def test_ts_file_through_the_scheme_and_as_a_bare_path(tmp_path):
    path = write(tmp_path / "demo.ts", TS)
    source = open_source(f"series:{path}")
    assert parse_spec(str(path))[0].scheme == "series"
    bare = open_source(str(path))
    assert bare.info.modality == "series" and np.array_equal(values(bare), values(source))
    info = source.info
    assert info.class_names == ["up", "down"] and source.labels().tolist() == [1, 0, 1]
    x = values(source)
    assert x.shape == (3, 2, 5)
    assert x[1].tolist() == [[1, 2, 2, 2, 2], [3, 4, 4, 4, 4]]  # padded by holding the last value
    assert info.extra["lengths"] == [2, 5] and info.extra["padded"] == 2


def test_crop_to_a_chosen_length(tmp_path):
    path = write(tmp_path / "demo.ts", TS)
    source = open_source(f"series:{path}", length=3)
    x = values(source)
    assert x.shape == (3, 2, 3) and x[2].tolist() == [[9, 8, 7], [1, 1, 1]]  # the first steps are kept
    assert x[1].tolist() == [[1, 2, 2], [3, 4, 4]]
    assert source.info.extra["cropped"] == 2 and source.info.extra["padded"] == 1
    assert any("2 of 3 series cropped to their first 3 steps" in n for n in source.info.notes)


def test_describe_names_series_channels_and_steps(tmp_path):
    text = describe(open_source(f"series:{write(tmp_path / 'demo.ts', TS)}"))
    assert "series:   3, each 2 channels x 5 steps (float32)" in text
    assert "lengths:  2 to 5 steps" in text and "2 classes: up (1), down (2)" in text
    assert "images:" not in text


def test_table_options_are_split_from_the_path():
    assert split_table_options("~/a.csv:label=diagnosis:layout=long") == (
        "~/a.csv",
        {"label": "diagnosis", "layout": "long"},
    )
    assert split_table_options(r"C:\data\x.csv") == (r"C:\data\x.csv", {})
    assert split_table_options("/d/odd:name.csv") == ("/d/odd:name.csv", {})


# ---- CSV / TSV: wide layout -----------------------------------------------------------------------
def test_wide_csv_with_labels_and_trailing_empty_cells(tmp_path):
    path = write(
        tmp_path / "w.csv", "t0,t1,t2,t3,class\n0.1,0.3,0.2,0.5,walk\n1.2,0.9,,,run\n5,6,7,8,walk,,\n"
    )
    source = open_source(f"series:{path}")
    x = values(source)
    assert x.shape == (3, 1, 4) and x[1, 0].tolist() == pytest.approx([1.2, 0.9, 0.9, 0.9])
    assert source.info.class_names == ["run", "walk"] and source.labels().tolist() == [1, 0, 1]
    assert any("read as shorter series" in n for n in source.info.notes)


def test_headerless_tsv_with_the_label_column_chosen_by_number(tmp_path):
    path = write(tmp_path / "ucr.tsv", "2\t0.5\t0.25\t0\n10\t1\t2\t3\n2\t4\t5\t6\n")
    unlabelled = open_source(f"series:{path}")
    assert not unlabelled.info.has_labels and unlabelled.info.sample_shape == (1, 4)
    assert any("add :label=1" in n for n in unlabelled.info.notes)
    source = open_source(f"series:{path}:label=1")
    assert source.info.class_names == ["2", "10"]  # whole numbers sort numerically
    assert source.labels().tolist() == [0, 1, 0] and values(source)[0, 0].tolist() == [0.5, 0.25, 0]


def test_semicolon_csv_named_label_column_index_column_and_label_none(tmp_path):
    path = write(tmp_path / "s.csv", ";a;b;c;target\n0;1;2;3;x\n1;4;5;6;y\n")
    source = open_source(f"series:{path}:label=target")
    assert values(source)[1, 0].tolist() == [4, 5, 6] and source.info.class_names == ["x", "y"]
    assert any("row index" in n for n in source.info.notes)
    plain = write(tmp_path / "p.csv", "label,a,b\n1,2,3\n4,5,6\n")
    assert not open_source(f"series:{plain}:label=none").info.has_labels


def test_wide_missing_values_are_refused_with_a_count_then_imputed(tmp_path):
    path = write(tmp_path / "gaps.csv", "a,b,c,d,e\n1,,3,NaN,5\n1,2,3,4,5\n?,2,inf,4,5\n")
    message = error(f"series:{path}")
    assert str(path) in message and "3 NaN and 1 infinite values in 2 series" in message
    assert "--set data.missing=impute" in message
    source = open_source(f"series:{path}", missing="impute")
    x = values(source)
    assert x[0, 0].tolist() == [1, 2, 3, 4, 5]  # linear in time
    assert x[2, 0].tolist() == [2, 2, 3, 4, 5]  # the edge takes the nearest value; inf interpolated
    assert source.info.extra["imputed"] == 4 and any(
        "imputed 3 NaN and 1 infinite" in n for n in source.info.notes
    )


def test_impute_fills_an_all_missing_channel_with_zero():
    filled, empty = impute_series(np.array([[np.nan, np.nan, np.nan], [1, np.nan, 3]], dtype=np.float32))
    assert empty == 1 and filled.tolist() == [[0, 0, 0], [1, 2, 3]]


# ---- CSV: long layout -----------------------------------------------------------------------------
LONG = "id,time,x,y,label\nb,1,1.1,0.8,run\na,1,0.2,0.4,walk\na,0,0.1,0.5,walk\nb,0,1.0,0.9,run\nb,2,1.2,0.7,run\n"


def test_long_csv_groups_by_id_orders_by_time_and_names_channels(tmp_path):
    source = open_source(f"series:{write(tmp_path / 'l.csv', LONG)}")
    info = source.info
    assert info.sample_shape == (2, 3) and info.extra["channel_names"] == ["x", "y"]
    x = values(source)
    assert np.allclose(x[0], [[1.0, 1.1, 1.2], [0.9, 0.8, 0.7]])  # series "b" was seen first
    assert np.allclose(x[1], [[0.1, 0.2, 0.2], [0.5, 0.4, 0.4]])  # padded
    assert info.class_names == ["run", "walk"] and source.labels().tolist() == [0, 1]
    assert "channels: x, y" in describe(source)


def test_long_csv_without_time_keeps_file_order_and_sorts_iso_dates(tmp_path):
    plain = write(tmp_path / "p.csv", "series,v\ns1,3\ns1,1\ns2,5\ns2,6\n")
    assert values(open_source(f"series:{plain}"))[:, 0].tolist() == [[3, 1], [5, 6]]
    dated = write(tmp_path / "d.csv", "id,timestamp,v\nk,2024-01-03,3\nk,2024-01-01,1\nk,2024-01-02,2\n")
    source = open_source(f"series:{dated}")
    assert values(source)[0, 0].tolist() == [1, 2, 3]


def test_long_layout_forced_with_a_chosen_id_column(tmp_path):
    path = write(tmp_path / "f.csv", "who,step,v\np,0,1\np,1,2\nq,0,3\nq,1,4\n")
    assert "'p', which is not a number" in error(f"series:{path}")  # no id column: read as wide
    source = open_source(f"series:{path}:id=who:layout=long")
    assert source.info.size == 2 and values(source)[:, 0].tolist() == [[1, 2], [3, 4]]


def test_an_id_column_with_unique_ids_names_the_rows_of_a_wide_table(tmp_path):
    path = write(tmp_path / "named.csv", "id,t0,t1,t2,label\nann,1,2,3,a\nbob,4,5,6,b\ncy,7,8,9,a\n")
    source = open_source(f"series:{path}")
    assert source.info.sample_shape == (1, 3) and values(source)[:, 0].tolist() == [
        [1, 2, 3],
        [4, 5, 6],
        [7, 8, 9],
    ]
    assert source.labels().tolist() == [0, 1, 0]
    assert any("names the series" in n for n in source.info.notes)
    assert "single time step" in error(f"series:{path}:layout=long")  # forced: three one-step series


# ---- bad tables -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "text, needles",
    [
        ("a,b,c\n1,2,3\n1,2\n", ["line 3", "2 fields but the header has 3", "delimiters"]),
        ("a,b,c\n1,2,3\n1,2,3,4\n", ["line 3", "4 fields but the header has 3"]),
        ("1,2,3\n1,2,3,4\n", ["line 2", "4 fields but the first row has 3"]),
        ("a,b,c\n1,2,3\n1,two,3\n", ["line 3", "column 2 ('b')", "'two'", "not a number", "label"]),
        ("label,a,b\nx,1,2\n,3,4\n", ["line 3", "label", "empty"]),
        ("a,b\n1,2\n,\n3\n", ["line 4", "1 fields"]),
        ("id,v\na,1\na,x\n", ["line 3", "column 2 ('v')", "'x'"]),
        ("id,t,v\na,0,1\na,0,2\n", ["line 3", "time '0' twice", "lines 2 and 3"]),
        ("id,v,label\na,1,x\na,2,y\n", ["line 3", "changes label from 'x'", "to 'y'"]),
        ("id,label\na,x\na,x\n", ["no value columns"]),
        ("id,label\nx,a\n", ["no time-step columns"]),
        ("a,b,c\n", ["header but no rows"]),
        ("", ["is empty"]),
        ("\n\n", ["is empty"]),
        ("a,b\n5\n", ["line 2"]),
        ("a\n1\n2\n", ["single time step", "at least 2"]),
    ],
    ids=[
        "ragged-short",
        "ragged-long",
        "ragged-headerless",
        "text-in-numeric-column",
        "empty-label",
        "short-row-later",
        "long-text-value",
        "long-duplicate-time",
        "long-label-changes",
        "long-no-channels",
        "wide-no-values",
        "header-only",
        "empty-file",
        "blank-file",
        "one-field",
        "single-time-step",
    ],
)
def test_bad_tables_name_file_and_line(tmp_path, text, needles):
    path = write(tmp_path / "bad.csv", text)
    message = error(f"series:{path}")
    assert str(path) in message
    for needle in needles:
        assert needle in message, message


def test_bad_table_options(tmp_path):
    path = write(tmp_path / "o.csv", "a,b\n1,2\n3,4\n")
    assert "no column 'kind' for the label" in error(f"series:{path}:label=kind")
    assert "layout=wide" in error(f"series:{path}:layout=tall")
    assert "needs an id column" in error(f"series:{path}:layout=long")
    ts = write(tmp_path / "x.ts", TS)
    assert "only applies to CSV/TSV" in error(f"series:{ts}:label=a")
    assert "twice" in error(f"series:{path}:label=a:label=b")


def test_wrong_files_and_paths(tmp_path):
    assert "does not exist" in error(f"series:{tmp_path / 'none.csv'}")
    assert "is a folder" in error(f"series:{tmp_path}/")
    other = write(tmp_path / "x.json", "{}")
    assert "reads .ts, .csv, .tsv" in error(f"series:{other}")
    binary = tmp_path / "b.csv"
    binary.write_bytes(b"\x00\x01\x02")
    assert "binary file" in error(f"series:{binary}")
    latin = tmp_path / "l.csv"
    latin.write_bytes(b"a,b\n1,2\n\xe9,3\n")
    assert "line 3" in error(f"series:{latin}") and "UTF-8" in error(f"series:{latin}")


def test_bad_options_name_the_setting(tmp_path):
    path = write(tmp_path / "demo.ts", TS)
    assert "data.missing" in error(f"series:{path}", missing="drop")
    assert "data.length" in error(f"series:{path}", length=1)
    assert "data.length" in error(f"series:{path}", length=0)


def test_zero_series_and_a_single_step(tmp_path):
    header = TS.split("1,2,3,4")[0]
    assert "holds no series" in error(f"series:{write(tmp_path / 'none.ts', header)}")
    one = write(tmp_path / "one.ts", header.replace("@dimensions 2", "@dimensions 1") + "1:up\n2:down\n")
    message = error(f"series:{one}")
    assert "single time step" in message and "at least 2" in message and "8 or more" in message


def test_labels_that_do_not_match_the_declared_classes(tmp_path):
    path = write(tmp_path / "bad.ts", TS.replace("5,6,7,8:down", "5,6,7,8:sideways"))
    message = error(f"series:{path}")
    assert "line 8" in message and "'sideways'" in message and "not declared" in message


# ---- NumPy arrays -------------------------------------------------------------------------------
def test_npz_series_key_is_always_series(tmp_path):
    x = np.arange(2 * 3 * 5, dtype=np.float64).reshape(2, 3, 5)
    np.savez(tmp_path / "s.npz", series=x, labels=np.array([7, 3]))
    source = open_source(f"npz:{tmp_path / 's.npz'}")
    assert source.info.modality == "series" and source.info.sample_shape == (3, 5)
    assert np.array_equal(values(source), x.astype(np.float32))
    assert source.info.class_names == ["3", "7"] and source.labels().tolist() == [1, 0]
    np.savez(tmp_path / "n.npz", series=x, labels=np.array(["walk", "run"]))  # class names as text
    named = open_source(f"npz:{tmp_path / 'n.npz'}")
    assert named.info.class_names == ["run", "walk"] and named.labels().tolist() == [1, 0]
    np.savez(tmp_path / "g.npz", signals=np.ones((4, 6), np.int16))  # integers are fine for series
    assert open_source(f"npz:{tmp_path / 'g.npz'}").info.sample_shape == (1, 6)


def test_2d_float_arrays_are_univariate_series(tmp_path):
    x = np.random.default_rng(0).normal(size=(5, 12)).astype(np.float32)
    np.save(tmp_path / "u.npy", x)
    source = open_source(f"npy:{tmp_path / 'u.npy'}")
    assert source.info.sample_shape == (1, 12) and np.array_equal(values(source)[:, 0], x)
    np.savez(tmp_path / "u.npz", x=x, y=np.arange(5) % 2)
    assert open_source(f"npz:{tmp_path / 'u.npz'}").info.num_classes == 2
    with pytest.raises(UserError, match=r"3-D \(N, H, W\)"):  # asked for images: a 2-D array is not
        open_source(f"npy:{tmp_path / 'u.npy'}", modality="image")


def test_3d_arrays_stay_images_unless_series_is_asked_for(tmp_path):
    x = np.random.default_rng(0).random((4, 3, 8)).astype(np.float32)
    np.savez(tmp_path / "a.npz", x=x)
    assert open_source(f"npz:{tmp_path / 'a.npz'}").info.modality == "image"
    as_series = open_source(f"npz:{tmp_path / 'a.npz'}", modality="series")
    assert as_series.info.sample_shape == (3, 8) and np.array_equal(values(as_series), x)
    via_scheme = open_source(f"series:{tmp_path / 'a.npz'}")
    assert via_scheme.info.modality == "series" and via_scheme.info.sample_shape == (3, 8)
    np.savez(tmp_path / "both.npz", series=x)
    forced = open_source(f"npz:{tmp_path / 'both.npz'}", modality="image")  # image wins when forced
    assert forced.info.modality == "image" and forced.info.image_shape == (1, 3, 8)


@pytest.mark.parametrize("shape", [(12,), (2, 3, 4, 5)])
def test_series_of_the_wrong_rank(tmp_path, shape):
    np.savez(tmp_path / "r.npz", series=np.zeros(shape, np.float32))
    message = error(f"npz:{tmp_path / 'r.npz'}")
    assert str(tmp_path / "r.npz") in message and str(shape) in message and "(N, C, T)" in message


def test_series_arrays_bad_values_and_labels(tmp_path):
    x = np.ones((3, 10), np.float32)
    x[1, 4] = np.nan
    np.savez(tmp_path / "n.npz", series=x)
    assert "1 NaN value in 1 series" in error(f"npz:{tmp_path / 'n.npz'}")
    filled = open_source(f"npz:{tmp_path / 'n.npz'}", missing="impute")
    assert values(filled)[1, 0, 4] == 1.0
    np.savez(tmp_path / "l.npz", series=np.ones((3, 10)), labels=np.arange(2))
    assert "2 labels for 3 series" in error(f"npz:{tmp_path / 'l.npz'}")
    np.savez(tmp_path / "t.npz", series=np.array([["a"] * 4] * 3))
    assert "not numeric" in error(f"npz:{tmp_path / 't.npz'}")
    np.savez(tmp_path / "z.npz", series=np.zeros((0, 10)))
    assert "holds no series" in error(f"npz:{tmp_path / 'z.npz'}")
    np.savez(tmp_path / "k.npz", w=np.zeros(3), b=np.zeros(2))
    assert "has no series" in error(f"npz:{tmp_path / 'k.npz'}", modality="series")


# ---- registry and CLI ------------------------------------------------------------------------------
def test_series_kind_is_registered_for_the_gui():
    kind = DATA_SOURCES.get("series")
    assert (kind.title, kind.example, kind.argument, kind.browse) == (
        "Time series",
        "series:BasicMotions",
        "NAME|PATH",
        "file",
    )
    assert (
        kind.file_pattern == "*.ts *.csv *.tsv" and "id" in kind.description and "label" in kind.description
    )
    assert parse_spec("series:BasicMotions")[0] is kind


@needs_sktime
def test_cli_data_list_shows_kinds_and_bundled_sets(capsys):
    from ssl_core.cli.main import main

    assert main(["data", "--list"]) == 0
    out = capsys.readouterr().out
    for text in ("series:NAME|PATH", "npz:PATH", "digits", "BasicMotions", "JapaneseVowels", "7-29"):
        assert text in out
    assert main(["data", "--list", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert "series" in [k["scheme"] for k in listed["kinds"]]
    basic = next(b for b in listed["bundled_series"] if b["name"] == "BasicMotions")
    assert (basic["series"], basic["channels"], basic["classes"]) == (80, 6, 4)


def test_cli_data_describes_series_and_takes_series_settings(tmp_path, capsys):
    from ssl_core.cli.main import main

    path = write(tmp_path / "gaps.csv", "a,b,c\n1,,3\n4,5,6\n")
    assert main(["data", f"series:{path}"]) == 2
    assert "data.missing=impute" in capsys.readouterr().err
    assert main(["data", f"series:{path}", "--set", "data.missing=impute", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["modality"] == "series" and info["extra"]["imputed"] == 1
    assert main(["data", f"series:{path}", "--missing", "impute", "--length", "5"]) == 0
    assert "2 of 2 series padded to 5 steps" in capsys.readouterr().out
    assert main(["data"]) == 2 and "--list" in capsys.readouterr().err
