"""Threshold rules: how a score becomes a flag ("anomaly" when score > threshold).

Every rule is set on the *calibration* part of the held-out samples and never looks at their labels:
- "contamination" c: the share of samples expected to be anomalous; the threshold is the (1 - c) quantile
  of the calibration scores, so a share c of them is flagged. Default: the anomaly rate the caller asked
  the evaluated set to have (a number the user states, not one read from labels), else 0.05.
- "percentile" p: the p-th percentile of the calibration scores (default 95), i.e. contamination 1 - p/100.
- "value" v: the threshold itself, as the user sets it. Baselines score on other scales, so they get the
  same *share*: the contamination that v flags among the method's calibration scores, applied to their own.
Quantiles interpolate linearly between calibration scores (numpy's default).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ssl_core.errors import UserError

RULES = ("contamination", "percentile", "value")
DEFAULT_CONTAMINATION = 0.05
DEFAULT_PERCENTILE = 95.0


@dataclass(frozen=True)
class ThresholdRule:
    """A rule and its parameter: a share (contamination), a percentile, or the threshold value itself."""

    rule: str
    value: float

    @classmethod
    def checked(
        cls, rule: str, value: float | None = None, anomaly_rate: float | None = None
    ) -> ThresholdRule:
        """The rule a caller asked for, with its default parameter; bad values are a user error."""
        name = str(rule or "").strip().lower()
        if name not in RULES:
            raise UserError(
                f"threshold rule {rule!r} is unknown; use one of {', '.join(RULES)}.", field="threshold_rule"
            )
        if name == "value":
            if value is None or not math.isfinite(float(value)):
                raise UserError(
                    "The threshold rule 'value' needs the threshold itself (--threshold-value X, a finite "
                    "number on the scale of the run's anomaly scores).",
                    field="threshold_value",
                )
            return cls(name, float(value))
        if name == "percentile":
            p = DEFAULT_PERCENTILE if value is None else float(value)
            if not (0.0 <= p <= 100.0):
                raise UserError(
                    f"percentile {value} is out of range; use 0 to 100 (95 flags the top 5%).",
                    field="threshold_value",
                )
            return cls(name, p)
        default = DEFAULT_CONTAMINATION if anomaly_rate is None else float(anomaly_rate)
        c = default if value is None else float(value)
        if not (0.0 <= c < 1.0):
            raise UserError(
                f"contamination {value} is out of range; use a share from 0 up to (not including) 1, "
                "e.g. 0.05 for 5% anomalies.",
                field="threshold_value",
            )
        return cls(name, c)

    @property
    def share(self) -> float | None:
        """The share of calibration samples the rule flags (None for a fixed value)."""
        if self.rule == "contamination":
            return self.value
        if self.rule == "percentile":
            return 1.0 - self.value / 100.0
        return None

    def threshold(self, calib_scores: np.ndarray) -> float:
        """The threshold on these calibration scores (labels are never used)."""
        if self.rule == "value":
            return self.value
        finite = np.asarray(calib_scores, dtype=np.float64)
        finite = finite[np.isfinite(finite)]
        if finite.size == 0:
            raise UserError(
                "There are no calibration scores to set a threshold on; hold out more samples "
                "(data.val_fraction) or set the threshold yourself (--threshold-rule value).",
                field="data.val_fraction",
            )
        return float(np.quantile(finite, 1.0 - self.share))

    def for_baseline(self, method_calib_scores: np.ndarray) -> ThresholdRule:
        """The rule a baseline uses: the same one, except that a fixed value becomes the share it flags."""
        if self.rule != "value":
            return self
        scores = np.asarray(method_calib_scores, dtype=np.float64)
        share = float(np.mean(scores > self.value)) if scores.size else 0.0
        return ThresholdRule("contamination", min(share, 1.0 - 1e-9))

    def describe(self) -> str:
        if self.rule == "contamination":
            return f"contamination {self.value:g} (top {self.value * 100:g}% of calibration scores)"
        if self.rule == "percentile":
            return f"{self.value:g}th percentile of calibration scores"
        return f"fixed value {self.value:g} (baselines: the share it flags)"


def flags(scores: np.ndarray, threshold: float) -> np.ndarray:
    """(N,) bool: flagged as anomalous (score strictly above the threshold)."""
    return np.asarray(scores) > threshold
