"""Weighted k-nearest-neighbour classifier on cosine similarity (Wu et al. 2018, "instance discrimination").

Each held-out sample takes its k most cosine-similar training samples; neighbour j votes for its class
with weight exp(s_j / T) (T = 0.07 as in the paper and DINO's kNN eval), and the class with the largest
summed weight wins (ties go to the smaller class index). Features are only L2-normalised, not
standardised, as in those papers. Runs blocked on the GPU when there is one.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch

from ssl_core.errors import UserError
from ssl_core.eval.metrics import check_split, infer_num_classes, summarise
from ssl_core.progress import CancelToken, check_cancel

DEFAULT_K = 20
DEFAULT_TEMPERATURE = 0.07


@dataclass
class KNNResult:
    accuracy: float
    per_class_accuracy: list[float | None]
    confusion: list[list[int]]
    k: int  # neighbours actually used (capped by the number of training samples)
    temperature: float
    n_train: int
    n_test: int
    num_classes: int
    weighting: str = "exp(cosine/T)"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _device() -> torch.device:
    return torch.device("cuda") if torch.cuda.is_available() else torch.device("cpu")


def knn_predict(
    train_feats: np.ndarray,
    train_labels: np.ndarray,
    test_feats: np.ndarray,
    k: int = DEFAULT_K,
    temperature: float = DEFAULT_TEMPERATURE,
    num_classes: int | None = None,
    block: int = 1024,
    cancel: CancelToken | None = None,
) -> np.ndarray:
    """Predicted labels (n_test,) and nothing else; see the module docstring for the rule."""
    device = _device()
    k = max(1, min(int(k), train_feats.shape[0]))
    num_classes = infer_num_classes(np.asarray(train_labels), num_classes=num_classes)
    train = torch.nn.functional.normalize(torch.from_numpy(train_feats).to(device), dim=1)
    labels = torch.from_numpy(np.asarray(train_labels, dtype=np.int64)).to(device)
    preds = []
    for start in range(0, test_feats.shape[0], block):
        check_cancel(cancel)
        query = torch.nn.functional.normalize(
            torch.from_numpy(test_feats[start : start + block]).to(device), dim=1
        )
        sims, idx = (query @ train.T).topk(k, dim=1)
        weights = (sims / temperature).exp()
        scores = torch.zeros(query.shape[0], num_classes, device=device, dtype=weights.dtype)
        scores.scatter_add_(1, labels[idx], weights)
        preds.append(scores.argmax(dim=1).cpu())
    if not preds:
        return np.zeros(0, dtype=np.int64)
    return torch.cat(preds).numpy()


def knn_classify(
    train_feats: np.ndarray,
    train_labels: np.ndarray | None,
    test_feats: np.ndarray,
    test_labels: np.ndarray | None,
    *,
    k: int = DEFAULT_K,
    temperature: float = DEFAULT_TEMPERATURE,
    num_classes: int | None = None,
    cancel: CancelToken | None = None,
    what: str = "The data",
) -> KNNResult:
    """Weighted kNN accuracy, per-class accuracy and confusion matrix on the held-out features."""
    if k < 1:
        raise UserError(f"k = {k} is too small; use at least 1 neighbour (20 is usual).", field="k")
    if temperature <= 0:
        raise ValueError(f"temperature must be positive; got {temperature}")
    train_feats, y_train, test_feats, y_test, classes = check_split(
        train_feats, train_labels, test_feats, test_labels, what, num_classes
    )
    pred = knn_predict(train_feats, y_train, test_feats, k, temperature, classes, cancel=cancel)
    summary = summarise(y_test, pred, classes)
    return KNNResult(
        accuracy=summary.accuracy,
        per_class_accuracy=summary.per_class_accuracy,
        confusion=summary.confusion,
        k=max(1, min(int(k), train_feats.shape[0])),
        temperature=float(temperature),
        n_train=int(len(y_train)),
        n_test=int(len(y_test)),
        num_classes=classes,
    )
