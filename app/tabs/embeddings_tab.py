"""Embeddings: every image as a point (PCA at once, UMAP in the background with progress and Cancel),
coloured by label or anomaly score; hover shows the image, a click its nearest neighbours, a box the
selected images; the plot and the embeddings can be exported."""

from __future__ import annotations

import csv
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QMenu,
    QProgressBar,
    QPushButton,
    QSplitter,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app import dialogs
from app.imaging import qimage, qimages, scaled_pixmap, to_uint8_nchw
from app.widgets.image_grid import ImageGrid
from app.widgets.scatter import EmbeddingScatter
from app.workers import JobRunner, Worker

log = logging.getLogger(__name__)

MAX_POINTS = 20_000
NEIGHBOURS = 8
SELECTION_SHOWN = 60


@dataclass
class EmbeddingResult:
    run_dir: Path
    embeddings: np.ndarray  # (N, D) float32
    indices: np.ndarray  # (N,) rows of the data source
    labels: np.ndarray | None
    class_names: list[str]
    pca: np.ndarray  # (N, 2)
    scores: np.ndarray | None = None  # anomaly scores for reconstruction methods
    source: Any = None  # the DataSource, to read thumbnails
    umap: np.ndarray | None = None
    normed: np.ndarray = field(default=None, repr=False)  # rows scaled to unit length, for neighbours

    def __post_init__(self) -> None:
        norms = np.linalg.norm(self.embeddings, axis=1, keepdims=True)
        self.normed = self.embeddings / np.maximum(norms, 1e-12)

    def neighbours(self, i: int, k: int = NEIGHBOURS) -> np.ndarray:
        """The k points most similar to point i (cosine similarity), nearest first, excluding i."""
        sims = self.normed @ self.normed[i]
        sims[i] = -np.inf
        k = min(k, len(sims) - 1)
        if k <= 0:
            return np.zeros(0, dtype=int)
        top = np.argpartition(-sims, k - 1)[:k]
        return top[np.argsort(-sims[top])]

    def label_text(self, i: int) -> str:
        if self.labels is None:
            return f"image {int(self.indices[i])}"
        return self.class_text(int(self.labels[i]))

    def class_text(self, y: int) -> str:
        return self.class_names[y] if 0 <= y < len(self.class_names) else str(y)

    def images(self, rows: np.ndarray | list[int]) -> np.ndarray:
        rows = np.asarray(rows, dtype=int)
        if len(rows) == 0:
            return np.zeros((0, 1, 1, 1), dtype=np.uint8)
        images, _ = self.source.read(torch.as_tensor(self.indices[rows], dtype=torch.long))
        return to_uint8_nchw(images)


def compute_embeddings(run_dir: Path, max_points: int = MAX_POINTS, progress=None, cancel=None) -> EmbeddingResult:
    """Embed (a fixed random subsample of) a run's images with its trained encoder; PCA at once."""
    from ssl_core.eval.embeddings import EmbeddingCache, extract_embeddings, file_digest
    from ssl_core.eval.progress import check_cancel
    from ssl_core.eval.projection import project_pca
    from ssl_core.runs.store import load_run

    progress = progress or (lambda f, m: None)
    progress(0.0, "Loading the run")
    loaded = load_run(run_dir)
    source = loaded.source
    n = len(source)
    indices = np.arange(n)
    if n > max_points:
        indices = np.sort(np.random.default_rng(0).choice(n, size=max_points, replace=False))
    check_cancel(cancel)
    idx_t = torch.as_tensor(indices, dtype=torch.long)
    labels_all = source.labels()
    labels = labels_all[idx_t].numpy() if labels_all is not None else None

    def embed() -> tuple[np.ndarray, np.ndarray | None]:
        images, _ = source.read(idx_t)
        feats = extract_embeddings(loaded.method, images, progress=lambda f, m: progress(0.1 + 0.7 * f, m),
                                   cancel=cancel)
        return feats, labels

    key = f"{file_digest(loaded.checkpoint_path)}-{len(indices)}"
    feats, _ = EmbeddingCache(run_dir).get_or_compute(key, "gui", embed, expected_rows=len(indices))
    check_cancel(cancel)
    scores = None
    if callable(getattr(loaded.method, "anomaly_scores", None)):
        scores = _anomaly_scores(loaded.method, source, idx_t, cancel, progress)
    progress(0.95, "PCA")
    pca = project_pca(feats)
    progress(1.0, "Done")
    return EmbeddingResult(
        run_dir=Path(run_dir), embeddings=feats, indices=indices, labels=labels,
        class_names=list(source.info.class_names), pca=pca, scores=scores, source=source,
    )


