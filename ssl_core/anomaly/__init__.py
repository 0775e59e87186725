"""Anomaly detection with a trained run: scores for every sample, thresholds set on calibration samples,
detection metrics on test samples against classic baselines, and scoring of new files.

    evaluate_anomalies(run_dir, rule="contamination", anomaly_rate=0.05) -> AnomalyResult
    score_file(run_dir, "csv:new.csv", "scores.csv") -> ScoredFile

Names are imported on first use, so the command line can register its flags without loading
scikit-learn.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "BASELINES": "baselines",
    "curves": "metrics",
    "detection_metrics": "metrics",
    "ranking_metrics": "metrics",
    "threshold_metrics": "metrics",
    "AnomalyResult": "result",
    "load_result": "result",
    "result_path": "result",
    "save_result": "result",
    "KNN_DISTANCE": "scores",
    "RECONSTRUCTION": "scores",
    "knn_distances": "scores",
    "score_kind": "scores",
    "ScoredFile": "scoring",
    "score_file": "scoring",
    "format_anomaly_report": "text",
    "RULES": "thresholds",
    "ThresholdRule": "thresholds",
    "AnomalySettings": "workflow",
    "evaluate_anomalies": "workflow",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
