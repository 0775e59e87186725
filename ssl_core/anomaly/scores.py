"""A run's anomaly score of every sample: higher = more unusual.

- Generative methods (they rebuild their input: `method.anomaly_scores`): the reconstruction error.
- Every other method: the mean Euclidean distance from a sample's L2-normalised embedding to its k nearest
  neighbours among the embeddings of the run's training samples (the samples the model trained on: only
  normal ones with data.train_on = normal). A training sample is not its own neighbour.
Reconstruction errors are cached per checkpoint in run_dir/eval/anomaly-<key>.npy (the file `embed_run`
writes too); embeddings come from the run's embedding cache.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import torch

from ssl_core.eval.anomaly import cached_source_anomaly_scores, has_anomaly_scores, source_anomaly_scores
from ssl_core.eval.embeddings import encode_source, file_digest
from ssl_core.eval.loaded_run import pretrained_embeddings
from ssl_core.progress import CancelToken, ProgressFn, check_cancel, report

log = logging.getLogger(__name__)

RECONSTRUCTION = "reconstruction error"
KNN_DISTANCE = "kNN distance"
DEFAULT_K = 5


def score_kind(method) -> str:
    return RECONSTRUCTION if has_anomaly_scores(method) else KNN_DISTANCE


def _device() -> torch.device:
    return torch.device("cuda") if torch.cuda.is_available() else torch.device("cpu")


def _unit(x: np.ndarray, device: torch.device) -> torch.Tensor:
    return torch.nn.functional.normalize(
        torch.from_numpy(np.ascontiguousarray(x, np.float32)).to(device), dim=1
    )


def knn_distances(
    reference: np.ndarray,
    queries: np.ndarray,
    k: int = DEFAULT_K,
    self_index: np.ndarray | None = None,
    block: int = 1024,
    cancel: CancelToken | None = None,
) -> np.ndarray:
    """Mean distance (N,) from each L2-normalised query to its k nearest L2-normalised reference rows.

    `self_index[i]` is query i's own row in `reference` (-1 if none); that row is skipped, so reference
    samples are scored by their other neighbours. k is capped by the neighbours available.
    """
    device = _device()
    ref = _unit(reference, device)
    n_ref = ref.shape[0]
    if n_ref == 0:
        raise ValueError("no reference embeddings to measure distances to")
    skips_self = self_index is not None and bool((self_index >= 0).any())
    kk = max(1, min(int(k), n_ref - int(skips_self)))
    out = []
    for start in range(0, queries.shape[0], block):
        check_cancel(cancel)
        q = _unit(queries[start : start + block], device)
        d2 = (2.0 - 2.0 * (q @ ref.T)).clamp_min(0.0)
        if self_index is not None:
            own = torch.as_tensor(self_index[start : start + block], device=device, dtype=torch.long)
            rows = torch.nonzero(own >= 0).flatten()
            d2[rows, own[rows]] = float("inf")
        nearest = d2.topk(kk, dim=1, largest=False).values
        nearest = torch.where(torch.isfinite(nearest), nearest, torch.zeros_like(nearest))
        out.append(nearest.sqrt().mean(dim=1).cpu())
    if not out:
        return np.zeros(0, dtype=np.float32)
    return torch.cat(out).numpy().astype(np.float32)


def run_scores(
    run,
    k: int = DEFAULT_K,
    batch_size: int = 512,
    progress: ProgressFn | None = None,
    cancel: CancelToken | None = None,
) -> tuple[np.ndarray, str, str]:
    """(scores (N,) of every sample of the run's data, score kind, checkpoint key)."""
    n = len(run.source)
    if has_anomaly_scores(run.method):
        key = file_digest(run.checkpoint_path)
        path = Path(run.run_dir) / "eval" / f"anomaly-{key}.npy"
        scores = cached_source_anomaly_scores(run.method, run.source, path, batch_size, progress, cancel)
        return scores, RECONSTRUCTION, key
    embedded = pretrained_embeddings(run, batch_size, progress, cancel)
    train_idx = run.train_idx.numpy()
    self_index = np.full(n, -1, dtype=np.int64)
    self_index[train_idx] = np.arange(len(train_idx))
    report(progress, 0.95, "Distances to the nearest training embeddings")
    scores = knn_distances(embedded.features[train_idx], embedded.features, k, self_index, cancel=cancel)
    return scores, KNN_DISTANCE, embedded.key


def new_data_scores(
    run,
    source,
    k: int = DEFAULT_K,
    batch_size: int = 512,
    progress: ProgressFn | None = None,
    cancel: CancelToken | None = None,
) -> np.ndarray:
    """Scores (M,) of the samples of another source, the same way `run_scores` scores the run's own."""
    if has_anomaly_scores(run.method):
        return source_anomaly_scores(run.method, source, batch_size, progress, cancel)
    reference = pretrained_embeddings(run, batch_size, None, cancel).features[run.train_idx.numpy()]
    check_cancel(cancel)
    feats = encode_source(run.method, source, batch_size=batch_size, progress=progress, cancel=cancel)
    return knn_distances(reference, feats, k, cancel=cancel)
