"""Linear probe: multinomial logistic regression on frozen, standardised features.

Two solvers minimise the same objective (scikit-learn's): mean cross-entropy + ||W||^2 / (2 C n),
bias unpenalised. Which one runs is decided by `choose_solver`:

* a GPU (CUDA/MPS) is present -> the torch solver on the GPU (full-batch L-BFGS);
* otherwise n_samples * dim < TORCH_MIN_ELEMENTS (5 M) -> scikit-learn's lbfgs with single-threaded BLAS
  (least overhead on small problems: 10-20 ms against torch's 50-100 ms at 1,437 x 64), else the torch
  solver on the CPU (multi-threaded float32 BLAS). On an idle 2-core machine torch was 1.2-1.7x faster
  at 20,000 x 512 and 50,000 x 512; on a busy one its threads fight other work and it can be 2-3x
  slower. `bench/bench_umap.py` re-measures the table (bench/RESULTS.md records the machine's load).
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch

from ssl_core.eval.metrics import check_split, summarise
from ssl_core.progress import CancelToken, check_cancel

log = logging.getLogger(__name__)

TORCH_MIN_ELEMENTS = 5_000_000  # n_samples * dim from which the torch solver wins on CPU
DEFAULT_C = 1.0
DEFAULT_MAX_ITER = 500


@dataclass
class ProbeResult:
    accuracy: float
    per_class_accuracy: list[float | None]
    confusion: list[list[int]]
    train_accuracy: float
    n_train: int
    n_test: int
    num_classes: int
    solver: str  # "sklearn-lbfgs", "torch-lbfgs (cpu)", "torch-lbfgs (cuda:0)" or "constant"
    iterations: int
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def standardise(train: np.ndarray, *others: np.ndarray) -> tuple[np.ndarray, ...]:
    """Scale every column with the training split's mean and std (constant columns stay 0)."""
    mean = train.mean(axis=0, dtype=np.float64)
    std = train.std(axis=0, dtype=np.float64)
    std[std < 1e-8] = 1.0
    return tuple(((a - mean) / std).astype(np.float32) for a in (train, *others))


def _gpu_device() -> torch.device | None:
    if torch.cuda.is_available():
        return torch.device("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return torch.device("mps")
    return None


def choose_solver(n_samples: int, dim: int, gpu_available: bool | None = None) -> str:
    """'torch' or 'sklearn', by the rule in the module docstring."""
    if gpu_available is None:
        gpu_available = _gpu_device() is not None
    if gpu_available:
        return "torch"
    return "torch" if n_samples * dim >= TORCH_MIN_ELEMENTS else "sklearn"


def _fit_sklearn(x: np.ndarray, y: np.ndarray, c: float, max_iter: int) -> tuple[Any, int]:
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from threadpoolctl import threadpool_limits  # a scikit-learn dependency

    model = LogisticRegression(C=c, max_iter=max_iter)
    # This solver only runs on small problems, where multi-threaded BLAS costs more than it gains: on a
    # busy 2-core machine one thread made a digits evaluation 20-40x faster (0.3-0.5 s against 12-20 s).
    with warnings.catch_warnings(), threadpool_limits(limits=1, user_api="blas"):
        # max_iter is a time budget here; a probe that stopped early is still a fair measurement.
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(x, y)
    return model, int(np.max(model.n_iter_))


def fit_softmax_regression(
    x: np.ndarray,
    y: np.ndarray,
    num_classes: int,
    c: float,
    max_iter: int,
    device: torch.device,
    cancel: CancelToken | None,
) -> tuple[torch.Tensor, torch.Tensor, int]:
    """L2-regularised multinomial logistic regression with L-BFGS in PyTorch (the probe's solver, the same
    objective as scikit-learn's with C = `c`): (weight (features, classes), bias (classes,), iterations).
    `x` should be standardised; fine-tuning (ssl_core.finetune) starts its head from this solution."""
    xt = torch.from_numpy(x).to(device)
    yt = torch.from_numpy(y).to(device)
    weight = torch.zeros(x.shape[1], num_classes, device=device, requires_grad=True)
    bias = torch.zeros(num_classes, device=device, requires_grad=True)
    penalty = 1.0 / (2.0 * c * x.shape[0])
    optimizer = torch.optim.LBFGS(
        [weight, bias],
        lr=1.0,
        max_iter=max_iter,
        tolerance_grad=1e-5,
        tolerance_change=1e-9,
        history_size=20,
        line_search_fn="strong_wolfe",
    )

    def closure() -> torch.Tensor:
        check_cancel(cancel)
        optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(xt @ weight + bias, yt) + penalty * weight.square().sum()
        loss.backward()
        return loss

    optimizer.step(closure)
    iterations = int(optimizer.state[weight].get("n_iter", 0))
    return weight.detach(), bias.detach(), iterations


def linear_probe(
    train_feats: np.ndarray,
    train_labels: np.ndarray | None,
    test_feats: np.ndarray,
    test_labels: np.ndarray | None,
    *,
    num_classes: int | None = None,
    c: float = DEFAULT_C,
    max_iter: int = DEFAULT_MAX_ITER,
    solver: str = "auto",
    cancel: CancelToken | None = None,
    what: str = "The data",
) -> ProbeResult:
    """Fit softmax regression on standardised train features; score it on the held-out features.

    solver: "auto" (see `choose_solver`), "sklearn" or "torch".
    """
    train_feats, y_train, test_feats, y_test, k = check_split(
        train_feats, train_labels, test_feats, test_labels, what, num_classes
    )
    check_cancel(cancel)
    x_train, x_test = standardise(train_feats, test_feats)
    present = np.unique(y_train)

    if present.size < 2:
        # One class seen in training: the only sensible classifier predicts it everywhere.
        label = int(present[0]) if present.size else 0
        train_pred, test_pred = np.full(len(y_train), label), np.full(len(y_test), label)
        used, iterations = "constant", 0
    else:
        if solver == "auto":
            solver = choose_solver(*x_train.shape)
        if solver == "sklearn":
            model, iterations = _fit_sklearn(x_train, y_train, c, max_iter)
            train_pred, test_pred = model.predict(x_train), model.predict(x_test)
            used = "sklearn-lbfgs"
        elif solver == "torch":
            device = _gpu_device() or torch.device("cpu")
            weight, bias, iterations = fit_softmax_regression(
                x_train, y_train, k, c, max_iter, device, cancel
            )
            with torch.no_grad():
                train_pred = (torch.from_numpy(x_train).to(device) @ weight + bias).argmax(1).cpu().numpy()
                test_pred = (torch.from_numpy(x_test).to(device) @ weight + bias).argmax(1).cpu().numpy()
            used = f"torch-lbfgs ({device})"
        else:
            raise ValueError(f"unknown probe solver {solver!r}; use auto, sklearn or torch")
    summary = summarise(y_test, test_pred, k)
    log.debug("linear probe (%s): %.4f on %d held-out samples", used, summary.accuracy, len(y_test))
    return ProbeResult(
        accuracy=summary.accuracy,
        per_class_accuracy=summary.per_class_accuracy,
        confusion=summary.confusion,
        train_accuracy=float(np.mean(train_pred == y_train)) if len(y_train) else 0.0,
        n_train=int(len(y_train)),
        n_test=int(len(y_test)),
        num_classes=k,
        solver=used,
        iterations=iterations,
        extra={"C": c, "max_iter": max_iter},
    )
