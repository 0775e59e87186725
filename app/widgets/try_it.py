"""The Views tab's "Try it" box for text: type a sentence with [MASK], a prompt, or one word, and see what
the current run's latest checkpoint makes of it (ssl_core/eval/try_text.py `try_text`), drawn by the
same renderer as the live previews (app/widgets/text_preview.py).

The model is loaded and asked on a worker thread (app/workers.py); the GUI thread never waits. The loaded
run is kept and reused while its checkpoint file is unchanged, so a second try answers at once, and a
checkpoint written by training meanwhile is picked up on the next try. Mistakes a person can make (an
empty sentence, a method that cannot answer) come back as a UserError and are shown in words under the
box; only bugs open the error dialog.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QLineEdit, QPushButton, QVBoxLayout, QWidget

from app import dialogs
from app.theme import current_colors
from app.widgets.text_preview import TextPreview
from app.workers import JobRunner, Worker

HINT = "Type a sentence with [MASK], a prompt, or one word"
TOP_K = 5


def checkpoint_key(run_dir: Path) -> tuple[str, int, int] | None:
    """Which checkpoint a loaded run came from: (path, modified time, size); None when there is none."""
    from ssl_core.runs.store import RunPaths

    path = RunPaths(Path(run_dir)).checkpoint
    try:
        stat = path.stat()
    except OSError:
        return None
    return str(path), stat.st_mtime_ns, stat.st_size


def ask_model(run_dir: Path, text: str, k: int, cached: tuple[Any, Any] | None) -> tuple[Any, Any, list]:
    """(key, loaded run, rows): the run's latest checkpoint asked about `text` (runs on a worker thread).
    `cached` is a (key, loaded run) from an earlier try, reused when the checkpoint is still the same."""
    from ssl_core.errors import UserError
    from ssl_core.eval.try_text import try_text
    from ssl_core.runs.store import load_run

    key = checkpoint_key(run_dir)
    if key is None:
        raise UserError(
            f"The run {Path(run_dir).name} has no checkpoint yet: train it for a few steps first."
        )
    if cached is not None and cached[0] == key:
        run = cached[1]
    else:
        run = load_run(run_dir)
    return key, run, list(try_text(run.method, text, k=k))


class TryItBox(QWidget):
    """A line edit and a button; the answer's rows below, errors in words. `answered(rows)` after each."""

    answered = Signal(list)

    def __init__(self, runner: JobRunner, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("try_it")
        self.runner = runner
        self.worker: Worker | None = None
        self._run_provider: Callable[[], Path | None] = self._window_run
        self._cached: tuple[Any, Any] | None = None  # (checkpoint key, LoadedRun)
        self.title = QLabel("<b>Try it</b> — ask the trained model")
        self.edit = QLineEdit()
        self.edit.setObjectName("try_it_text")
        self.edit.setPlaceholderText(HINT)
        self.edit.setToolTip(
            "<p>A sentence with [MASK] where a word is missing: the model's top guesses for each blank. "
            "A prompt: how a next-token model continues it. One word: its nearest words.</p>"
        )
        self.edit.setClearButtonEnabled(True)
        self.edit.returnPressed.connect(self.try_text)
        self.button = QPushButton("Try it")
        self.button.setObjectName("try_it_button")
        self.button.clicked.connect(self.try_text)
        self.status = QLabel("")
        self.status.setObjectName("try_it_status")
        self.status.setWordWrap(True)
        self.status.setProperty("role", "muted")
        self.result = TextPreview(max_samples=4, label="Your text —")
        self.result.setObjectName("try_it_result")
        self.result.setMinimumHeight(190)
        self.result.hide()
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.title)
        row.addWidget(self.edit, 1)
        row.addWidget(self.button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(row)
        layout.addWidget(self.status)
        layout.addWidget(self.result)

    # ---- where the model comes from ------------------------------------------------------------------
    def set_run_provider(self, provider: Callable[[], Path | None]) -> None:
        """How to find the run to ask (the main window's current run)."""
        self._run_provider = provider

    def _window_run(self) -> Path | None:
        run = getattr(self.window(), "current_run", None)
        return Path(run) if run is not None else None

    def run_dir(self) -> Path | None:
        return self._run_provider()

    # ---- asking ------------------------------------------------------------------------------------
    def try_text(self, text: str | None = None) -> Worker | None:
        """Ask the current run about `text` (the box's text by default); returns the worker, or None when
        there is nothing to ask (the reason is shown under the box)."""
        if text is not None:
            self.edit.setText(text)
        text = self.edit.text().strip()
        if self.worker is not None:
            return None
        if not text:
            self._say(f"{HINT}.", error=True)
            return None
        run_dir = self.run_dir()
        if run_dir is None:
            self._say("Train a model (or open a run) first: the box asks its latest checkpoint.", error=True)
            return None
        worker = Worker(ask_model, Path(run_dir), text, TOP_K, self._cached)
        worker.returned.connect(self._answered)
        worker.errored.connect(self._failed)
        worker.finished.connect(self._done)
        self.worker = worker
        self.button.setEnabled(False)
        self._say("Asking the model…")
        return self.runner.start(worker, "try_it")

    def _answered(self, result: tuple[Any, Any, list]) -> None:
        key, run, rows = result
        self._cached = (key, run)
        step = getattr(run, "step", None)
        self._say(f"The model at step {step:,}." if isinstance(step, int) else "")
        self.result.set_rows(rows)
        self.result.setVisible(bool(rows))
        if not rows:
            self._say("The model had nothing to say about this text.", error=True)
        self.answered.emit(rows)

    def _failed(self, exc: BaseException, tb: str) -> None:
        from ssl_core.errors import UserError

        if isinstance(exc, UserError):
            self._say(str(exc), error=True)
        else:
            self._say("Something went wrong; see the message.", error=True)
            dialogs.show_error(self.window(), exc, tb, "Cannot try this text")

    def _done(self) -> None:
        self.worker = None
        self.button.setEnabled(True)

    def _say(self, text: str, error: bool = False) -> None:
        colour = current_colors().bad if error else current_colors().muted
        self.status.setStyleSheet(f"color: {colour}")
        self.status.setText(text)

    def forget(self) -> None:
        """Drop the loaded model (another run or other data was chosen) and the last answer."""
        self._cached = None
        self.result.set_rows([])
        self.result.hide()
        self.status.setText("")

    def error_text(self) -> str:
        return self.status.text()
