"""Run-level evaluation: load a run, embed its data, probe it against baselines, save under run_dir/eval/.

`evaluate_run` measures the pretrained encoder and, for reference, the same backbone at its random
initialisation (rebuilt with the run's seed, so exactly the weights training started from) and the raw
pixels. All three go through the same code: a linear probe and weighted kNN on the held-out split, with
all training labels and at smaller label fractions.

`embed_run` saves the embeddings of every image plus a 2-D projection (and anomaly scores when the
method rebuilds images) for the GUI's embedding view.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ssl_core.errors import UserError
from ssl_core.eval.anomaly import anomaly_scores, has_anomaly_scores
from ssl_core.eval.embeddings import (
    EmbeddingCache,
    encode_source,
    file_digest,
    raw_features_of_source,
    save_npy,
)
from ssl_core.eval.knn import DEFAULT_K, KNNResult, knn_classify
from ssl_core.eval.label_efficiency import (
    DEFAULT_FRACTIONS,
    DEFAULT_SEEDS,
    check_fractions,
    check_seeds,
    efficiency_row,
    label_efficiency,
)
from ssl_core.eval.metrics import NO_LABELS_HINT, infer_num_classes
from ssl_core.eval.probe import ProbeResult, linear_probe
from ssl_core.eval.progress import CancelToken, ProgressFn, check_cancel, report, sub_progress
from ssl_core.eval.projection import MAX_UMAP_POINTS, project_pca, project_umap
from ssl_core.runs.atomic import atomic_write_json

log = logging.getLogger(__name__)

REPORT_FILE = "report.json"
EMBED_FILE = "embed.json"
PROJECTIONS = ("umap", "pca", "none")
FEATURE_TITLES = {"pretrained": "pretrained", "random_init": "random init", "raw_input": "raw input"}
RAW_INPUT = (
    "raw_input"  # the raw-input baseline's key; reports saved before modalities called it "raw_pixels"
)


@dataclass
class FeatureEval:
    """Probe and kNN results for one kind of features (pretrained, random init or raw input)."""

    name: str  # "pretrained", "random_init" or "raw_input"
    title: str  # what a table shows
    dim: int
    probe: ProbeResult  # all training labels
    knn: KNNResult  # all training labels
    label_efficiency: dict[str, Any]  # see label_efficiency()

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "title": self.title,
            "dim": self.dim,
            "probe": self.probe.to_dict(),
            "knn": self.knn.to_dict(),
            "label_efficiency": self.label_efficiency,
        }


@dataclass
class EvalReport:
    run_dir: str
    method: str
    backbone: str
    data: str
    checkpoint: str
    checkpoint_key: str
    step: int
    n_train: int
    n_val: int
    num_classes: int
    class_names: list[str]
    fractions: list[float]
    seeds: list[int]
    k: int
    features: list[FeatureEval]
    seconds: float
    created: str = field(default_factory=lambda: datetime.now(timezone.utc).isoformat(timespec="seconds"))

    def get(self, name: str) -> FeatureEval | None:
        return next((f for f in self.features if f.name == name), None)

    @property
    def pretrained(self) -> FeatureEval:
        found = self.get("pretrained")
        assert found is not None
        return found

    def to_dict(self) -> dict[str, Any]:
        d = {k: v for k, v in asdict(self).items() if k != "features"}
        d["features"] = {f.name: f.to_dict() for f in self.features}  # keyed by name, in table order
        d["kind"] = "offline linear probe and kNN on frozen features"
        return d


@dataclass
class EmbedResult:
    run_dir: str
    checkpoint_key: str
    embeddings: np.ndarray  # (N, D), every image of the data source in source order
    labels: np.ndarray | None  # (N,) or None for unlabelled data
    val_mask: np.ndarray  # (N,) bool: image is in the held-out split
    projection_kind: str  # "umap", "pca" or "none"
    projection: np.ndarray | None  # (M, 2) for the images `indices`
    indices: np.ndarray | None  # (M,) source indices of the projected points (subsampled above max_points)
    anomaly: np.ndarray | None  # (N,) reconstruction error, for generative methods
    paths: dict[str, str]
    seconds: float
    # The opened DataSource, so a caller (the GUI's thumbnails) need not open the data a second time;
    # None for results read back by `load_embedding`. Not saved.
    source: Any = field(default=None, repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        """Metadata only (arrays live in the .npy files named in `paths`)."""
        return {
            "run_dir": self.run_dir,
            "checkpoint_key": self.checkpoint_key,
            "n_images": int(self.embeddings.shape[0]),
            "dim": int(self.embeddings.shape[1]) if self.embeddings.ndim == 2 else 0,
            "has_labels": self.labels is not None,
            "projection": self.projection_kind,
            "projected_points": 0 if self.indices is None else int(len(self.indices)),
            "has_anomaly_scores": self.anomaly is not None,
            "paths": self.paths,
            "seconds": self.seconds,
        }


def _load(run_dir: str | Path, source: Any = None):
    from ssl_core.runs.store import load_run

    # Building the model seeds torch's global RNG; keep the caller's random stream untouched.
    with torch.random.fork_rng(devices=[]):
        return load_run(run_dir, source=source)


def random_init_method(run) -> torch.nn.Module:
    """The run's method rebuilt with its config and seed: the weights training started from."""
    from ssl_core.train.builder import build_components

    with torch.random.fork_rng(devices=[]):
        return build_components(run.config, source=run.source).method


