"""2-D projections of embeddings: PCA (instant) and UMAP (umap-learn), with progress and cancellation.

UMAP has two paths that produce the same kind of map:

* plain: umap-learn end to end (its own nearest-neighbour search: exact below 4,096 points, NN-descent
  above);
* fast: PCA pre-reduction to 50 dimensions, then an exact k-nearest-neighbour graph computed with torch
  (blocked matrix products + top-k, on the GPU when there is one) handed to umap-learn as
  `precomputed_knn`. `fast=None` picks it above FAST_MIN_POINTS points. The threshold is low because
  umap-learn 0.5's own small-data path (below 4,096 points) computes all pairwise distances through a
  Python-level metric callback: 27 s for 3,000 points on 2 CPU cores against 5 s for the fast path, and
  4.4 s against 3.0 s at 1,000 points. Above that the fast path is kept for its guarantees: every
  stretch between cancellation checks stays under ~1 s, and it skips NN-descent's numba compilation
  (~20 s once per process, uncancellable). Its exact kNN is O(N^2 d): instant on a GPU, but on a 2-core
  CPU at 50,000 points it takes ~16 s where NN-descent takes ~2 s once compiled; pass fast=False there
  if raw CPU speed matters more than prompt cancellation (bench/RESULTS.md has the measurements).

Cancellation is checked between stages, between kNN blocks, and before every optimisation epoch
(umap-learn loops over epochs with `tqdm(range(n_epochs), **tqdm_kwds)`; we wrap `umap.layouts.tqdm`
so that a call carrying our hook object iterates the epochs through it, see `_EpochHook`). Stages that umap-learn runs as one call (its own NN-descent on the plain
path, the graph construction and the spectral initialisation) cannot be interrupted; on 50,000 points
they take a few seconds (see bench/RESULTS.md).
"""

from __future__ import annotations

import logging
import threading
import warnings

import numpy as np
import torch

from ssl_core.errors import UserError
from ssl_core.eval.progress import CancelToken, ProgressFn, check_cancel, report, sub_progress

log = logging.getLogger(__name__)

MAX_UMAP_POINTS = 50_000
FAST_MIN_POINTS = 500
PCA_DIMS = 50
KNN_BLOCK_ELEMENTS = 1 << 25  # distance-matrix block size: 32 M floats (128 MB)


def _as_matrix(x: np.ndarray, what: str = "embeddings") -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    if x.ndim != 2:
        raise ValueError(f"{what} must be (N, D); got shape {x.shape}")
    if not np.isfinite(x).all():
        raise UserError(
            f"The {what} contain NaN or infinite values; the model diverged, so they cannot be mapped."
        )
    return x


def project_pca(x: np.ndarray, n_components: int = 2) -> np.ndarray:
    """Principal-component projection (N, n_components) float32; pads with zeros when D is smaller."""
    x = _as_matrix(x)
    n, d = x.shape
    out = np.zeros((n, n_components), dtype=np.float32)
    usable = min(n_components, d, n)
    if n == 0 or usable == 0:
        return out
    centred = x.astype(np.float64) - x.mean(axis=0, dtype=np.float64)
    if n > 2 * d:
        # Covariance eigendecomposition: O(n d^2), far faster than an SVD of a tall matrix.
        vals, vecs = np.linalg.eigh(centred.T @ centred)
        components = vecs[:, ::-1][:, :usable]
    else:
        _, _, vt = np.linalg.svd(centred, full_matrices=False)
        components = vt[:usable].T
    # Fix each axis' sign (largest loading positive) so repeated calls give the same picture.
    signs = np.sign(components[np.abs(components).argmax(axis=0), np.arange(usable)])
    signs[signs == 0] = 1.0
    out[:, :usable] = (centred @ (components * signs)).astype(np.float32)
    return out


def _pca_reduce(x: np.ndarray, dims: int) -> np.ndarray:
    if x.shape[1] <= dims:
        return x
    return project_pca(x, dims)


