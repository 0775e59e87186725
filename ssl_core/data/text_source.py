"""`text:PATH` and `text:fortunes`: texts, one sample per line, paragraph, file, CSV row or quote.

text:~/notes.txt                 one sample per line, or per paragraph when blank lines separate them
text:~/reviews                   a folder of .txt files, one subfolder per class (or unlabelled files)
text:~/reviews.csv               a CSV/TSV with a header: a text column and maybe a label column
text:fortunes                    the Debian package `fortunes`: ~15,000 quotes in 40 categories

A sample is stored as its UTF-8 bytes, zero-padded to the longest (capped at BYTES_PER_TOKEN x max tokens,
which no tokenizer turns into fewer than max tokens), so texts travel the loader/cache paths that uint8
images use; the modality's input adapter trains the tokenizer on the training split and turns bytes into
token ids (ssl_core/modalities/text.py). The settings it needs go in `DataInfo.extra["text"]`.
"""

from __future__ import annotations

import logging

import numpy as np
import torch

from ssl_core.data import text_read
from ssl_core.data.base import DataInfo, TensorSource
from ssl_core.data.spec import OpenOptions, SourceKind, user_path
from ssl_core.data.text_bytes import texts_to_bytes
from ssl_core.data.text_fortunes import FORTUNES_NAME, read_fortunes
from ssl_core.data.text_read import (
    CSV_SUFFIXES,
    TEXT_UNITS,
    RawTexts,
    check_size,
    class_names_of,
    read_csv_texts,
    read_folder,
    read_txt,
    unit_words,
)
from ssl_core.data.tokenizer import TOKENIZER_KINDS
from ssl_core.errors import UserError

log = logging.getLogger(__name__)

DEFAULT_MAX_TOKENS = 64
MIN_TOKENS, MAX_TOKENS = 4, 4096
MIN_VOCAB, MAX_VOCAB = 16, 200_000
BYTES_PER_TOKEN = 16  # a token is rarely over 16 bytes, so the cut never costs the tokenizer a token
MIN_TEXTS = 2


class TextSource(TensorSource):
    """Texts held in memory: uint8 (N, max_bytes) UTF-8 rows, labels, and the exact strings."""

    def __init__(self, data: torch.Tensor, labels: torch.Tensor | None, info: DataInfo, texts: list[str]):
        super().__init__(data, labels, info)
        if len(texts) != len(data):
            raise ValueError(f"{len(texts)} texts for {len(data)} rows")
        self._texts = texts

    def texts(self, indices=None) -> list[str]:
        """The samples' texts as read (not cut to max_bytes); all of them when `indices` is None."""
        if indices is None:
            return list(self._texts)
        return [self._texts[int(i)] for i in torch.as_tensor(indices, dtype=torch.long).reshape(-1).tolist()]


def text_settings(options: OpenOptions) -> dict:
    """The tokenizer settings a text source records, checked (one UserError naming the setting)."""
    if options.tokenizer not in TOKENIZER_KINDS:
        raise UserError(
            f"data.tokenizer = {options.tokenizer!r} is not known; use {', '.join(TOKENIZER_KINDS)}.",
            field="data.tokenizer",
        )
    if options.text_unit not in TEXT_UNITS:
        raise UserError(
            f"data.text_unit = {options.text_unit!r} is not known; use {', '.join(TEXT_UNITS)}.",
            field="data.text_unit",
        )
    vocab = options.vocab_size
    if isinstance(vocab, bool) or not isinstance(vocab, int) or not MIN_VOCAB <= vocab <= MAX_VOCAB:
        raise UserError(
            f"data.vocab_size = {vocab!r} is out of range; use a whole number from {MIN_VOCAB} to {MAX_VOCAB:,}.",
            field="data.vocab_size",
        )
    tokens = DEFAULT_MAX_TOKENS if options.length is None else options.length
    if isinstance(tokens, bool) or not isinstance(tokens, int) or not MIN_TOKENS <= tokens <= MAX_TOKENS:
        raise UserError(
            f"data.length = {tokens!r} is out of range for text (the most tokens per text, [CLS] and [SEP] "
            f"included); use a whole number from {MIN_TOKENS} to {MAX_TOKENS}.",
            field="data.length",
        )
    return {"tokenizer": options.tokenizer, "vocab_size": vocab, "max_tokens": tokens}


def _notes(raw: RawTexts, stored_cut: int, max_bytes: int) -> list[str]:
    notes = [unit_words(raw.unit), *raw.notes]
    if raw.empty_skipped:
        what = "text cell(s)" if raw.format == "csv" else "line(s)"
        notes.append(f"{raw.empty_skipped:,} empty {what} skipped")
    if raw.truncated:
        notes.append(
            f"{raw.truncated:,} text(s) longer than {text_read.MAX_SAMPLE_CHARS:,} characters were cut there"
        )
    if stored_cut:
        notes.append(
            f"{stored_cut:,} text(s) stored cut to {max_bytes:,} bytes ({BYTES_PER_TOKEN} per token of "
            "data.length; the tokens past the length are dropped anyway)"
        )
    return notes


