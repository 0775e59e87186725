"""Nearest neighbours of one embedding among many, by cosine similarity (numpy, exact).

The GUI asks for the neighbours of a clicked point many times over the same embeddings, so
`CosineIndex` normalises the rows once; `nearest_neighbors` is the one-off form of the same query.
"""

from __future__ import annotations

import numpy as np

_EPS = 1e-12  # rows shorter than this are treated as zero vectors (similarity 0 to everything)


class CosineIndex:
    """Exact cosine-similarity search over the rows of an (N, D) array."""

    def __init__(self, embeddings: np.ndarray):
        x = np.asarray(embeddings, dtype=np.float32)
        if x.ndim != 2:
            raise ValueError(f"embeddings must be (N, D); got shape {x.shape}")
        norms = np.linalg.norm(x, axis=1, keepdims=True)
        self.normed = x / np.maximum(norms, _EPS)

    def __len__(self) -> int:
        return int(self.normed.shape[0])

    def query(self, index: int, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The k rows most similar to row `index` (itself excluded), most similar first.

        Returns (indices int64, similarities float32), both of length min(k, N - 1). Ties are broken
        by the lower row index, so the answer is deterministic.
        """
        n = len(self)
        if not -n <= index < n:
            raise IndexError(f"index {index} is out of range for {n} embeddings")
        index = int(index) % n
        k = min(int(k), n - 1)
        if k <= 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        sims = self.normed @ self.normed[index]
        sims[~np.isfinite(sims)] = -np.inf  # a diverged (NaN) row is nobody's neighbour
        sims[index] = -np.inf
        # The k-th largest similarity in O(N); every row at or above it is a candidate (ties included),
        # and only those few are sorted: by similarity, then by row index.
        threshold = np.partition(sims, n - k)[n - k]
        top = np.flatnonzero(sims >= threshold)
        top = top[top != index]  # the threshold may be -inf, which the query itself also meets
        top = top[np.lexsort((top, -sims[top]))][:k]
        return top.astype(np.int64), sims[top].astype(np.float32)


def nearest_neighbors(embeddings: np.ndarray, index: int, k: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """Rows of `embeddings` most similar (cosine) to row `index`, itself excluded, most similar first.

    Returns (indices, similarities); see `CosineIndex.query`.
    """
    return CosineIndex(embeddings).query(index, k)