def exact_knn(
    x: np.ndarray,
    k: int,
    device: torch.device | str | None = None,
    progress: ProgressFn | None = None,
    cancel: CancelToken | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Exact Euclidean k nearest neighbours of every row, itself first (distance 0), as umap expects.

    Returns (indices int64 (N, k), distances float32 (N, k)), each row sorted by distance.
    """
    x = _as_matrix(x)
    n = x.shape[0]
    k = min(int(k), n)
    if device is None:
        device = "cuda" if torch.cuda.is_available() else "cpu"
    data = torch.from_numpy(x).to(device)
    sq = data.square().sum(dim=1)
    block = int(max(64, min(4096, KNN_BLOCK_ELEMENTS // max(1, n))))
    all_idx = np.empty((n, k), dtype=np.int64)
    all_dist = np.empty((n, k), dtype=np.float32)
    for start in range(0, n, block):
        check_cancel(cancel)
        stop = min(n, start + block)
        query = data[start:stop]
        d2 = torch.addmm(sq[start:stop, None] + sq[None, :], query, data.T, alpha=-2.0)
        rows = torch.arange(stop - start, device=d2.device)
        d2[rows, rows + start] = float("-inf")  # a point is its own nearest neighbour, even among duplicates
        _, idx = d2.topk(k, dim=1, largest=False)
        # The expansion |a|^2 + |b|^2 - 2ab loses precision for close points: recompute those k exactly.
        exact = (query[:, None, :] - data[idx]).norm(dim=2)
        exact[:, 0] = 0.0
        exact, order = exact.sort(dim=1, stable=True)
        all_idx[start:stop] = idx.gather(1, order).cpu().numpy()
        all_dist[start:stop] = exact.cpu().numpy()
        report(progress, stop / n, f"Nearest neighbours {stop}/{n}")
    return all_idx, all_dist


class _EpochHook:
    """Handed to umap-learn as `tqdm_kwds={"file": hook}`; our wrapper of `umap.layouts.tqdm` recognises
    it and iterates the epochs itself: progress after each epoch, cancellation before each one.

    (Raising from inside a real tqdm bar's `write` would leave tqdm's global lock held, since
    `tqdm.refresh` does not release it on errors; a plain generator holds no locks.)
    """

    def __init__(self, progress: ProgressFn | None, cancel: CancelToken | None):
        self.progress = progress
        self.cancel = cancel
        self.epochs_done = 0

    def iterate(self, epochs):
        total = max(1, len(epochs))
        every = max(1, total // 200)  # at most ~200 progress reports per run
        report(self.progress, 0.0, f"UMAP optimisation, epoch 0/{total}")
        for i, epoch in enumerate(epochs):
            check_cancel(self.cancel)
            yield epoch
            self.epochs_done = i + 1
            if self.epochs_done % every == 0 or self.epochs_done == total:
                report(
                    self.progress,
                    self.epochs_done / total,
                    f"UMAP optimisation, epoch {self.epochs_done}/{total}",
                )

    # A file-like face, in case a umap-learn version hands the hook to a real tqdm bar.
    def write(self, text: str) -> int:
        return len(text)

    def flush(self) -> None:
        pass


_PATCH_LOCK = threading.Lock()


def _install_epoch_hook() -> bool:
    """Wrap `umap.layouts.tqdm` once so that calls carrying an `_EpochHook` go to it (others are untouched)."""
    import umap.layouts as layouts

    with _PATCH_LOCK:
        original = getattr(layouts, "tqdm", None)
        if original is None:
            log.warning("umap-learn has no layouts.tqdm; UMAP epochs cannot be cancelled or reported")
            return False
        if getattr(original, "_ssl_epoch_hook", False):
            return True

        def tqdm_or_hook(iterable=None, *args, **kwargs):
            hook = kwargs.get("file")
            if isinstance(hook, _EpochHook):
                return hook.iterate(iterable)
            return original(iterable, *args, **kwargs)

        tqdm_or_hook._ssl_epoch_hook = True
        layouts.tqdm = tqdm_or_hook
        return True


def project_umap(
    x: np.ndarray,
    n_neighbors: int = 15,
    min_dist: float = 0.1,
    seed: int = 0,
    fast: bool | None = None,
    progress: ProgressFn | None = None,
    cancel: CancelToken | None = None,
    n_epochs: int | None = None,
) -> np.ndarray:
    """UMAP projection (N, 2) float32 of up to MAX_UMAP_POINTS points; see the module docstring."""
    x = _as_matrix(x)
    n = x.shape[0]
    if n > MAX_UMAP_POINTS:
        raise UserError(
            f"UMAP is limited to {MAX_UMAP_POINTS:,} points here and got {n:,}; "
            "subsample the embeddings first (embed_run does this with max_points) or use PCA.",
            field="projection",
        )
    if n_neighbors < 2:
        raise UserError(f"UMAP n_neighbors = {n_neighbors} is too small; use 2 or more (15 is usual).")
    if n <= 3:
        return project_pca(x)  # nothing for UMAP to lay out
    if fast is None:
        fast = n > FAST_MIN_POINTS
    n_neighbors = min(int(n_neighbors), n - 1)
    check_cancel(cancel)
    report(progress, 0.0, "Starting UMAP")

    import umap  # deferred: importing numba and umap takes seconds

    kwargs: dict = {}
    data = x
    if fast:
        report(progress, 0.01, "Reducing to 50 dimensions with PCA")
        data = _pca_reduce(x, PCA_DIMS)
        check_cancel(cancel)
        knn_idx, knn_dist = exact_knn(
            data, n_neighbors, progress=sub_progress(progress, 0.02, 0.25), cancel=cancel
        )
        kwargs.update(precomputed_knn=(knn_idx, knn_dist, None), force_approximation_algorithm=True)
        epochs_from = 0.3
    else:
        epochs_from = 0.2
    check_cancel(cancel)
    report(progress, epochs_from - 0.05, "Building the UMAP graph and initial layout")
    _install_epoch_hook()
    hook = _EpochHook(sub_progress(progress, epochs_from, 1.0), cancel)
    reducer = umap.UMAP(
        n_neighbors=n_neighbors,
        min_dist=min_dist,
        n_components=2,
        random_state=seed,
        n_epochs=n_epochs,
        tqdm_kwds={"file": hook},
        **kwargs,
    )
    with warnings.catch_warnings():
        # Expected with our settings: n_jobs forced to 1 by the seed; no search index for transform().
        warnings.filterwarnings("ignore", message=".*n_jobs value.*")
        warnings.filterwarnings("ignore", message=".*knn_search_index.*")
        # Well-separated clusters give a disconnected graph; umap lays components out separately.
        warnings.filterwarnings("ignore", message=".*not fully connected.*")
        embedding = reducer.fit_transform(data)
    check_cancel(cancel)
    report(progress, 1.0, "UMAP done")
    return np.asarray(embedding, dtype=np.float32)


def trustworthiness(
    x: np.ndarray, y: np.ndarray, n_neighbors: int = 10, max_points: int = 5_000, seed: int = 0
) -> float:
    """scikit-learn's trustworthiness of projection y of x, on a random subsample above max_points.

    The subsample keeps the cost at O(max_points^2); neighbourhoods are then judged within it, which is
    the same for every projection compared on the same subsample (same seed).
    """
    from sklearn.manifold import trustworthiness as sk_trustworthiness

    x = _as_matrix(x)
    y = _as_matrix(y, "projection")
    if x.shape[0] != y.shape[0]:
        raise ValueError(f"x has {x.shape[0]} rows but y has {y.shape[0]}")
    if x.shape[0] > max_points:
        idx = np.sort(np.random.default_rng(seed).choice(x.shape[0], size=max_points, replace=False))
        x, y = x[idx], y[idx]
    n_neighbors = min(n_neighbors, x.shape[0] // 2 - 1)
    return float(sk_trustworthiness(x, y, n_neighbors=n_neighbors))
