"""Fine-tune with few labels, on the Evaluate tab: the whole network (backbone and a new linear head) is
trained on a share of the labels, compared with the same fine-tuning from random weights and with the
linear probe, optionally with pseudo-labels or FixMatch; the job runs on a worker (`ssl_core.finetune`),
its results are saved as a run linked to this one and the classifier can be exported."""

from __future__ import annotations

import html
import logging
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app import dialogs, exports
from app.run_context import RunContext, run_is_gone
from app.tabs.run_jobs import RunJobTab
from app.widgets.finetune_form import FinetuneForm
from app.widgets.finetune_results import FinetuneResults, labels_words, summary
from app.workers import JobRunner, Worker

log = logging.getLogger(__name__)

EXPLAIN = (
    "Train the <b>whole network</b> (and a new last layer) on a few labels, then test it on held-out "
    "{plural}. Compared with the same training from random weights and with the linear probe."
)


def run_finetune(run_dir: Path, settings: Any, progress=None, cancel=None) -> dict[str, Any]:
    """The job: fine-tune, then read back every stored result of the run (for the chart's lines)."""
    from ssl_core.finetune import finetune_run, saved_finetune_results

    report = finetune_run(run_dir, settings, progress=progress, cancel=cancel).to_dict()
    return {"report": report, "saved": saved_finetune_results(run_dir)}


def export_files(finetune_run_dir: Path, path: Path) -> list[Path]:
    """The export job: the state_dict file, and the TorchScript file next to it when the network traced."""
    from ssl_core.finetune import export_classifier, torchscript_path

    out = export_classifier(finetune_run_dir, path)
    scripted = torchscript_path(out)
    return [out, scripted] if scripted.is_file() else [out]


def saved_results(run_dir: Path) -> list[dict[str, Any]]:
    """The fine-tuning results stored for a run (none for a run that is itself a fine-tuning)."""
    from ssl_core.finetune import is_finetune_run, saved_finetune_results

    try:
        return [] if is_finetune_run(run_dir) else list(saved_finetune_results(run_dir))
    except Exception:  # noqa: BLE001 - a damaged results file must not stop the tab from showing the run
        log.warning("Cannot read the fine-tuning results of %s", run_dir, exc_info=True)
        return []


