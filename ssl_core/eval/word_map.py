"""The words of a text run as points: the word vectors of its most frequent whole words.

The Embeddings tab's "words" mode maps these instead of the texts (word2vec's input vectors, or the input
word table of the other text methods). Vectors are centred on the mean of the candidate words, as the
neighbour lists are (ssl_core/eval/language.py `word_space`), so the map shows what sets words apart.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ssl_core.errors import UserError

MAP_WORDS = 1500  # enough for the common vocabulary of a corpus; UMAP of that many points takes seconds


@dataclass
class WordMap:
    words: list[str]  # readable words, most frequent first
    vectors: np.ndarray  # (n, D) float32, centred
    counts: np.ndarray  # (n,) occurrences in the training split


def word_map(run_dir: str | Path, limit: int = MAP_WORDS, source=None) -> WordMap:
    """The `limit` most frequent whole words of a text run's training split with their vectors."""
    from ssl_core.eval.language import ranked_word_ids, source_ids, unigram_counts, word_space
    from ssl_core.methods._text_lm import input_table, token_word, tokenizer_of
    from ssl_core.runs.store import load_run

    run = load_run(run_dir, source=source)
    method = run.method
    if method.modality.name != "text":
        raise UserError(
            f"{Path(run_dir).name} trained on {method.modality.plural}, not text; a word map needs a text run.",
            field="data.spec",
        )
    vocab = input_table(method.backbone).num_embeddings
    counts = unigram_counts(source_ids(method, run.source, run.train_idx), vocab)
    vectors, candidates, _ = word_space(method, among=counts > 0)
    keep = ranked_word_ids(method, counts, candidates)[: max(0, int(limit))]
    if len(keep) < 3:
        raise UserError(
            f"{Path(run_dir).name} has only {len(keep)} whole word(s) in its training text; a word map needs more.",
            field="data.spec",
        )
    return WordMap(
        words=[token_word(tokenizer_of(method), i) for i in keep],
        vectors=vectors[keep].numpy().astype(np.float32),
        counts=counts[keep].numpy().astype(np.int64),
    )
