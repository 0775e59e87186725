"""Embeddings: every sample as a point (PCA at once, UMAP in the background with progress and Cancel),
coloured by label or anomaly score; hover shows the sample in its own form (an image, a sparkline of a
series, the words of a text, the spectrogram of a clip: app/widgets/sample_thumbnails.py), a click its
nearest neighbours (and plays an audio clip, app/audio_player.py), a box the selected samples; the plot
and the embeddings can be exported. While a run trains, a live map
follows its checkpoints (app/live_map.py)."""

from __future__ import annotations

import html
import io
import logging
import threading
from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QMenu,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSplitter,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app import dialogs, exports
from app.audio_player import audio_player, playback_note
from app.embeddings import (
    MAX_POINTS,
    EmbeddingResult,
    compute_embeddings,
    compute_word_embeddings,
    run_umap,
    run_word_umap,
)
from app.imaging import scaled_pixmap
from app.live_map import LiveMapView
from app.run_context import RunContext, run_context, run_is_gone
from app.tabs.run_jobs import RunJobTab
from app.widgets.image_grid import ImageGrid
from app.widgets.sample_thumbnails import thumbnail_size
from app.widgets.scatter import EmbeddingScatter
from app.workers import JobRunner, Worker

log = logging.getLogger(__name__)

SELECTION_SHOWN = 60
HOVER_TEXT_CHARS = 400  # a hovered text is shown whole up to this many characters
HOVER_H, NEIGHBOUR_H, SELECTION_H = 112, 56, 44  # thumbnail heights (images are square)
# Thumbnails of a wider painter (sparklines) are a little lower, so as many fit across the panel.
WIDE_HEIGHT = {HOVER_H: 112, NEIGHBOUR_H: 48, SELECTION_H: 40}
NEIGHBOURS_HINT = "<b>Nearest neighbours</b> — click a point"
SELECTION_HINT = "<b>Selection</b> — use Box or Lasso select"


_NNDESCENT_WARM = threading.Event()
_NNDESCENT_LOCK = threading.Lock()


def warm_up_umap(nndescent: bool = False) -> None:
    """Compile umap-learn's numba code on a few hundred random points, so the user's first UMAP starts
    at once; numba keeps what it may in NUMBA_CACHE_DIR (set by app.main.use_numba_cache).

    The NN-descent of maps above EXACT_KNN_MAX_POINTS points is compiled only with `nndescent=True`
    (see warm_up_nndescent): ~20 s of a core on every launch, worth it only for data that large."""
    from ssl_core.eval.live_map import mark_umap_warm
    from ssl_core.eval.projection import precompile_umap

    took = precompile_umap(nndescent=nndescent)
    mark_umap_warm()  # the live map may switch from PCA to UMAP now
    if nndescent:
        _NNDESCENT_WARM.set()
    log.debug("UMAP warm-up took %.1f s", took)


def warm_up_nndescent_for(points: int) -> bool:
    """Start compiling NN-descent on a background thread when a map of `points` points will use it
    (once per process). Returns whether a warm-up was started."""
    from ssl_core.eval.projection import choose_knn

    if choose_knn(min(points, MAX_POINTS)) != "nndescent":
        return False
    with _NNDESCENT_LOCK:
        if _NNDESCENT_WARM.is_set():
            return False
        _NNDESCENT_WARM.set()

    def compile_quietly() -> None:
        try:
            warm_up_umap(nndescent=True)
        except Exception:  # only a speed-up: the map itself compiles what is missing
            log.debug("NN-descent warm-up failed", exc_info=True)

    # A daemon thread: numba's compile can't be interrupted, and quitting must not wait for it.
    threading.Thread(target=compile_quietly, name="nndescent-warmup", daemon=True).start()
    return True


