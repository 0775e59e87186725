"""csv:PATH, table:NAME and table arrays: every format, the bundled tables, scoring with a stored schema."""

from __future__ import annotations

import gzip
import json
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from ssl_core.config import RunConfig
from ssl_core.data import DATA_SOURCES, describe, open_source, parse_spec
from ssl_core.data.table_bundled import shuttle_path
from ssl_core.data.table_schema import table_schema_of
from ssl_core.errors import UserError
from ssl_core.train.builder import open_config_source

needs_river = pytest.mark.skipif(
    shuttle_path() is None, reason="river (which bundles the Shuttle table) is missing"
)

CSV = "id,age,city,member,label\nr1,31.5,Paris,yes,a\nr2,,Lyon,no,b\nr3,40,Paris,yes,a\nr4,52.25,Nice,no,b\n"


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    if path.name.endswith(".gz"):
        path.write_bytes(gzip.compress(text.encode(encoding)))
    else:
        path.write_bytes(text.encode(encoding))
    return path


def values(source) -> np.ndarray:
    return source.read(torch.arange(len(source)))[0].numpy()


def check_small(source, name: str) -> None:
    info = source.info
    assert (info.modality, info.sample_shape, info.sample_dtype) == ("table", (3,), "float32")
    assert (info.channels, info.height, info.width, info.size, info.name) == (3, 0, 0, 4, name)
    assert info.class_names == ["a", "b"] and source.labels().tolist() == [0, 1, 0, 1]
    x = values(source)
    np.testing.assert_array_equal(x[:, 0], np.array([31.5, np.nan, 40, 52.25], np.float32))
    assert x[:, 1].tolist() == [2, 0, 2, 1] and x[:, 2].tolist() == [1, 0, 1, 0]
    assert source.row_ids() == ["r1", "r2", "r3", "r4"]


# ---- formats --------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "sep"),
    [("people.csv", ","), ("people.tsv", "\t"), ("people.csv.gz", ","), ("people.tsv.gz", "\t"),
     ("people.txt", ";"), ("people.TXT", "\t")],
)  # fmt: skip
def test_every_format_reads_the_same_table(tmp_path, name, sep):
    path = write(tmp_path / name, CSV.replace(",", sep))
    source = open_source(f"csv:{path}")
    check_small(source, "people")
    assert source.info.spec == f"csv:{path}"


def test_space_separated_txt_files(tmp_path):
    text = CSV.replace(",,", ",NA,")  # spaces cannot show an empty cell
    path = write(tmp_path / "people.txt", "\n".join(" ".join(row.split(",")) for row in text.splitlines()))
    source = open_source(f"csv:{path}")
    check_small(source, "people")
    assert "columns separated by spaces" in source.info.notes


def test_bom_quotes_crlf_blank_lines_and_trailing_delimiters(tmp_path):
    text = '\ufeffid,age,city,member,label,\r\n\r\nr1,31.5,"Paris",yes,a,\r\nr2,,Lyon,no,b,\r\nr3,40,Paris,yes,a,\r\n'
    text += 'r4,52.25,"Nice",no,b,\r\n'
    source = open_source(f"csv:{write(tmp_path / 'crlf.csv', text)}")
    check_small(source, "crlf")
    quoted = write(tmp_path / "q.csv", 'name,v\n"Smith, J",1\n"Doe, A",2\n"Roe, B",3\n')
    schema = table_schema_of(open_source(f"csv:{quoted}").info)
    assert schema.names == ["name", "v"] and schema.column("name").categories == (
        "Doe, A",
        "Roe, B",
        "Smith, J",
    )


def test_semicolons_with_decimal_commas_and_latin_1_text(tmp_path):
    text = "id;age;city;member;label\nr1;31,5;Paris;yes;a\nr2;;Lyon;no;b\nr3;40;Paris;yes;a\nr4;52,25;Nice;no;b\n"
    source = open_source(f"csv:{write(tmp_path / 'euro.csv', text)}")
    check_small(source, "euro")
    assert any("decimal commas" in n for n in source.info.notes)
    latin = write(tmp_path / "latin.csv", "ville,n\nBézier,1\nOrléans,2\nBézier,3\n", encoding="latin-1")
    source = open_source(f"csv:{latin}")
    assert table_schema_of(source.info).column("ville").categories == ("Bézier", "Orléans")
    assert any("read as Latin-1" in n for n in source.info.notes)