def _pretrained_embeddings(run, batch_size: int, progress: ProgressFn | None, cancel: CancelToken | None):
    key = file_digest(run.checkpoint_path)
    cache = EmbeddingCache(run.run_dir)

    def compute() -> tuple[np.ndarray, np.ndarray | None]:
        feats = encode_source(run.method, run.source, batch_size=batch_size, progress=progress, cancel=cancel)
        labels = run.source.labels()
        return feats, (labels.numpy() if labels is not None else None)

    feats, labels = cache.get_or_compute(key, compute, expected_rows=len(run.source))
    return key, feats, labels


def _evaluate_features(
    name: str,
    feats: np.ndarray,
    labels: np.ndarray,
    train_idx: np.ndarray,
    val_idx: np.ndarray,
    fractions: tuple[float, ...],
    seeds: tuple[int, ...],
    k: int,
    num_classes: int,
    progress: ProgressFn | None,
    cancel: CancelToken | None,
    title: str = "",
) -> FeatureEval:
    what = f"{title or FEATURE_TITLES.get(name, name)} features"
    x_train, y_train, x_val, y_val = feats[train_idx], labels[train_idx], feats[val_idx], labels[val_idx]
    report(progress, 0.0, f"Linear probe on {what}")
    probe = linear_probe(x_train, y_train, x_val, y_val, num_classes=num_classes, cancel=cancel, what=what)
    check_cancel(cancel)
    knn = knn_classify(x_train, y_train, x_val, y_val, k=k, num_classes=num_classes, cancel=cancel, what=what)
    report(progress, 0.3, f"Label fractions on {what}")
    partial = tuple(f for f in fractions if f < 1.0)
    rows: dict[float, dict[str, Any]] = {}
    if partial:
        curve = label_efficiency(
            x_train, y_train, x_val, y_val, partial, seeds, k,
            num_classes=num_classes, progress=sub_progress(progress, 0.3, 1.0), cancel=cancel, what=what,
        )  # fmt: skip
        rows.update((row["fraction"], row) for row in curve["rows"])
    if 1.0 in fractions:  # the all-labels row is the full result above; no need to fit it again
        rows[1.0] = efficiency_row(1.0, [probe.n_train], [probe.accuracy], [knn.accuracy], {probe.solver})
    table = {
        "fractions": list(fractions),
        "seeds": list(seeds),
        "k": int(k),
        "num_classes": num_classes,
        "rows": [rows[f] for f in fractions],
    }
    return FeatureEval(name, title or FEATURE_TITLES.get(name, name), int(feats.shape[1]), probe, knn, table)