def _anomaly_scores(method, source, idx_t, cancel, progress) -> np.ndarray | None:
    try:
        from ssl_core.eval import anomaly_scores
    except ImportError:
        log.info("ssl_core.eval.anomaly_scores is not available; colouring by score is off")
        return None
    progress(0.85, "Anomaly scores")
    images, _ = source.read(idx_t)
    return np.asarray(anomaly_scores(method, images), dtype=np.float64)


def run_umap(embeddings: np.ndarray, progress=None, cancel=None) -> np.ndarray:
    from ssl_core.eval.projection import project_umap

    return project_umap(embeddings, progress=progress, cancel=cancel)


def warm_up_umap() -> None:
    """Compile umap's numba code on a tiny random set, so the user's first UMAP starts at once."""
    from ssl_core.eval.projection import project_umap

    rng = np.random.default_rng(0)
    project_umap(rng.normal(size=(64, 8)).astype(np.float32), n_neighbors=5, n_epochs=5, fast=False)


class EmbeddingsTab(QWidget):
    busy_changed = Signal(bool)

    def __init__(self, runner: JobRunner, parent: QWidget | None = None):
        super().__init__(parent)
        self.runner = runner
        self.result: EmbeddingResult | None = None
        self.run_dir: Path | None = None
        self.embed_worker: Worker | None = None
        self.umap_worker: Worker | None = None

        self.compute_button = QPushButton("Compute embeddings")
        self.compute_button.setObjectName("embed_button")
        self.compute_button.setProperty("role", "primary")
        self.compute_button.setToolTip("Encode every image with the trained model and map them to 2-D.")
        self.compute_button.clicked.connect(lambda: self.compute(self.run_dir, force=True))
        self.projection = QComboBox()
        self.projection.setObjectName("projection")
        self.projection.addItem("UMAP (neighbourhoods)", "umap")
        self.projection.addItem("PCA (instant)", "pca")
        self.projection.setToolTip(
            "PCA shows the main directions of variation and is instant. UMAP keeps neighbourhoods, so clusters "
            "stand out; it is computed in the background."
        )
        self.projection.currentIndexChanged.connect(self._projection_changed)
        self.colour_by = QComboBox()
        self.colour_by.setObjectName("colour_by")
        self.colour_by.addItem("Colour by label", "label")
        self.colour_by.addItem("Colour by anomaly score", "score")
        self.colour_by.currentIndexChanged.connect(self._redraw)
        self.select_button = QPushButton("Box select")
        self.select_button.setCheckable(True)
        self.select_button.setToolTip("Drag a box over points to see those images. Turn off to pan and zoom again.")
        self.select_button.toggled.connect(lambda on: self.scatter.set_select_mode(on))
        self.export_button = QToolButton()
        self.export_button.setText("Export")
        self.export_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        menu = QMenu(self)
        menu.addAction("Plot as PNG…", lambda: self.export_plot("png"))
        menu.addAction("Plot as SVG…", lambda: self.export_plot("svg"))
        menu.addSeparator()
        menu.addAction("Embeddings as CSV…", lambda: self.export_embeddings("csv"))
        menu.addAction("Embeddings as NPY…", lambda: self.export_embeddings("npy"))
        self.export_button.setMenu(menu)

        self.progress = QProgressBar()
        self.progress.setObjectName("embed_progress")
        self.progress.setRange(0, 1000)
        self.progress.setTextVisible(True)
        self.progress.hide()
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setObjectName("umap_cancel")
        self.cancel_button.clicked.connect(self.cancel)
        self.cancel_button.hide()

        controls = QHBoxLayout()
        for w in (self.compute_button, self.projection, self.colour_by, self.select_button, self.export_button):
            controls.addWidget(w)
        controls.addStretch(1)
        progress_row = QHBoxLayout()
        progress_row.addWidget(self.progress, 1)
        progress_row.addWidget(self.cancel_button)

        self.scatter = EmbeddingScatter()
        self.scatter.hovered.connect(self._hovered)
        self.scatter.clicked.connect(self._clicked)
        self.scatter.selected.connect(self._selected)
        self.scatter.set_message("Train a model (or open a run), then compute its embeddings.")

        # Side panel: the hovered image, nearest neighbours of the clicked one, the selection.
        self.hover_image = QLabel()
        self.hover_image.setFixedSize(120, 120)
        self.hover_image.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.hover_image.setProperty("role", "banner")
        self.hover_text = QLabel("Hover over a point to see its image.")
        self.hover_text.setObjectName("hover_text")
        self.hover_text.setWordWrap(True)
        hover_row = QHBoxLayout()
        hover_row.addWidget(self.hover_image)
        hover_row.addWidget(self.hover_text, 1)
        self.neighbours_title = QLabel("<b>Nearest neighbours</b> — click a point")
        self.neighbours = ImageGrid(cell=56)
        self.neighbours.setObjectName("neighbours_grid")
        self.selection_title = QLabel("<b>Selection</b> — use Box select")
        self.selection = ImageGrid(cell=44)
        self.selection.setObjectName("selection_grid")
        side = QWidget()
        side_layout = QVBoxLayout(side)
        side_layout.addLayout(hover_row)
        side_layout.addWidget(self.neighbours_title)
        side_layout.addWidget(self.neighbours)
        side_layout.addWidget(self.selection_title)
        side_layout.addWidget(self.selection, 1)
        side.setMinimumWidth(280)

        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addLayout(controls)
        left_layout.addLayout(progress_row)
        left_layout.addWidget(self.scatter, 1)
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(left)
        split.addWidget(side)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 1)
        split.setChildrenCollapsible(False)
        layout = QVBoxLayout(self)
        layout.addWidget(split)
        self._update_controls()

    # ---- jobs --------------------------------------------------------------------------------
    @property
    def busy(self) -> bool:
        return self.embed_worker is not None or self.umap_worker is not None

    def set_run(self, run_dir: Path | None) -> None:
        """The run whose embeddings this tab shows; stale results are cleared."""
        if run_dir == self.run_dir:
            return
        self.cancel()
        self.run_dir = run_dir
        self.result = None
        self.scatter.set_points(np.zeros((0, 2)), None, [])
        self.scatter.set_message("Press Compute embeddings to map this run's images."
                                 if run_dir else "Train a model (or open a run), then compute its embeddings.")
        self._update_controls()

    def compute(self, run_dir: Path | None, force: bool = False) -> Worker | None:
        if run_dir is None or self.embed_worker is not None:
            return None
        if not force and self.result is not None and self.result.run_dir == run_dir:
            return None
        self.cancel_umap()
        self.run_dir = run_dir
        worker = Worker(compute_embeddings, run_dir, inject=("progress", "cancel"))
        worker.progress.connect(self._progress)
        worker.returned.connect(self._embedded)
        worker.errored.connect(lambda exc, tb: dialogs.show_error(self.window(), exc, tb, "Cannot compute embeddings"))
        worker.finished.connect(self._embed_done)
        self.embed_worker = worker
        self._show_progress("Embedding images…")
        self.runner.start(worker, "embed")
        self._update_controls()
        return worker

    def _embedded(self, result: EmbeddingResult) -> None:
        self.result = result
        has_scores = result.scores is not None
        self.colour_by.model().item(1).setEnabled(has_scores)
        if not has_scores and self.colour_by.currentData() == "score":
            self.colour_by.setCurrentIndex(0)
        self._redraw()
        if self.projection.currentData() == "umap":
            self.start_umap()

    def _embed_done(self) -> None:
        self.embed_worker = None
        if self.umap_worker is None:
            self._hide_progress()
        self._update_controls()

    def start_umap(self) -> Worker | None:
        if self.result is None or self.umap_worker is not None:
            return None
        result = self.result
        worker = Worker(run_umap, result.embeddings, inject=("progress", "cancel"))
        worker.progress.connect(self._progress)
        worker.returned.connect(lambda xy, r=result: self._umap_ready(r, xy))
        worker.errored.connect(lambda exc, tb: dialogs.show_error(self.window(), exc, tb, "UMAP failed"))
        worker.aborted.connect(lambda: self.scatter.set_message(""))
        worker.finished.connect(self._umap_done)
        self.umap_worker = worker
        self._show_progress("UMAP…")
        self.runner.start(worker, "umap")
        self._update_controls()
        return worker

    def _umap_ready(self, result: EmbeddingResult, xy: np.ndarray) -> None:
        result.umap = xy
        if result is self.result:
            self._redraw()

    def _umap_done(self) -> None:
        self.umap_worker = None
        self._hide_progress()
        self._update_controls()

    def cancel_umap(self) -> None:
        if self.umap_worker is not None:
            self.umap_worker.quit()

    def cancel(self) -> None:
        for worker in (self.embed_worker, self.umap_worker):
            if worker is not None:
                worker.quit()

    def _progress(self, fraction: float, message: str) -> None:
        self.progress.setValue(int(fraction * 1000))
        self.progress.setFormat(f"{message}  {fraction * 100:.0f}%")

    def _show_progress(self, text: str) -> None:
        self.progress.setValue(0)
        self.progress.setFormat(text)
        self.progress.show()
        self.cancel_button.setVisible(True)
        self.busy_changed.emit(True)

    def _hide_progress(self) -> None:
        self.progress.hide()
        self.cancel_button.hide()
        self.busy_changed.emit(False)

    def _update_controls(self) -> None:
        has = self.result is not None
        self.compute_button.setEnabled(self.run_dir is not None and self.embed_worker is None)
        for w in (self.export_button, self.select_button, self.colour_by):
            w.setEnabled(has)

    # ---- drawing -----------------------------------------------------------------------------
    def _coords(self) -> np.ndarray | None:
        r = self.result
        if r is None:
            return None
        if self.projection.currentData() == "umap" and r.umap is not None:
            return r.umap
        return r.pca

    def _projection_changed(self) -> None:
        if self.result is not None and self.projection.currentData() == "umap" and self.result.umap is None:
            self.start_umap()
        self._redraw()

    def _redraw(self) -> None:
        r, xy = self.result, self._coords()
        if r is None or xy is None:
            return
        if self.colour_by.currentData() == "score" and r.scores is not None:
            self.scatter.set_scores(xy, r.scores)
        else:
            self.scatter.set_points(xy, r.labels, r.class_names)
        shown = "UMAP" if xy is r.umap else "PCA"
        self.scatter.setTitle(f"{len(xy):,} images · {shown}")

    def _hovered(self, i: int) -> None:
        r = self.result
        if r is None or i < 0:
            return
        img = qimage(r.images([i])[0])
        self.hover_image.setPixmap(scaled_pixmap(img, 112))
        text = f"<b>{r.label_text(i)}</b><br>image #{int(r.indices[i])}"
        if r.scores is not None:
            text += f"<br>anomaly score {r.scores[i]:.4g}"
        self.hover_text.setText(text)

    def _clicked(self, i: int) -> None:
        r = self.result
        if r is None:
            return
        near = r.neighbours(i)
        rows = np.concatenate([[i], near])
        captions = [f"★ {r.label_text(i)}"] + [r.label_text(j) for j in near]
        self.neighbours.set_images(qimages(r.images(rows)), captions)
        self.neighbours_title.setText(f"<b>Nearest neighbours</b> of image #{int(r.indices[i])} (★)")
        self.scatter.mark(rows)

    def _selected(self, rows: np.ndarray) -> None:
        r = self.result
        if r is None:
            return
        shown = rows[:SELECTION_SHOWN]
        self.selection.set_images(qimages(r.images(shown)), [r.label_text(j) for j in shown])
        more = f", showing {len(shown)}" if len(rows) > len(shown) else ""
        summary = ""
        if r.labels is not None and len(rows):
            values, counts = np.unique(r.labels[rows], return_counts=True)
            top = sorted(zip(counts, values, strict=True), reverse=True)[:3]
            summary = " — mostly " + ", ".join(f"{r.class_text(int(v))} ({c})" for c, v in top)
        self.selection_title.setText(f"<b>Selection</b>: {len(rows)} images{more}{summary}")
        self.scatter.mark(rows)

    # ---- export ------------------------------------------------------------------------------
    def export_plot(self, fmt: str, path: str | None = None) -> Path | None:
        if path is None:
            path, _ = QFileDialog.getSaveFileName(self, "Export plot", f"embeddings.{fmt}", f"{fmt.upper()} (*.{fmt})")
            if not path:
                return None
        import pyqtgraph.exporters as exporters

        exporter_cls = exporters.SVGExporter if fmt == "svg" else exporters.ImageExporter
        exporter = exporter_cls(self.scatter.getPlotItem())
        if fmt == "png":
            exporter.parameters()["width"] = max(1200, int(self.scatter.width()))
        exporter.export(str(path))
        return Path(path)

    def export_embeddings(self, fmt: str, path: str | None = None) -> Path | None:
        r = self.result
        if r is None:
            return None
        if path is None:
            path, _ = QFileDialog.getSaveFileName(self, "Export embeddings", f"embeddings.{fmt}",
                                                  f"{fmt.upper()} (*.{fmt})")
            if not path:
                return None
        out = Path(path)
        if fmt == "npy":
            np.save(out, r.embeddings, allow_pickle=False)
        else:
            xy = self._coords()
            with out.open("w", newline="", encoding="utf-8") as fh:
                writer = csv.writer(fh)
                dims = r.embeddings.shape[1]
                writer.writerow(["index", "label", "x", "y", *[f"e{j}" for j in range(dims)]])
                for i in range(len(r.indices)):
                    label = r.label_text(i) if r.labels is not None else ""
                    writer.writerow([int(r.indices[i]), label, f"{xy[i, 0]:.6g}", f"{xy[i, 1]:.6g}",
                                     *[f"{v:.6g}" for v in r.embeddings[i]]])
        return out