class FinetunePanel(RunJobTab, QWidget):
    """The fine-tuning form, its job and its results for the run `set_run` shows."""

    busy_changed = Signal(bool)
    results_changed = Signal(object)  # the run's stored results (list of dicts), for the chart
    finetuned = Signal(object)  # the finished job's report (dict)
    run_missing = Signal(object, str)  # run_dir, dialog title: its folder went away under the job
    exported = Signal(object)  # the classifier's saved file(s)

    def __init__(self, runner: JobRunner, parent: QWidget | None = None):
        super().__init__(parent)
        self.runner = runner
        self.run_dir: Path | None = None
        self.context: RunContext | None = None
        self.worker: Worker | None = None
        self.exporter: Worker | None = None
        self.report: dict[str, Any] | None = None
        self.results: list[dict[str, Any]] = []
        self.parent_name: str | None = None  # the shown run is a fine-tuning of this run
        # What the form does not show (learning rates, patience, seeds, ...): the engine's defaults, read
        # when the first run is shown (the engine, PyTorch, is not imported while the window is built).
        self.defaults = None

        self.explain = QLabel(EXPLAIN.format(plural="samples"))
        self.explain.setWordWrap(True)
        self.explain.setProperty("role", "muted")
        self.form = FinetuneForm()

        self.button = QPushButton("Fine-tune")
        self.button.setObjectName("finetune_button")
        self.button.setProperty("role", "primary")
        self._button_tip = "Fine-tune the run's network on the chosen labels (saved as a run linked to it)."
        self.button.clicked.connect(self.start)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setObjectName("finetune_cancel")
        self.cancel_button.clicked.connect(self.cancel)
        self.cancel_button.hide()
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.hide()
        buttons = QHBoxLayout()
        buttons.setContentsMargins(0, 0, 0, 0)
        buttons.addWidget(self.button)
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.progress, 1)
        self.status = QLabel("")
        self.status.setObjectName("finetune_status")
        self.status.setWordWrap(True)
        self.status.setTextFormat(Qt.TextFormat.RichText)
        self.table = FinetuneResults()
        self.export_button = QPushButton("Export classifier…")
        self.export_button.setObjectName("finetune_export")
        self.export_button.clicked.connect(lambda: self.export_classifier())

        layout = QVBoxLayout(self)
        layout.addWidget(self.explain)
        layout.addWidget(self.form)
        layout.addLayout(buttons)
        layout.addWidget(self.status)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.export_button)
        self._update_controls()

    # ---- state ---------------------------------------------------------------------------------
    @property
    def busy(self) -> bool:
        return self.worker is not None

    def set_run(self, run_dir: Path | None, context: RunContext | None) -> None:
        """Show the run's stored fine-tuning results (none yet: say what the button does)."""
        self.cancel()
        if run_dir is not None:
            self._engine_defaults()
        self.run_dir, self.context = run_dir, context
        self.report = None
        self.parent_name = _parent_of(run_dir) if run_dir is not None else None
        plural = context.plural if context is not None else "samples"
        self.explain.setText(EXPLAIN.format(plural=html.escape(plural)))
        self._show_results(saved_results(run_dir) if run_dir is not None else [])
        self.status.setText(self._idle_text())
        self._update_controls()

    def _idle_text(self) -> str:
        if self.run_dir is None or self.context is None:
            return ""
        if self.parent_name is not None:
            return (
                f"This run is a fine-tuned classifier of run {html.escape(self.parent_name)}: export it below. "
                "To fine-tune again, open that run (its results are drawn there)."
            )
        if not self.context.has_checkpoint or self.context.training:
            return self.context.no_model_text("fine-tune")
        if self.results:
            return "Fine-tuning results of this run, also drawn on the linear probe's chart."
        return "No fine-tuning yet: pick the labels and press Fine-tune."

    def _engine_defaults(self):
        """The engine's FinetuneSettings defaults, shown in the form the first time."""
        if self.defaults is None:
            from ssl_core.finetune import FinetuneSettings

            self.defaults = FinetuneSettings()
            self.form.show_defaults(self.defaults)
        return self.defaults

    def settings(self):
        """The form's settings over the engine's defaults, checked: a UserError names a wrong field."""
        return self.form.settings(self._engine_defaults())

    def can_start(self) -> bool:
        c = self.context
        ok = c is not None and c.has_checkpoint and not c.training and self.parent_name is None
        return ok and self.worker is None

    def why_disabled(self) -> str:
        if self.parent_name is not None and not self._blocked:
            return f"This run is already a fine-tuning: open its parent run {self.parent_name} to fine-tune."
        return super().why_disabled()

    def _update_controls(self) -> None:
        self.show_enabled(self.button, self.can_start(), self._button_tip)
        self.form.setEnabled(self.worker is None)
        ready = self.exportable() is not None and self.exporter is None
        self.export_button.setEnabled(ready)
        self.export_button.setToolTip(
            "Save the fine-tuned classifier (network and head) as a PyTorch state_dict with the class "
            "names, and as TorchScript where the network allows it."
            if ready
            else "Nothing to export yet: fine-tune the run first."
        )

    # ---- the job ---------------------------------------------------------------------------------
    def start(self) -> Worker | None:
        if self.run_dir is None or not self.can_start():
            return None
        self.form.mark_problem(None, "")
        try:
            settings = self.settings()
        except Exception as exc:  # noqa: BLE001 - a UserError names its field: marked, and said in a dialog
            self.form.mark_problem(getattr(exc, "field", None), str(exc))
            dialogs.show_error(self.window(), exc, title="Cannot fine-tune with these settings")
            return None
        run_dir = self.run_dir
        worker = Worker(run_finetune, run_dir, settings, inject=("progress", "cancel"))
        worker.progress.connect(self._progress)
        worker.returned.connect(lambda result: self._finished(run_dir, result))
        worker.errored.connect(lambda exc, tb: self._failed(run_dir, exc, tb))
        worker.aborted.connect(lambda: self._aborted(run_dir))
        worker.finished.connect(self._done)
        self.worker = worker
        self.progress.setValue(0)
        self.progress.setFormat("Starting…")
        self.progress.show()
        self.cancel_button.show()
        self.status.setText(f"Fine-tuning with {labels_words(settings.labels)}…")
        self.busy_changed.emit(True)
        self.runner.start(worker, "finetune")
        self._update_controls()
        return worker

    def cancel(self) -> None:
        if self.worker is not None:
            self.worker.quit()

    def _progress(self, fraction: float, message: str) -> None:
        """The bar shows the share of the whole job done; the line under it what the job is doing (too long
        for the bar, and its own percentages, validation accuracy, would read as progress there)."""
        self.progress.setValue(int(fraction * 1000))
        self.progress.setFormat(f"{fraction:.0%}")
        self.status.setText(html.escape(message))

    def _finished(self, run_dir: Path, result: dict[str, Any]) -> None:
        if run_dir != self.run_dir:  # saved with its run; never drawn under another run's name
            log.info("Dropping the fine-tuning of %s: %s is shown now", run_dir, self.run_dir)
            return
        self.report = result["report"]
        self._show_results(result["saved"])
        self.status.setText(summary(self.report, self.context.plural if self.context else "samples"))
        self.finetuned.emit(self.report)

    def _failed(self, run_dir: Path, exc: BaseException, tb: str) -> None:
        if run_is_gone(run_dir):
            self.run_missing.emit(run_dir, "Cannot fine-tune")
        else:
            dialogs.show_error(self.window(), exc, tb, f"Cannot fine-tune {run_dir.name}")
        if run_dir == self.run_dir:
            self.status.setText(self._idle_text())

    def _aborted(self, run_dir: Path) -> None:
        if run_dir == self.run_dir:
            self.status.setText("Fine-tuning cancelled: nothing was saved.")

    def _done(self) -> None:
        self.worker = None
        self.progress.hide()
        self.cancel_button.hide()
        self.busy_changed.emit(False)
        self._update_controls()

    # ---- results ---------------------------------------------------------------------------------
    def _show_results(self, results: list[dict[str, Any]]) -> None:
        """The stored results in the table, and to the chart."""
        self.results = list(results)
        self.table.show_results(self.results)
        self.results_changed.emit(self.results)

    # ---- export ----------------------------------------------------------------------------------
    def exportable(self) -> Path | None:
        """The fine-tuned run to export: the shown one if it is a fine-tuning, the last job's, else the
        newest stored one."""
        if self.parent_name is not None:
            return self.run_dir
        if self.report is not None and self.report.get("run_dir"):
            return Path(self.report["run_dir"])
        stored = sorted((str(e.get("created", "")), e["run_dir"]) for e in self.results if e.get("run_dir"))
        return Path(stored[-1][1]) if stored else None

    def export_classifier(self, path: str | Path | None = None) -> Worker | None:
        """Ask where (unless `path` is given) and save the fine-tuned classifier on a worker."""
        source = self.exportable()
        if source is None:
            exports.nothing_to_export(self, "fine-tuned classifiers", "Fine-tune the run first.")
            return None
        if path is None:
            start = exports.start_dir(self) / f"{source.name}-classifier.pt"
            chosen, _ = QFileDialog.getSaveFileName(
                self, "Export the fine-tuned classifier", str(start), "PyTorch state_dict (*.pt)"
            )
            if not chosen:
                return None
            path = Path(chosen) if chosen.endswith(".pt") else Path(f"{chosen}.pt")
            exports.remember_dir(self, path.parent)
        worker = Worker(export_files, source, Path(path))
        worker.returned.connect(self._exported)
        worker.errored.connect(
            lambda exc, tb: dialogs.show_error(self.window(), exc, tb, "Cannot export the classifier")
        )
        worker.finished.connect(self._export_done)
        self.exporter = worker
        self.runner.start(worker, "export classifier")
        self._update_controls()
        return worker

    def _exported(self, written: list[Path]) -> None:
        names = " and ".join(str(p) for p in written)
        self.status.setText(f"Saved the fine-tuned classifier to {html.escape(names)}.")
        self.exported.emit(written)
        window = self.window()
        if hasattr(window, "statusBar"):
            window.statusBar().showMessage(f"Saved the fine-tuned classifier to {names}", 8000)

    def _export_done(self) -> None:
        self.exporter = None
        self._update_controls()


def _parent_of(run_dir: Path) -> str | None:
    """The parent run's name when `run_dir` is a fine-tuning (its summary says), else None."""
    from ssl_core.finetune import is_finetune_run
    from ssl_core.runs.store import read_summary

    try:
        return str(read_summary(run_dir).get("parent") or "?") if is_finetune_run(run_dir) else None
    except Exception:  # noqa: BLE001 - an unreadable summary: treated as an ordinary run
        return None
