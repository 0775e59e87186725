"""A run's anomaly detection for the Anomalies tab, prepared on a worker thread: the engine's
AnomalyResult (evaluated now, or the saved one when it matches the checkpoint), the ROC and PR curves
of the method and the baselines on the test samples, and the top-scoring samples read from the data,
with what the table needs to show them (ids, labels, the normal rows' usual values).

Everything here runs off the GUI thread, except `threshold_for` (one quantile) and `flagged_csv` (on the
export worker). The numbers come from ssl_core.anomaly; this module only gathers them for drawing.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from app.widgets.roc_pr import CurveSet
from app.widgets.top_anomalies import TopSamples

TOP_K = 30
REFERENCE_ROWS = 2000  # normal training rows the usual values of a table are taken from
SERIES_REFERENCE = 256  # samples a sparkline painter takes its channel scales from
SPLIT_NAMES = ("training", "calibration", "test")


@dataclass
class AnomalyView:
    """What the tab draws for one run."""

    run_dir: Path
    result: Any  # ssl_core.anomaly.AnomalyResult
    curves: list[CurveSet] = field(default_factory=list)  # on the test samples; empty without labels
    prevalence: float | None = None  # share of anomalies among the test samples
    top: TopSamples | None = None
    ids: list[str] | None = None  # every sample's id (the id column), for the export
    id_name: str = "id"
    class_names: list[str] = field(default_factory=list)
    labels: np.ndarray | None = None  # every sample's class, for the export
    plural: str = "samples"

    @property
    def test_scores(self) -> np.ndarray:
        return np.asarray(self.result.scores)[self.result.test_idx]

    @property
    def test_truth(self) -> np.ndarray | None:
        """is_anomaly of the test samples; None when unlabelled or when the test part has one class only."""
        truth = self.result.is_anomaly
        if truth is None:
            return None
        test = np.asarray(truth)[self.result.test_idx]
        return test if test.any() and not test.all() else None

    def label_text(self, i: int) -> str:
        """Sample i's class name ("" for unlabelled data)."""
        if self.labels is None:
            return ""
        y = int(self.labels[i])
        return self.class_names[y] if 0 <= y < len(self.class_names) else str(y)

    def split_of(self) -> np.ndarray:
        """(N,) the part each sample belongs to: "training", "calibration", "test" or "held out"."""
        r = self.result
        out = np.full(len(r.scores), "held out", dtype=object)
        for name, idx in zip(SPLIT_NAMES, (r.train_idx, r.calib_idx, r.test_idx), strict=True):
            out[np.asarray(idx, dtype=np.int64)] = name
        return out


def evaluate_run(run_dir: Path, rule: str, value: float | None, progress=None, cancel=None) -> AnomalyView:
    """Evaluate a run's anomaly detection now (the engine saves it with the run) and prepare its view."""
    from ssl_core.anomaly import evaluate_anomalies
    from ssl_core.progress import sub_progress

    result = evaluate_anomalies(
        run_dir, rule=rule, value=value, progress=sub_progress(progress, 0.0, 0.9), cancel=cancel
    )
    return prepare_view(Path(run_dir), result, progress=sub_progress(progress, 0.9, 1.0), cancel=cancel)


def has_saved_result(run_dir: Path) -> bool:
    """Whether the run has a saved anomaly evaluation (its file exists; it may still be stale)."""
    from ssl_core.anomaly.result import result_path

    return result_path(run_dir).is_file()


def saved_view(run_dir: Path, progress=None, cancel=None) -> AnomalyView | None:
    """The run's saved evaluation, when there is one for its current checkpoint; else None."""
    from ssl_core.anomaly import load_result
    from ssl_core.eval import file_digest
    from ssl_core.runs.store import RunPaths

    result = load_result(run_dir)
    if result is None:
        return None
    checkpoint = RunPaths(Path(run_dir)).checkpoint
    if not checkpoint.is_file() or (
        result.checkpoint_key and result.checkpoint_key != file_digest(checkpoint)
    ):
        return None  # measured on an older checkpoint: stale
    return prepare_view(Path(run_dir), result, progress=progress, cancel=cancel)