def evaluate_run(
    run_dir: str | Path,
    fractions: Sequence[float] = DEFAULT_FRACTIONS,
    seeds: Sequence[int] = DEFAULT_SEEDS,
    k: int = DEFAULT_K,
    include_baselines: bool = True,
    progress: ProgressFn | None = None,
    cancel: CancelToken | None = None,
    batch_size: int = 512,
) -> EvalReport:
    """Probe + kNN (+ label fractions) of a run's frozen encoder and its baselines; saves eval/report.json."""
    started = time.perf_counter()
    fractions = check_fractions(fractions)
    seeds = check_seeds(seeds)
    if int(k) < 1:
        raise UserError(f"k = {k} is too small; use at least 1 neighbour (20 is usual).", field="k")
    report(progress, 0.0, "Loading the run")
    run = _load(run_dir)
    check_cancel(cancel)
    source, config = run.source, run.config
    labels_t = source.labels()
    if labels_t is None:
        raise UserError(
            f"{config.data.spec} has no labels; {NO_LABELS_HINT} (ssl-core embed {run.run_dir}).",
            field="data.spec",
        )
    if len(run.val_idx) == 0:
        raise UserError(
            f"Run {run.run_dir} has no held-out images (data.val_fraction = {config.data.val_fraction}); "
            "a probe is scored on held-out images, so train with data.val_fraction above 0.",
            field="data.val_fraction",
        )
    labels = labels_t.numpy().astype(np.int64)
    train_idx, val_idx = run.train_idx.numpy(), run.val_idx.numpy()
    num_classes = infer_num_classes(labels, num_classes=source.info.num_classes)

    key, pretrained, _ = _pretrained_embeddings(run, batch_size, sub_progress(progress, 0.02, 0.25), cancel)
    feature_sets: list[tuple[str, np.ndarray, str]] = [("pretrained", pretrained, "")]
    if include_baselines:
        check_cancel(cancel)
        report(progress, 0.25, "Embedding with the randomly initialised backbone")
        random_feats = encode_source(
            random_init_method(run), source, batch_size=batch_size,
            progress=sub_progress(progress, 0.25, 0.4), cancel=cancel,
        )  # fmt: skip
        check_cancel(cancel)
        report(progress, 0.4, f"Reading the {run.method.modality.raw_title}")
        raw = raw_features_of_source(run.method, source)
        feature_sets += [("random_init", random_feats, ""), (RAW_INPUT, raw, run.method.modality.raw_title)]

    results = []
    span = 0.55 / len(feature_sets)
    for i, (name, feats, title) in enumerate(feature_sets):
        check_cancel(cancel)
        sub = sub_progress(progress, 0.43 + i * span, 0.43 + (i + 1) * span)
        results.append(
            _evaluate_features(
                name,
                feats,
                labels,
                train_idx,
                val_idx,
                fractions,
                seeds,
                k,
                num_classes,
                sub,
                cancel,
                title=title,
            )  # fmt: skip
        )

    result = EvalReport(
        run_dir=str(run.run_dir),
        method=config.method.name,
        backbone=config.method.backbone,
        data=config.data.spec,
        checkpoint=str(run.checkpoint_path),
        checkpoint_key=key,
        step=int(getattr(run, "step", 0)),
        n_train=int(len(train_idx)),
        n_val=int(len(val_idx)),
        num_classes=num_classes,
        class_names=list(source.info.class_names),
        fractions=list(fractions),
        seeds=list(seeds),
        k=int(k),
        features=results,
        seconds=round(time.perf_counter() - started, 3),
    )
    atomic_write_json(Path(run.run_dir) / "eval" / REPORT_FILE, result.to_dict())
    _record_in_summary(run.run_dir, result)
    report(progress, 1.0, "Evaluation done")
    return result


def _record_in_summary(run_dir: Path, result: EvalReport) -> None:
    # `ssl-core runs` and the GUI's run list show the probe accuracy from summary.json.
    from ssl_core.runs.store import write_summary

    pre = result.pretrained
    write_summary(
        Path(run_dir),
        probe_accuracy=pre.probe.accuracy,
        knn_accuracy=pre.knn.accuracy,
        eval_step=result.step,
    )


def read_report(run_dir: str | Path) -> dict[str, Any] | None:
    """The saved eval/report.json of a run as a dict, or None when there is none (or it is damaged)."""
    import json

    path = Path(run_dir) / "eval" / REPORT_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None
    return data if isinstance(data, dict) else None


# ---- text output ------------------------------------------------------------------------------
def _fmt_stat(stat: dict[str, Any]) -> str:
    if stat.get("runs", len(stat.get("values", []))) > 1 or stat.get("std", 0.0) > 0:
        return f"{stat['mean']:.3f} ± {stat['std']:.3f}"
    return f"{stat['mean']:.3f}"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    return lines


