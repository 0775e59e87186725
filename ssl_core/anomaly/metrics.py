"""Detection metrics: ranking quality (ROC-AUC, average precision) and counts at a threshold.

Anomalies are the positive class; a sample is flagged when its score is strictly above the threshold.
ROC-AUC and average precision are undefined (None) when the scored samples hold only one class.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.metrics import average_precision_score, precision_recall_curve, roc_auc_score, roc_curve

from ssl_core.anomaly.thresholds import flags

METRIC_KEYS = ("roc_auc", "average_precision", "precision", "recall", "f1", "threshold")


def _check(scores: np.ndarray, is_anomaly: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    s = np.asarray(scores, dtype=np.float64).reshape(-1)
    y = np.asarray(is_anomaly).astype(bool).reshape(-1)
    if s.shape != y.shape:
        raise ValueError(f"{s.shape[0]} scores for {y.shape[0]} labels")
    return s, y


def threshold_metrics(scores: np.ndarray, is_anomaly: np.ndarray, threshold: float) -> dict[str, Any]:
    """Precision, recall, F1 and the confusion counts when samples above `threshold` are flagged.

    Precision is 0 when nothing is flagged, recall 0 when there are no anomalies (sklearn's zero_division=0).
    """
    s, y = _check(scores, is_anomaly)
    flagged = flags(s, threshold)
    tp = int(np.sum(flagged & y))
    fp = int(np.sum(flagged & ~y))
    fn = int(np.sum(~flagged & y))
    tn = int(np.sum(~flagged & ~y))
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1, "tp": tp, "fp": fp, "tn": tn, "fn": fn}


def ranking_metrics(scores: np.ndarray, is_anomaly: np.ndarray) -> dict[str, float | None]:
    """ROC-AUC and average precision (PR-AUC) of the scores; None where only one class is present."""
    s, y = _check(scores, is_anomaly)
    if y.all() or not y.any():
        return {"roc_auc": None, "average_precision": None}
    return {
        "roc_auc": float(roc_auc_score(y, s)),
        "average_precision": float(average_precision_score(y, s)),
    }


def detection_metrics(scores: np.ndarray, is_anomaly: np.ndarray, threshold: float) -> dict[str, Any]:
    """Everything a row of the comparison table shows (METRIC_KEYS) plus the confusion counts."""
    out: dict[str, Any] = dict(ranking_metrics(scores, is_anomaly))
    out.update(threshold_metrics(scores, is_anomaly, threshold))
    out["threshold"] = float(threshold)
    return out


def curves(scores: np.ndarray, is_anomaly: np.ndarray) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """ROC curve (fpr, tpr) and precision-recall curve (recall, precision), for plotting."""
    s, y = _check(scores, is_anomaly)
    if y.all() or not y.any():
        empty = np.zeros(0)
        return {"roc": (empty, empty), "pr": (empty, empty)}
    fpr, tpr, _ = roc_curve(y, s)
    precision, recall, _ = precision_recall_curve(y, s)
    return {"roc": (fpr, tpr), "pr": (recall, precision)}


def mean_std(rows: Sequence[dict[str, Any]]) -> tuple[dict[str, float | None], dict[str, float | None]]:
    """Mean and (population) standard deviation of each METRIC_KEYS entry over repeats; None where a
    metric was undefined in every repeat."""
    means: dict[str, float | None] = {}
    stds: dict[str, float | None] = {}
    for key in METRIC_KEYS:
        values = [float(r[key]) for r in rows if r.get(key) is not None]
        means[key] = float(np.mean(values)) if values else None
        stds[key] = float(np.std(values)) if values else None
    return means, stds