def prepare_view(run_dir: Path, result: Any, progress=None, cancel=None) -> AnomalyView:
    """Curves on the test samples and the top samples read from the run's data."""
    import torch

    from ssl_core.anomaly import curves, ranking_metrics
    from ssl_core.config import RunConfig
    from ssl_core.modalities import modality_of
    from ssl_core.progress import check_cancel, report
    from ssl_core.runs.store import RunPaths
    from ssl_core.train.builder import open_config_source

    report(progress, 0.0, "Reading the top samples")
    view = AnomalyView(run_dir=run_dir, result=result, plural=str(getattr(result, "samples", "samples")))
    truth = view.test_truth
    if truth is not None:
        test = np.asarray(result.test_idx)
        named = [(result.method_title or result.method, np.asarray(result.scores), True)]
        named += [(name, np.asarray(s), False) for name, s in result.baselines.items()]
        for name, scores, is_method in named:
            c = curves(scores[test], truth)
            ranks = ranking_metrics(scores[test], truth)
            view.curves.append(
                CurveSet(name, c["roc"], c["pr"], ranks["roc_auc"], ranks["average_precision"], is_method)
            )
        view.prevalence = float(truth.mean())
    check_cancel(cancel)

    config = RunConfig.load(RunPaths(run_dir).config)
    source = open_config_source(config)
    info = source.info
    view.class_names = list(info.class_names)
    labels = source.labels()
    view.labels = labels.numpy() if labels is not None else None
    row_ids = getattr(source, "row_ids", None)
    ids = row_ids() if callable(row_ids) else None
    if ids is not None and len(ids) == len(source):
        view.ids = [str(v) for v in ids]
        schema = (info.extra or {}).get("table") or {}
        view.id_name = str(schema.get("id_column") or "id")
    check_cancel(cancel)

    scores = np.asarray(result.scores, dtype=np.float64)
    finite = np.flatnonzero(np.isfinite(scores))
    rows = finite[np.argsort(-scores[finite], kind="stable")[:TOP_K]]
    samples, _ = source.read(torch.as_tensor(rows, dtype=torch.long))
    splits = view.split_of()
    truth_all = None if result.is_anomaly is None else np.asarray(result.is_anomaly)
    view.top = TopSamples(
        rows=rows,
        scores=scores[rows],
        samples=samples.numpy() if hasattr(samples, "numpy") else np.asarray(samples),
        modality=info.modality,
        ids=[view.ids[i] for i in rows] if view.ids is not None else None,
        id_name=view.id_name,
        labels=[view.label_text(int(i)) for i in rows] if view.labels is not None else None,
        anomalous=[bool(truth_all[i]) for i in rows] if truth_all is not None else None,
        splits=[str(splits[i]) for i in rows],
        reference=_reference(source, result, info.modality),
        table=modality_of(info).preview_meta(info) if info.modality == "table" else None,
    )
    report(progress, 1.0, "Done")
    return view


def _reference(source: Any, result: Any, modality: str) -> Any:
    """Samples the thumbnails and the table's highlights compare with: a table's normal training rows,
    evenly spaced series for sparkline scales; None for images."""
    import torch

    if modality == "image" or len(source) == 0:
        return None
    if modality == "table":
        idx = np.asarray(result.train_idx, dtype=np.int64)
        if result.is_anomaly is not None:
            idx = idx[~np.asarray(result.is_anomaly)[idx]]
        if len(idx) > REFERENCE_ROWS:
            idx = np.sort(np.random.default_rng(0).choice(idx, REFERENCE_ROWS, replace=False))
    else:
        n = len(source)
        idx = np.unique(np.linspace(0, n - 1, num=min(SERIES_REFERENCE, n)).round().astype(np.int64))
    if len(idx) == 0:
        return None
    samples, _ = source.read(torch.as_tensor(idx, dtype=torch.long))
    return samples.numpy() if hasattr(samples, "numpy") else np.asarray(samples)


def threshold_for(view: AnomalyView, rule: str, value: float) -> float:
    """The threshold a rule sets on the calibration scores (the engine's ThresholdRule; labels unused)."""
    from ssl_core.anomaly import ThresholdRule

    r = view.result
    return ThresholdRule.checked(rule, value).threshold(np.asarray(r.scores)[r.calib_idx])


def flagged_csv(view: AnomalyView, threshold: float) -> tuple[str, int]:
    """CSV text of the samples scoring above the threshold, highest first: index[, id], score, flag (as
    `ssl-core score` writes), then the part of the data each came from and its label; and their count."""
    scores = np.asarray(view.result.scores, dtype=np.float64)
    rows = np.flatnonzero(scores > threshold)
    rows = rows[np.argsort(-scores[rows], kind="stable")]
    splits = view.split_of()
    buffer = io.StringIO()
    out = csv.writer(buffer, lineterminator="\n")
    header = ["index", *([view.id_name] if view.ids is not None else []), "score", "flag", "split"]
    if view.labels is not None:
        header.append("label")
    out.writerow(header)
    for i in rows.tolist():
        line = [i, *([view.ids[i]] if view.ids is not None else []), f"{scores[i]:.6g}", 1, splits[i]]
        if view.labels is not None:
            line.append(view.label_text(i))
        out.writerow(line)
    return buffer.getvalue(), int(len(rows))


def write_flagged(path: Path, view: AnomalyView, threshold: float) -> tuple[Path, int]:
    """Write the flagged list atomically (a temporary file, then a rename), as a file to share."""
    from ssl_core.file_modes import write_shared_file

    text, count = flagged_csv(view, threshold)
    write_shared_file(path, text.encode("utf-8"))
    return Path(path), count
