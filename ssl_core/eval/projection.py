"""2-D projections of embeddings: PCA (instant) and UMAP (umap-learn), with progress and cancellation.

UMAP has two paths:

* plain (`fast=False`): umap-learn end to end with its defaults (its own neighbour search: exact pairwise
  below 4,096 points, NN-descent above; 500 optimisation epochs up to 10,000 points, 200 above; 5
  negative samples per edge). It is the reference the fast path is measured against, and what
  `fast=None` runs up to FAST_MIN_POINTS points.
* fast (the default above FAST_MIN_POINTS): PCA to PCA_DIMS dimensions, a k-nearest-neighbour graph
  built here and handed to umap-learn as `precomputed_knn`, then a short optimisation: FAST_EPOCHS
  epochs with FAST_NEGATIVE_SAMPLE_RATE negative samples (a caller's `n_epochs` wins).

Why (bench/bench_umap.py, 2-core CPU, one thread; synthetic clustered 64-d data unless said otherwise):
* umap-learn's optimisation costs n_epochs x (1 + negative_sample_rate) updates per edge and was ~90% of
  plain umap-learn's time; 60 epochs with 2 negative samples are 1/17 (up to 10,000 points) to 1/7
  (above) of that work. Trustworthiness (k=10) against plain umap-learn: -0.004 / -0.002 / -0.001 at
  5k / 20k / 50k points; on real data -0.007 (digits' raw pixels, 1,797 x 64), -0.003 (a SimCLR
  embedding of the digits, 1,797 x 128) and -0.004 (the same encoder on 5 augmented views, 8,985 x 128).
* The exact graph (`exact_knn`: torch matrix products + top-k) is O(N^2 d): instant on a GPU, and on a
  CPU no dearer than NN-descent up to a few thousand points (0.04 s each at 3,000; 0.13 s against
  0.08 s at 5,000), but 1.6 s against 0.3 s at 20,000 and 12-22 s against 0.9 s at 50,000. So
  `knn="auto"` (see `choose_knn`) takes the exact graph on a CUDA GPU or up to EXACT_KNN_MAX_POINTS
  points, where it also spares the NN-descent's numba compilation (below), and a light NN-descent
  (`nndescent_knn`: pynndescent with NNDESCENT_PARAMS, about half of umap-learn's trees and iterations;
  recall of the exact neighbours >= 0.999 on the clustered data) above. `knn="exact"` / `"nndescent"`
  pin it (and imply the fast path).
* Result: 5.7x / 4.5x / 4.4x plain umap-learn's speed at 5k / 20k / 50k points.

Cancellation is checked between stages, between exact-kNN blocks, and before every optimisation epoch
(umap-learn loops over epochs with `tqdm(range(n_epochs), **tqdm_kwds)`; we wrap `umap.layouts.tqdm`
so that a call carrying our hook object iterates the epochs through it, see `_EpochHook`). What runs as
one call cannot be interrupted; at 50,000 points the longest such stretch is the NN-descent (0.85 s),
then umap-learn's graph construction + spectral initialisation (0.7 s); on the plain path umap-learn's
own NN-descent (~1.8 s). The NN-descent's numba code compiles on its first use in a process (~20 s with
umap-learn's, uncancellable) and cannot be cached on disk: `precompile_umap(nndescent=True)` pays that
up front. The GUI compiles umap-learn's code at start-up and the NN-descent only once it has embeddings
large enough to need it, both on background threads (app/tabs/embeddings_tab.py).
"""

from __future__ import annotations

import logging
import threading
import time
import warnings
from contextlib import contextmanager

import numpy as np
import torch

from ssl_core.errors import UserError
from ssl_core.progress import CancelToken, ProgressFn, check_cancel, report, sub_progress

log = logging.getLogger(__name__)

