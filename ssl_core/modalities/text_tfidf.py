"""The raw-input baseline for text: TF-IDF word features, fitted on the training split, stored as plain data.

What a practitioner tries first on labelled text is TF-IDF with a linear classifier. `TfidfFeatures.fit`
uses scikit-learn's TfidfVectorizer (word level, sublinear term frequency, l2-normalised rows); what it
learned (the vocabulary and the idf weights) is kept as JSON-able data, so a run carries it in its
checkpoint and a reopened run computes the same features. `transform` rebuilds them from that data with a
CountVectorizer on the fixed vocabulary (no private scikit-learn state, no pickle).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

MAX_FEATURES = 20_000  # the largest vocabulary the baseline keeps
# Evaluation holds the whole data set's features at once, dense float32: the vocabulary is capped so that
# n x F stays below this many values (200 MB), but never below MIN_FEATURES words.
DENSE_BUDGET_VALUES = 50_000_000
MIN_FEATURES = 1_000
# Words in at least this many training texts; 1 for corpora too small to spare rare words.
MIN_DF_LARGE, SMALL_CORPUS = 2, 200
_OPTIONS = {"lowercase": True, "token_pattern": r"(?u)\b\w+\b", "dtype": np.float32}


def feature_cap(samples: int) -> int:
    """How many words the baseline keeps for a data set of `samples` texts."""
    return int(min(MAX_FEATURES, max(MIN_FEATURES, DENSE_BUDGET_VALUES // max(1, samples))))


class TfidfFeatures:
    """A fitted TF-IDF map: texts -> (n, F) float32, F = the number of words kept."""

    def __init__(self, vocabulary: dict[str, int], idf: Sequence[float]):
        if len(vocabulary) != len(idf):
            raise ValueError(f"{len(vocabulary)} words but {len(idf)} idf weights")
        self.vocabulary = {str(k): int(v) for k, v in vocabulary.items()}
        self.idf = np.asarray(idf, dtype=np.float64)
        self._counter = None

    @classmethod
    def fit(cls, texts: Sequence[str], samples: int | None = None) -> TfidfFeatures:
        """Fit on the training texts; `samples` (default: len(texts)) sizes the vocabulary cap."""
        from sklearn.feature_extraction.text import TfidfVectorizer

        texts = [t for t in texts if t.strip()]
        min_df = MIN_DF_LARGE if len(texts) >= SMALL_CORPUS else 1
        vectorizer = TfidfVectorizer(
            sublinear_tf=True, max_features=feature_cap(samples or len(texts)), min_df=min_df, **_OPTIONS
        )
        try:
            vectorizer.fit(texts)
        except ValueError:  # no word at all (texts of punctuation only): an empty baseline
            return cls({}, [])
        return cls(vectorizer.vocabulary_, vectorizer.idf_)

    @property
    def size(self) -> int:
        return len(self.vocabulary)

    def transform(self, texts: Sequence[str]) -> np.ndarray:
        """(n, F) float32 TF-IDF rows (l2-normalised; all zeros for a text without a known word)."""
        if not self.vocabulary:
            return np.zeros((len(texts), 0), dtype=np.float32)
        if self._counter is None:
            from sklearn.feature_extraction.text import CountVectorizer

            self._counter = CountVectorizer(vocabulary=self.vocabulary, **_OPTIONS)
        counts = self._counter.transform(list(texts)).astype(np.float64).tocsr()
        counts.data = np.log(counts.data) + 1.0  # sublinear term frequency
        dense = counts.multiply(self.idf[None, :]).toarray()
        norms = np.sqrt((dense**2).sum(axis=1, keepdims=True))
        return (dense / np.maximum(norms, 1e-12)).astype(np.float32)

    def to_dict(self) -> dict:
        words = sorted(self.vocabulary, key=self.vocabulary.get)
        return {"words": words, "idf": [float(v) for v in self.idf[[self.vocabulary[w] for w in words]]]}

    @classmethod
    def from_dict(cls, data: dict) -> TfidfFeatures:
        words = list(data.get("words", []))
        return cls({w: i for i, w in enumerate(words)}, data.get("idf", []))
