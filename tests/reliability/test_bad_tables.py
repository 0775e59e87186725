"""Table files that are empty, malformed, huge, binary or unreadable, through `ssl-core data csv:PATH`.

A table is all-or-nothing (one file), so each bad one is refused with one line naming the file (and the
column, where there is one) and what to do; exit code 2, no traceback. A column mixing numbers and text
loads as categorical with a note, and a table 10,000 columns wide loads in seconds.
"""

from __future__ import annotations

import gzip
import os
import time
from pathlib import Path

import numpy as np
import pytest

from ssl_core.data import open_source
from ssl_core.errors import UserError

GROUP = "Bad tables"
pytestmark = pytest.mark.timeout(60)


REFUSED = [
    # id, file name, content, words the one-line message must contain (besides the file's path)
    ("empty-csv", "empty.csv", "", ["is empty", "header row"]),
    ("blank-lines-only", "blank.csv", "\n\n  \n", ["is empty"]),
    ("header-only", "header.csv", "a,b,label\n", ["header but no rows"]),
    ("duplicated-column-names", "dup.csv", "a,b,a\n1,2,3\n", ["'a' appears twice", "columns 1 and 3"]),
    ("ragged-row", "ragged.csv", "a,b\n1,2\n3,4,5\n", ["line 3", "3 fields but the header has 2"]),
    ("binary-garbage", "garbage.csv", os.urandom(4096) + b"\0", ["binary file"]),
    ("excel-workbook-as-csv", "book.csv", b"PK\x03\x04\x14\x00\x06\x00" + b"\0" * 64, ["Excel workbook"]),
    ("not-gzip", "fake.csv.gz", "a,b\n1,2\n", ["not a gzip file"]),
    (
        "truncated-gzip",
        "cut.csv.gz",
        gzip.compress(b"a,b\n" + os.urandom(3000).hex().encode())[:500],
        ["damaged gzip"],
    ),
    (
        "no-feature-columns-left",
        "ids.csv",
        "id,same,label\n1,5,a\n2,5,b\n3,5,a\n",
        ["no feature columns are left", "'same': every row holds the same value"],
    ),
    ("empty-labels", "labels.csv", "v,label\n1,a\n2,\n", ["label column 'label' is empty on data row 2"]),
]


@pytest.mark.parametrize("name, content, needles", [r[1:] for r in REFUSED], ids=[r[0] for r in REFUSED])
def test_bad_table_file_is_refused(case, tmp_path, cli, name, content, needles):
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
        shown = f"{len(content)} bytes"
    else:
        path.write_text(content, encoding="utf-8")
        shown = repr(content if len(content) < 70 else content[:67] + "...")
    case.describe(
        f"`ssl-core data csv:{name}` holding {shown}",
        f"exit 2, one line naming {name} and saying: {', '.join(needles)}",
    )
    line = cli.assert_refused(cli.run("data", f"csv:{path}"), str(path), *needles)
    case.observe(line.replace(str(tmp_path), "TMP"))


def test_a_label_column_that_does_not_exist(case, tmp_path, cli):
    case.describe(
        "`ssl-core data csv:people.csv --set data.label_column=clas` (the column is 'class')",
        "exit 2, one line naming the file, the column, the setting and the likely name",
    )
    path = tmp_path / "people.csv"
    path.write_text("age,class\n1,a\n2,b\n", encoding="utf-8")
    result = cli.run("data", f"csv:{path}", "--set", "data.label_column=clas")
    line = cli.assert_refused(
        result, str(path), "no column 'clas'", "data.label_column", "Did you mean 'class'"
    )
    case.observe(line.replace(str(tmp_path), "TMP"))


def test_a_column_mixing_numbers_and_text_loads_as_categorical(case, tmp_path, cli):
    case.describe(
        "a column of numbers with the word 'unknown' on row 4",
        "exit 0; the column is categorical and a note names the column, the word and the row",
    )
    path = tmp_path / "mixed.csv"
    path.write_text("a,b\n" + "".join(f"{i},{'unknown' if i == 3 else i * 2}\n" for i in range(8)))
    result = cli.run("data", f"csv:{path}")
    assert result.code == 0, result.err
    assert "b  categorical, 8 categories" in result.out
    note = next(ln.strip() for ln in result.out.splitlines() if "mixes numbers and text" in ln)
    assert "column 'b'" in note and "'unknown' on data row 4" in note
    case.observe(note)


def test_ten_thousand_columns_load_quickly(case, tmp_path, cli):
    case.describe("a table 20 rows x 10,000 numeric columns", "exit 0 within seconds; 10,000 numeric columns")
    path = tmp_path / "wide.csv"
    values = np.random.default_rng(0).random((20, 10_000))
    header = ",".join(f"c{j}" for j in range(10_000))
    np.savetxt(path, values, delimiter=",", header=header, comments="", fmt="%.3f")
    start = time.perf_counter()
    result = cli.run("data", f"csv:{path}")
    seconds = time.perf_counter() - start
    assert result.code == 0, result.err
    assert (
        "20 rows x 10,000 columns (10,000 numeric)" in result.out
        and "... and 9,960 more columns" in result.out
    )
    assert seconds < 30, seconds
    case.observe(f"loaded in {seconds:.1f} s: 20 rows x 10,000 columns (10,000 numeric)")


