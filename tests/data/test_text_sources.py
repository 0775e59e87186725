"""Text sources: .txt (lines, paragraphs), folders of .txt files, CSV/TSV, the fortunes; settings in extra."""

from __future__ import annotations

import random
import time
from pathlib import Path

import pytest
import torch

from ssl_core.config import RunConfig
from ssl_core.data import describe, open_source, text_read
from ssl_core.data.sources import parse_spec, spec_for_path
from ssl_core.data.text_bytes import bytes_to_texts
from ssl_core.data.text_fortunes import FORTUNES_DIRS
from ssl_core.data.text_source import TextSource
from ssl_core.errors import UserError
from ssl_core.train.builder import open_config_source

WORDS = ["the", "cat", "sat", "on", "a", "mat", "dog", "ran", "far", "away", "quick", "brown", "fox"]


def sentences(n: int, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    return [" ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 8))) for _ in range(n)]


def text_of(source) -> dict:
    return source.info.extra["text"]


def test_a_txt_file_is_one_sample_per_line_with_blank_lines_counted(tmp_path):
    lines = sentences(30)
    path = tmp_path / "notes.txt"
    # A byte-order mark, Windows line ends and blank lines are all fine.
    path.write_bytes(("\ufeff" + "\r\n".join(lines[:10] + ["", "   "] + lines[10:]) + "\r\n\r\n").encode())
    source = open_source(f"text:{path}")
    assert isinstance(source, TextSource) and len(source) == 30 and source.texts() == lines
    info = source.info
    assert (info.modality, info.sample_dtype, info.channels, info.has_labels) == ("text", "uint8", 1, False)
    extra = text_of(source)
    assert extra["unit"] == "line" and extra["format"] == "txt" and extra["empty_skipped"] == 3
    assert (extra["tokenizer"], extra["vocab_size"], extra["max_tokens"]) == ("bpe", 2000, 64)
    longest = max(len(t.encode()) for t in lines)
    assert info.sample_shape == (longest,) and extra["max_bytes"] == longest and extra["truncated"] == 0
    rows, labels = source.read([0, 5])
    assert rows.dtype == torch.uint8 and labels is None and bytes_to_texts(rows) == [lines[0], lines[5]]
    assert any("3 empty line(s) skipped" in n for n in info.notes)
    assert any(n.startswith("one sample per line") for n in info.notes)
    # A bare .txt path is text in a spec (not for the app's launcher, which leaves notes alone).
    assert parse_spec(str(path))[0].scheme == "text" and spec_for_path(path) is None


def test_paragraphs_are_found_and_the_unit_can_be_forced(tmp_path):
    paragraphs = ["\n".join(sentences(3, seed=i)) for i in range(12)]
    path = tmp_path / "poems.txt"
    path.write_text("\n\n".join(paragraphs) + "\n", encoding="utf-8")
    source = open_source(f"text:{path}")
    assert text_of(source)["unit"] == "paragraph" and source.texts() == paragraphs
    assert "one sample per paragraph" in describe(source)
    assert len(open_source(f"text:{path}", text_unit="line")) == 36
    # Single lines between blank lines stay lines (nothing multi-line to keep together).
    spaced = tmp_path / "spaced.txt"
    spaced.write_text("\n\n".join(sentences(10)), encoding="utf-8")
    assert text_of(open_source(f"text:{spaced}"))["unit"] == "line"


def test_a_folder_of_class_subfolders_gives_labels_one_sample_per_file(tmp_path):
    for label in ("neg", "pos"):
        (tmp_path / label).mkdir()
        for i in range(4):
            (tmp_path / label / f"{i}.txt").write_text(
                "\n".join(sentences(2, seed=i)) + "\n", encoding="utf-8"
            )
    (tmp_path / "README.txt").write_text("about this set\n")
    (tmp_path / "pos" / "image.png").write_bytes(b"\x89PNG")
    source = open_source(f"text:{tmp_path}")
    assert len(source) == 8 and source.info.class_names == ["neg", "pos"]
    assert source.labels().tolist() == [0] * 4 + [1] * 4
    assert text_of(source)["unit"] == "file" and text_of(source)["format"] == "folder"
    assert source.texts([0])[0] == "\n".join(sentences(2, seed=0))
    assert [s.reason for s in source.info.skipped] == ["not in a class subfolder"]
    by_line = open_source(f"text:{tmp_path}", text_unit="line")
    assert len(by_line) == 16 and text_of(by_line)["unit"] == "line"


def test_a_folder_without_subfolders_is_unlabelled(tmp_path):
    for i in range(3):
        (tmp_path / f"{i}.txt").write_text(sentences(1, seed=i)[0])
    source = open_source(f"text:{tmp_path}")
    assert len(source) == 3 and not source.info.has_labels and source.labels() is None


def test_a_csv_infers_the_longest_column_as_text_and_the_label(tmp_path):
    texts = sentences(20)
    rows = [f'{i},"{t}, indeed",{"pos" if i % 2 else "neg"}' for i, t in enumerate(texts)]
    path = tmp_path / "reviews.csv"
    path.write_text("id,review,label\n" + "\n".join(rows) + '\n99,"",neg\n', encoding="utf-8")
    source = open_source(f"text:{path}")
    extra = text_of(source)
    assert extra["text_column"] == "review" and extra["unit"] == "row" and extra["format"] == "csv"
    assert extra["empty_skipped"] == 1 and len(source) == 20
    assert source.texts([0]) == [texts[0] + ", indeed"] and source.info.class_names == ["neg", "pos"]
    summary = describe(source)
    assert "texts:    20 rows" in summary and "column:   review" in summary
    assert "tokens:   bpe vocabulary of 2,000, at most 64 tokens per text" in summary
    # The column can be named (any case), and labels left out.
    named = open_source(f"text:{path}", text_column="ID", label_column="none")
    assert text_of(named)["text_column"] == "id" and not named.info.has_labels


def test_a_tsv_with_a_named_label_column(tmp_path):
    path = tmp_path / "quotes.tsv"
    body = "".join(f"{t}\t{i % 3}\n" for i, t in enumerate(sentences(9)))
    path.write_text("quote\tauthor\n" + body, encoding="utf-8")
    source = open_source(f"text:{path}", label_column="author")
    assert source.info.class_names == ["0", "1", "2"] and text_of(source)["text_column"] == "quote"


def test_long_lines_are_cut_while_reading_and_stored_bytes_are_capped(tmp_path, monkeypatch):
    monkeypatch.setattr(text_read, "MAX_SAMPLE_CHARS", 50)
    monkeypatch.setattr(text_read, "CHUNK_BYTES", 16)  # lines and characters cross chunk boundaries
    lines = ["é" * 120, "short one", "ü✓" * 10 + " end", "x" * 49]
    path = tmp_path / "long.txt"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    got, cut = text_read.read_lines(path)
    assert got == ["é" * 50, "short one", "ü✓" * 10 + " end", "x" * 49] and cut == 1
    source = open_source(f"text:{path}", length=4)  # 16 bytes per token: at most 64 bytes are stored
    extra = text_of(source)
    assert extra["truncated"] == 1 and extra["max_bytes"] == 64 and extra["stored_cut"] == 1
    assert source.texts([0]) == ["é" * 50]  # the exact text, not cut to the stored bytes
    assert bytes_to_texts(source.read([0])[0]) == ["é" * 32]
    assert any("longer than 50 characters" in n for n in source.info.notes)


def test_text_settings_travel_from_the_config_and_are_checked(tmp_path):
    path = tmp_path / "a.txt"
    path.write_text("\n".join(sentences(10)), encoding="utf-8")
    config = RunConfig().with_overrides(
        [
            f"data.spec=text:{path}",
            "data.tokenizer=char",
            "data.vocab_size=100",
            "data.length=32",
            "data.text_unit=line",
        ]
    )
    extra = text_of(open_config_source(config))
    assert (extra["tokenizer"], extra["vocab_size"], extra["max_tokens"], extra["unit"]) == (
        "char",
        100,
        32,
        "line",
    )
    with pytest.raises(UserError, match="data.tokenizer must be"):
        RunConfig().with_overrides(["data.tokenizer=sentencepiece"])
    with pytest.raises(UserError, match="data.vocab_size = 3 is out of range"):
        RunConfig().with_overrides(["data.vocab_size=3"])
    with pytest.raises(UserError, match="data.length = 2 is out of range for text") as info:
        open_source(f"text:{path}", length=2)
    assert info.value.field == "data.length"


def test_the_wrong_modality_and_missing_paths_are_refused(tmp_path):
    with pytest.raises(UserError, match="text: reads text"):
        open_source(f"text:{tmp_path}", modality="image")
    with pytest.raises(UserError, match="does not exist"):
        open_source(f"text:{tmp_path / 'gone.txt'}")


@pytest.mark.skipif(
    not any(d.is_dir() for d in FORTUNES_DIRS), reason="Debian package fortunes not installed"
)
def test_the_fortunes_load_quickly_with_categories_as_labels():
    start = time.perf_counter()
    source = open_source("text:fortunes")
    seconds = time.perf_counter() - start
    assert seconds < 2, seconds
    assert 13_000 <= len(source) <= 17_000 and 35 <= source.info.num_classes <= 45
    assert "computers" in source.info.class_names and "pratchett" not in source.info.class_names
    extra = text_of(source)
    assert extra["unit"] == "quote" and extra["format"] == "fortunes" and extra["max_bytes"] == 16 * 64
    assert all(t.strip() == t and t and "\n%\n" not in t for t in source.texts(range(0, len(source), 97)))
    assert any("fewer than 20 quotes" in n for n in source.info.notes)


def test_fortunes_missing_says_how_to_install(monkeypatch, tmp_path):
    from ssl_core.data import text_fortunes

    monkeypatch.setattr(text_fortunes, "FORTUNES_DIRS", (tmp_path / "none",))
    with pytest.raises(UserError, match=r"sudo apt-get install fortunes"):
        open_source("text:fortunes")


def test_reading_does_not_need_the_file_in_one_piece(tmp_path, monkeypatch):
    """UTF-8 characters split between chunks decode; a bad byte is named at its offset in the file."""
    monkeypatch.setattr(text_read, "CHUNK_BYTES", 3)
    path = tmp_path / "mixed.txt"
    data = "añb✓c\n".encode() * 3 + b"ok \xe9t\xe9\n"
    path.write_bytes(data)
    with pytest.raises(UserError) as info:
        text_read.read_lines(path)
    offset = data.index(bytes([0xE9]))
    assert f"byte {offset:,} (0xE9)" in str(info.value) and str(path) in str(info.value)
    path.write_bytes("añb✓c\n".encode() * 3)
    assert text_read.read_lines(path) == (["añb✓c"] * 3, 0)


def test_paths_like_the_user_types_them(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("q.txt").write_text("\n".join(sentences(5)))
    assert len(open_source("q.txt")) == 5 and len(open_source("text: 'q.txt' ")) == 5