MAX_UMAP_POINTS = 50_000
FAST_MIN_POINTS = 500
PCA_DIMS = 50
KNN_BLOCK_ELEMENTS = 1 << 25  # distance-matrix block size: 32 M floats (128 MB)
FAST_EPOCHS = 60  # umap-learn: 500 up to 10,000 points, 200 above
FAST_NEGATIVE_SAMPLE_RATE = 2  # umap-learn: 5
EXACT_KNN_MAX_POINTS = 5_000  # knn="auto" on a CPU: exact up to here, NN-descent above
# Light NN-descent (umap-learn uses 5 + sqrt(N)/20 trees, log2(N) iterations and 60 candidates: 16, 16 and
# 60 at 50,000 points). One thread and a seed keep the graph, and so the map, reproducible.
NNDESCENT_PARAMS = {"n_trees": 8, "n_iters": 6, "max_candidates": 30, "low_memory": True, "n_jobs": 1}


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


@contextmanager
def keep_torch_threads():
    """Restore torch's intra-op thread count after numba's parallel code: numba's OpenMP threading layer
    shares the OpenMP runtime with torch and leaves its thread count at the core count, undoing the
    caller's torch.set_num_threads."""
    threads = torch.get_num_threads()
    try:
        yield
    finally:
        if torch.get_num_threads() != threads:
            torch.set_num_threads(threads)


