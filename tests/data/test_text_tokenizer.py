"""The text tokenizer (byte-level BPE, WordPiece, characters) and the UTF-8 byte rows texts are stored as."""

from __future__ import annotations

import hashlib
import random
import subprocess
import sys

import pytest
import torch

from ssl_core.data.text_bytes import bytes_to_texts, texts_to_bytes, utf8_cut
from ssl_core.data.tokenizer import (
    CLS_ID,
    MASK_ID,
    MIN_BPE_VOCAB,
    PAD_ID,
    SEP_ID,
    SPECIAL_TOKENS,
    TOKENIZER_KINDS,
    UNK_ID,
    TextTokenizer,
)
from ssl_core.errors import UserError

WORDS = [
    "the",
    "cat",
    "sat",
    "on",
    "a",
    "mat",
    "dog",
    "ran",
    "far",
    "away",
    "quick",
    "brown",
    "fox",
    "jumps",
    "over",
    "lazy",
    "dogs",
    "while",
    "birds",
    "sing",
]
VOCAB = {"bpe": 300, "wordpiece": 80, "char": 40}


def corpus(n: int = 200, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    return [" ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 10))) for _ in range(n)]


@pytest.fixture(scope="module")
def tokenizers() -> dict[str, TextTokenizer]:
    texts = corpus()
    return {kind: TextTokenizer.train(texts, kind, VOCAB[kind]) for kind in TOKENIZER_KINDS}


@pytest.mark.parametrize("kind", TOKENIZER_KINDS)
def test_specials_have_fixed_ids_and_sequences_are_cls_tokens_sep_pad(tokenizers, kind):
    tok = tokenizers[kind]
    assert [tok.token_to_id(t) for t in SPECIAL_TOKENS] == [PAD_ID, UNK_ID, CLS_ID, SEP_ID, MASK_ID]
    assert tok.vocab_size <= VOCAB[kind] and tok.kind == kind
    ids = tok.encode_batch(["the cat sat", "", "the dog " * 40], 12)
    assert ids.dtype == torch.int64 and ids.shape == (3, 12)
    first = ids[0].tolist()
    end = first.index(SEP_ID)
    assert first[0] == CLS_ID and end > 1 and all(i == PAD_ID for i in first[end + 1 :])
    assert ids[1].tolist()[:3] == [CLS_ID, SEP_ID, PAD_ID]
    assert ids[2, 0] == CLS_ID and ids[2, -1] == SEP_ID and PAD_ID not in ids[2].tolist()  # cut to fit


@pytest.mark.parametrize("kind", TOKENIZER_KINDS)
def test_typed_mask_is_the_mask_token_and_decodes_back(tokenizers, kind):
    tok = tokenizers[kind]
    ids = tok.encode("the [MASK] sat on a mat", 24)
    assert (ids == MASK_ID).sum() == 1
    assert tok.decode(ids) == "the [MASK] sat on a mat"
    strings = tok.token_strings(ids)
    assert strings[0] == "[CLS]" and strings[-1] == "[SEP]" and "[MASK]" in strings and "[PAD]" not in strings


@pytest.mark.parametrize("kind", TOKENIZER_KINDS)
def test_typed_pad_or_sep_inside_a_text_cannot_cut_it_short(tokenizers, kind):
    ids = tokenizers[kind].encode("the cat [PAD] sat [SEP] on", 24).tolist()
    body = ids[1 : ids.index(SEP_ID)]
    assert PAD_ID not in body and CLS_ID not in body and UNK_ID in body
    assert ids.count(SEP_ID) == 1


@pytest.mark.parametrize("kind", TOKENIZER_KINDS)
def test_json_round_trip_gives_identical_ids(tokenizers, kind):
    tok = tokenizers[kind]
    again = TextTokenizer.from_json(tok.to_json())
    texts = corpus(50, seed=3) + ["Unseen wörds ✓ here", "the [MASK] dog"]
    assert torch.equal(again.encode_batch(texts, 16), tok.encode_batch(texts, 16))
    assert again.to_json() == tok.to_json() and again.kind == kind and again.vocab_size == tok.vocab_size


def test_plain_text_decodes_back(tokenizers):
    text = "the quick brown fox jumps over a lazy dog"
    assert tokenizers["bpe"].decode(tokenizers["bpe"].encode(text, 32)) == text
    assert tokenizers["char"].decode(tokenizers["char"].encode(text, 64)) == text
    assert (
        tokenizers["wordpiece"].decode(tokenizers["wordpiece"].encode(text.upper(), 32)) == text
    )  # lower-cased


def test_bpe_never_needs_unk_and_word_starts_follow_spaces(tokenizers):
    tok = tokenizers["bpe"]
    ids = tok.encode("Zebras ünd ✓", 40).tolist()
    assert UNK_ID not in ids  # every byte is in a byte-level vocabulary
    words = tok.encode("the cat sat", 8).tolist()[1:4]
    assert [tok.is_word_start(i) for i in words] == [True, True, True]
    assert not any(tok.is_word_start(i) for i in range(len(SPECIAL_TOKENS)))
    assert tok.word_starts.shape == (tok.vocab_size,)


def test_wordpiece_continuations_are_not_word_starts(tokenizers):
    tok = tokenizers["wordpiece"]
    for i in range(len(SPECIAL_TOKENS), tok.vocab_size):
        assert tok.is_word_start(i) == (not tok.id_to_token(i).startswith("##"))


def test_char_level_keeps_the_most_frequent_characters_and_rare_ones_become_unk():
    texts = ["aaaa bbb cc d"] * 5 + ["z"]
    tok = TextTokenizer.train(texts, "char", len(SPECIAL_TOKENS) + 4)  # room for a, b, space and c
    assert tok.vocab_size == len(SPECIAL_TOKENS) + 4
    assert [tok.id_to_token(i) for i in range(5, 9)] == [" ", "a", "b", "c"]
    ids = tok.encode("abd", 8).tolist()
    assert ids[:5] == [CLS_ID, tok.token_to_id("a"), tok.token_to_id("b"), UNK_ID, SEP_ID]
    assert tok.token_strings([tok.token_to_id(" ")]) == ["␣"]
    assert tok.is_word_start(tok.token_to_id("a")) and not tok.is_word_start(tok.token_to_id(" "))


@pytest.mark.parametrize("kind", ["bpe", "wordpiece"])
def test_a_vocabulary_larger_than_the_text_allows_names_the_largest(kind):
    texts = corpus(60)
    with pytest.raises(UserError) as info:
        TextTokenizer.train(texts, kind, 5000, where="text:small.txt")
    message = str(info.value)
    assert info.value.field == "data.vocab_size" and message.startswith(
        "text:small.txt: data.vocab_size = 5000"
    )
    largest = int(message.split("allows at most ")[1].split(" ")[0])
    assert TextTokenizer.train(texts, kind, largest).vocab_size == largest  # the size it names works


def test_bpe_needs_room_for_every_byte():
    with pytest.raises(UserError, match=f"set it to {MIN_BPE_VOCAB} or more") as info:
        TextTokenizer.train(corpus(20), "bpe", 100)
    assert info.value.field == "data.vocab_size"
    with pytest.raises(UserError, match="data.tokenizer"):
        TextTokenizer.train(corpus(20), "sentencepiece", 100)


_SCRIPT = """
import hashlib, random, sys
sys.path.insert(0, {root!r})
from tests.data.test_text_tokenizer import corpus
from ssl_core.data.tokenizer import TextTokenizer
for kind in ("bpe", "wordpiece", "char"):
    print(hashlib.sha256(TextTokenizer.train(corpus(), kind, {vocab!r}[kind]).to_json().encode()).hexdigest())
"""


def test_training_is_deterministic_across_processes(tokenizers):
    """The library hashes with a per-process seed; the same texts must still give the same tokenizer."""
    from pathlib import Path

    root = str(Path(__file__).resolve().parents[2])
    here = [hashlib.sha256(tokenizers[k].to_json().encode()).hexdigest() for k in TOKENIZER_KINDS]
    script = _SCRIPT.format(root=root, vocab=VOCAB)
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, cwd=root
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == here


def test_bytes_rows_cut_at_a_character_boundary_and_read_back():
    texts = ["héllo", "✓✓✓", "", "plain", "nul\x00inside"]
    rows = texts_to_bytes(texts, 5)
    assert rows.dtype == torch.uint8 and rows.shape == (5, 5)
    assert bytes_to_texts(rows) == ["héll", "✓", "", "plain", "nulin"]
    assert bytes_to_texts(texts_to_bytes(texts, 40)) == ["héllo", "✓✓✓", "", "plain", "nulinside"]
    assert utf8_cut("✓".encode(), 2) == b"" and utf8_cut(b"abc", 2) == b"ab"
    assert bytes_to_texts(rows[1]) == ["✓"]  # one row
