"""A map that follows training: a fixed subset of a run's samples re-embedded from each new checkpoint and
laid out again, with every layout stabilised against the previous one so that points move rather than jump.

How the layouts are kept steady:
* The subset is fixed for the run (`live_subset`: a seeded choice), so frame k and frame k+1 show the same
  samples in the same order and can be matched point by point.
* UMAP starts from the previous layout (`init=`) and needs fewer epochs than a fresh map; before umap-learn's
  numba code is compiled (a first UMAP in a process costs ~10-20 s, see projection.precompile_umap) the map
  uses PCA, which is instant, and switches to UMAP once the compile is done (`projection="auto"`).
* Every layout is centred, scaled to unit RMS radius and rotated/reflected onto the previous one by an
  orthogonal Procrustes fit, so neither PCA's arbitrary axes nor UMAP's arbitrary orientation reads as motion.

`LiveMapper.update` runs on a worker thread; one mapper serves one run and must not run two updates at once.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ssl_core.errors import UserError
from ssl_core.eval.embeddings import encode_source
from ssl_core.eval.projection import project_pca, project_umap
from ssl_core.progress import CancelToken, ProgressFn, check_cancel, report
from ssl_core.runs.checkpoint import load_checkpoint
from ssl_core.runs.store import LoadedRun, RunPaths, load_run

log = logging.getLogger(__name__)

LIVE_POINTS = 600  # enough to show clusters, few enough to re-embed and lay out in well under a second
LIVE_SEED = 0
FIRST_UMAP_EPOCHS = 200  # a UMAP that starts from a PCA layout (or from nothing) has further to go
FOLLOW_UMAP_EPOCHS = 60  # one that continues its previous layout only settles the changes
# ... with small steps: at umap-learn's default rate (1.0) a continued layout still reshuffles visibly, and
# a person watching should see groups gather, not the whole map jump (the guided demo's "map sorts itself").
FOLLOW_UMAP_LEARNING_RATE = 0.2
ENCODE_BATCH = 256

_UMAP_WARM = threading.Event()


def mark_umap_warm() -> None:
    """umap-learn's numba code is compiled in this process: a live map may switch to UMAP without stalling."""
    _UMAP_WARM.set()


def umap_is_warm() -> bool:
    return _UMAP_WARM.is_set()


def live_subset(n: int, size: int = LIVE_POINTS, seed: int = LIVE_SEED) -> np.ndarray:
    """The sorted source indices a live map shows: all n when n <= size, else a seeded choice of `size`."""
    n, size = max(0, int(n)), max(0, int(size))
    if n <= size:
        return np.arange(n, dtype=np.int64)
    return np.sort(np.random.default_rng(seed).choice(n, size=size, replace=False)).astype(np.int64)


def normalise_layout(xy: np.ndarray) -> np.ndarray:
    """The layout centred on its mean and scaled to unit RMS distance from it (float64, (N, 2))."""
    xy = np.asarray(xy, dtype=np.float64).reshape(-1, 2)
    if not len(xy):
        return xy
    centred = xy - xy.mean(axis=0)
    rms = float(np.sqrt(np.mean(np.sum(centred**2, axis=1))))
    return centred / rms if rms > 1e-12 else centred


def align_layout(xy: np.ndarray, reference: np.ndarray | None = None) -> np.ndarray:
    """`xy` normalised, then rotated (or reflected) onto the normalised `reference` by orthogonal
    Procrustes, so the same points stay where they were as far as the new layout allows (float32)."""
    from scipy.linalg import orthogonal_procrustes

    out = normalise_layout(xy)
    if reference is None or np.shape(reference) != out.shape or len(out) < 2:
        return out.astype(np.float32)
    rotation, _ = orthogonal_procrustes(out, normalise_layout(reference))
    return (out @ rotation).astype(np.float32)


def layout_motion(a: np.ndarray, b: np.ndarray) -> float:
    """Mean distance each point moved between two layouts of the same points."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape or not len(a):
        return 0.0
    return float(np.mean(np.linalg.norm(a - b, axis=1)))


def _pca_layout(
    features: np.ndarray, previous: np.ndarray | None, continues: bool, seed: int, cancel
) -> np.ndarray:
    return project_pca(features)


def _umap_layout(
    features: np.ndarray, previous: np.ndarray | None, continues: bool, seed: int, cancel
) -> np.ndarray:
    epochs = FOLLOW_UMAP_EPOCHS if continues else FIRST_UMAP_EPOCHS
    # The exact kNN (fast path) at every size a live map has: no NN-descent, whose compile is not cached.
    rate = FOLLOW_UMAP_LEARNING_RATE if continues else 1.0
    xy = project_umap(
        features, seed=seed, knn="exact", n_epochs=epochs, init=previous, cancel=cancel, learning_rate=rate
    )
    mark_umap_warm()
    return xy


# name -> fn(features, previous layout or None, previous was the same kind, seed, cancel) -> (N, 2)
LAYOUTS = {"pca": _pca_layout, "umap": _umap_layout}
PROJECTION_CHOICES = ("auto", *LAYOUTS)


@dataclass(frozen=True)
class LiveFrame:
    """One picture of the live map: the subset's positions after checkpoint `step`."""

    run_dir: Path
    rows: np.ndarray  # (M,) source indices, the same in every frame of a run
    xy: np.ndarray  # (M, 2) float32, normalised and aligned to the previous frame
    labels: np.ndarray | None  # (M,) labels of `rows`
    class_names: list[str]
    step: int
    epoch: int  # 0-based, as the checkpoint stores it
    kind: str  # "pca" or "umap"
    noun: str  # the data's words: "image", "series"
    plural: str
    total: int  # samples in the whole data source
    number: int  # 1 for the run's first frame
    moved: float  # mean distance the points moved from the previous frame (0 for the first)
    seconds: float


