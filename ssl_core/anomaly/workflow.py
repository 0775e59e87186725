"""`evaluate_anomalies`: score every sample of a run, set a threshold on calibration samples, and measure
detection on test samples against IsolationForest, LOF and PCA on the raw input; saves eval/anomaly.json.

Anomalies are the samples whose label is not a normal class (data.normal_classes of the run's config; the
most common class when it names none; see ssl_core/data/normal.py). Without labels the scores and the
threshold are still produced, with no metrics to measure.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ssl_core.anomaly.baselines import baseline_scores, raw_input_features
from ssl_core.anomaly.metrics import detection_metrics, mean_std
from ssl_core.anomaly.result import AnomalyResult, save_result
from ssl_core.anomaly.scores import DEFAULT_K, KNN_DISTANCE, run_scores
from ssl_core.anomaly.split import (
    DEFAULT_CALIB_FRACTION,
    calibration_split,
    check_anomaly_rate,
    check_calib_fraction,
    heldout_pool,
    with_anomaly_rate,
)
from ssl_core.anomaly.thresholds import ThresholdRule
from ssl_core.data.normal import is_normal, normal_class_ids
from ssl_core.errors import UserError
from ssl_core.progress import CancelToken, ProgressFn, check_cancel, report, sub_progress
from ssl_core.runs.store import load_run

DEFAULT_SEEDS = (0, 1, 2)


@dataclass(frozen=True)
class AnomalySettings:
    """How an evaluation splits, subsamples and thresholds; `checked` refuses bad values."""

    rule: ThresholdRule
    anomaly_rate: float | None
    seeds: tuple[int, ...]
    calib_fraction: float
    k: int

    @classmethod
    def checked(
        cls,
        rule: str,
        value: float | None,
        anomaly_rate: float | None,
        seeds: Sequence[int],
        calib_fraction: float,
        k: int,
    ) -> AnomalySettings:
        rate = check_anomaly_rate(anomaly_rate)
        seeds = tuple(dict.fromkeys(int(s) for s in seeds))
        if not seeds:
            raise UserError("Give at least one seed for the calibration/test split.", field="seeds")
        if int(k) < 1:
            raise UserError(f"k = {k} is too small; use at least 1 neighbour.", field="k")
        return cls(
            ThresholdRule.checked(rule, value, rate),
            rate,
            seeds,
            check_calib_fraction(calib_fraction),
            int(k),
        )


def anomaly_labels(run) -> tuple[np.ndarray | None, list[str]]:
    """(is_anomaly (N,) bool or None, names of the normal classes) for the run's data and config."""
    info, labels = run.source.info, run.source.labels()
    if labels is None or not info.has_labels:
        return None, []
    names = list(run.config.data.normal_classes)
    ids = normal_class_ids(info, labels, names)
    normal_names = [info.class_names[i] if i < len(info.class_names) else str(i) for i in ids]
    return ~is_normal(info, labels, names), normal_names


def measure_split(
    seed: int,
    pool: np.ndarray,
    is_anomaly: np.ndarray | None,
    all_scores: dict[str, np.ndarray],
    method: str,
    settings: AnomalySettings,
) -> dict[str, Any]:
    """One calibration/test split: thresholds on calibration scores, metrics on test scores."""
    calib, test = calibration_split(pool, is_anomaly, settings.calib_fraction, seed)
    if is_anomaly is not None:
        rng = np.random.default_rng(int(seed) + 1_000_003)
        calib = with_anomaly_rate(calib, is_anomaly, settings.anomaly_rate, rng)
        test = with_anomaly_rate(test, is_anomaly, settings.anomaly_rate, rng)
    rows: dict[str, dict[str, Any]] = {}
    for name, scores in all_scores.items():
        rule = settings.rule if name == method else settings.rule.for_baseline(all_scores[method][calib])
        threshold = rule.threshold(scores[calib])
        if is_anomaly is None:
            rows[name] = {"threshold": threshold, "flagged": int((scores[test] > threshold).sum())}
        else:
            rows[name] = detection_metrics(scores[test], is_anomaly[test], threshold)
    out: dict[str, Any] = {"seed": int(seed), "n_calib": int(len(calib)), "n_test": int(len(test)),
                           "metrics": rows, "calib_idx": calib, "test_idx": test}  # fmt: skip
    if is_anomaly is not None:
        out["n_calib_anomalies"] = int(is_anomaly[calib].sum())
        out["n_test_anomalies"] = int(is_anomaly[test].sum())
    return out