def test_too_many_columns_are_refused_from_the_header(case, tmp_path, cli):
    case.describe(
        "a header naming 25,000 columns", "exit 2 before the rows are parsed: keep the columns that matter"
    )
    path = tmp_path / "wider.csv"
    path.write_text(",".join(f"c{j}" for j in range(25_000)) + "\n" + ",".join("1" * 25_000) + "\n")
    line = cli.assert_refused(cli.run("data", f"csv:{path}"), str(path), "25,000 columns", "20,000")
    case.observe(line.replace(str(tmp_path), "TMP"))


def test_a_2_gb_file_is_refused_before_reading(case, tmp_path, cli):
    case.describe(
        "a 2 GB (sparse) CSV file, and a .csv.gz whose stored size says 3 GB",
        "exit 2 at once, naming the size, the limit from data.memory_budget_mb and how to take a sample",
    )
    big = tmp_path / "big.csv"
    with big.open("wb") as fh:
        fh.write(b"a,b\n1,2\n")
        fh.truncate(2 * 2**30)
    start = time.perf_counter()
    result = cli.run("data", f"csv:{big}")
    seconds = time.perf_counter() - start
    line = cli.assert_refused(result, str(big), "2.0 GB", "512 MB", "data.memory_budget_mb", "head -n 100001")
    assert seconds < 5, seconds
    packed = tmp_path / "big.csv.gz"  # a gzip header, 4 MB (sparse), and a trailer recording 3 GB
    with packed.open("wb") as fh:
        fh.write(gzip.compress(b"a,b\n1,2\n")[:10])
        fh.seek(4 * 2**20 - 4)
        fh.write((3 * 2**30).to_bytes(4, "little"))
    gz_line = cli.assert_refused(
        cli.run("data", f"csv:{packed}"), str(packed), "3.0 GB", "zcat big.csv.gz | head"
    )
    # A larger budget raises the cap: the file is then opened, and its zero bytes are refused as binary.
    roomy = cli.run("data", f"csv:{big}", "--set", "data.memory_budget_mb=100000")
    cli.assert_refused(roomy, str(big), "binary file")
    case.observe(
        f"in {seconds:.2f} s: "
        + line.replace(str(tmp_path), "TMP")
        + " | "
        + gz_line.replace(str(tmp_path), "TMP")
    )


def test_unreadable_file_folder_and_pipe(case, tmp_path, cli, monkeypatch, as_root):
    how = "simulated PermissionError (the suite runs as root)" if as_root else "chmod 000"
    case.describe(
        f"csv: of a file the user may not read ({how}), of a folder, of a named pipe and of a missing file",
        "exit 2 each time naming the path and what it is; no hang on the pipe",
    )
    secret = tmp_path / "secret.csv"
    secret.write_text("a,b\n1,2\n")
    if as_root:
        real_open = Path.open

        def guarded(self, *args, **kwargs):
            if self == secret:
                raise PermissionError(13, "Permission denied", str(self))
            return real_open(self, *args, **kwargs)

        monkeypatch.setattr(Path, "open", guarded)
    else:  # pragma: no cover - CI runs as root
        secret.chmod(0)
    folder = tmp_path / "tables.csv"
    folder.mkdir()
    fifo = tmp_path / "stream.csv"
    os.mkfifo(fifo)
    checks = [
        (secret, ["cannot be read", "Permission denied"]),
        (folder, ["is a folder"]),
        (fifo, ["not a regular file"]),
        (tmp_path / "none.csv", ["does not exist"]),
    ]
    lines = [
        cli.assert_refused(cli.run("data", f"csv:{path}"), str(path), *needles) for path, needles in checks
    ]
    case.observe(" | ".join(line.replace(str(tmp_path), "TMP") for line in lines))


def test_scoring_a_file_without_a_trained_column(case, tmp_path):
    case.describe(
        "a new file opened with a run's stored schema, lacking the feature column 'income'",
        "a UserError, one line naming the file and the column",
    )
    train = tmp_path / "train.csv"
    train.write_text("age,income,city\n30,100,a\n40,200,b\n50,,a\n")
    schema = open_source(f"csv:{train}").info.extra["table"]
    new = tmp_path / "new.csv"
    new.write_text("age,city\n30,a\n")
    with pytest.raises(UserError) as info:
        open_source(f"csv:{new}", table_schema=schema)
    message = str(info.value)
    assert "\n" not in message and str(new) in message and "'income' is missing" in message
    case.observe(message.replace(str(tmp_path), "TMP"))


def test_unknown_bundled_table(case, cli):
    case.describe(
        "`ssl-core data table:shutle` (a typo)", "exit 2 with the suggestion 'shuttle' and the list"
    )
    line = cli.assert_refused(cli.run("data", "table:shutle"), "not a bundled table", "Did you mean shuttle")
    case.observe(line)