class EmbeddingsTab(RunJobTab, QWidget):
    busy_changed = Signal(bool)
    run_missing = Signal(object, str)  # run_dir, dialog title: its folder went away under a job
    live_updated = Signal(object)  # a LiveFrame: the live map got a new picture of the training run

    def __init__(self, runner: JobRunner, parent: QWidget | None = None):
        super().__init__(parent)
        self.runner = runner
        self.result: EmbeddingResult | None = None
        self.run_dir: Path | None = None
        self.context: RunContext | None = None
        self.embed_worker: Worker | None = None
        self.umap_worker: Worker | None = None
        self._blocked = False  # the app is busy (training, loading): see set_busy

        self.compute_button = QPushButton("Compute embeddings")
        self.compute_button.setObjectName("embed_button")
        self.compute_button.setProperty("role", "primary")
        self._compute_tip = "Encode every sample with the trained model and map them to 2-D."
        self.compute_button.setToolTip(self._compute_tip)
        self.compute_button.clicked.connect(lambda: self.compute(self.run_dir, force=True))
        self.projection = QComboBox()
        self.projection.setObjectName("projection")
        self.projection.addItem("Map: UMAP", "umap")
        self.projection.addItem("Map: PCA", "pca")
        self.projection.setToolTip(
            "PCA shows the main directions of variation and is instant. UMAP keeps neighbourhoods, so clusters "
            "stand out; it is computed in the background."
        )
        self.projection.currentIndexChanged.connect(self._projection_changed)
        # Text runs: map the texts, or the words of the run's vocabulary (their word vectors).
        self.points = QComboBox()
        self.points.setObjectName("points_kind")
        self.points.addItem("Points: texts", "samples")
        self.points.addItem("Points: words", "words")
        self.points.setToolTip(
            "Texts: one point per text (its sentence vector). Words: one point per frequent word of the "
            "training text, placed by the model's word vectors, so words used alike sit together."
        )
        self.points.currentIndexChanged.connect(self._points_changed)
        self.points.hide()
        self.colour_by = QComboBox()
        self.colour_by.setObjectName("colour_by")
        self.colour_by.addItem("Colour: label", "label")
        self.colour_by.addItem("Colour: anomaly score", "score")
        self.colour_by.setToolTip(
            "Colour the points by their label, or (for methods that rebuild or predict their input) by how "
            "badly the model does on each sample: unusual samples stand out."
        )
        self.colour_by.currentIndexChanged.connect(self._redraw)
        # Two selection tools, at most one on; with both off a drag pans and the wheel zooms.
        self.select_button = QPushButton("Box select")
        self.select_button.setCheckable(True)
        self.select_button.setToolTip(
            "Drag a box over points to see those samples. Turn off to pan and zoom again."
        )
        self.lasso_button = QPushButton("Lasso select")
        self.lasso_button.setObjectName("lasso_button")
        self.lasso_button.setCheckable(True)
        self.lasso_button.setToolTip(
            "Draw around points of any shape to see those samples. Turn off to pan and zoom again."
        )
        self.select_button.toggled.connect(lambda on: self._select_tool("box", on))
        self.lasso_button.toggled.connect(lambda on: self._select_tool("lasso", on))
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
        for w in (
            self.compute_button,
            self.points,
            self.projection,
            self.colour_by,
            self.select_button,
            self.lasso_button,
            self.export_button,
        ):
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
        self.live_map = LiveMapView(runner, self.scatter, self)  # follows training: see follow_session
        self.live_map.drawn.connect(self._live_drawn)
        self.live_map.live.frame_ready.connect(self.live_updated)

        # Side panel: the hovered sample, nearest neighbours of the clicked one, the selection.
        self.hover_image = QLabel()
        self.hover_image.setObjectName("hover_sample")
        self.hover_image.setFixedSize(HOVER_H + 8, HOVER_H + 8)
        self.hover_image.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.hover_image.setProperty("role", "banner")
        self.hover_text = QLabel("Hover over a point to see its sample.")
        self.hover_text.setObjectName("hover_text")
        self.hover_text.setWordWrap(True)
        hover_row = QHBoxLayout()
        hover_row.addWidget(self.hover_image)
        hover_row.addWidget(self.hover_text, 1)
        # Audio runs: a click on a point plays its clip; the player's word (playing, no device) shows here.
        self.audio_status = QLabel("")
        self.audio_status.setObjectName("embed_audio_status")
        self.audio_status.setProperty("role", "muted")
        self.audio_status.setToolTip(playback_note())
        self.audio_status.hide()
        audio_player().status.connect(self._audio_status)
        self.neighbours_title = QLabel(NEIGHBOURS_HINT)
        self.neighbours_title.setWordWrap(True)
        self.neighbours = ImageGrid(cell=NEIGHBOUR_H)
        self.neighbours.setObjectName("neighbours_grid")
        self.selection_title = QLabel(SELECTION_HINT)
        self.selection_title.setWordWrap(True)
        self.selection = ImageGrid(cell=SELECTION_H)
        self.selection.setObjectName("selection_grid")
        # The rows (sample indices) each grid shows, so a click on an audio clip's thumbnail plays it.
        self._grid_rows: dict[int, np.ndarray] = {
            id(self.neighbours): np.zeros(0, int),
            id(self.selection): np.zeros(0, int),
        }
        for grid in (self.neighbours, self.selection):
            grid.clicked.connect(lambda i, g=grid: self._thumbnail_clicked(g, i))
        side = QWidget()
        side_layout = QVBoxLayout(side)
        side_layout.addLayout(hover_row)
        side_layout.addWidget(self.audio_status)
        side_layout.addWidget(self.neighbours_title)
        side_layout.addWidget(self.neighbours)
        side_layout.addWidget(self.selection_title)
        # a big selection scrolls instead of being cut off at the bottom of the panel
        selection_scroll = QScrollArea()
        selection_scroll.setWidget(self.selection)
        selection_scroll.setWidgetResizable(True)
        selection_scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        selection_scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        side_layout.addWidget(selection_scroll, 1)
        side.setMinimumWidth(280)

        # The controls span the tab, above map and side panel: beside the map alone they would make the
        # window wider than a 1024-pixel screen.
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(self.scatter)
        split.addWidget(side)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 1)
        split.setChildrenCollapsible(False)
        layout = QVBoxLayout(self)
        layout.addLayout(controls)
        layout.addLayout(progress_row)
        layout.addWidget(self.live_map.caption)
        layout.addWidget(split, 1)
        self._update_controls()

    def _plural(self) -> str:
        """The shown run's word for its samples ("images", "series"), from its summary."""
        return self.context.plural if self.context is not None else "samples"

    def _thumb_size(self, height: int) -> tuple[int, int]:
        r = self.result
        painter = r.painter if r is not None else None
        if painter is None or getattr(painter, "aspect", 1.0) == 1.0:
            return height, height
        return thumbnail_size(painter, WIDE_HEIGHT.get(height, height))

    def _fit_panels(self, result: EmbeddingResult) -> None:
        """Size the hover, neighbour and selection cells for the result's samples (sparklines are wide)."""
        aspect = float(getattr(result.painter, "aspect", 1.0))
        width, height = self._thumb_size(HOVER_H)
        self.hover_image.setFixedSize(width + 8, height + 8)
        self.hover_image.setVisible(not result.is_text)  # a text is shown in words, beside nothing
        for grid, base in ((self.neighbours, NEIGHBOUR_H), (self.selection, SELECTION_H)):
            grid.set_cell(self._thumb_size(base)[1], aspect)
        self.hover_image.clear()
        self.hover_text.setText(f"Hover over a point to see its {result.noun}.")
        self.audio_status.setVisible(result.is_audio)
        self.audio_status.setText("Click a point to play its clip." if result.is_audio else "")

    def _audio_status(self, text: str) -> None:
        if self.audio_status.isVisibleTo(self):
            self.audio_status.setText(text)

    def _select_tool(self, tool: str, on: bool) -> None:
        other = self.lasso_button if tool == "box" else self.select_button
        if on and other.isChecked():
            other.blockSignals(True)
            other.setChecked(False)
            other.blockSignals(False)
        self.scatter.set_select_mode(tool if on else None)

    # ---- jobs --------------------------------------------------------------------------------
    @property
    def busy(self) -> bool:
        return self.embed_worker is not None or self.umap_worker is not None

    def set_run(self, run_dir: Path | None, reload: bool = False) -> None:
        """The run whose embeddings this tab shows; stale results are cleared. `reload`: the same run
        got a new checkpoint, so its results are stale too."""
        if run_dir == self.run_dir and not reload:
            return
        self._cancel_jobs()
        self.run_dir = run_dir
        self.context = run_context(run_dir) if run_dir is not None else None
        self.result = None
        self.scatter.set_points(np.zeros((0, 2)), None, [])
        self.scatter.setTitle(None)
        self.hover_image.clear()
        self.audio_status.hide()
        noun = self.context.noun if self.context is not None else "sample"
        self.hover_text.setText(f"Hover over a point to see its {noun}.")
        for grid in (self.neighbours, self.selection):
            grid.set_images([])
        self.neighbours_title.setText(NEIGHBOURS_HINT)
        self.selection_title.setText(SELECTION_HINT)
        if run_dir is None:
            message = "Train a model (or open a run), then compute its embeddings."
        elif not self.context.has_checkpoint and self._blocked:
            message = "This run is training: compute its embeddings when it has a checkpoint."
        elif not self.context.has_checkpoint:
            message = (
                "This run has no checkpoint yet: resume it from the Runs tab, then compute its embeddings."
            )
        else:
            message = f"Press Compute embeddings to map this run's {self._plural()}."
        self.scatter.set_message(message)
        self.live_map.show_run(run_dir, message)
        self.points.setVisible(self.context is not None and self.context.modality == "text")
        if not self.points.isVisible():
            self.points.setCurrentIndex(0)
        self._update_controls()

    def points_kind(self) -> str:
        """ "words" when a text run's words are mapped, else "samples"."""
        return str(self.points.currentData()) if self.points.isVisible() else "samples"

    def _points_changed(self) -> None:
        if self.run_dir is not None and self.context is not None and self.context.has_checkpoint:
            self.compute(self.run_dir, force=True)

    def can_compute(self) -> bool:
        return self.context is not None and self.context.has_checkpoint and self.embed_worker is None

    def compute(self, run_dir: Path | None, force: bool = False) -> Worker | None:
        if run_dir is None or self.embed_worker is not None:
            return None
        if not force and self.result is not None and self.result.run_dir == run_dir:
            return None
        self.cancel_umap()
        if run_dir != self.run_dir:
            self.set_run(run_dir)
        words = self.points_kind() == "words"
        job = compute_word_embeddings if words else compute_embeddings
        worker = Worker(job, run_dir, inject=("progress", "cancel"))
        worker.progress.connect(self._progress)
        worker.returned.connect(self._embedded)
        worker.errored.connect(lambda exc, tb: self._failed(run_dir, exc, tb, "Cannot compute embeddings"))
        worker.finished.connect(self._embed_done)
        self.embed_worker = worker
        self._show_progress("Mapping the words…" if words else f"Embedding {self._plural()}…")
        self.runner.start(worker, "embed")
        self._update_controls()
        return worker

    def _failed(self, run_dir: Path, exc: BaseException, tb: str, title: str) -> None:
        if run_is_gone(run_dir):
            self.run_missing.emit(run_dir, title)
        else:
            dialogs.show_error(self.window(), exc, tb, title)

    def _embedded(self, result: EmbeddingResult) -> None:
        if result.run_dir != self.run_dir:  # finished just as another run was chosen: not this run's map
            return
        if result.points != self.points_kind():  # the other kind of points was asked for meanwhile
            return
        self.result = result
        self._fit_panels(result)
        warm_up_nndescent_for(len(result.embeddings))  # a large map's NN-descent, compiled ahead of it
        has_scores = result.anomaly is not None
        self.colour_by.model().item(1).setEnabled(has_scores)
        if not has_scores and self.colour_by.currentData() == "score":
            self.colour_by.setCurrentIndex(0)
        self._redraw()
        if self.projection.currentData() == "umap" and "umap" not in result.projections:
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
        if result.points == "words":
            worker = Worker(run_word_umap, result.embeddings, inject=("progress", "cancel"))
        else:
            worker = Worker(run_umap, result.run_dir, result.source, inject=("progress", "cancel"))
        worker.progress.connect(self._progress)
        worker.returned.connect(lambda out, r=result: self._umap_ready(r, out))
        worker.errored.connect(lambda exc, tb: self._failed(result.run_dir, exc, tb, "UMAP failed"))
        worker.aborted.connect(lambda: self.scatter.set_message(""))
        worker.finished.connect(self._umap_done)
        self.umap_worker = worker
        self._show_progress("UMAP…")
        self.runner.start(worker, "umap")
        self._update_controls()
        return worker

    def _umap_ready(self, result: EmbeddingResult, out: tuple[np.ndarray, np.ndarray]) -> None:
        result.projections["umap"] = out
        if result is self.result:
            self._redraw()

    def _umap_done(self) -> None:
        self.umap_worker = None
        self._hide_progress()
        self._update_controls()

    def cancel_umap(self) -> None:
        if self.umap_worker is not None:
            self.umap_worker.quit()

    def _cancel_jobs(self) -> None:
        for worker in (self.embed_worker, self.umap_worker):
            if worker is not None:
                worker.quit()

    def cancel(self) -> None:
        """Cancel every job of the tab, the live map's update too (it follows no more)."""
        self._cancel_jobs()
        self.live_map.stop()

    # ---- live map ----------------------------------------------------------------------------
    def follow_session(self, session) -> None:
        """Show a live map of every run the session trains, updated from its checkpoints. Its updates do
        not lock the run (run_in_use): resuming only adds checkpoints, and an update of a run deleted
        under it fails quietly beside the map."""
        self.live_map.follow(session)

    @property
    def live_caption(self) -> QLabel:
        """The line above the map that says what the live map shows (a guided demo points at it)."""
        return self.live_map.caption

    def _live_drawn(self, frame) -> None:
        self.hover_image.clear()
        self.hover_text.setText(
            f"Hover, neighbours and selection work on the full map of every {frame.noun}: press "
            "Compute embeddings once training has ended."
        )

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
        self.show_enabled(self.compute_button, self.can_compute(), self._compute_tip)
        for w in (self.export_button, self.select_button, self.lasso_button, self.colour_by):
            w.setEnabled(has)

    # ---- drawing -----------------------------------------------------------------------------
    def shown_kind(self) -> str | None:
        """The projection on screen: the chosen one when ready, else PCA."""
        r = self.result
        if r is None:
            return None
        kind = self.projection.currentData()
        return kind if kind in r.projections else "pca"

    def _projection_changed(self) -> None:
        if (
            self.result is not None
            and self.projection.currentData() == "umap"
            and "umap" not in self.result.projections
        ):
            self.start_umap()
        self._redraw()

    def _redraw(self) -> None:
        r, kind = self.result, self.shown_kind()
        if r is None or kind is None:
            return
        rows, xy = r.projections[kind]
        self.live_map.yield_to_computed_map()
        if self.colour_by.currentData() == "score" and r.anomaly is not None:
            self.scatter.set_scores(xy, r.anomaly[rows])
        else:
            labels = r.labels[rows] if r.labels is not None else None
            self.scatter.set_points(xy, labels, r.class_names, unlabelled=r.plural)
        self.scatter.setTitle(f"{r.run_dir.name} · {len(xy):,} {r.plural} · {kind.upper()}")
        # the points moved: marks, neighbours and selection of the previous drawing no longer apply
        self.neighbours.set_images([])
        self.selection.set_images([])
        self.neighbours_title.setText(NEIGHBOURS_HINT)
        self.selection_title.setText(SELECTION_HINT)

    def _rows(self) -> np.ndarray:
        kind = self.shown_kind()
        return self.result.projections[kind][0] if kind else np.zeros(0, dtype=np.int64)

    def _hovered(self, i: int) -> None:
        r = self.result
        if r is None or i < 0:
            return
        row = int(self._rows()[i])
        if not r.is_text:
            width, height = self._thumb_size(HOVER_H)
            self.hover_image.setPixmap(scaled_pixmap(r.thumbnails([row], height)[0], width, height))
        text = f"<b>{r.label_of(row)}</b><br>{r.noun} #{row}"
        if r.anomaly is not None:
            text += f"<br>anomaly score {r.anomaly[row]:.4g}"
        if r.is_audio:
            text += "<br>click to play it"
        sentence = r.text_of(row)
        if sentence is not None:  # text: the whole sentence, the thumbnail may cut it short
            shown = sentence if len(sentence) <= HOVER_TEXT_CHARS else sentence[:HOVER_TEXT_CHARS] + " …"
            text += f"<br><i>{html.escape(shown)}</i>"
        self.hover_text.setText(text)

    def _clicked(self, i: int) -> None:
        r, kind = self.result, self.shown_kind()
        if r is None or kind is None:
            return
        positions = np.concatenate([[i], r.neighbours(kind, i)]).astype(int)
        rows = self._rows()[positions]
        captions = [f"★ {r.label_of(int(rows[0]))}"] + [r.label_of(int(j)) for j in rows[1:]]
        self.neighbours.set_images(r.thumbnails(rows, self.neighbours.cell), captions)
        self._grid_rows[id(self.neighbours)] = rows
        self.neighbours_title.setText(f"<b>Nearest neighbours</b> of {r.noun} #{int(rows[0])} (★)")
        self.scatter.mark(positions)
        if r.is_audio:
            self.play(int(rows[0]))

    def _thumbnail_clicked(self, grid: ImageGrid, i: int) -> None:
        """A click on a neighbour's or a selected clip's thumbnail plays that clip (audio runs)."""
        rows = self._grid_rows.get(id(grid), ())
        if 0 <= i < len(rows):
            self.play(int(rows[i]))

    def play(self, row: int) -> None:
        """Play an audio run's clip `row` (the player says in the status line when there is no device)."""
        r = self.result
        if r is None or not r.is_audio:
            return
        clip = r.samples([row])[0]
        audio_player().play(clip, r.sample_rate, f"{r.noun} #{row} ({r.label_of(row)})")

    def _selected(self, positions: np.ndarray) -> None:
        r = self.result
        if r is None:
            return
        rows = self._rows()[positions]
        shown = rows[:SELECTION_SHOWN]
        self.selection.set_images(
            r.thumbnails(shown, self.selection.cell), [r.label_of(int(j)) for j in shown]
        )
        self._grid_rows[id(self.selection)] = shown
        more = f", showing {len(shown)}" if len(rows) > len(shown) else ""
        summary = ""
        if r.labels is not None and len(rows):
            values, counts = np.unique(r.labels[rows], return_counts=True)
            top = sorted(zip(counts, values, strict=True), reverse=True)[:3]
            summary = " — mostly " + ", ".join(f"{r.class_text(int(v))} ({c})" for c, v in top)
        self.selection_title.setText(f"<b>Selection</b>: {len(rows)} {r.plural}{more}{summary}")
        self.scatter.mark(positions)

    # ---- export ------------------------------------------------------------------------------
    def export_plot(self, fmt: str, path: str | None = None) -> Path | None:
        """The map as shown (points, colours, selection) as a PNG or SVG figure."""
        if self.result is None:
            exports.nothing_to_export(self, "embeddings", "Compute the embeddings of a run first.")
            return None
        stem = f"{self.run_dir.name}-embeddings" if self.run_dir is not None else "embeddings"
        return exports.export_figure(self, [self.scatter], "the embedding plot", stem, fmt, path)

    def export_embeddings(self, fmt: str, path: str | None = None) -> Path | None:
        """Every sample's embedding: "npy" the array in source order, "csv" with its label and map position."""
        r = self.result
        if r is None:
            exports.nothing_to_export(self, "embeddings", "Compute the embeddings of a run first.")
            return None
        stem = f"{self.run_dir.name}-embeddings" if self.run_dir is not None else "embeddings"
        produce = self._embeddings_npy if fmt == "npy" else self._embeddings_csv
        return exports.export_file(self, "the embeddings", f"{stem}.{fmt}", fmt, produce, path)

    def _embeddings_npy(self) -> bytes:
        buffer = io.BytesIO()
        np.save(buffer, self.result.embeddings, allow_pickle=False)  # every sample, in source order
        return buffer.getvalue()

    def _embeddings_csv(self) -> bytes:
        r = self.result
        kind = self.shown_kind()
        rows, xy = r.projections[kind]
        dims = r.embeddings.shape[1]
        header = ["index", "label", f"{kind}_x", f"{kind}_y", *[f"e{j}" for j in range(dims)]]
        return exports.csv_bytes(
            header,
            (
                [
                    int(row),
                    r.label_of(int(row)) if r.labels is not None else "",
                    f"{xy[pos, 0]:.6g}",
                    f"{xy[pos, 1]:.6g}",
                    *[f"{v:.6g}" for v in r.embeddings[row]],
                ]
                for pos, row in enumerate(rows)
            ),
        )