def _feature_list(d: dict[str, Any]) -> list[dict[str, Any]]:
    features = d["features"]
    return list(features.values()) if isinstance(features, dict) else list(features)


def _fraction_label(fraction: float) -> str:
    return f"{fraction * 100:g}%"


def format_report(result: EvalReport | dict[str, Any]) -> str:
    """A plain-text summary: probe and kNN accuracy per label fraction for every feature set."""
    d = result.to_dict() if isinstance(result, EvalReport) else result
    lines = [
        f"Run {d['run_dir']}",
        f"  {d['method']} on {d['data']} ({d['backbone']} backbone), checkpoint at step {d['step']}",
        f"  {d['n_train']} training / {d['n_val']} held-out images, {d['num_classes']} classes; "
        f"offline probes on frozen features; kNN k={d['k']}, seeds {', '.join(map(str, d['seeds']))}",
        "",
    ]
    fractions = d["fractions"]
    for title, key in (("Linear probe accuracy (held-out)", "probe"), ("kNN accuracy (held-out)", "knn")):
        lines.append(title)
        header = ["features", "dim", *[f"{_fraction_label(f)} labels" for f in fractions]]
        rows = []
        for feat in _feature_list(d):
            cells = []
            for row in feat["label_efficiency"]["rows"]:
                stat = dict(row[key], runs=row["runs"])
                cells.append(_fmt_stat(stat))
            rows.append([feat.get("title", feat["name"]), str(feat["dim"]), *cells])
        lines += _table(header, rows)
        lines.append("")
    pre = next((f for f in _feature_list(d) if f["name"] == "pretrained"), None)
    if pre is not None:
        names = d.get("class_names") or []
        per_class = pre["probe"]["per_class_accuracy"]
        parts = [
            f"{names[i] if i < len(names) else i}: {'-' if acc is None else f'{acc:.2f}'}"
            for i, acc in enumerate(per_class)
        ]
        lines.append("Per-class probe accuracy (pretrained, all labels): " + ", ".join(parts))
        lines.append(f"Probe solver: {pre['probe']['solver']}; evaluated in {d['seconds']:.1f} s")
    return "\n".join(lines)


