"""`embed_run`: a run's embeddings of every sample, a 2-D projection and (for methods that rebuild their
input) anomaly scores, saved in run_dir/eval/ for the GUI's embedding view; `load_embedding` reads
them back."""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ssl_core.errors import UserError
from ssl_core.eval.anomaly import cached_source_anomaly_scores, has_anomaly_scores
from ssl_core.eval.embeddings import EmbeddingCache, Embeddings, load_npy, save_npy
from ssl_core.eval.loaded_run import pretrained_embeddings
from ssl_core.eval.projection import MAX_UMAP_POINTS, project_pca, project_umap
from ssl_core.progress import CancelToken, ProgressFn, check_cancel, report, stage_progress
from ssl_core.runs.atomic import atomic_write_json
from ssl_core.runs.store import load_run

log = logging.getLogger(__name__)

EMBED_FILE = "embed.json"
PROJECTIONS = ("umap", "pca", "none")


@dataclass
class EmbedResult:
    run_dir: str
    embedded: Embeddings  # every sample of the data source in source order, with the checkpoint's key
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

    @property
    def embeddings(self) -> np.ndarray:
        """(N, D) features of every sample."""
        return self.embedded.features

    @property
    def labels(self) -> np.ndarray | None:
        """(N,) labels, or None for unlabelled data."""
        return self.embedded.labels

    @property
    def checkpoint_key(self) -> str:
        return self.embedded.key

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


def _check_projection(projection: str, max_points: int) -> str:
    projection = str(projection).lower()
    if projection not in PROJECTIONS:
        raise UserError(
            f"projection {projection!r} is unknown; use one of {', '.join(PROJECTIONS)}.", field="projection"
        )
    if projection == "umap" and not (4 <= max_points <= MAX_UMAP_POINTS):
        raise UserError(
            f"max_points = {max_points} is out of range; use 4 to {MAX_UMAP_POINTS:,}.", field="max_points"
        )
    return projection


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
    projection = _check_projection(projection, max_points)
    report(progress, 0.0, "Loading the run")
    run = load_run(run_dir, source=source)
    check_cancel(cancel)
    scores = anomaly and has_anomaly_scores(run.method)
    stages = 1 + int(scores) + int(projection != "none")
    noun = run.method.modality.plural
    # Each stage says what it is; its counts are its own, the percentage is the whole job's.
    trained = stage_progress(
        progress, 0.02, 0.3, f"Step 1 of {stages}, features of every {run.method.modality.noun}"
    )
    embedded = pretrained_embeddings(run, batch_size, trained, cancel)
    key, n = embedded.key, len(embedded)
    eval_dir = Path(run.run_dir) / "eval"
    cache = EmbeddingCache(run.run_dir)
    paths = {"embeddings": str(cache.embeddings_path(key))}
    if embedded.labels is not None:
        paths["labels"] = str(cache.labels_path(key))
    val_mask = np.zeros(n, dtype=bool)
    val_mask[run.val_idx.numpy()] = True
    heldout_path = eval_dir / f"heldout-{key}.npy"
    save_npy(heldout_path, val_mask)
    paths["heldout"] = str(heldout_path)

    anomaly_values = None
    if scores:
        check_cancel(cancel)
        report(progress, 0.3, f"Step 2 of {stages}, anomaly scores of the {noun}")
        path = eval_dir / f"anomaly-{key}.npy"
        anomaly_values = cached_source_anomaly_scores(run.method, run.source, path, batch_size, cancel=cancel)
        paths["anomaly"] = str(path)

    coords = indices = None
    if projection != "none":
        check_cancel(cancel)
        indices = np.arange(n)
        if projection == "umap" and n > max_points:
            indices = np.sort(np.random.default_rng(seed).choice(n, size=max_points, replace=False))
        sub = embedded.features[indices]
        stage = f"Step {stages} of {stages}, {projection.upper()} map of {len(indices):,} points"
        report(progress, 0.35, stage)
        if projection == "umap":
            coords = project_umap(
                sub, n_neighbors=n_neighbors, min_dist=min_dist, seed=seed, fast=fast,
                progress=stage_progress(progress, 0.35, 0.99, stage), cancel=cancel,
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
        embedded=embedded,
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


def load_embedding(run_dir: str | Path) -> EmbedResult | None:
    """What the last `embed_run` saved (arrays loaded with allow_pickle=False), or None if missing/stale."""
    meta_path = Path(run_dir) / "eval" / EMBED_FILE
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        paths = {k: str(v) for k, v in meta["paths"].items()}
        arrays = {k: load_npy(Path(v)) for k, v in paths.items()}
    except (OSError, ValueError, KeyError, TypeError) as exc:
        log.info("No usable saved embedding in %s: %s", meta_path.parent, exc)
        return None
    features = arrays["embeddings"]
    return EmbedResult(
        run_dir=str(meta.get("run_dir", run_dir)),
        embedded=Embeddings(str(meta.get("checkpoint_key", "")), features, arrays.get("labels")),
        val_mask=arrays["heldout"].astype(bool) if "heldout" in arrays else np.zeros(len(features), bool),
        projection_kind=str(meta.get("projection", "none")),
        projection=arrays.get("projection"),
        indices=arrays.get("indices"),
        anomaly=arrays.get("anomaly"),
        paths=paths,
        seconds=float(meta.get("seconds", 0.0)),
    )