def finish_text(raw: RawTexts, *, spec: str, options: OpenOptions) -> TextSource:
    """Texts as read -> a TextSource: labels coded, bytes stored, the settings in extra["text"]."""
    settings = text_settings(options)
    if len(raw.texts) < MIN_TEXTS:
        if not raw.texts and not raw.empty_skipped:
            raise UserError(
                f"{raw.where} is empty; give a file with text in it, one sample per line.", path=raw.where
            )
        found = "no text, only blank lines" if not raw.texts else "only 1 text"
        if raw.truncated:
            found += f", over {text_read.MAX_SAMPLE_CHARS:,} characters long"
        how = unit_words(raw.unit).split(" (")[0]
        raise UserError(
            f"{raw.where} holds {found} (read as {how}); training needs many texts: put one sample per line, "
            "or paragraphs between blank lines.",
            path=raw.where,
        )
    lengths = np.fromiter((len(t.encode("utf-8")) for t in raw.texts), dtype=np.int64, count=len(raw.texts))
    max_bytes = int(max(1, min(int(lengths.max()), BYTES_PER_TOKEN * settings["max_tokens"])))
    stored_cut = int((lengths > max_bytes).sum())
    class_names = class_names_of(raw.labels)
    labels = None
    if raw.labels is not None:
        index = {name: i for i, name in enumerate(class_names)}
        labels = torch.tensor([index[v] for v in raw.labels], dtype=torch.int64)
    extra = {
        "unit": raw.unit,
        **settings,
        "max_bytes": max_bytes,
        "empty_skipped": int(raw.empty_skipped),
        "truncated": int(raw.truncated),
        "stored_cut": stored_cut,
        "format": raw.format,
        "text_column": raw.text_column,
        "longest_chars": max(len(t) for t in raw.texts),
    }
    info = DataInfo(
        spec=spec,
        name=raw.name,
        size=len(raw.texts),
        channels=1,
        height=0,
        width=0,
        has_labels=labels is not None,
        class_names=class_names if labels is not None else [],
        skipped=list(raw.skipped),
        notes=_notes(raw, stored_cut, max_bytes),
        modality="text",
        sample_shape=(max_bytes,),
        sample_dtype="uint8",
        extra={"text": extra},
    )
    log.info("opened %s: %d texts, %d bytes each", spec, info.size, max_bytes)
    return TextSource(texts_to_bytes(raw.texts, max_bytes), labels, info, raw.texts)


def read_text_path(argument: str, options: OpenOptions) -> RawTexts:
    """A .txt file, a folder of .txt files or a CSV/TSV file (by suffix), or the fortunes."""
    text = argument.strip()
    if text.lower() == FORTUNES_NAME:
        return read_fortunes()
    path = user_path(text)
    if path.is_dir():
        return read_folder(path, options.text_unit, options.report)
    if not path.exists():
        raise UserError(
            f"{path} does not exist; check the path in text:{argument} (or use text:fortunes for the demo).",
            path=str(path),
        )
    if not path.is_file():
        raise UserError(
            f"{path} is not a regular file (it is a pipe, socket or device); save the text to a file.",
            path=str(path),
        )
    check_size(path, options.memory_budget_mb)
    suffix = path.suffix.lower()
    if suffix == ".gz":
        raise UserError(f"{path} is compressed; decompress it first (gunzip {path.name}).", path=str(path))
    if suffix in CSV_SUFFIXES:
        return read_csv_texts(path, options.text_column, options.label_column)
    return read_txt(path, options.text_unit)


def open_text(spec: str, argument: str, options: OpenOptions) -> TextSource:
    if options.modality not in (None, "text"):
        raise UserError(
            f"text: reads text, not {options.modality} data (data.modality = {options.modality!r}); leave "
            "data.modality empty, or use csv: for a table.",
            field="data.modality",
        )
    text_settings(options)  # a bad setting is named before any file is read
    if not argument.strip():
        raise UserError(
            "text: needs a file or folder, e.g. text:~/notes.txt or text:fortunes", field="data.spec"
        )
    return finish_text(read_text_path(argument, options), spec=spec, options=options)


KIND = SourceKind(
    scheme="text",
    title="Text",
    noun="text",
    description="Text of your own in UTF-8: a .txt file (one sample per line, or per paragraph between blank "
    "lines), a folder of .txt files with one subfolder per class, or a CSV/TSV file with a text column and "
    "maybe a label column. text:fortunes is the fortune-cookie quotations of the Debian package `fortunes` "
    "(about 15,000 quotes in 40 categories).",
    example="text:fortunes",
    argument="PATH|fortunes",
    browse="file",
    file_pattern="*.txt *.csv *.tsv",
    choices=(FORTUNES_NAME,),
    opener=open_text,
)
