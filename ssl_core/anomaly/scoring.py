"""`score_file`: score a new data file with a trained run and flag its anomalies; writes a CSV.

The file is opened with the run's data options (image size, channels, series length, missing values;
for tables the run's stored column schema, so columns and categories are encoded exactly as in
training) and must hold samples of the run's kind and shape. Scores are the run's own kind (see
ssl_core.anomaly.scores). A sample is flagged when its score is above the threshold that the run's saved
anomaly evaluation chose (eval/anomaly.json, when it belongs to the current checkpoint), else the default
contamination rule (top 5%) on the run's own held-out scores.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from ssl_core.anomaly.result import load_result
from ssl_core.anomaly.scores import DEFAULT_K, new_data_scores, run_scores, score_kind
from ssl_core.anomaly.split import heldout_pool
from ssl_core.anomaly.thresholds import ThresholdRule
from ssl_core.data.base import DataInfo, DataSource
from ssl_core.errors import UserError
from ssl_core.eval.embeddings import file_digest
from ssl_core.modalities import modality_of
from ssl_core.progress import CancelToken, ProgressFn, check_cancel, report, sub_progress
from ssl_core.runs.atomic import atomic_write_text
from ssl_core.runs.store import load_run


@dataclass
class ScoredFile:
    """Scores and flags of every sample of a scored file, in file order."""

    spec: str
    scores: np.ndarray  # (M,) float32
    flags: np.ndarray  # (M,) bool
    threshold: float
    threshold_from: str  # where the threshold came from, for a person
    score_kind: str
    ids: list[str] | None  # row identifiers (tables with an id column), else None
    id_column: str | None
    csv_text: str
    path: Path | None  # where the CSV was written (None: not written)


def open_like_run(config, spec: str, info: DataInfo, download: bool = False) -> DataSource:
    """Open `spec` with the run's data options (and, for tables, the run's stored column schema)."""
    from ssl_core.train.builder import open_config_source

    cfg = replace(config, data=replace(config.data, spec=str(spec)))
    schema = info.extra.get("table") if isinstance(info.extra, dict) else None
    return open_config_source(cfg, download=download, table_schema=schema)


def check_fits_run(new: DataInfo, trained: DataInfo, spec: str) -> None:
    """The new data must be of the run's modality and sample shape; else a user error naming the difference."""
    if new.modality != trained.modality:
        raise UserError(
            f"{spec} holds {modality_of(new).plural}, but the run was trained on {modality_of(trained).plural}; "
            f"score data of the same kind as {trained.spec}.",
            field="data.spec",
        )
    if tuple(new.sample_shape) != tuple(trained.sample_shape):
        modality = modality_of(trained)
        hint = f" (see {modality.size_setting})" if modality.size_setting else ""
        raise UserError(
            f"{spec}: each {modality.noun} has shape {tuple(new.sample_shape)}, but the run was trained on "
            f"shape {tuple(trained.sample_shape)} ({modality.describe(trained)}); bring the data to the "
            f"run's shape{hint}.",
            field="data.spec",
        )


def _threshold(run, key_now: str, kind: str, k: int, batch_size: int, cancel) -> tuple[float, str, int]:
    """(threshold, where it came from, k) for flags: the saved evaluation's, else the default rule."""
    saved = load_result(run.run_dir)
    if saved is not None and saved.checkpoint_key == key_now and saved.score_kind == kind:
        origin = f"the run's anomaly evaluation ({saved.threshold_rule} {saved.threshold_param:g})"
        return float(saved.threshold), origin, int(saved.k or k)
    scores, _, _ = run_scores(run, k, batch_size, None, cancel)
    heldout = heldout_pool(len(run.source), run.train_idx.numpy())
    rule = ThresholdRule.checked("contamination")
    if len(heldout) == 0:
        raise UserError(
            f"Run {run.run_dir} has no held-out samples and no saved anomaly evaluation to take a threshold "
            "from; run `ssl-core eval RUN --anomaly --threshold-rule value --threshold-value X` first.",
            field="threshold_value",
        )
    origin = f"the default rule: the top {rule.value:.0%} of the run's held-out scores"
    return rule.threshold(scores[heldout]), origin, k


def _csv(scores: np.ndarray, flags: np.ndarray, ids: list[str] | None, id_column: str | None) -> str:
    buffer = io.StringIO()
    out = csv.writer(buffer, lineterminator="\n")
    header = ["index", *([id_column or "id"] if ids is not None else []), "score", "flag"]
    out.writerow(header)
    for i, (score, flag) in enumerate(zip(scores.tolist(), flags.tolist(), strict=True)):
        out.writerow([i, *([ids[i]] if ids is not None else []), f"{score:.6g}", int(flag)])
    return buffer.getvalue()


def _row_ids(source: DataSource) -> tuple[list[str] | None, str | None]:
    row_ids = getattr(source, "row_ids", None)
    ids = row_ids() if callable(row_ids) else None
    if ids is None:
        return None, None
    if len(ids) != len(source):
        raise ValueError(f"{len(ids)} row ids for {len(source)} rows")
    schema = source.info.extra.get("table") if isinstance(source.info.extra, dict) else None
    name = (schema or {}).get("id_column") or "id"
    return [str(v) for v in ids], str(name)


def score_file(
    run_dir: str | Path,
    spec: str,
    out_csv: str | Path | None = None,
    *,
    k: int = DEFAULT_K,
    batch_size: int = 512,
    progress: ProgressFn | None = None,
    cancel: CancelToken | None = None,
) -> ScoredFile:
    """Score every sample of `spec` with the run; write the CSV (index[, id], score, flag) to `out_csv`."""
    run = load_run(run_dir)
    trained = run.source.info
    source = open_like_run(run.config, spec, trained)
    check_fits_run(source.info, trained, spec)
    check_cancel(cancel)
    # The first report comes once the data fits: an early user error leaves a clean one-line message.
    report(progress, 0.05, f"Scoring {len(source)} {modality_of(trained).plural}")
    key = file_digest(run.checkpoint_path)
    kind = score_kind(run.method)
    threshold, origin, k = _threshold(run, key, kind, k, batch_size, cancel)
    check_cancel(cancel)
    scores = new_data_scores(run, source, k, batch_size, sub_progress(progress, 0.3, 0.95), cancel)
    flags = scores > threshold
    ids, id_column = _row_ids(source)
    text = _csv(scores, flags, ids, id_column)
    path = None
    if out_csv is not None:
        path = Path(out_csv)
        atomic_write_text(path, text)
    report(progress, 1.0, "Scoring done")
    return ScoredFile(str(spec), scores, flags, float(threshold), origin, kind, ids, id_column, text, path)
