"""`AnomalyResult`: what an anomaly evaluation measured, as a dataclass, as JSON and as saved files.

Saved as run_dir/eval/anomaly.json (metadata and metrics) beside run_dir/eval/anomaly_arrays.npz (the
arrays; loaded with allow_pickle=False). `to_dict()` / `from_dict()` round-trip everything, arrays as lists.
"""

from __future__ import annotations

import io
import json
import logging
from dataclasses import dataclass, field, fields
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from ssl_core.runs.atomic import atomic_write_bytes, atomic_write_json
from ssl_core.runs.store import RunPaths

log = logging.getLogger(__name__)

RESULT_FILE = "anomaly.json"
ARRAYS_FILE = "anomaly_arrays.npz"
_ARRAYS = {"scores": np.float32, "is_anomaly": bool, "train_idx": np.int64, "calib_idx": np.int64,
           "test_idx": np.int64}  # fmt: skip


@dataclass
class AnomalyResult:
    """Scores of every sample, the threshold, and detection metrics of the run's method and baselines.

    `metrics[name]` (name: `method`, then "IsolationForest", "LOF", "PCA") holds roc_auc,
    average_precision, precision, recall and f1 averaged over the `seeds` (their spread in `metrics_std`,
    each repeat in `repeats`), and the threshold of the first seed's split, which is the one kept: `threshold`
    (the method's, which `score_file` flags with), `calib_idx` and `test_idx` are the first seed's.
    """

    run_dir: str
    method: str  # the run's method name; its row in `metrics`
    method_title: str
    score_kind: str  # "reconstruction error" | "kNN distance"
    checkpoint_key: str
    scores: np.ndarray  # (N,) float32, every sample of the run's data
    is_anomaly: np.ndarray | None  # (N,) bool, None for unlabelled data
    train_idx: np.ndarray  # samples the model (and the baselines) trained on
    calib_idx: np.ndarray  # thresholds are set on these
    test_idx: np.ndarray  # metrics are measured on these
    threshold: float
    threshold_rule: str  # "contamination" | "percentile" | "value"
    threshold_param: float  # the share, percentile or value the rule was given
    baselines: dict[str, np.ndarray] = field(default_factory=dict)  # name -> scores (N,)
    metrics: dict[str, dict[str, float | None]] = field(default_factory=dict)
    metrics_std: dict[str, dict[str, float | None]] = field(default_factory=dict)
    repeats: list[dict[str, Any]] = field(default_factory=list)  # per seed: sizes and metrics
    normal_classes: list[str] = field(default_factory=list)
    class_names: list[str] = field(default_factory=list)
    anomaly_rate: float | None = None
    seeds: list[int] = field(default_factory=list)
    calib_fraction: float = 0.5
    k: int | None = None  # neighbours of the kNN distance (None for reconstruction error)
    baseline_info: dict[str, Any] = field(default_factory=dict)
    samples: str = "samples"  # what one sample is called, plural
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0
    created: str = field(default_factory=lambda: datetime.now(timezone.utc).isoformat(timespec="seconds"))

    @property
    def flags(self) -> np.ndarray:
        """(N,) bool: the run's method flags the sample (score above the threshold)."""
        return self.scores > self.threshold

    @property
    def labelled(self) -> bool:
        return self.is_anomaly is not None

    @property
    def n_test(self) -> int:
        return int(len(self.test_idx))

    @property
    def n_test_anomalies(self) -> int:
        return 0 if self.is_anomaly is None else int(self.is_anomaly[self.test_idx].sum())

    # ---- dicts --------------------------------------------------------------------------------------
    def to_dict(self, arrays: bool = True) -> dict[str, Any]:
        """JSON-able dict; arrays as lists (or left out with arrays=False)."""
        d: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name in _ARRAYS or f.name == "baselines":
                continue
            d[f.name] = value
        d["n_samples"] = int(len(self.scores))
        d["n_test"] = self.n_test
        d["n_test_anomalies"] = self.n_test_anomalies
        d["n_calib"] = int(len(self.calib_idx))
        d["baseline_names"] = list(self.baselines)
        if arrays:
            for name in _ARRAYS:
                value = getattr(self, name)
                d[name] = None if value is None else np.asarray(value).tolist()
            d["baselines"] = {k: np.asarray(v).tolist() for k, v in self.baselines.items()}
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any], arrays: dict[str, np.ndarray] | None = None) -> AnomalyResult:
        """Inverse of `to_dict`; `arrays` (e.g. from the .npz) replaces arrays missing from `d`."""
        arrays = dict(arrays or {})
        kwargs: dict[str, Any] = {}
        for f in fields(cls):
            if f.name in _ARRAYS:
                value = arrays.get(f.name, d.get(f.name))
                kwargs[f.name] = None if value is None else np.asarray(value, dtype=_ARRAYS[f.name])
            elif f.name == "baselines":
                names = d.get("baseline_names") or list((d.get("baselines") or {}).keys())
                saved = d.get("baselines") or {}
                kwargs[f.name] = {
                    n: np.asarray(arrays.get(f"baseline_{n}", saved.get(n)), dtype=np.float32) for n in names
                }
            elif f.name in d:
                kwargs[f.name] = d[f.name]
        return cls(**kwargs)


# ---- files -----------------------------------------------------------------------------------------
def result_path(run_dir: str | Path) -> Path:
    return RunPaths(Path(run_dir)).eval_dir / RESULT_FILE


def arrays_path(run_dir: str | Path) -> Path:
    return RunPaths(Path(run_dir)).eval_dir / ARRAYS_FILE


def save_result(result: AnomalyResult, run_dir: str | Path | None = None) -> Path:
    """Write the arrays, then the JSON (both atomically); returns the JSON's path."""
    run_dir = Path(run_dir or result.run_dir)
    arrays = {
        name: np.asarray(getattr(result, name)) for name in _ARRAYS if getattr(result, name) is not None
    }
    arrays.update({f"baseline_{n}": np.asarray(v) for n, v in result.baselines.items()})
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    atomic_write_bytes(arrays_path(run_dir), buffer.getvalue())
    meta = result.to_dict(arrays=False)
    meta["arrays_file"] = ARRAYS_FILE
    path = result_path(run_dir)
    atomic_write_json(path, meta)
    return path


def load_result(run_dir: str | Path) -> AnomalyResult | None:
    """The saved result of a run, or None when there is none or it is damaged or incomplete."""
    try:
        meta = json.loads(result_path(run_dir).read_text(encoding="utf-8"))
        with np.load(arrays_path(run_dir), allow_pickle=False) as npz:
            arrays = {name: npz[name] for name in npz.files}
        result = AnomalyResult.from_dict(meta, arrays)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        log.info("No usable anomaly result in %s: %s", run_dir, exc)
        return None
    if len(result.scores) != int(meta.get("n_samples", -1)):
        return None
    return result
