"""The text tokenizer: byte-level BPE, WordPiece or characters, trained on the training split's texts.

Built on Hugging Face `tokenizers` (the Rust library behind BERT/GPT tokenizers): it trains in well under a
second on the fortunes demo and encodes a batch in one call. The five special tokens have fixed ids 0..4 in
every kind, so models, masks and methods can use the constants below without asking the tokenizer.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence

import numpy as np
import torch
from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers

from ssl_core.errors import UserError

PAD_ID, UNK_ID, CLS_ID, SEP_ID, MASK_ID = 0, 1, 2, 3, 4
SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
TOKENIZER_KINDS = ("bpe", "wordpiece", "char")
TOKENIZER_TITLES = {
    "bpe": "Byte-level BPE (GPT-2 style subwords)",
    "wordpiece": "WordPiece (BERT style subwords, lower-cased)",
    "char": "Characters (for tiny corpora)",
}
BYTE_ALPHABET = 256  # byte-level BPE always holds every byte, so no text is ever [UNK]
MIN_BPE_VOCAB = len(SPECIAL_TOKENS) + BYTE_ALPHABET + 1  # at least one merge
_FORMAT = 1  # the layout of to_json(); bump when it changes
_VISIBLE = {" ": "␣", "\n": "↵", "\t": "⇥"}  # whitespace tokens drawn so a person sees them


class TextTokenizer:
    """A trained tokenizer (one of TOKENIZER_KINDS) with [PAD] [UNK] [CLS] [SEP] [MASK] at ids 0..4."""

    def __init__(self, tokenizer: Tokenizer, kind: str):
        if kind not in TOKENIZER_KINDS:
            raise ValueError(f"unknown tokenizer kind {kind!r}")
        for i, token in enumerate(SPECIAL_TOKENS):
            if tokenizer.token_to_id(token) != i:
                raise ValueError(f"{token} must have id {i} (has {tokenizer.token_to_id(token)})")
        self._tok = tokenizer
        self.kind = kind
        self.vocab_size = int(tokenizer.get_vocab_size(with_added_tokens=True))
        # Readable token strings and word starts, looked up per id (cheap and fixed once trained).
        self._strings = [self._readable(i) for i in range(self.vocab_size)]
        self._word_start = np.array([self._starts_word(i) for i in range(self.vocab_size)], dtype=bool)

    # --- training -------------------------------------------------------------------------------
    @classmethod
    def train(cls, texts: Sequence[str], kind: str, vocab_size: int, *, where: str = "") -> TextTokenizer:
        """Train on `texts` (the training split); deterministic: the same texts give the same JSON.

        bpe/wordpiece refuse a `vocab_size` the texts cannot reach (naming the largest they reach) or one too
        small for the texts' characters; char keeps the `vocab_size - 5` most frequent characters.
        `where` (the data spec or file) starts every refusal, so the one line names the data."""
        try:
            return cls._train(texts, kind, vocab_size)
        except UserError as exc:
            if not where:
                raise
            raise UserError(f"{where}: {exc}", field=exc.field, path=where) from None

    @classmethod
    def _train(cls, texts: Sequence[str], kind: str, vocab_size: int) -> TextTokenizer:
        if kind not in TOKENIZER_KINDS:
            raise UserError(
                f"data.tokenizer = {kind!r} is not known; use one of: {', '.join(TOKENIZER_KINDS)}.",
                field="data.tokenizer",
            )
        if (
            isinstance(vocab_size, bool)
            or not isinstance(vocab_size, int)
            or vocab_size <= len(SPECIAL_TOKENS)
        ):
            raise UserError(
                f"data.vocab_size = {vocab_size!r} is too small; it needs room for the "
                f"{len(SPECIAL_TOKENS)} special tokens and some text.",
                field="data.vocab_size",
            )
        texts = [t for t in texts if t]
        if not texts:
            raise UserError("There is no training text to build a tokenizer from.", field="data.vocab_size")
        if kind == "char":
            return cls(_train_char(texts, vocab_size), kind)
        if kind == "bpe" and vocab_size < MIN_BPE_VOCAB:
            raise UserError(
                f"data.vocab_size = {vocab_size} is too small for byte-level BPE, which holds all 256 bytes "
                f"and {len(SPECIAL_TOKENS)} special tokens; set it to {MIN_BPE_VOCAB} or more, or use "
                "data.tokenizer = char for a tiny vocabulary.",
                field="data.vocab_size",
            )
        tok = _train_bpe(texts, vocab_size) if kind == "bpe" else _train_wordpiece(texts, vocab_size)
        reached = tok.get_vocab_size(with_added_tokens=True)
        if reached < vocab_size:
            raise UserError(
                f"data.vocab_size = {vocab_size} is larger than this text supports: the training text allows "
                f"at most {reached} tokens; set data.vocab_size to {reached} or less (or bring more text).",
                field="data.vocab_size",
            )
        if reached > vocab_size:  # more distinct characters than the vocabulary has room for
            raise UserError(
                f"data.vocab_size = {vocab_size} is too small for this text's {reached} distinct characters "
                f"and special tokens; set data.vocab_size to {reached} or more, or use data.tokenizer = bpe.",
                field="data.vocab_size",
            )
        return cls(tok, kind)

    # --- encoding -------------------------------------------------------------------------------
    def encode_batch(self, texts: Sequence[str], max_tokens: int) -> torch.Tensor:
        """int64 (n, max_tokens): [CLS] tokens [SEP] then [PAD], the tokens cut to fit; a typed "[MASK]"
        becomes MASK_ID, other typed special tokens become [UNK] (a [PAD] inside a text would end it)."""
        if max_tokens < 3:
            raise ValueError(f"max_tokens must be at least 3 ([CLS] x [SEP]), not {max_tokens}")
        out = np.zeros((len(texts), max_tokens), dtype=np.int64)
        if not len(texts):
            return torch.from_numpy(out)
        keep = max_tokens - 2
        encodings = self._tok.encode_batch(list(texts), add_special_tokens=False)
        lengths = np.empty(len(texts), dtype=np.int64)
        for row, enc in enumerate(encodings):
            ids = enc.ids[:keep]
            lengths[row] = len(ids)
            out[row, 1 : 1 + len(ids)] = ids
        # A typed [PAD]/[CLS]/[SEP] inside a text would cut its attention mask or fake a boundary.
        cols = np.arange(max_tokens)[None, :]
        inside = (cols >= 1) & (cols <= lengths[:, None])
        out[inside & ((out == PAD_ID) | (out == CLS_ID) | (out == SEP_ID))] = UNK_ID
        out[:, 0] = CLS_ID
        out[np.arange(len(texts)), lengths + 1] = SEP_ID
        return torch.from_numpy(out)

    def encode(self, text: str, max_tokens: int) -> torch.Tensor:
        return self.encode_batch([text], max_tokens)[0]

    # --- decoding -------------------------------------------------------------------------------
    def decode(self, ids) -> str:
        """The text of `ids`: [PAD], [CLS] and [SEP] left out; [MASK] and [UNK] shown as written."""
        keep = [int(i) for i in _as_list(ids) if int(i) not in (PAD_ID, CLS_ID, SEP_ID)]
        if self.kind != "bpe":
            return self._tok.decode(keep, skip_special_tokens=False)
        # [MASK] took its space when encoded (see _train_bpe): give it back between decoded stretches.
        parts, run = [], []
        for i in keep + [MASK_ID]:
            if i == MASK_ID:
                parts.append(self._tok.decode(run, skip_special_tokens=False))
                run = []
            else:
                run.append(i)
        return " [MASK]".join(parts).strip()

    def token_strings(self, ids) -> list[str]:
        """One readable string per id ([PAD] dropped): "cat", "##s", "[MASK]", "␣" for a space."""
        return [self._strings[int(i)] for i in _as_list(ids) if int(i) != PAD_ID]

    def id_to_token(self, i: int) -> str:
        return self._tok.id_to_token(int(i))

    def token_to_id(self, s: str) -> int | None:
        return self._tok.token_to_id(s)

    def is_word_start(self, i: int) -> bool:
        """Whether token `i` begins a word (BPE: after a space; WordPiece: not "##..."; char: not a space).
        Special tokens are not words."""
        return bool(self._word_start[int(i)])

    @property
    def word_starts(self) -> np.ndarray:
        """bool (vocab_size,): is_word_start for every id, for vectorised masking."""
        return self._word_start

    # --- storage --------------------------------------------------------------------------------
    def to_json(self) -> str:
        return json.dumps({"format": _FORMAT, "kind": self.kind, "tokenizer": self._tok.to_str()})

    @classmethod
    def from_json(cls, text: str) -> TextTokenizer:
        data = json.loads(text)
        if data.get("format") != _FORMAT:
            raise ValueError(f"unknown tokenizer format {data.get('format')!r}")
        return cls(Tokenizer.from_str(data["tokenizer"]), data["kind"])

    # --- helpers --------------------------------------------------------------------------------
    def _readable(self, i: int) -> str:
        token = self._tok.id_to_token(i)
        if token is None or i < len(SPECIAL_TOKENS):
            return token or ""
        if self.kind == "bpe":
            text = self._tok.decode([i], skip_special_tokens=False)
        else:
            text = token
        if text.strip():
            return text.strip()
        return "".join(_VISIBLE.get(c, c) for c in text) or token

    def _starts_word(self, i: int) -> bool:
        token = self._tok.id_to_token(i)
        if token is None or i < len(SPECIAL_TOKENS):
            return False
        if self.kind == "bpe":
            # "Ġ" is how byte-level BPE writes the space before a word (alone when " word" is not one token).
            return token.startswith("Ġ")
        if self.kind == "wordpiece":
            return not token.startswith("##")
        return not token.isspace()


def _as_list(ids) -> list[int]:
    if isinstance(ids, torch.Tensor):
        return ids.reshape(-1).tolist()
    if isinstance(ids, np.ndarray):
        return ids.reshape(-1).tolist()
    return list(ids)


def _specials_first(tok: Tokenizer) -> None:
    tok.add_special_tokens(list(SPECIAL_TOKENS))


def _train_bpe(texts: list[str], vocab_size: int) -> Tokenizer:
    tok = Tokenizer(models.BPE(unk_token="[UNK]"))
    # A space before every text, so the first word is the same token as the same word later in a text.
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=True)
    tok.decoder = decoders.ByteLevel()
    # [MASK] takes the space before it, as in RoBERTa: in training a masked word's token carries its space
    # ("Ġcat"), so a typed "the [MASK] sat" must not leave a lone "Ġ" the model never saw before [MASK].
    specials = [AddedToken(t, special=True, normalized=False, lstrip=t == "[MASK]") for t in SPECIAL_TOKENS]
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=specials,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer=trainer, length=len(texts))
    return tok


_WORD_MARK = "▁"  # marks a word's first piece while the WordPiece vocabulary is learned


def _train_wordpiece(texts: list[str], vocab_size: int) -> Tokenizer:
    """A WordPiece (BERT) tokenizer whose vocabulary is learned by BPE merges on marked words.

    The library's WordPiece trainer numbers the "##x" pieces in hash order, so its vocabulary differs
    between processes; merges over a fixed, sorted alphabet do not. "▁the" becomes the word "the", "ing" the
    continuation "##ing"; encoding is WordPiece's greedy longest match, so the order of pieces is all that
    matters, and it is taken from the merges' order."""
    norm = normalizers.BertNormalizer(lowercase=True)
    split = pre_tokenizers.BertPreTokenizer()
    marked, counts = [], Counter()
    for text in texts:
        words = [w for w, _ in split.pre_tokenize_str(norm.normalize_str(text))]
        for w in words:
            counts.update(w)
        marked.append(" ".join(_WORD_MARK + w for w in words))
    # Every kept character needs a word form and a "##" form.
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    alphabet = sorted(c for c, _ in ranked[: (vocab_size - len(SPECIAL_TOKENS)) // 2])
    pieces = list(SPECIAL_TOKENS) + alphabet + ["##" + c for c in alphabet]
    seen = set(pieces)
    learner = Tokenizer(models.BPE(unk_token="[UNK]"))
    learner.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size + 2 * len(alphabet) + 16,  # enough merges to know the corpus' limit
        initial_alphabet=[_WORD_MARK, *alphabet],
        limit_alphabet=len(alphabet) + 1,
        show_progress=False,
    )
    learner.train_from_iterator(marked, trainer=trainer, length=len(marked))
    for left, right in json.loads(learner.to_str())["model"]["merges"]:
        merged = left + right
        piece = merged[1:] if merged.startswith(_WORD_MARK) else "##" + merged
        if len(pieces) >= vocab_size:
            break
        if piece not in seen and piece not in ("", "##"):
            seen.add(piece)
            pieces.append(piece)
    tok = Tokenizer(
        models.WordPiece(
            {p: i for i, p in enumerate(pieces)}, unk_token="[UNK]", max_input_chars_per_word=100
        )
    )
    tok.normalizer = norm
    tok.pre_tokenizer = split
    tok.decoder = decoders.WordPiece(prefix="##")
    _specials_first(tok)
    return tok


def _train_char(texts: list[str], vocab_size: int) -> Tokenizer:
    """One token per character: the `vocab_size - 5` most frequent characters (ties by code point, so
    training is deterministic); the rest become [UNK]. A WordLevel model, so it saves as JSON too."""
    norm = normalizers.NFC()
    counts: Counter[str] = Counter()
    for text in texts:
        counts.update(norm.normalize_str(text))
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[: vocab_size - len(SPECIAL_TOKENS)]
    vocab = {token: i for i, token in enumerate(SPECIAL_TOKENS)}
    for char, _ in sorted(ranked, key=lambda kv: kv[0]):
        vocab[char] = len(vocab)
    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token="[UNK]"))
    tok.normalizer = norm
    tok.pre_tokenizer = pre_tokenizers.Split(Regex(r"[\s\S]"), behavior="isolated")
    tok.decoder = decoders.Fuse()
    _specials_first(tok)
    return tok