class LiveMapper:
    """Follows one run's checkpoints: each `update` maps the newest one (see the module docstring)."""

    def __init__(
        self, run_dir: str | Path, points: int = LIVE_POINTS, seed: int = LIVE_SEED, projection: str = "auto"
    ):
        if projection not in PROJECTION_CHOICES:
            raise UserError(
                f"Live map projection {projection!r} is unknown; use one of {', '.join(PROJECTION_CHOICES)}."
            )
        self.run_dir = Path(run_dir)
        self.points = int(points)
        self.seed = int(seed)
        self.projection = projection
        self.rows: np.ndarray | None = None
        self.layout: np.ndarray | None = None  # the previous frame's positions
        self.kind: str | None = None  # the previous frame's projection
        self.frames = 0
        self._run: LoadedRun | None = None
        self._labels: np.ndarray | None = None

    def choose_kind(self) -> str:
        """The projection of the next frame: as asked, or for "auto" UMAP once it is compiled (and for good
        once it has been used), PCA before."""
        if self.projection != "auto":
            return self.projection
        return "umap" if self.kind == "umap" or umap_is_warm() else "pca"

    def update(self, progress: ProgressFn | None = None, cancel: CancelToken | None = None) -> LiveFrame:
        """Map the run's newest checkpoint; raises UserError when there is none or it does not load."""
        started = time.perf_counter()
        report(progress, 0.0, "Loading the newest checkpoint")
        step, epoch = self._load_newest()
        check_cancel(cancel)
        run = self._run
        report(progress, 0.2, f"Features of {len(self.rows):,} {run.method.modality.plural}")
        features = self.features(cancel)
        check_cancel(cancel)
        kind = self.choose_kind()
        report(progress, 0.6, f"{kind.upper()} layout")
        xy = LAYOUTS[kind](features, self.layout, kind == self.kind, self.seed, cancel)
        xy = align_layout(xy, self.layout)
        moved = layout_motion(xy, self.layout) if self.layout is not None else 0.0
        self.layout, self.kind = xy, kind
        self.frames += 1
        report(progress, 1.0, "Live map updated")
        modality = run.method.modality
        return LiveFrame(
            run_dir=self.run_dir,
            rows=self.rows.copy(),
            xy=xy.copy(),
            labels=None if self._labels is None else self._labels.copy(),
            class_names=list(run.source.info.class_names),
            step=step,
            epoch=epoch,
            kind=kind,
            noun=modality.noun,
            plural=modality.plural,
            total=len(run.source),
            number=self.frames,
            moved=moved,
            seconds=round(time.perf_counter() - started, 3),
        )

    def features(self, cancel: CancelToken | None = None) -> np.ndarray:
        """(M, D) features of the subset by the weights loaded last (after a first `update`)."""
        if self._run is None:
            raise RuntimeError("LiveMapper.features needs an update first")
        run = self._run
        indices = torch.as_tensor(self.rows)
        return encode_source(run.method, run.source, indices=indices, batch_size=ENCODE_BATCH, cancel=cancel)

    def _load_newest(self) -> tuple[int, int]:
        """The newest checkpoint's weights into the run's model (built once, with its data, on the first
        update); returns its (step, epoch)."""
        if self._run is None:
            self._run = load_run(self.run_dir)
            self.rows = live_subset(len(self._run.source), self.points, self.seed)
            labels = self._run.source.labels()
            self._labels = None if labels is None else labels.numpy()[self.rows]
        path = RunPaths(self.run_dir).checkpoint
        state = load_checkpoint(path)  # the trainer replaces it atomically: never half-written
        try:
            self._run.method.load_state_dict(state["model"])
        except (RuntimeError, KeyError, TypeError, ValueError) as exc:
            raise UserError(
                f"Checkpoint {path} does not fit the run's model ({type(exc).__name__})."
            ) from None
        self._run.method.eval()
        return int(state.get("step", 0)), int(state.get("epoch", 0))
