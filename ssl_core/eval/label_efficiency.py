"""Label efficiency: probe and kNN accuracy when only a fraction of the training labels is kept.

The subsample is stratified: every class keeps round(fraction * its count) samples, at least one, so
1% of a 10-class set still sees all ten classes. Each fraction is repeated for several seeds and
reported as mean and standard deviation (sample std, ddof=1). Fraction 1.0 keeps every label, which
gives the same subset for every seed and deterministic classifiers, so it runs once (std 0).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from ssl_core.errors import UserError
from ssl_core.eval.knn import DEFAULT_K, knn_classify
from ssl_core.eval.metrics import check_split
from ssl_core.eval.probe import linear_probe
from ssl_core.progress import CancelToken, ProgressFn, check_cancel, report

DEFAULT_FRACTIONS = (0.01, 0.1, 1.0)
DEFAULT_SEEDS = (0, 1, 2)


def check_fractions(fractions: Sequence[float]) -> tuple[float, ...]:
    """Fractions as floats in (0, 1]; a UserError naming the first bad value otherwise."""
    values = list(fractions)
    if not values:
        raise UserError(
            "fractions is empty; give at least one label fraction in (0, 1], e.g. 0.1.", field="fractions"
        )
    checked = []
    for value in values:
        try:
            f = float(value)
        except (TypeError, ValueError):
            raise UserError(
                f"Label fraction {value!r} is not a number; use values in (0, 1].", field="fractions"
            ) from None
        if not (0.0 < f <= 1.0) or math.isnan(f):
            raise UserError(
                f"Label fraction {value!r} is outside (0, 1]; use e.g. 0.01 for 1% of the labels, 1 for all.",
                field="fractions",
            )
        checked.append(f)
    return tuple(dict.fromkeys(checked))  # drop repeats, keep order


def check_seeds(seeds: Sequence[int]) -> tuple[int, ...]:
    values = list(seeds)
    if not values:
        raise UserError("seeds is empty; give at least one seed, e.g. 0.", field="seeds")
    try:
        return tuple(dict.fromkeys(int(s) for s in values))
    except (TypeError, ValueError):
        raise UserError(f"seeds must be whole numbers; got {values!r}.", field="seeds") from None


def stratified_subsample(labels: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """Sorted indices of a class-stratified subset: round(fraction * n_c) per class, at least 1."""
    (fraction,) = check_fractions([fraction])
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    chosen = []
    for cls in np.unique(labels):
        members = np.flatnonzero(labels == cls)
        take = min(len(members), max(1, int(round(fraction * len(members)))))
        chosen.append(members if take == len(members) else rng.choice(members, size=take, replace=False))
    return np.sort(np.concatenate(chosen)) if chosen else np.zeros(0, dtype=np.int64)


def _stats(values: list[float]) -> dict[str, Any]:
    arr = np.asarray(values, dtype=np.float64)
    std = float(arr.std(ddof=1)) if len(arr) > 1 else 0.0
    return {"mean": float(arr.mean()), "std": std, "values": [float(v) for v in arr]}


def efficiency_row(
    fraction: float, labels_used: list[int], probe_acc: list[float], knn_acc: list[float], solvers: set[str]
) -> dict[str, Any]:
    """One row of a label-efficiency table (as `label_efficiency` returns them)."""
    return {
        "fraction": float(fraction),
        "labels_used": int(round(float(np.mean(labels_used)))),
        "runs": len(probe_acc),
        "probe": _stats(probe_acc),
        "knn": _stats(knn_acc),
        "probe_solver": ", ".join(sorted(solvers)),
    }


def label_efficiency(
    train_feats: np.ndarray,
    train_labels: np.ndarray | None,
    test_feats: np.ndarray,
    test_labels: np.ndarray | None,
    fractions: Sequence[float] = DEFAULT_FRACTIONS,
    seeds: Sequence[int] = DEFAULT_SEEDS,
    k: int = DEFAULT_K,
    *,
    num_classes: int | None = None,
    probe_solver: str = "auto",
    progress: ProgressFn | None = None,
    cancel: CancelToken | None = None,
    what: str = "The data",
) -> dict[str, Any]:
    """Probe and kNN accuracy at each label fraction (mean/std over seeds) on the full held-out split.

    Returns {"fractions", "seeds", "k", "rows": [{"fraction", "labels_used", "runs", "probe": {mean, std,
    values}, "knn": {mean, std, values}, "probe_solver"}]}.
    """
    fractions = check_fractions(fractions)
    seeds = check_seeds(seeds)
    train_feats, y_train, test_feats, y_test, classes = check_split(
        train_feats, train_labels, test_feats, test_labels, what, num_classes
    )

    plan = [(f, (seeds[0],) if f >= 1.0 else seeds) for f in fractions]
    total = sum(len(s) for _, s in plan)
    done = 0
    rows = []
    for fraction, run_seeds in plan:
        probe_acc, knn_acc, used, solvers = [], [], [], set()
        for seed in run_seeds:
            check_cancel(cancel)
            idx = stratified_subsample(y_train, fraction, seed)
            probe = linear_probe(
                train_feats[idx], y_train[idx], test_feats, y_test,
                num_classes=classes, solver=probe_solver, cancel=cancel, what=what,
            )  # fmt: skip
            knn = knn_classify(
                train_feats[idx],
                y_train[idx],
                test_feats,
                y_test,
                k=k,
                num_classes=classes,
                cancel=cancel,
                what=what,
            )
            probe_acc.append(probe.accuracy)
            knn_acc.append(knn.accuracy)
            used.append(len(idx))
            solvers.add(probe.solver)
            done += 1
            report(
                progress,
                done / total,
                f"{fraction:.0%} of the labels ({len(idx):,}), pick {seed}: probe {probe.accuracy:.1%}",
            )
        rows.append(efficiency_row(fraction, used, probe_acc, knn_acc, solvers))
    return {
        "fractions": list(fractions),
        "seeds": list(seeds),
        "k": int(k),
        "num_classes": classes,
        "rows": rows,
    }