def test_a_file_without_a_header_names_its_columns(tmp_path):
    path = write(tmp_path / "plain.csv", "1,2.5,0\n2,3.5,1\n3,1.5,0\n4,0.5,1\n")
    source = open_source(f"csv:{path}", label_column="column 3")
    assert table_schema_of(source.info).names == ["column 1", "column 2"]
    assert source.info.class_names == ["0", "1"] and any("no header row" in n for n in source.info.notes)


def test_bare_table_paths_and_the_registry(tmp_path):
    for name in ("a.csv", "b.tsv", "c.csv.gz"):
        path = write(tmp_path / name, CSV)
        assert parse_spec(str(path))[0].scheme == "csv"
    assert len(open_source(str(tmp_path / "c.csv.gz"))) == 4
    csv_kind, table_kind = DATA_SOURCES.get("csv"), DATA_SOURCES.get("table")
    assert csv_kind.browse == "file" and "*.csv" in csv_kind.file_pattern
    assert table_kind.choices == ("wine", "breast_cancer", "shuttle") and table_kind.browse == "name"


def test_the_summary_shows_each_columns_kind_and_the_dropped_ones(tmp_path):
    source = open_source(f"csv:{write(tmp_path / 'people.csv', CSV)}")
    text = describe(source)
    assert "table:    4 rows x 3 columns (1 numeric, 1 boolean, 1 categorical)" in text
    assert "age     numeric, 1 missing" in text and "city    categorical, 3 categories" in text
    assert "member  boolean" in text
    assert "dropped:  label (label): the label (found by its name)" in text
    assert "dropped:  id (identifier):" in text and "labels:   2 classes: a (2), b (2)" in text
    json.dumps(source.info.to_dict())  # the whole description is JSON


def test_the_config_passes_the_table_options_through(tmp_path):
    path = write(tmp_path / "people.csv", CSV)
    config = RunConfig().with_overrides(
        [f"data.spec='csv:{path}'", "data.label_column=member", "data.ignore_columns=['age']",
         "data.categorical=['city']", "data.id_column=id"]
    )  # fmt: skip
    source = open_config_source(config)
    schema = table_schema_of(source.info)
    assert schema.names == ["city", "label"] and schema.label_column == "member"
    assert source.info.class_names == ["no", "yes"]


def test_csv_refuses_a_series_modality(tmp_path):
    path = write(tmp_path / "people.csv", CSV)
    with pytest.raises(UserError, match="for time series in a CSV file use series:"):
        open_source(f"csv:{path}", modality="series")


# ---- scoring a new file with a run's stored schema ------------------------------------------------
def stored_schema(tmp_path) -> dict:
    source = open_source(f"csv:{write(tmp_path / 'train.csv', CSV)}")
    return json.loads(json.dumps(source.info.extra["table"]))  # as a run keeps it


def test_a_stored_schema_encodes_a_new_file_the_same_way(tmp_path):
    schema = stored_schema(tmp_path)
    text = "extra,label,member,city,age,id\n1,b,no,Nice,7,x1\n2,a,maybe,Rome,8,x2\n3,a,yes,Paris,,x3\n"
    source = open_source(f"csv:{write(tmp_path / 'new.csv', text)}", table_schema=schema)
    x = values(source)
    np.testing.assert_array_equal(x[:, 0], np.array([7, 8, np.nan], np.float32))  # the schema's column order
    np.testing.assert_array_equal(x[:, 1], np.array([1, np.nan, 2], np.float32))  # Rome: unseen
    np.testing.assert_array_equal(x[:, 2], np.array([0, np.nan, 1], np.float32))  # maybe: not yes/no
    notes = " | ".join(source.info.notes)
    assert "column 'city': 1 row with categories the schema does not list ('Rome'): read as missing" in notes
    assert "1 column(s) the run did not train on ignored: 'extra'" in notes
    assert source.row_ids() == ["x1", "x2", "x3"] and source.info.has_labels
    new_schema = table_schema_of(source.info)
    assert [c.missing for c in new_schema.columns] == [1, 1, 1]
    assert new_schema.column("city").categories == ("Lyon", "Nice", "Paris")


