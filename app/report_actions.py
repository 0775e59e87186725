"""File > Export > Run report (HTML)… and the comparison report of two runs chosen in the Runs tab.

The report is made by the engine (ssl_core.report.write_report) in a worker: a run without an evaluation
is evaluated first, which can take a while, so a progress window with Cancel follows it and the GUI stays
responsive. The file is one HTML page with its pictures inside, to send to anyone (PDF through WeasyPrint
when that is installed)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QFileDialog, QMainWindow, QProgressDialog

from app import dialogs, exports
from app.workers import Worker

JOB = "report"
FILTERS = "HTML report (*.html);;PDF report (*.pdf)"
PROGRESS_STEPS = 1000


def report_file_name(runs: list[Path]) -> str:
    names = [Path(r).name for r in runs]
    return f"{names[0]}-report.html" if len(names) == 1 else f"{names[0]}-vs-{names[1]}-report.html"


class RunReporter(QObject):
    """Asks where, makes the report in a worker with a progress window, and says where it went."""

    def __init__(self, window: QMainWindow):
        super().__init__(window)
        self.window = window
        self.worker: Worker | None = None
        self.progress: QProgressDialog | None = None
        self.last_path: Path | None = None  # the newest report written (tests and the status bar)

    # ---- entry points --------------------------------------------------------------------------
    def export_current(self, path: str | Path | None = None) -> Worker | None:
        """The report of the run open in the window."""
        run = self.window.current_run
        if run is None:
            exports.nothing_to_export(
                self.window,
                "run reports",
                "Train a run, or open one from the Runs tab, then export its report.",
            )
            return None
        return self.export([run], path)

    def export_selected(self, path: str | Path | None = None) -> Worker | None:
        """The report of the run selected in the Runs tab, or the comparison of the two selected."""
        runs = self.window.runs_tab.selected_paths()
        if len(runs) not in (1, 2):
            dialogs.present(
                self.window, "user", "Select one or two runs",
                "Select one run in the Runs tab for its report, or two (Ctrl+click) to compare them, "
                "then choose the report again.",
            )  # fmt: skip
            return None
        return self.export(runs, path)

    def export(self, runs: list[Path], path: str | Path | None = None) -> Worker | None:
        """Ask where (unless `path` is given) and start making the report of `runs` in a worker."""
        from ssl_core.report import write_report

        if self.window.runner.running(JOB):
            self.window.statusBar().showMessage("A report is being made; wait for it to finish.", 5000)
            return None
        out = Path(path) if path else self._ask_path(runs)
        if out is None:
            return None
        worker = Worker(write_report, list(runs), out, inject=("progress", "cancel"))
        worker.progress.connect(self._show_progress)
        worker.returned.connect(self._saved)
        worker.errored.connect(
            lambda exc, tb: dialogs.show_error(self.window, exc, tb, "Cannot make the run report")
        )
        worker.aborted.connect(lambda: self.window.statusBar().showMessage("Run report cancelled.", 5000))
        worker.finished.connect(self._close_progress)
        self.worker = worker
        self._open_progress(worker, runs)
        return self.window.runner.start(worker, JOB)

    # ---- helpers (GUI thread) --------------------------------------------------------------------
    def _ask_path(self, runs: list[Path]) -> Path | None:
        start = exports.start_dir(self.window) / report_file_name(runs)
        title = "Export run report" if len(runs) == 1 else "Export comparison report"
        chosen, chosen_filter = QFileDialog.getSaveFileName(self.window, title, str(start), FILTERS)
        if not chosen:
            return None
        out = Path(chosen)
        if out.suffix.lower() not in (".html", ".htm", ".pdf"):
            out = out.with_name(out.name + (".pdf" if "PDF" in chosen_filter else ".html"))
        exports.remember_dir(self.window, out.parent)
        return out

    def _open_progress(self, worker: Worker, runs: list[Path]) -> None:
        what = runs[0].name if len(runs) == 1 else f"{runs[0].name} and {runs[1].name}"
        dialog = QProgressDialog(f"Making the report of {what}…", "Cancel", 0, PROGRESS_STEPS, self.window)
        dialog.setObjectName("report_progress")
        dialog.setWindowTitle("Run report")
        dialog.setWindowModality(Qt.WindowModality.NonModal)  # the workbench stays usable meanwhile
        dialog.setMinimumDuration(400)  # a report of an evaluated run is done before it would show
        dialog.setAutoClose(False)
        dialog.setAutoReset(False)
        dialog.canceled.connect(worker.quit)
        self.progress = dialog

    def _show_progress(self, fraction: float, message: str) -> None:
        from ssl_core.progress import progress_words

        if self.progress is not None:
            self.progress.setValue(int(fraction * PROGRESS_STEPS))
            self.progress.setLabelText(message or "Making the report…")
        self.window.statusBar().showMessage(f"Run report: {progress_words(message, fraction)}")

    def _close_progress(self) -> None:
        if self.progress is not None:
            self.progress.close()
            self.progress.deleteLater()
            self.progress = None
        self.worker = None

    def _saved(self, path: Path) -> None:
        self.last_path = Path(path)
        self.window.statusBar().showMessage(f"Saved the run report to {path}", 8000)
        dialogs.present(
            self.window, "info", "Run report saved",
            f"Saved {path}. It opens in any web browser, also on a phone, without the workbench; its pictures "
            "are inside the file, so it can be sent on its own.",
        )  # fmt: skip


def install_report(window) -> None:
    """Add the run report's export entries to `window` (a MainWindow): File > Export > Run report (HTML)…
    for the open run, Comparison report… for two runs selected in the Runs tab, and the Runs tab's
    Report… button."""
    reporter = RunReporter(window)
    window.reporter = reporter
    export_menu = window.menus["export"]
    export_menu.addSeparator()
    for key, text, tip, slot in (
        (
            "export_report",
            "Run report (HTML)…",
            "One web page about the open run (setup, curves, previews, map, few-label results, verdict) "
            "to open anywhere, also on a phone.",
            reporter.export_current,
        ),
        (
            "export_comparison_report",
            "Comparison report of two runs (HTML)…",
            "One web page comparing the two runs selected in the Runs tab.",
            reporter.export_selected,
        ),
    ):
        action = QAction(text, window)
        action.setObjectName(key)
        action.setToolTip(tip)
        action.setStatusTip(tip)
        action.triggered.connect(lambda _=False, fn=slot: fn())
        export_menu.addAction(action)
        window.actions[key] = action
    window.runs_tab.report_requested.connect(lambda runs: reporter.export(list(runs)))
