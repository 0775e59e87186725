"""Classic detectors on the raw input, for comparison in the same run: IsolationForest, LocalOutlierFactor
(novelty mode) and PCA reconstruction error, all from scikit-learn.

They see the data's raw-input features as its modality defines them (`Modality.raw_features`: area-averaged
pixels, standardised series values, standardised table columns with missing flags and one-hot categories),
are fitted on the run's training samples (only normal ones with data.train_on = normal; at most MAX_FIT of
them, a seeded subset) and score every sample; higher = more unusual. Seeded and deterministic.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from sklearn.decomposition import PCA
from sklearn.ensemble import IsolationForest
from sklearn.neighbors import LocalOutlierFactor

from ssl_core.errors import UserError
from ssl_core.eval.embeddings import model_input
from ssl_core.modalities import modality_of
from ssl_core.progress import CancelToken, ProgressFn, check_cancel, report

BASELINES = ("IsolationForest", "LOF", "PCA")
MAX_FIT = 10_000  # training samples the baselines are fitted on (LOF's cost grows with their square)
PCA_VARIANCE = 0.95  # PCA keeps the components that explain this share of the variance
LOF_NEIGHBORS = 20  # scikit-learn's default
FOREST_TREES = 100  # scikit-learn's default
READ_CHUNK = 4096


def raw_input_features(
    method, source, progress: ProgressFn | None = None, cancel: CancelToken | None = None
) -> np.ndarray:
    """The raw-input features (N, D) of every sample of `source`, read READ_CHUNK samples at a time."""
    modality = modality_of(source.info)
    adapter = model_input(method)
    n = len(source)
    parts = []
    with torch.inference_mode():
        for start in range(0, n, READ_CHUNK):
            check_cancel(cancel)
            batch, _ = source.read(torch.arange(start, min(n, start + READ_CHUNK)))
            parts.append(np.asarray(modality.raw_features(batch, adapter), dtype=np.float32))
            done = min(n, start + READ_CHUNK)
            report(progress, done / max(1, n), f"Reading the {modality.raw_title} {done}/{n}")
    if not parts:
        return np.zeros((0, 0), dtype=np.float32)
    return np.nan_to_num(np.concatenate(parts), nan=0.0, posinf=0.0, neginf=0.0)


def fit_rows(train_idx: np.ndarray, seed: int) -> np.ndarray:
    """The training rows the baselines are fitted on: all of them, or a seeded MAX_FIT subset."""
    train_idx = np.asarray(train_idx, dtype=np.int64)
    if len(train_idx) <= MAX_FIT:
        return train_idx
    return np.sort(np.random.default_rng(int(seed)).choice(train_idx, size=MAX_FIT, replace=False))


def _pca_errors(fit: np.ndarray, features: np.ndarray) -> tuple[np.ndarray, int]:
    """Mean squared error of each row's reconstruction from the components holding PCA_VARIANCE."""
    if fit.shape[0] < 2 or float(fit.var(axis=0).sum()) == 0.0:
        centre = fit.mean(axis=0) if fit.shape[0] else np.zeros(features.shape[1], np.float32)
        return ((features - centre) ** 2).mean(axis=1), 0
    pca = PCA(n_components=PCA_VARIANCE, svd_solver="full").fit(fit)
    rebuilt = pca.inverse_transform(pca.transform(features))
    return ((features - rebuilt) ** 2).mean(axis=1), int(pca.n_components_)


def baseline_scores(
    features: np.ndarray,
    train_idx: np.ndarray,
    seed: int,
    progress: ProgressFn | None = None,
    cancel: CancelToken | None = None,
) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """({name: scores (N,)} for BASELINES, facts about the fits for the report)."""
    rows = fit_rows(train_idx, seed)
    if len(rows) < 3:
        raise UserError(
            f"The baselines need at least 3 training samples to fit on; the run has {len(rows)}. Use more "
            "data (or more normal samples), or leave the baselines out (--no-baselines).",
            field="data.normal_classes",
        )
    fit = features[rows]
    scores: dict[str, np.ndarray] = {}
    report(progress, 0.0, "IsolationForest on the raw input")
    forest = IsolationForest(n_estimators=FOREST_TREES, random_state=int(seed)).fit(fit)
    scores["IsolationForest"] = -forest.score_samples(features)
    check_cancel(cancel)
    report(progress, 0.35, "Local outlier factor on the raw input")
    neighbors = max(1, min(LOF_NEIGHBORS, len(rows) - 1))
    lof = LocalOutlierFactor(n_neighbors=neighbors, novelty=True).fit(fit)
    scores["LOF"] = -lof.score_samples(features)
    check_cancel(cancel)
    report(progress, 0.8, "PCA reconstruction error on the raw input")
    scores["PCA"], components = _pca_errors(fit, features)
    report(progress, 1.0, "Baselines done")
    info = {
        "fit_samples": int(len(rows)),
        "raw_dim": int(features.shape[1]),
        "lof_neighbors": neighbors,
        "pca_components": components,
        "pca_variance": PCA_VARIANCE,
        "forest_trees": FOREST_TREES,
    }
    return {k: np.asarray(v, dtype=np.float32) for k, v in scores.items()}, info