def test_a_stored_schema_needs_every_feature_column_but_not_the_label(tmp_path):
    schema = stored_schema(tmp_path)
    unlabelled = write(tmp_path / "unlabelled.csv", "age,city,member\n1,Paris,yes\n2,Lyon,no\n")
    source = open_source(f"csv:{unlabelled}", table_schema=schema)
    assert not source.info.has_labels and source.row_ids() is None and len(source) == 2
    broken = write(tmp_path / "broken.csv", "age,member,label\n1,yes,a\n")
    with pytest.raises(UserError) as info:
        open_source(f"csv:{broken}", table_schema=schema)
    message = str(info.value)
    assert "broken.csv" in message and "the column 'city' is missing" in message and "\n" not in message


def test_the_same_file_encodes_identically_with_its_own_schema(tmp_path):
    path = write(tmp_path / "people.csv", CSV)
    first = open_source(f"csv:{path}")
    again = open_source(f"csv:{path}", table_schema=first.info.extra["table"])
    np.testing.assert_array_equal(values(first), values(again))
    assert again.labels().tolist() == first.labels().tolist()


# ---- arrays ---------------------------------------------------------------------------------------
def test_npz_and_npy_tables(tmp_path):
    x = np.arange(40, dtype=np.float32).reshape(10, 4)
    x[2, 1] = np.nan
    np.savez(tmp_path / "t.npz", x=x, y=np.arange(10) % 2)
    source = open_source(f"npz:{tmp_path / 't.npz'}", modality="table")
    assert source.info.modality == "table" and source.info.sample_shape == (4,)
    assert table_schema_of(source.info).names == ["f0", "f1", "f2", "f3"]
    assert source.info.class_names == ["0", "1"] and table_schema_of(source.info).columns[1].missing == 1
    np.testing.assert_array_equal(values(source), x)
    np.savez(tmp_path / "named.npz", table=x, labels=np.array(["no", "yes"] * 5))
    named = open_source(str(tmp_path / "named.npz"))
    assert named.info.modality == "table" and named.info.class_names == ["no", "yes"]
    np.save(tmp_path / "t.npy", x)
    assert open_source(f"npy:{tmp_path / 't.npy'}", modality="table").info.sample_shape == (4,)
    schema = table_schema_of(source.info).to_dict()
    np.save(tmp_path / "narrow.npy", x[:, :3])
    with pytest.raises(UserError, match="3 columns but the run was trained on 4"):
        open_source(f"npy:{tmp_path / 'narrow.npy'}", modality="table", table_schema=schema)


# ---- bundled tables -------------------------------------------------------------------------------
def test_wine():
    source = open_source("table:wine")
    info = source.info
    assert (info.size, info.sample_shape, info.name) == (178, (13,), "wine")
    assert info.class_names == ["class_0", "class_1", "class_2"]
    assert torch.bincount(source.labels()).tolist() == [59, 71, 48]
    assert table_schema_of(info).describe(info.size) == "178 rows x 13 columns (13 numeric)"
    from sklearn.datasets import load_wine

    np.testing.assert_allclose(values(source), load_wine().data.astype(np.float32))


def test_breast_cancer_keeps_sklearns_class_order():
    source = open_source("table:Breast_Cancer")
    info = source.info
    assert (info.size, info.sample_shape) == (569, (30,))
    assert info.class_names == ["malignant", "benign"]
    assert torch.bincount(source.labels()).tolist() == [212, 357]
    assert table_schema_of(info).describe(info.size) == "569 rows x 30 columns (30 numeric)"


@needs_river
def test_shuttle_loads_quickly_from_rivers_file():
    start = time.perf_counter()
    source = open_source("table:shuttle")
    seconds = time.perf_counter() - start
    info = source.info
    assert (info.size, info.sample_shape, info.class_names) == (49_097, (9,), ["0", "1"])
    labels = source.labels()
    assert int(labels.sum()) == 3511 and 0.06 < labels.float().mean().item() < 0.08
    assert table_schema_of(info).label_column == "anomaly"
    assert np.isfinite(values(source)).all()
    assert seconds < 5, seconds


def test_unknown_bundled_table_and_a_missing_package(monkeypatch):
    with pytest.raises(UserError, match="Did you mean wine"):
        open_source("table:wines")
    from ssl_core.data import table_bundled

    monkeypatch.setattr(table_bundled, "shuttle_path", lambda: None)
    with pytest.raises(UserError, match=r"install it \(pip install river\)"):
        open_source("table:shuttle")
