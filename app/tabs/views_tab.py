"""Views: what the method looks at. Pairs of augmented views (joint-embedding methods), input /
corrupted / reconstruction (generative, refreshed live while training), a GAN's samples from fixed random
latents with an interpolation strip, predictions with captions (pretext tasks) or forecasts, each drawn
by the renderer of its payload type (app/widgets/previews.py): image grids for images, small signal plots
for time series, cards of sentences and guesses for text. For text, a Try-it box asks the current run's
latest checkpoint about a sentence a person types.

While training, the tab follows the trainer's live previews. Once the user draws their own (New views,
Refresh), live previews no longer replace it: a line says so, with a button to follow training again.
The Train tab's live preview keeps updating meanwhile, and a new run follows training again."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from app import dialogs
from app.run_context import run_is_gone
from app.widgets.previews import PREVIEW_RENDERERS, PreviewPanel, live_preview_caption
from app.widgets.try_it import TryItBox
from app.workers import JobRunner, Worker
from ssl_core.config import RunConfig

PREVIEW_COUNT = 8

# What each kind of preview shows; {noun}/{plural} are the data's words ("image", "series"), {changes}
# what its augmentations do (VIEW_CHANGES).
EXPLAIN = {
    "views": "Each {unit} shows two random <b>augmented views</b> of the same {noun} (<i>New views</i> also "
    "shows the original). The method learns to give both views the same representation, so it has to ignore "
    "{changes} and keep what the {noun} shows. While training, the samples are those of the batch being "
    "trained on, with new random views at every update. Multi-crop methods (DINO, SwAV) show two large "
    "<b>global</b> crops and smaller <b>local</b> crops of each {noun}; with DINO's Vision Transformer the last "
    "row shows where the teacher looks (its <b>attention</b>, brighter = more).",
    "reconstruction": "The model squeezes each {noun} through a bottleneck (and some methods first <b>damage</b> "
    "it: noise, masks, hidden parts) and tries to <b>rebuild</b> the original. You see the input, what the model "
    "got when it differs, and the reconstruction. During training this updates live, so you can watch the "
    "reconstructions sharpen.",
    "prediction": "The model solves a <b>puzzle</b> made from each {noun} (e.g. which way it was rotated, how "
    "its tiles were shuffled, or which future comes next). Captions show how it did.",
    "forecast": "The model reads the start of each {noun} and <b>continues it</b> step by step on its own: the "
    "history, the true continuation (dashed) and the model's forecast. Captions compare its error with simply "
    "holding the last value.",
    "samples": "A <b>generator</b> draws new {plural} from random numbers; a discriminator learns to tell them "
    "from real ones. The first row shows real {plural}, the next rows what the generator draws from the "
    "<b>same random numbers</b> all run, so during training you watch the same drawings turn from noise "
    "into {plural}. The last row <b>morphs</b> from one drawing to another: smooth changes mean the generator "
    "learned a continuous space of {plural} rather than copies.",
}
# The Refresh button's tooltip for kinds other than views (else DEFAULT_REFRESH_TIP).
REFRESH_TIPS = {"samples": "Draw the generator's {plural} again from the current model."}
DEFAULT_REFRESH_TIP = "Run the current model on a few held-out {plural}."
# Text previews other than views: what the cards show (the model guesses words, continues text, or lists
# the words nearest to a few words), whatever the method calls its preview.
TEXT_EXPLAIN = (
    "The model plays a <b>word game</b> with a few held-out {plural}: it guesses the hidden words "
    "(with how sure it is), continues a prompt, or lists the words it thinks are closest to a word. "
    "During training this updates live, so you can watch its guesses get better."
)
# What a modality's augmentations change (for the "views" explanation); other modalities get DEFAULT_CHANGES.
VIEW_CHANGES = {
    "image": "crops, colours and blur",
    "series": "noise, scaling, time warps and crops",
    "table": "values swapped in from other rows and a little noise",
    "text": "masked, deleted and cropped words",
}
DEFAULT_CHANGES = "the random changes"
# How a payload type lays out one sample ("each column", "each plot").
UNITS = {"image_grid": "column", "signal": "plot", "table_rows": "block of rows", "token_text": "card"}
# Modalities whose trained model can be asked about what a person types (the Try-it box).
TRY_IT_FOR = {"text": True}
# The line shown while the user's own preview is kept instead of the live ones, by kind (else DEFAULT_KEPT).
KEPT = {"views": "Showing your new views; live views from training continue in the Train tab."}
DEFAULT_KEPT = "Showing your refreshed preview; live previews from training continue in the Train tab."


def compute_preview(config: RunConfig, run_dir: Path | None, seed: int) -> Any:
    """A preview of a few samples: the trained model of `run_dir` when given, else the untrained setup."""
    from ssl_core.eval.previews import preview_images

    return preview_images(run_dir if run_dir is not None else config, n=PREVIEW_COUNT, seed=seed)


class ViewsTab(QWidget):
    """Shows a Preview; `request` asks the main window to compute one for the current setup or run."""

    request = Signal()
    run_missing = Signal(object, str)  # run_dir, dialog title: its folder went away under the job

    def __init__(self, runner: JobRunner, parent: QWidget | None = None):
        super().__init__(parent)
        self.runner = runner
        self.kind = "views"
        self.worker: Worker | None = None
        self._blocked = False  # the app is busy (training, loading): see set_busy
        self._seed = 0
        self.last_step: int | None = None
        self.modality: Any = None  # of the data chosen in Setup (None: not known yet)
        # False once the user drew their own preview: live ones are then kept aside in _held, not drawn.
        self.following = True
        self._held: tuple[Any, int] | None = None  # the newest live preview not drawn, with its step
        self._asked = False  # the compute under way was asked for with the button

        self.explain = QLabel()
        self.explain.setObjectName("views_explain")
        self.explain.setWordWrap(True)
        self.explain.setProperty("role", "banner")
        self.button = QPushButton("New views")
        self.button.setObjectName("views_button")
        self.button.setProperty("role", "primary")
        self.button.clicked.connect(self._ask)
        self.status = QLabel("")
        self.status.setObjectName("views_status")
        self.status.setProperty("role", "muted")
        top = QHBoxLayout()
        top.addWidget(self.button)
        top.addWidget(self.status, 1)
        self.kept_note = QLabel("")
        self.kept_note.setObjectName("views_kept_note")
        self.kept_note.setProperty("role", "muted")
        self.kept_note.setWordWrap(True)
        self.follow_button = QPushButton("Follow training")
        self.follow_button.setObjectName("views_follow_button")
        self.follow_button.setToolTip("Show the live previews from training here again.")
        self.follow_button.clicked.connect(self.follow_training)
        kept = QHBoxLayout()
        kept.addWidget(self.kept_note, 1)
        kept.addWidget(self.follow_button)
        self.kept_row = QWidget()
        self.kept_row.setObjectName("views_kept_row")
        self.kept_row.setLayout(kept)
        kept.setContentsMargins(0, 0, 0, 0)

        self.preview = PreviewPanel(PREVIEW_COUNT)
        self.preview.setObjectName("views_preview")
        # Text only: type a sentence and see what the current run's checkpoint makes of it.
        self.try_it = TryItBox(runner)
        self.try_it.hide()

        layout = QVBoxLayout(self)
        layout.addWidget(self.explain)
        layout.addLayout(top)
        layout.addWidget(self.kept_row)
        layout.addWidget(self.try_it)
        layout.addWidget(self.preview, 1)
        self.set_kind("views")
        self._update_kept()

    def set_data_info(self, info: Any) -> None:
        """The data now chosen: its words ("series"), its preview's layout and its channel names."""
        from ssl_core.modalities import modality_of

        self.modality = modality_of(info)
        self.preview.set_channel_names((info.extra or {}).get("channel_names"))
        self.try_it.setVisible(TRY_IT_FOR.get(self.modality.name, False))
        self.try_it.forget()
        self.set_kind(self.kind)

    def explanation(self, kind: str) -> str:
        m = self.modality
        noun, name = (m.noun, m.name) if m is not None else ("sample", "")
        payload = m.preview_payload if m is not None else "image_grid"
        template = EXPLAIN.get(kind, EXPLAIN["views"])
        if payload == "token_text" and kind != "views":
            template = TEXT_EXPLAIN
        text = template.format(
            plural=m.plural if m is not None else "samples",
            noun=noun,
            unit=UNITS.get(payload, "column"),
            changes=VIEW_CHANGES.get(name, DEFAULT_CHANGES),
        )
        renderer = PREVIEW_RENDERERS.get(payload)
        hint = renderer.reading_hint.format(noun=noun) if renderer is not None else ""
        return f"{text} <span style='color:gray'>{hint}</span>" if hint else text

    def set_kind(self, kind: str) -> None:
        self.kind = kind
        self.explain.setText(self.explanation(kind))
        plural = self.modality.plural if self.modality is not None else "samples"
        self.button.setText("New views" if kind == "views" else "Refresh")
        self.button.setToolTip(
            f"Draw new random augmentations of the same {plural}."
            if kind == "views"
            else REFRESH_TIPS.get(kind, DEFAULT_REFRESH_TIP).format(plural=plural)
        )
        self._update_button()

    def set_busy(self, busy: bool) -> None:
        """The app is training or loading. New views can still be drawn; while training, a rebuild by
        an untrained model would mislead (reconstructions then come live from the trainer).
        Becoming busy means a run starts (or a saved one is opened): the tab follows training again."""
        if busy and not self._blocked:
            self._held = None  # the last run's
            self.follow_training()
        self._blocked = busy
        self._update_button()
        self._update_kept()

    def _update_button(self) -> None:
        self.button.setEnabled(self.worker is None and (not self._blocked or self.kind == "views"))

    def set_status(self, text: str) -> None:
        """A line next to the button, e.g. why no preview can be made for the current setup."""
        self.status.setText(text)

    def _ask(self) -> None:
        """The button: the preview it asks for (see compute) is the user's, kept over live ones."""
        self._asked = True
        try:
            self.request.emit()  # answered at once: the main window calls compute (or says why not)
        finally:
            self._asked = False

    def compute(self, config: RunConfig, run_dir: Path | None) -> Worker | None:
        if self.worker is not None:
            return None
        self._seed += 1
        asked = self._asked
        worker = Worker(compute_preview, config, run_dir, self._seed)
        worker.returned.connect(lambda p: self._computed(p, asked))
        worker.errored.connect(lambda exc, tb: self._failed(run_dir, exc, tb))
        worker.finished.connect(self._done)
        self.worker = worker
        self._update_button()
        self.status.setText("Computing…")
        return self.runner.start(worker, "preview")

    def _failed(self, run_dir: Path | None, exc: BaseException, tb: str) -> None:
        if run_is_gone(run_dir):
            self.run_missing.emit(run_dir, "Cannot make a preview")
        else:
            dialogs.show_error(self.window(), exc, tb, "Cannot make a preview")

    def _done(self) -> None:
        self.worker = None
        self._update_button()
        if self.status.text() == "Computing…":
            self.status.setText("")

    def _computed(self, preview: Any, asked: bool) -> None:
        if asked:  # the user's own draw: live previews from training no longer replace it
            self.following = False
        self._draw(preview, None)
        self._update_kept()

    def show_preview(self, preview: Any, step: int | None) -> None:
        """Draw a Preview; a live one from training (`step` given) only while the tab follows training,
        else it is kept aside for `follow_training`."""
        if step is not None and not self.following:
            self._held = (preview, step)
            self._update_kept()
            return
        self._draw(preview, step)

    def follow_training(self) -> None:
        """Draw live previews from training again, starting with the newest one kept aside."""
        self.following = True
        held, self._held = self._held, None
        if held is not None:
            self._draw(*held)
        self._update_kept()

    def _draw(self, preview: Any, step: int | None) -> None:
        """Draw a Preview with the renderer of its payload type (image rows, signal plots, ...)."""
        if preview.kind != self.kind:
            self.set_kind(preview.kind)
        self.preview.show_preview(preview)
        self.last_step = step
        self.status.setText(live_preview_caption(preview, step))

    def _update_kept(self) -> None:
        """The line about the user's own preview, shown while training goes on (or left one behind)."""
        keeping = not self.following and (self._blocked or self._held is not None)
        self.kept_note.setText(KEPT.get(self.kind, DEFAULT_KEPT))
        self.kept_row.setVisible(keeping)

    def renderer(self) -> Any:
        """The renderer on screen (None before the first preview)."""
        return self.preview.renderer

    def rows(self) -> list[str]:
        return self.preview.rows()

    def columns(self) -> int:
        return self.preview.columns()

    def captions(self, name: str) -> list[str]:
        return self.preview.captions(name)
