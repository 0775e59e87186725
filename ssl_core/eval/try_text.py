"""The Try-it box: what a text model makes of a sentence a person types, as "text_rows" (the rows of the
"token_text" preview payload).

- a text with [MASK] -> the masked model's top guesses for each blank ("masked" row);
- a prompt -> the next-token model's continuation ("continuation" row);
- a single word -> its nearest words by cosine of the word table ("neighbours" row): word2vec's vectors,
  or the input embedding of any other text network.
"""

from __future__ import annotations

import re

import torch

from ssl_core.data.tokenizer import CLS_ID, MASK_ID, PAD_ID, SEP_ID
from ssl_core.errors import UserError
from ssl_core.eval.language import encode_texts, lm_kind, neighbours_of, word_ids_of, word_table
from ssl_core.methods._text_lm import tokenizer_of

_MASK_TYPED = re.compile(r"\[\s*mask\s*\]", re.IGNORECASE)
FIELD = "try_text"


def _title(method) -> str:
    spec = getattr(method, "spec", None)
    return getattr(spec, "title", type(method).__name__)


def _word_rows(method, word: str, k: int) -> list[dict]:
    if word_table_or_none(method) is None:
        raise UserError(f"{_title(method)} has no word table to look {word!r} up in.", field=FIELD)
    pieces = word_ids_of(method, word)
    if pieces is None:
        raise UserError(
            f"{word!r} is not in this model's vocabulary (it becomes [UNK]); try a word from the training text.",
            field=FIELD,
        )
    vector = word_table(method)[pieces].mean(dim=0)
    return [{"kind": "neighbours", "word": word, "top": neighbours_of(method, vector, k, pieces)}]


def _neighbours_if_known(method, word: str, k: int) -> list[dict]:
    """The word's neighbour row, or none when it cannot be looked up (a prompt still gets its continuation)."""
    try:
        return _word_rows(method, word, k)
    except UserError:
        return []


def word_table_or_none(method) -> torch.Tensor | None:
    try:
        return word_table(method)
    except UserError:
        return None


@torch.no_grad()
def try_text(method, text: str, k: int = 5) -> list[dict]:
    """Rows answering `text` with the current model (see the module docstring); a UserError says what to
    type instead when the method cannot answer this kind of text."""
    if getattr(getattr(method, "modality", None), "name", "text") != "text":
        raise UserError(
            f"{_title(method)} is not a text model; the Try-it box needs a text run.", field=FIELD
        )
    text = _MASK_TYPED.sub("[MASK]", str(text or "")).strip()
    if not text:
        raise UserError(
            "Type a sentence (with [MASK] for a masked model), a prompt or a single word.", field=FIELD
        )
    k = max(1, int(k))
    tokenizer_of(method)  # a clear error when the model has no tokenizer
    kind = lm_kind(method)
    masked = "[MASK]" in text
    single = not masked and len(text.split()) == 1
    device = next(method.parameters()).device
    if kind == "masked_token":
        if not masked:
            if single:
                return _word_rows(method, text, k)
            raise UserError(
                f"{_title(method)} fills in blanks: type [MASK] where a word is missing, e.g. "
                "'the cat sat on the [MASK]' (or type a single word to see its nearest words).",
                field=FIELD,
            )
        ids = encode_texts(method, [text]).to(device)
        if not bool((ids == MASK_ID).any()):
            raise UserError(
                "The [MASK] falls beyond the model's maximum length; put it earlier or shorten the text.",
                field=FIELD,
            )
        return method.guess_rows(ids, k=k)
    if kind == "next_token":
        if masked:
            raise UserError(
                f"{_title(method)} continues a text from its start: type the beginning of a sentence "
                "without [MASK].",
                field=FIELD,
            )
        ids = encode_texts(method, [text])[0]
        prompt = ids[(ids != PAD_ID) & (ids != SEP_ID)]
        if len(prompt) < 2 or int(prompt[0]) != CLS_ID:
            raise UserError("Type at least one word to continue.", field=FIELD)
        made = method.continue_ids([prompt.to(device)])[0]
        tokenizer = tokenizer_of(method)
        row = {"kind": "continuation", "prompt": tokenizer.decode(prompt), "text": tokenizer.decode(made)}
        return (_neighbours_if_known(method, text, k) if single else []) + [row]
    if single:
        return _word_rows(method, text, k)
    raise UserError(
        f"{_title(method)} learns vectors, not guesses: it cannot fill a [MASK] or continue a text. Type a "
        "single word to see its nearest words.",
        field=FIELD,
    )