def evaluate_anomalies(
    run_dir: str | Path,
    *,
    rule: str = "contamination",
    value: float | None = None,
    anomaly_rate: float | None = None,
    seeds: Sequence[int] = DEFAULT_SEEDS,
    calib_fraction: float = DEFAULT_CALIB_FRACTION,
    k: int = DEFAULT_K,
    baselines: bool = True,
    batch_size: int = 512,
    progress: ProgressFn | None = None,
    cancel: CancelToken | None = None,
) -> AnomalyResult:
    """Anomaly detection of a run and its baselines, measured on held-out samples; saves eval/anomaly.json.

    rule/value: the threshold rule (see ssl_core.anomaly.thresholds). anomaly_rate: subsample the anomalies
    of the calibration and test parts to this share. seeds: one calibration/test split (and subsample) per
    seed; metrics are their mean (spread in `metrics_std`). k: neighbours of the kNN distance used for
    methods that do not rebuild their input.
    """
    started = time.perf_counter()
    settings = AnomalySettings.checked(rule, value, anomaly_rate, seeds, calib_fraction, k)
    report(progress, 0.0, "Loading the run")
    run = load_run(run_dir)
    check_cancel(cancel)
    config, info = run.config, run.source.info
    is_anomaly, normal_names = anomaly_labels(run)
    if settings.anomaly_rate is not None and is_anomaly is None:
        raise UserError(
            f"{config.data.spec} has no labels, so its anomalies cannot be made rarer; leave out the "
            "anomaly rate, or use data with a label column.",
            field="anomaly_rate",
        )
    train_idx = run.train_idx.numpy()
    pool = heldout_pool(len(run.source), train_idx)
    if len(pool) < 2:
        raise UserError(
            f"Run {run.run_dir} holds out {len(pool)} sample(s); an anomaly evaluation needs held-out "
            f"samples to set a threshold on and to test, so train with data.val_fraction above 0.",
            field="data.val_fraction",
        )
    scores, kind, key = run_scores(run, settings.k, batch_size, sub_progress(progress, 0.02, 0.5), cancel)
    if not np.all(np.isfinite(scores)):
        raise UserError(
            f"The run's anomaly scores contain {int((~np.isfinite(scores)).sum())} NaN/infinite values; "
            "its training probably diverged. Train it again with a lower learning rate (train.lr).",
            field="train.lr",
        )
    method = config.method.name
    all_scores = {method: scores}
    baseline_info: dict[str, Any] = {}
    if baselines:
        check_cancel(cancel)
        raw = raw_input_features(run.method, run.source, sub_progress(progress, 0.5, 0.6), cancel)
        base, baseline_info = baseline_scores(
            raw, train_idx, config.train.seed, sub_progress(progress, 0.6, 0.95), cancel
        )
        all_scores.update(base)

    report(progress, 0.95, "Thresholds and metrics")
    repeats = []
    for seed in settings.seeds:
        check_cancel(cancel)
        repeats.append(measure_split(seed, pool, is_anomaly, all_scores, method, settings))
    metrics, metrics_std = {}, {}
    first = repeats[0]
    for name in all_scores:
        metrics[name], metrics_std[name] = mean_std([r["metrics"][name] for r in repeats])
        metrics[name]["threshold"] = first["metrics"][name]["threshold"]  # the one saved and used to flag
    result = AnomalyResult(
        run_dir=str(run.run_dir),
        method=method,
        method_title=str(getattr(getattr(run.method, "spec", None), "title", "") or method),
        score_kind=kind,
        checkpoint_key=key,
        scores=scores,
        is_anomaly=is_anomaly,
        train_idx=train_idx.astype(np.int64),
        calib_idx=first["calib_idx"],
        test_idx=first["test_idx"],
        threshold=float(first["metrics"][method]["threshold"]),
        threshold_rule=settings.rule.rule,
        threshold_param=settings.rule.value,
        baselines={name: s for name, s in all_scores.items() if name != method},
        metrics=metrics,
        metrics_std=metrics_std,
        repeats=[{k: v for k, v in r.items() if not k.endswith("_idx")} for r in repeats],
        normal_classes=normal_names,
        class_names=list(info.class_names),
        anomaly_rate=settings.anomaly_rate,
        seeds=list(settings.seeds),
        calib_fraction=settings.calib_fraction,
        k=settings.k if kind == KNN_DISTANCE else None,
        baseline_info=baseline_info,
        samples=run.method.modality.plural,
        notes=_notes(run, settings, is_anomaly),
        seconds=round(time.perf_counter() - started, 3),
    )
    save_result(result, run.run_dir)
    report(progress, 1.0, "Anomaly evaluation done")
    return result


def _notes(run, settings: AnomalySettings, is_anomaly: np.ndarray | None) -> list[str]:
    notes = [f"threshold: {settings.rule.describe()}; labels are never used to set it"]
    if run.config.data.train_on != "normal" and is_anomaly is not None:
        notes.append("the model trained on all training samples, anomalies included (data.train_on = all)")
    if is_anomaly is None:
        notes.append("the data has no labels: scores and the threshold only, no detection metrics")
    elif not is_anomaly.any():
        notes.append("no sample is an anomaly (every label is a normal class): no detection metrics")
    return notes