def nndescent_knn(x: np.ndarray, k: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Approximate Euclidean k nearest neighbours by a light NN-descent (pynndescent, NNDESCENT_PARAMS).

    Same layout as `exact_knn`: (indices int64 (N, k), distances float32 (N, k)), each point first. One
    uncancellable call: ~0.9 s for 50,000 x 50 on one core, plus numba's compilation on first use in a
    process (~15-20 s; see `precompile_umap`). Rows where it found fewer than k neighbours hold -1, which
    umap-learn skips.
    """
    from pynndescent import NNDescent  # deferred: importing numba takes seconds

    x = np.ascontiguousarray(_as_matrix(x))  # one numba specialisation: C-ordered float32
    k = min(int(k), x.shape[0])
    with keep_torch_threads():
        index = NNDescent(
            x, n_neighbors=k, metric="euclidean", random_state=np.random.RandomState(seed), **NNDESCENT_PARAMS
        )
        idx, dist = index.neighbor_graph
    missing = int((idx < 0).sum())
    if missing:
        log.warning("NN-descent left %d of %d neighbour slots empty; UMAP skips them", missing, idx.size)
    return idx.astype(np.int64), dist.astype(np.float32)


def _exact_graph(
    x: np.ndarray, k: int, seed: int, progress: ProgressFn | None, cancel: CancelToken | None
) -> tuple[np.ndarray, np.ndarray]:
    return exact_knn(x, k, progress=progress, cancel=cancel)


def _nndescent_graph(
    x: np.ndarray, k: int, seed: int, progress: ProgressFn | None, cancel: CancelToken | None
) -> tuple[np.ndarray, np.ndarray]:
    report(progress, 0.0, f"Nearest neighbours of {x.shape[0]} points (NN-descent)")
    out = nndescent_knn(x, k, seed)
    report(progress, 1.0, f"Nearest neighbours {x.shape[0]}/{x.shape[0]}")
    return out


# kNN graph builders of the fast path, by the name `project_umap(knn=...)` takes.
KNN_BUILDERS = {"exact": _exact_graph, "nndescent": _nndescent_graph}
KNN_CHOICES = ("auto", *KNN_BUILDERS)


def choose_knn(n: int) -> str:
    """What `knn="auto"` uses for n points: the exact graph on a CUDA GPU (instant there) or when it is
    as cheap as NN-descent on a CPU (up to EXACT_KNN_MAX_POINTS), NN-descent otherwise."""
    return "exact" if torch.cuda.is_available() or n <= EXACT_KNN_MAX_POINTS else "nndescent"


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
    knn: str = "auto",
    init: np.ndarray | None = None,
    learning_rate: float = 1.0,
) -> np.ndarray:
    """UMAP projection (N, 2) float32 of up to MAX_UMAP_POINTS points; see the module docstring.

    `fast=None` takes the fast path above FAST_MIN_POINTS points (or whenever `knn` names a builder);
    `fast=False` is plain umap-learn. `knn` ("auto", "exact" or "nndescent") picks the fast path's
    neighbour search; `n_epochs` overrides the number of optimisation epochs on either path. `init`
    (N, 2) starts the layout there instead of umap-learn's spectral layout (a live map continues its
    previous layout this way); a `learning_rate` below umap-learn's 1.0 keeps such a continued layout
    close to where it starts.
    """
    if knn not in KNN_CHOICES:
        raise UserError(f"UMAP knn = {knn!r} is unknown; use one of {', '.join(KNN_CHOICES)}.", field="knn")
    if fast is False and knn != "auto":
        raise UserError(
            f"UMAP knn = {knn!r} applies to the fast path only; leave knn='auto' with fast=False.",
            field="knn",
        )
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
        fast = n > FAST_MIN_POINTS or knn != "auto"
    n_neighbors = min(int(n_neighbors), n - 1)
    check_cancel(cancel)
    report(progress, 0.0, "Starting UMAP")

    import umap  # deferred: importing numba and umap takes seconds

    kwargs: dict = {"n_epochs": n_epochs, "learning_rate": float(learning_rate)}
    if init is not None:
        kwargs["init"] = np.ascontiguousarray(_as_matrix(init, "initial layout"))
    data = x
    if fast:
        report(progress, 0.01, f"Reducing to {PCA_DIMS} dimensions with PCA")
        data = _pca_reduce(x, PCA_DIMS)
        check_cancel(cancel)
        method = choose_knn(n) if knn == "auto" else knn
        log.debug("UMAP fast path: %s kNN of %d points", method, n)
        knn_idx, knn_dist = KNN_BUILDERS[method](
            data, n_neighbors, seed, sub_progress(progress, 0.02, 0.25), cancel
        )
        kwargs.update(
            precomputed_knn=(knn_idx, knn_dist, None),
            force_approximation_algorithm=True,
            n_epochs=FAST_EPOCHS if n_epochs is None else n_epochs,
            negative_sample_rate=FAST_NEGATIVE_SAMPLE_RATE,
        )
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
        tqdm_kwds={"file": hook},
        **kwargs,
    )
    with warnings.catch_warnings():
        # Expected with our settings: n_jobs forced to 1 by the seed; no search index for transform().
        warnings.filterwarnings("ignore", message=".*n_jobs value.*")
        warnings.filterwarnings("ignore", message=".*knn_search_index.*")
        # Well-separated clusters give a disconnected graph; umap lays components out separately.
        warnings.filterwarnings("ignore", message=".*not fully connected.*")
        with keep_torch_threads():
            embedding = reducer.fit_transform(data)
    check_cancel(cancel)
    report(progress, 1.0, "UMAP done")
    return np.asarray(embedding, dtype=np.float32)


def precompile_umap(nndescent: bool = True) -> float:
    """Run the UMAP paths on a few hundred random points so that numba compiles their code now
    (uncancellable, once per process) rather than in the user's first map.

    umap-learn's own code (~10-20 s, cached on disk where NUMBA_CACHE_DIR allows) is always compiled;
    `nndescent=True` adds the light NN-descent of maps above EXACT_KNN_MAX_POINTS points (~20 s more,
    paid in every process: pynndescent's parallel functions cannot be cached). A caller that knows its
    maps are small can skip it. Returns the seconds it took. Safe to call from a background thread.
    """
    start = time.perf_counter()
    rng = np.random.default_rng(0)
    # Same dtype and width as the fast path's PCA output, so numba compiles the signatures used later.
    x = rng.normal(size=(300, PCA_DIMS + 14)).astype(np.float32)
    project_umap(x, n_epochs=5, knn="nndescent" if nndescent else "exact")
    project_umap(x[:64, :8], n_neighbors=5, n_epochs=5, fast=False)  # plain umap's small-data code
    return time.perf_counter() - start


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
