"""Classification summaries shared by the linear probe and kNN: accuracy, per-class accuracy, confusion."""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from ssl_core.errors import UserError

NO_LABELS_HINT = "a probe needs labels — UMAP/PCA still work"


@dataclass
class ClassSummary:
    accuracy: float
    per_class_accuracy: list[float | None]  # None for classes absent from the held-out split
    confusion: list[list[int]]  # rows: true class, columns: predicted class


def summarise(y_true: np.ndarray, y_pred: np.ndarray, num_classes: int) -> ClassSummary:
    y_true = np.asarray(y_true, dtype=np.int64)
    y_pred = np.asarray(y_pred, dtype=np.int64)
    confusion = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(confusion, (y_true, y_pred), 1)
    support = confusion.sum(axis=1)
    per_class = [float(confusion[c, c] / support[c]) if support[c] else None for c in range(num_classes)]
    accuracy = float(np.trace(confusion) / max(1, len(y_true)))
    return ClassSummary(accuracy, per_class, confusion.tolist())


def check_labels(labels: np.ndarray | None, n_rows: int, what: str) -> np.ndarray:
    """Labels as int64 (n,), or a UserError that says the data is unlabelled."""
    if labels is None:
        raise UserError(f"{what} has no labels; {NO_LABELS_HINT}.", field="labels")
    labels = np.asarray(labels)
    if labels.ndim != 1 or labels.shape[0] != n_rows:
        raise ValueError(f"{what}: labels have shape {labels.shape}, expected ({n_rows},)")
    if labels.size and labels.min() < 0:
        raise UserError(f"{what} has negative (missing) labels; {NO_LABELS_HINT}.", field="labels")
    return labels.astype(np.int64, copy=False)


def check_features(feats: np.ndarray, what: str) -> np.ndarray:
    feats = np.asarray(feats, dtype=np.float32)
    if feats.ndim != 2:
        raise ValueError(f"{what}: features must be (N, D); got shape {feats.shape}")
    if not np.isfinite(feats).all():
        raise UserError(
            f"{what} contain NaN or infinite values; the model diverged — train with a lower learning rate.",
            field="features",
        )
    return feats


def infer_num_classes(*label_arrays: np.ndarray, num_classes: int | None = None) -> int:
    found = max((int(y.max()) + 1 for y in label_arrays if y.size), default=1)
    return max(found, int(num_classes or 0))


class CheckedSplit(NamedTuple):
    """Training and held-out features and labels, checked, with the number of classes they span."""

    train_feats: np.ndarray  # (n, D) float32
    train_labels: np.ndarray  # (n,) int64
    test_feats: np.ndarray  # (m, D) float32
    test_labels: np.ndarray  # (m,) int64
    num_classes: int


def check_split(
    train_feats: np.ndarray,
    train_labels: np.ndarray | None,
    test_feats: np.ndarray,
    test_labels: np.ndarray | None,
    what: str,
    num_classes: int | None = None,
) -> CheckedSplit:
    """What every probe checks first: finite (N, D) features and labels that fit them (see above)."""
    train_feats = check_features(train_feats, f"{what} (training features)")
    test_feats = check_features(test_feats, f"{what} (held-out features)")
    y_train = check_labels(train_labels, train_feats.shape[0], what)
    y_test = check_labels(test_labels, test_feats.shape[0], what)
    classes = infer_num_classes(y_train, y_test, num_classes=num_classes)
    return CheckedSplit(train_feats, y_train, test_feats, y_test, classes)
