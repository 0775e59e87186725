"""Table columns: what each column is inferred to be, the user's overrides, encoding, and the schema."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from ssl_core.data import DataInfo, open_source
from ssl_core.data.table_encode import number_text
from ssl_core.data.table_schema import (
    DroppedColumn,
    TableColumn,
    TableSchema,
    describe_table,
    table_schema_of,
)
from ssl_core.errors import UserError


def table(tmp_path: Path, text: str, name: str = "t.csv", **options):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return open_source(f"csv:{path}", **options)


def kinds(source) -> dict[str, str]:
    schema = table_schema_of(source.info)
    out = {c.name: c.kind for c in schema.columns}
    out.update({d.name: d.kind for d in schema.dropped})
    return out


def values(source) -> np.ndarray:
    return source.read(torch.arange(len(source)))[0].numpy()


def error(tmp_path: Path, text: str, **options) -> str:
    with pytest.raises(UserError) as info:
        table(tmp_path, text, **options)
    message = str(info.value)
    assert "\n" not in message
    return message


def rows(n: int, make) -> str:
    return "\n".join(make(i) for i in range(n)) + "\n"


# ---- kinds ----------------------------------------------------------------------------------------
def test_numbers_booleans_and_text_each_get_their_kind(tmp_path):
    text = "height,weight,smoker,member,flag,colour\n" + rows(
        12,
        lambda i: (
            f"{150 + i},{50.5 + i / 3:.2f},{i % 2},{'yes' if i % 3 else 'No'},"
            f"{'True' if i % 4 else 'false'},{['red', 'blue', 'green'][i % 3]}"
        ),
    )
    source = table(tmp_path, text)
    assert kinds(source) == {
        "height": "numeric",
        "weight": "numeric",
        "smoker": "boolean",
        "member": "boolean",
        "flag": "boolean",
        "colour": "categorical",
    }
    x = values(source)
    assert x.dtype == np.float32 and x.shape == (12, 6)
    assert x[:3, 0].tolist() == [150, 151, 152]
    assert x[:4, 2].tolist() == [0, 1, 0, 1]
    assert x[:4, 3].tolist() == [0, 1, 1, 0]  # No, yes, yes, No
    assert x[:5, 4].tolist() == [0, 1, 1, 1, 0]  # false, True, True, True, false
    schema = table_schema_of(source.info)
    assert schema.column("colour").categories == ("blue", "green", "red")  # sorted as text
    assert x[:3, 5].tolist() == [2, 0, 1]  # red, blue, green
    assert schema.summary() == "6 columns (2 numeric, 3 boolean, 1 categorical)"


def test_y_n_and_t_f_letters_are_booleans_but_two_other_words_are_categories(tmp_path):
    text = "a,b,c\n" + rows(
        10, lambda i: f"{'Y' if i % 2 else 'n'},{'t' if i % 2 else 'F'},{'M' if i % 2 else 'F'}"
    )
    assert kinds(table(tmp_path, text)) == {"a": "boolean", "b": "boolean", "c": "categorical"}


def test_two_whole_numbers_other_than_0_and_1_stay_numeric(tmp_path):
    text = "a,b\n" + rows(10, lambda i: f"{1 + i % 2},{i}")
    assert kinds(table(tmp_path, text))["a"] == "numeric"


def test_constant_and_empty_columns_are_dropped_with_a_note(tmp_path):
    text = "a,same,blank\n" + rows(10, lambda i: f"{i},7,")
    source = table(tmp_path, text)
    schema = table_schema_of(source.info)
    assert schema.names == ["a"]
    reasons = {d.name: (d.kind, d.reason) for d in schema.dropped}
    assert reasons["same"] == ("constant", "every row holds the same value ('7')")
    assert reasons["blank"] == ("constant", "every value is missing")
    assert "2 constant column(s) left out: 'same', 'blank'" in source.info.notes


def test_identifier_like_columns_are_dropped_and_kept_as_row_ids(tmp_path):
    text = "customer,row_id,CustomerId,n,v\n" + rows(
        12, lambda i: f"cust-{i:03d},{100 + i},{i * 7},{(i * 5) % 12},{i % 4}"
    )
    source = table(tmp_path, text)
    k = kinds(source)
    assert k == {"customer": "identifier", "row_id": "identifier", "CustomerId": "identifier", "n": "numeric",
                 "v": "numeric"}  # fmt: skip
    schema = table_schema_of(source.info)
    assert schema.id_column == "customer"  # the first one
    assert source.row_ids()[:2] == ["cust-000", "cust-001"]
    assert "kept as the row id" in schema.dropped[0].reason
    # unique whole numbers not named like an id are a feature ('n')


def test_a_saved_pandas_index_is_an_identifier_and_few_distinct_words_are_categories(tmp_path):
    text = ",x,word\n" + rows(5, lambda i: f"{i},{i * 1.5},{'abcde'[i]}")
    source = table(tmp_path, text)
    assert kinds(source) == {"column 1": "identifier", "x": "numeric", "word": "categorical"}
    assert source.row_ids() == ["0", "1", "2", "3", "4"]


def test_explicit_id_column(tmp_path):
    text = "code,v\n" + rows(6, lambda i: f"{i % 3},{i}")
    source = table(tmp_path, text, id_column="CODE")  # any case
    assert kinds(source) == {"code": "identifier", "v": "numeric"}
    assert source.row_ids() == ["0", "1", "2", "0", "1", "2"]


def test_a_column_mixing_numbers_and_text_is_categorical_with_a_note(tmp_path):
    text = "a,b\n" + rows(8, lambda i: f"{i},{'unknown' if i == 3 else i * 2}")
    source = table(tmp_path, text)
    schema = table_schema_of(source.info)
    assert schema.column("b").kind == "categorical"
    assert schema.column("b").categories == ("0", "10", "12", "14", "2", "4", "8", "unknown")
    note = next(n for n in source.info.notes if "mixes numbers and text" in n)
    assert "'unknown' on data row 4" in note and "read as categorical" in note


def test_missing_tokens_become_nan_and_are_counted(tmp_path):
    text = "a,b,c\n1,x,\n2,?,NA\nNaN,y,3\nnull,N/A,4\n5,x,none\n"
    source = table(tmp_path, text)
    x = values(source)
    assert np.isnan(x[:, 0]).tolist() == [False, False, True, True, False]
    assert np.isnan(x[:, 1]).tolist() == [False, True, False, True, False]
    schema = table_schema_of(source.info)
    assert [c.missing for c in schema.columns] == [2, 2, 3]
    assert "7 missing value(s) in 3 column(s), stored as NaN (the model sees a mask)" in source.info.notes


def test_infinite_and_huge_values_are_missing_with_a_note(tmp_path):
    source = table(tmp_path, "a,b\n1,inf\n2,-inf\n3,1e300\n4,5\n")
    x = values(source)
    assert np.isnan(x[:3, 1]).all() and x[3, 1] == 5
    assert any("3 infinite value(s)" in n for n in source.info.notes)


def test_number_text_writes_whole_numbers_without_a_point():
    assert [number_text(v) for v in (3.0, -2.0, 0.5, 1e20)] == ["3", "-2", "0.5", "1e+20"]


# ---- labels -------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["label", "Class", "TARGET", "y", "Anomaly"])
def test_the_label_is_found_by_its_name(tmp_path, name):
    text = f"a,{name}\n" + rows(6, lambda i: f"{i},{'cat' if i % 3 else 'dog'}")
    source = table(tmp_path, text)
    assert source.info.has_labels and source.info.class_names == ["cat", "dog"]
    assert source.labels().tolist() == [1, 0, 0, 1, 0, 0]
    assert kinds(source)[name] == "label" and table_schema_of(source.info).label_column == name


def test_numeric_labels_sort_as_numbers_and_label_takes_precedence_over_class(tmp_path):
    text = "class,label,v\n" + rows(6, lambda i: f"k{i % 2},{[2, 10, 1][i % 3]},{i}")
    source = table(tmp_path, text)
    assert table_schema_of(source.info).label_column == "label"
    assert source.info.class_names == ["1", "2", "10"]
    assert kinds(source)["class"] == "categorical"


def test_label_column_override_none_and_errors(tmp_path):
    text = "a,b,label\n" + rows(6, lambda i: f"{i},{i % 2},{'p' if i % 2 else 'q'}")
    chosen = table(tmp_path, text, label_column="b")
    assert chosen.info.class_names == ["0", "1"] and kinds(chosen)["label"] == "categorical"
    unlabelled = table(tmp_path, text, label_column="none")
    assert not unlabelled.info.has_labels and kinds(unlabelled)["label"] == "categorical"
    message = error(tmp_path, text, label_column="lable")
    assert "no column 'lable' (from data.label_column)" in message and "Did you mean 'label'?" in message
    assert "t.csv" in message


def test_a_fractional_target_is_a_feature_unless_named_as_the_label(tmp_path):
    text = "a,target\n" + rows(6, lambda i: f"{i},{i * 0.37:.2f}")
    source = table(tmp_path, text)
    assert not source.info.has_labels and kinds(source)["target"] == "numeric"
    assert any("fractional numbers" in n for n in source.info.notes)
    message = error(tmp_path, text, label_column="target")
    assert "the label column 'target' holds fractional numbers" in message


def test_empty_labels_are_refused_naming_the_row(tmp_path):
    message = error(tmp_path, "a,label\n1,x\n2,\n3,y\n4,\n")
    assert "label column 'label' is empty on data row 2 and 1 other row(s)" in message


# ---- overrides ------------------------------------------------------------------------------------
def test_ignore_and_categorical_overrides(tmp_path):
    text = "zip,size,noise,label\n" + rows(8, lambda i: f"{[2, 10, 33][i % 3]},{i * 1.5},{i * 3.3},{i % 2}")
    source = table(tmp_path, text, ignore_columns=["noise"], categorical=["zip"])
    schema = table_schema_of(source.info)
    assert schema.names == ["zip", "size"]
    assert schema.column("zip").categories == ("10", "2", "33")  # sorted as text
    assert values(source)[:3, 0].tolist() == [1, 0, 2]
    assert next(d for d in schema.dropped if d.name == "noise").kind == "ignored"


def test_overrides_naming_unknown_columns_or_contradicting_are_refused(tmp_path):
    text = "a,b,label\n1,2,x\n3,4,y\n"
    assert "no column 'c' (from data.ignore_columns)" in error(tmp_path, text, ignore_columns=["c"])
    assert "no column 'z' (from data.categorical)" in error(tmp_path, text, categorical=["z"])
    assert "both the label" in error(tmp_path, text, label_column="a", ignore_columns=["a"])
    assert "both the label and the row id" in error(tmp_path, text, label_column="a", id_column="a")
    ignored_label = table(tmp_path, text, ignore_columns=["label"])  # an ignored column is not the label
    assert not ignored_label.info.has_labels


def test_no_feature_columns_left(tmp_path):
    message = error(tmp_path, "a,b,label\n1,2,x\n3,4,y\n", ignore_columns=["a", "b"])
    assert "no feature columns are left" in message and "'a': left out" in message


# ---- the schema -----------------------------------------------------------------------------------
def test_schema_round_trips_through_json(tmp_path):
    text = "id,n,city,ok,label\n" + rows(12, lambda i: f"r{i},{i * 0.5},{'ab'[i % 2]},{i % 2},{i % 3}")
    source = table(tmp_path, text)
    stored = json.loads(json.dumps(source.info.to_dict()))["extra"]["table"]
    schema = TableSchema.from_dict(stored)
    assert schema == table_schema_of(source.info)
    assert schema.to_dict() == stored
    assert stored["columns"][1] == {
        "name": "city",
        "kind": "categorical",
        "categories": ["a", "b"],
        "missing": 0,
    }
    assert stored["file_columns"] == ["id", "n", "city", "ok", "label"]
    assert (stored["label_column"], stored["id_column"]) == ("label", "id")


def test_a_damaged_schema_is_a_user_error():
    for bad in ({}, {"columns": []}, {"columns": [{"name": "a", "kind": "text"}]}, {"columns": ["a"]}):
        with pytest.raises(UserError, match="stored table schema is damaged"):
            TableSchema.from_dict(bad)


def test_describe_and_schema_of_other_data():
    schema = TableSchema(
        [TableColumn(f"c{i}", "numeric") for i in range(30)], [DroppedColumn("y", "label", "")]
    )
    info = DataInfo("x", "x", 569, 30, 0, 0, False, modality="table", sample_shape=(30,),
                    extra={"table": schema.to_dict()})  # fmt: skip
    assert describe_table(info) == "569 rows x 30 columns (30 numeric)"
    assert table_schema_of(DataInfo("d", "d", 3, 1, 8, 8, False)) is None
    with pytest.raises(ValueError):
        TableColumn("a", "text")
