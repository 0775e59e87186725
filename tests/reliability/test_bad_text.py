"""Text files that are binary, Latin-1, empty or one giant line, a CSV without the named text column, and a
vocabulary the text cannot fill, through `ssl-core data text:PATH` and `ssl-core train`.

Each is refused with one line naming the file and what to do; exit code 2, no traceback. A 50 MB line is
read in chunks and cut while it streams by, so it costs little memory and time.
"""

from __future__ import annotations

import random
import time
import tracemalloc

import pytest

from ssl_core.data import open_source

GROUP = "Bad text"
pytestmark = pytest.mark.timeout(120)

WORDS = ["the", "cat", "sat", "on", "a", "mat", "dog", "ran", "far", "away"]


def sentences(n: int) -> str:
    rng = random.Random(0)
    return "".join(" ".join(rng.choice(WORDS) for _ in range(6)) + "\n" for _ in range(n))


REFUSED = [
    # id, file name, content, words the one-line message must contain (besides the file's path)
    (
        "binary-named-txt",
        "photo.txt",
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)),
        ["NUL byte"],
    ),
    ("utf16-text", "wide.txt", "hello\nworld\n".encode("utf-16"), ["NUL byte", "UTF-16"]),
    (
        "latin-1-text",
        "latin.txt",
        "ok line\ncaf\u00e9 cr\u00e8me\n".encode("latin-1"),
        ["not UTF-8", "byte 11"],
    ),
    ("empty-file", "empty.txt", b"", ["is empty"]),
    ("blank-lines-only", "blank.txt", b"\n  \n\n", ["no text, only blank lines"]),
    ("one-line", "one.txt", b"just one sample\n", ["only 1 text"]),
    ("empty-csv", "empty.csv", b"", ["cannot be read as CSV"]),
]


@pytest.mark.parametrize("name, content, needles", [r[1:] for r in REFUSED], ids=[r[0] for r in REFUSED])
def test_bad_text_file_is_refused(case, tmp_path, cli, name, content, needles):
    path = tmp_path / name
    path.write_bytes(content)
    case.describe(
        f"`ssl-core data text:{name}` holding {len(content)} bytes",
        f"exit 2, one line naming {name} and saying: {', '.join(needles)}",
    )
    line = cli.assert_refused(cli.run("data", f"text:{path}"), str(path), *needles)
    case.observe(line.replace(str(tmp_path), "TMP"))


def test_one_giant_line_of_50_mb(case, tmp_path, cli):
    case.describe(
        "a .txt file that is one line of 50 MB, and the same line among 40 ordinary lines",
        "alone: exit 2 within seconds, naming the file (one text); among others: opens in seconds with "
        "the line cut to 20,000 characters and a note, using a few MB of memory",
    )
    giant = "word " * (10 * 2**20)  # 50 MB, no line end
    alone = tmp_path / "giant.txt"
    alone.write_text(giant, encoding="utf-8")
    start = time.perf_counter()
    line = cli.assert_refused(cli.run("data", f"text:{alone}"), str(alone), "only 1 text")
    refused_s = time.perf_counter() - start
    mixed = tmp_path / "mixed.txt"
    mixed.write_text(sentences(20) + giant + "\n" + sentences(20), encoding="utf-8")
    del giant
    tracemalloc.start()
    start = time.perf_counter()
    try:
        source = open_source(f"text:{mixed}")
        opened_s = time.perf_counter() - start
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    extra = source.info.extra["text"]
    assert len(source) == 41 and extra["truncated"] == 1 and 19_990 <= len(source.texts([20])[0]) <= 20_000
    assert any("longer than 20,000 characters" in n for n in source.info.notes)
    assert refused_s < 15 and opened_s < 15, (refused_s, opened_s)
    assert peak < 32 * 2**20, peak  # the file is 50 MB; reading keeps about one chunk of it
    case.observe(
        f"{line.replace(str(tmp_path), 'TMP')} ({refused_s:.1f} s); with 40 other lines: opened in "
        f"{opened_s:.1f} s, peak {peak / 2**20:.0f} MB traced, the line cut to 20,000 characters"
    )


def test_a_csv_without_the_named_text_column(case, tmp_path, cli):
    case.describe(
        "`ssl-core train text:reviews.csv --set data.text_column=body` (the columns are id, review, label)",
        "exit 2 before training, one line naming the file, the column and the setting",
    )
    path = tmp_path / "reviews.csv"
    path.write_text("id,review,label\n" + "".join(f"{i},good film {i},pos\n" for i in range(20)))
    result = cli.run(
        "train",
        "--data",
        f"text:{path}",
        "--method",
        "masked_token",
        "--device",
        "cpu",
        "--max-steps",
        "2",
        "--set",
        "data.text_column=body",
        "--set",
        "data.num_workers=0",
        "--quiet",
        "--runs-dir",
        tmp_path / "runs",
    )
    line = cli.assert_refused(result, str(path), "no column 'body'", "data.text_column", "'review'")
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())
    case.observe(line.replace(str(tmp_path), "TMP"))


def test_a_vocabulary_larger_than_the_text_allows(case, tmp_path, cli):
    case.describe(
        "`ssl-core train text:small.txt --set data.vocab_size=5000` on 60 short lines of 10 words",
        "exit 2 when the tokenizer is trained, one line naming the file, the setting and the largest size",
    )
    path = tmp_path / "small.txt"
    path.write_text(sentences(60), encoding="utf-8")
    result = cli.run(
        "train",
        "--data",
        f"text:{path}",
        "--method",
        "masked_token",
        "--device",
        "cpu",
        "--max-steps",
        "2",
        "--set",
        "data.vocab_size=5000",
        "--set",
        "data.num_workers=0",
        "--quiet",
        "--runs-dir",
        tmp_path / "runs",
    )
    line = cli.assert_refused(result, str(path), "data.vocab_size = 5000", "allows at most")
    case.observe(line.replace(str(tmp_path), "TMP"))