# ---- embeddings + projection --------------------------------------------------------------------
def embed_run(
    run_dir: str | Path,
    projection: str = "umap",
    max_points: int = MAX_UMAP_POINTS,
    n_neighbors: int = 15,
    min_dist: float = 0.1,
    seed: int = 0,
    fast: bool | None = None,
    anomaly: bool = True,
    batch_size: int = 512,
    progress: ProgressFn | None = None,
    cancel: CancelToken | None = None,
    source: Any = None,
) -> EmbedResult:
    """Embed every image of a run; save embeddings, a 2-D projection and anomaly scores in eval/.

    Above `max_points` images the projection uses a random subset (seeded); `indices` says which.
    Embeddings and anomaly scores are cached per checkpoint in eval/ and reused while it is unchanged.
    `source` is the run's data source when the caller already opened it (e.g. `result.source` of an
    earlier call); the result carries the source it used in `.source`.
    """
    started = time.perf_counter()
    projection = str(projection).lower()
    if projection not in PROJECTIONS:
        raise UserError(
            f"projection {projection!r} is unknown; use one of {', '.join(PROJECTIONS)}.", field="projection"
        )
    if projection == "umap" and not (4 <= max_points <= MAX_UMAP_POINTS):
        raise UserError(
            f"max_points = {max_points} is out of range; use 4 to {MAX_UMAP_POINTS:,}.", field="max_points"
        )
    report(progress, 0.0, "Loading the run")
    run = _load(run_dir, source)
    check_cancel(cancel)
    key, feats, labels = _pretrained_embeddings(run, batch_size, sub_progress(progress, 0.02, 0.3), cancel)
    eval_dir = Path(run.run_dir) / "eval"
    cache = EmbeddingCache(run.run_dir)
    paths = {"embeddings": str(cache.embeddings_path(key))}
    if labels is not None:
        paths["labels"] = str(cache.labels_path(key))
    n = feats.shape[0]
    val_mask = np.zeros(n, dtype=bool)
    val_mask[run.val_idx.numpy()] = True
    heldout_path = eval_dir / f"heldout-{key}.npy"
    save_npy(heldout_path, val_mask)
    paths["heldout"] = str(heldout_path)

    anomaly_values = None
    if anomaly and has_anomaly_scores(run.method):
        check_cancel(cancel)
        report(progress, 0.3, "Anomaly scores")
        path = eval_dir / f"anomaly-{key}.npy"
        anomaly_values = _cached_scores(path, n)
        if anomaly_values is None:
            parts = []
            for start in range(0, n, 8192):
                images, _ = run.source.read(torch.arange(start, min(n, start + 8192)))
                parts.append(anomaly_scores(run.method, images, batch_size=batch_size, cancel=cancel))
            anomaly_values = np.concatenate(parts) if parts else np.zeros(0, dtype=np.float32)
            save_npy(path, anomaly_values)
        paths["anomaly"] = str(path)

    coords = indices = None
    if projection != "none":
        check_cancel(cancel)
        indices = np.arange(n)
        if projection == "umap" and n > max_points:
            indices = np.sort(np.random.default_rng(seed).choice(n, size=max_points, replace=False))
        sub = feats[indices]
        report(progress, 0.35, f"{projection.upper()} projection of {len(indices)} points")
        if projection == "umap":
            coords = project_umap(
                sub, n_neighbors=n_neighbors, min_dist=min_dist, seed=seed, fast=fast,
                progress=sub_progress(progress, 0.35, 0.99), cancel=cancel,
            )  # fmt: skip
        else:
            coords = project_pca(sub)
        proj_path = eval_dir / f"projection-{projection}-{key}.npy"
        idx_path = eval_dir / f"projection-{projection}-{key}-indices.npy"
        save_npy(proj_path, coords)
        save_npy(idx_path, indices.astype(np.int64))
        paths["projection"], paths["indices"] = str(proj_path), str(idx_path)

    result = EmbedResult(
        run_dir=str(run.run_dir),
        checkpoint_key=key,
        embeddings=feats,
        labels=labels,
        val_mask=val_mask,
        projection_kind=projection,
        projection=coords,
        indices=indices,
        anomaly=anomaly_values,
        paths=paths,
        seconds=round(time.perf_counter() - started, 3),
        source=run.source,
    )
    atomic_write_json(eval_dir / EMBED_FILE, result.to_dict())
    report(progress, 1.0, "Embedding done")
    return result


def _cached_scores(path: Path, n: int) -> np.ndarray | None:
    """Anomaly scores saved for this checkpoint (its digest is in the name), if intact and complete."""
    from ssl_core.eval.embeddings import load_npy

    if not path.is_file():
        return None
    try:
        scores = load_npy(path)
    except (OSError, ValueError) as exc:
        log.warning("Ignoring damaged anomaly scores %s: %s", path, exc)
        return None
    if scores.shape != (n,) or not np.issubdtype(scores.dtype, np.floating):
        log.warning("Ignoring anomaly scores %s: shape %s does not match %d images", path, scores.shape, n)
        return None
    log.info("Using cached anomaly scores %s", path)
    return scores.astype(np.float32, copy=False)


def load_embedding(run_dir: str | Path) -> EmbedResult | None:
    """What the last `embed_run` saved (arrays loaded with allow_pickle=False), or None if missing/stale."""
    import json

    from ssl_core.eval.embeddings import load_npy

    meta_path = Path(run_dir) / "eval" / EMBED_FILE
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        paths = {k: str(v) for k, v in meta["paths"].items()}
        arrays = {k: load_npy(Path(v)) for k, v in paths.items()}
    except (OSError, ValueError, KeyError, TypeError) as exc:
        log.info("No usable saved embedding in %s: %s", meta_path.parent, exc)
        return None
    return EmbedResult(
        run_dir=str(meta.get("run_dir", run_dir)),
        checkpoint_key=str(meta.get("checkpoint_key", "")),
        embeddings=arrays["embeddings"],
        labels=arrays.get("labels"),
        val_mask=arrays["heldout"].astype(bool)
        if "heldout" in arrays
        else np.zeros(len(arrays["embeddings"]), bool),
        projection_kind=str(meta.get("projection", "none")),
        projection=arrays.get("projection"),
        indices=arrays.get("indices"),
        anomaly=arrays.get("anomaly"),
        paths=paths,
        seconds=float(meta.get("seconds", 0.0)),
    )
