"""Which samples an anomaly evaluation scores, and how they split into calibration and test parts.

- The pool: every sample the model did not train on (the held-out split, and with data.train_on = normal
  also the training-split samples of the other classes, which training left out).
- Calibration / test: the pool split at random (seeded), stratified by is_anomaly when labels exist.
  Thresholds are set on the calibration part, metrics measured on the test part, so no threshold is
  tested on the samples it was chosen on.
- Rare anomalies: with an anomaly rate r, each part keeps all its normal samples and a seeded random
  subset of its anomalies, so that they make up a share r of the part (at least one is kept; a part whose
  anomalies are already rarer keeps them all).
"""

from __future__ import annotations

import numpy as np

from ssl_core.errors import UserError

DEFAULT_CALIB_FRACTION = 0.5


def heldout_pool(n: int, train_idx: np.ndarray) -> np.ndarray:
    """Sorted indices of the samples the model did not train on."""
    mask = np.ones(int(n), dtype=bool)
    mask[np.asarray(train_idx, dtype=np.int64)] = False
    return np.flatnonzero(mask)


def check_calib_fraction(fraction: float) -> float:
    fraction = float(fraction)
    if not (0.0 < fraction < 1.0):
        raise UserError(
            f"calibration fraction {fraction} is out of range; use a share between 0 and 1 (0.5 splits "
            "the held-out samples in halves).",
            field="calib_fraction",
        )
    return fraction


def check_anomaly_rate(rate: float | None) -> float | None:
    if rate is None:
        return None
    rate = float(rate)
    if not (0.0 < rate < 1.0):
        raise UserError(
            f"anomaly rate {rate} is out of range; use a share between 0 and 1, e.g. 0.05 for 5% anomalies.",
            field="anomaly_rate",
        )
    return rate


def _part_count(n: int, fraction: float) -> int:
    """How many of n samples go to calibration: round(fraction * n), leaving each part one when n >= 2."""
    if n < 2:
        return n if fraction >= 0.5 else 0
    return min(n - 1, max(1, round(fraction * n)))


def calibration_split(
    pool: np.ndarray, is_anomaly: np.ndarray | None, fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """(calib_idx, test_idx), sorted, partitioning `pool`; stratified by is_anomaly (indexed by sample)."""
    pool = np.asarray(pool, dtype=np.int64)
    rng = np.random.default_rng(int(seed))
    strata = [pool] if is_anomaly is None else [pool[~is_anomaly[pool]], pool[is_anomaly[pool]]]
    calib, test = [], []
    for members in strata:
        shuffled = rng.permutation(members)
        cut = _part_count(len(shuffled), fraction)
        calib.append(shuffled[:cut])
        test.append(shuffled[cut:])
    return np.sort(np.concatenate(calib)), np.sort(np.concatenate(test))


def with_anomaly_rate(
    idx: np.ndarray, is_anomaly: np.ndarray, rate: float | None, rng: np.random.Generator
) -> np.ndarray:
    """`idx` with its anomalies subsampled to a share `rate` of the result (sorted); all kept when rarer."""
    idx = np.asarray(idx, dtype=np.int64)
    if rate is None:
        return idx
    normal, anomalous = idx[~is_anomaly[idx]], idx[is_anomaly[idx]]
    if len(anomalous) == 0:
        return idx
    wanted = max(1, round(rate * len(normal) / (1.0 - rate)))
    if wanted < len(anomalous):
        anomalous = rng.choice(anomalous, size=wanted, replace=False)
    return np.sort(np.concatenate([normal, anomalous]))
