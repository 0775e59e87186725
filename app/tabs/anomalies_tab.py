"""Anomalies: which samples the trained model finds unusual, and how well that matches the labels.

Every sample gets a score (the method's reconstruction error, or its distance to the nearest normal
training samples); samples above a threshold are flagged. The threshold is set by a rule on calibration
samples (a contamination rate, a percentile, or a fixed value) or by dragging it on the histogram; the
counts, precision, recall and F1 on the test samples follow live. ROC and PR curves compare the method
with IsolationForest, LOF and PCA on the raw input; the top-scoring samples are shown in their own form;
the flagged list can be exported as CSV. The evaluation runs on a worker (app/anomalies.py).
"""

from __future__ import annotations

import html
import logging
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from app import dialogs, exports
from app.anomalies import (
    AnomalyView,
    evaluate_run,
    has_saved_result,
    saved_view,
    threshold_for,
    write_flagged,
)
from app.run_context import RunContext, run_context, run_is_gone
from app.tabs.run_jobs import RunJobTab
from app.widgets.anomaly_histogram import AnomalyHistogram
from app.widgets.roc_pr import RocPrCurves
from app.widgets.threshold_rule import ThresholdRuleBox
from app.widgets.top_anomalies import TopAnomalies
from app.workers import JobRunner, Worker
from ssl_core.errors import UserError

log = logging.getLogger(__name__)

EXPLAIN = (
    "Which {plural} does the trained model find <b>unusual</b>? Each gets an <b>anomaly score</b> ({kind}); "
    "those above the <b>threshold</b> are flagged. The threshold is set on held-out <i>calibration</i> "
    "{plural} without looking at labels, and judged on separate <i>test</i> {plural}: drag it on the "
    "histogram to trade missed anomalies for false alarms. The curves compare the model with classic "
    "detectors on the raw input."
)
NO_LABELS = (
    "This run's data has no labels, so nothing says which {plural} really are anomalies: there is nothing "
    "to measure precision, recall or the curves against. The histogram shows the scores, the threshold "
    "still flags {plural}, and the flagged list can be exported. To measure detection, use data with a "
    "label column and choose its normal classes in Setup."
)
ONE_CLASS = (
    "Every test {noun} belongs to the same group (all normal, or all anomalous), so detection cannot be "
    "measured: no precision, recall or curves. Choose the normal classes in Setup so that the others count "
    "as anomalies."
)


class AnomaliesTab(RunJobTab, QWidget):
    busy_changed = Signal(bool)
    evaluated = Signal(object)  # AnomalyView
    exported = Signal(str)  # a line for the status bar: what was saved where
    run_missing = Signal(object, str)  # run_dir, dialog title: its folder went away under a job

    def __init__(self, runner: JobRunner, parent: QWidget | None = None):
        super().__init__(parent)
        self.runner = runner
        self.run_dir: Path | None = None
        self.context: RunContext | None = None
        self.view: AnomalyView | None = None
        self.worker: Worker | None = None
        self.export_worker: Worker | None = None
        self._blocked = False

        self.explain = QLabel(EXPLAIN.format(plural="samples", kind="how badly the model rebuilds it"))
        self.explain.setObjectName("anomaly_explain")
        self.explain.setWordWrap(True)
        self.explain.setProperty("role", "banner")
        self.button = QPushButton("Evaluate anomalies")
        self.button.setObjectName("anomaly_button")
        self.button.setProperty("role", "primary")
        self._button_tip = (
            "Score every sample with the run's model and measure detection (saved with the run)."
        )
        self.button.setToolTip(self._button_tip)
        self.button.clicked.connect(self.evaluate)
        self.rule_box = ThresholdRuleBox()
        self.rule_box.edited.connect(self.apply_rule)
        self.export_button = QPushButton("Export flagged…")
        self.export_button.setObjectName("export_flagged")
        self.export_button.setToolTip(
            "Save the samples scoring above the threshold as CSV: index (and id), score, flag, the part of "
            "the data each came from and its label, highest score first."
        )
        self.export_button.clicked.connect(lambda: self.export_flagged())
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self.cancel)
        self.cancel_button.hide()
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.hide()
        controls = QHBoxLayout()
        controls.addWidget(self.button)
        controls.addSpacing(12)
        controls.addWidget(self.rule_box)
        controls.addWidget(self.export_button)
        controls.addWidget(self.progress, 1)
        controls.addWidget(self.cancel_button)
        controls.addStretch(0)

        self.run_caption = QLabel("")
        self.run_caption.setObjectName("anomaly_run")
        self.run_caption.setWordWrap(True)
        self.run_caption.setTextFormat(Qt.TextFormat.RichText)
        self.run_caption.setProperty("role", "muted")
        self.headline = QLabel("")
        self.headline.setObjectName("anomaly_headline")
        self.headline.setWordWrap(True)
        self.headline.setTextFormat(Qt.TextFormat.RichText)

        self.histogram = AnomalyHistogram()
        self.histogram.setObjectName("anomaly_histogram")
        self.histogram.threshold_changed.connect(self._dragged)
        self.histogram.metrics_changed.connect(self._metrics_changed)
        self.curves = RocPrCurves()
        self.curves.setObjectName("roc_pr")
        self.top = TopAnomalies()
        self.top.setObjectName("top_anomalies")
        self.top_title = QLabel("<b>Highest scores</b>")
        top_box = QWidget()
        top_layout = QVBoxLayout(top_box)
        top_layout.setContentsMargins(0, 4, 0, 0)
        top_layout.addWidget(self.top_title)
        top_layout.addWidget(self.top, 1)
        upper = QSplitter(Qt.Orientation.Horizontal)
        upper.addWidget(self.histogram)
        upper.addWidget(self.curves)
        upper.setSizes([640, 760])  # the histogram is the one to drag on: give it room
        upper.setChildrenCollapsible(False)
        results = QSplitter(Qt.Orientation.Vertical)
        results.addWidget(upper)
        results.addWidget(top_box)
        results.setChildrenCollapsible(False)
        results.setSizes([520, 380])  # scaled to the space it gets: the table keeps ~40% of the height
        self.top.setMinimumHeight(150)
        self.empty = QLabel("")
        self.empty.setObjectName("anomaly_empty")
        self.empty.setWordWrap(True)
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty.setProperty("role", "muted")
        self.empty.setMargin(40)
        self.pages = QStackedWidget()
        self.pages.addWidget(self.empty)
        self.pages.addWidget(results)
        self.results_page = results

        layout = QVBoxLayout(self)
        layout.addWidget(self.explain)
        layout.addLayout(controls)
        layout.addWidget(self.run_caption)
        layout.addWidget(self.headline)
        layout.addWidget(self.pages, 1)
        self.set_run(None, reload=True)

    # ---- state -------------------------------------------------------------------------------
    @property
    def busy(self) -> bool:
        return self.worker is not None

    def threshold(self) -> float | None:
        return self.histogram.threshold() if self.view is not None else None

    def empty_text(self) -> str:
        """The explanation shown instead of results ("" when results are shown)."""
        return self.empty.text() if self.pages.currentWidget() is self.empty else ""

    def set_run(self, run_dir: Path | None, reload: bool = False) -> None:
        """Show the run's saved anomaly results (read on a worker), if any. `reload`: the run changed."""
        if run_dir == self.run_dir and not reload:
            return
        self.cancel()
        self.run_dir = run_dir
        self.view = None
        self.context = run_context(run_dir) if run_dir is not None else None
        self._words()
        self._show_caption()
        self.headline.setText("")
        self.top.clear_samples()
        if run_dir is None:
            self._show_empty(
                "No run is open.\n\nTrain a model (Setup, then Start training) or open a run from the Runs "
                "tab; then press Evaluate anomalies to see which samples it finds unusual."
            )
        elif not self.context.has_checkpoint or self.context.training:
            self._show_empty(self.context.no_model_text("score samples with"))
        else:
            self._show_empty(
                f"Press Evaluate anomalies to score every {self._noun()} with this run's model, set a "
                "threshold on held-out samples and compare with IsolationForest, LOF and PCA."
            )
            if has_saved_result(run_dir):  # a stat, not a worker: a run without results is never locked
                # Its own job name: reading saved results is not work a person started, so quitting does not ask.
                reader = Worker(saved_view, run_dir, inject=("progress", "cancel"))
                self._start(reader, "Reading saved results…", job="anomalies_saved")
        self._update_controls()

    def _noun(self) -> str:
        return self.context.noun if self.context is not None else "sample"

    def _plural(self) -> str:
        return self.context.plural if self.context is not None else "samples"

    def _words(self) -> None:
        kind = "how badly the model rebuilds it, or how far it is from the normal training samples"
        if self.view is not None:
            kind = str(self.view.result.score_kind)
        self.explain.setText(EXPLAIN.format(plural=html.escape(self._plural()), kind=html.escape(kind)))

    def _show_caption(self) -> None:
        self.run_caption.setText(
            f"Results for {self.context.title_html()}" if self.context is not None else ""
        )

    def _show_empty(self, text: str) -> None:
        self.empty.setText(text)
        self.pages.setCurrentWidget(self.empty)

    # ---- jobs --------------------------------------------------------------------------------
    def evaluate(self) -> Worker | None:
        if self.run_dir is None or self.worker is not None:
            return None
        rule, value = self.rule_box.setting()
        worker = Worker(evaluate_run, self.run_dir, rule, value, inject=("progress", "cancel"))
        return self._start(worker, "Starting…")

    def _start(self, worker: Worker, text: str, job: str = "anomalies") -> Worker:
        run_dir = self.run_dir
        worker.progress.connect(self._progress)
        worker.returned.connect(lambda view: self._loaded(run_dir, view))
        worker.errored.connect(lambda exc, tb: self._failed(run_dir, exc, tb))
        worker.finished.connect(lambda: self._done(worker))
        self.worker = worker
        self.progress.setValue(0)
        self.progress.setFormat(text)
        self.progress.show()
        self.cancel_button.show()
        self.busy_changed.emit(True)
        self.runner.start(worker, job)
        self._update_controls()
        return worker

    def cancel(self) -> None:
        if self.worker is not None:
            self.worker.quit()

    def _failed(self, run_dir: Path | None, exc: BaseException, tb: str) -> None:
        if run_is_gone(run_dir):
            self.run_missing.emit(run_dir, "Cannot detect anomalies")
        elif run_dir == self.run_dir:
            name = run_dir.name if run_dir is not None else "this run"
            dialogs.show_error(self.window(), exc, tb, f"Cannot detect anomalies with {name}")

    def _done(self, worker: Worker) -> None:
        if worker is not self.worker:  # a cancelled job of a run shown before: the current one goes on
            return
        self.worker = None
        self.progress.hide()
        self.cancel_button.hide()
        self.busy_changed.emit(False)
        self._update_controls()

    def _update_controls(self) -> None:
        ready = self.context is not None and self.context.has_checkpoint and self.worker is None
        self.show_enabled(self.button, ready, self._button_tip)
        self.export_button.setEnabled(self.view is not None and self.export_worker is None)

    # ---- showing results ---------------------------------------------------------------------
    def _loaded(self, run_dir: Path, view: AnomalyView | None) -> None:
        if run_dir != self.run_dir:  # finished as another run was chosen: saved with its run, not drawn
            log.info("Dropping the anomaly results of %s: %s is shown now", run_dir, self.run_dir)
            return
        if view is not None:
            self.show_view(view)

    def show_view(self, view: AnomalyView) -> None:
        self.view = view
        r = view.result
        self._words()
        self.rule_box.show_rule(r.threshold_rule, r.threshold_param)
        self.histogram.set_score_name(str(r.score_kind))
        truth = view.test_truth
        self.histogram.set_scores(view.test_scores, truth, float(r.threshold))
        if truth is not None:
            self.curves.set_curves(view.curves, view.prevalence)
        else:
            reason = NO_LABELS if r.is_anomaly is None else ONE_CLASS
            self.curves.show_message(reason.format(plural=self._plural(), noun=self._noun()))
        if view.top is not None:
            self.top.set_samples(view.top, float(r.threshold))
        self.top_title.setText(
            f"<b>Highest scores</b> — the {len(view.top.rows) if view.top else 0} most unusual {self._plural()} "
            "of the whole data set; flagged: above the threshold"
        )
        self.pages.setCurrentWidget(self.results_page)
        self._metrics_changed(self.histogram.metrics)
        self._update_controls()
        self.evaluated.emit(view)

    def _headline(self) -> str:
        r = self.view.result
        n_test, anomalies = (
            len(r.test_idx),
            int(self.view.test_truth.sum()) if self.view.test_truth is not None else 0,
        )
        plural = html.escape(self._plural())
        title = html.escape(str(r.method_title or r.method))
        if self.view.test_truth is None:
            why = "no labels" if r.is_anomaly is None else "one group only"
            return f"<b>{title}</b> scores {len(r.scores):,} {plural}; {n_test:,} test {plural} ({why}: no detection metrics)."
        main = r.metrics.get(r.method, {})
        text = f"<b>{title}</b>: "
        text += _metric("ROC-AUC", main.get("roc_auc"), r.metrics_std.get(r.method, {}).get("roc_auc"), True)
        text += " · " + _metric("AP", main.get("average_precision"), None, True)
        others = [
            f"{html.escape(name)} {m['roc_auc']:.3f}"
            for name, m in r.metrics.items()
            if name != r.method and m.get("roc_auc") is not None
        ]
        if others:
            text += f" &nbsp;(ROC-AUC of {', '.join(others)})"
        seeds = len(r.seeds) if getattr(r, "seeds", None) else 1
        text += (
            f"<br><span style='color:gray'>{n_test:,} test {plural}, {anomalies:,} of them anomalies; "
            f"mean of {seeds} calibration/test split{'s' if seeds != 1 else ''}; the plots show the first.</span>"
        )
        return text

    def _metrics_changed(self, metrics: dict[str, Any] | None) -> None:
        if self.view is None:
            return
        self.headline.setText(self._headline())
        t = self.histogram.threshold()
        self.rule_box.threshold = t
        self.top.set_threshold(t)
        if metrics is None:
            self.curves.set_operating_point(None, None, None, None)
            return
        negatives = metrics["fp"] + metrics["tn"]
        fpr = metrics["fp"] / negatives if negatives else 0.0
        flagged = metrics["tp"] + metrics["fp"]
        self.curves.set_operating_point(
            fpr, metrics["recall"], metrics["recall"], metrics["precision"] if flagged else None
        )

    # ---- the threshold -----------------------------------------------------------------------
    def set_rule(self, rule: str, value: float) -> float | None:
        """Choose a rule and its parameter as the controls show it (contamination in percent) and apply it."""
        self.rule_box.show_rule(rule, value / 100.0 if rule == "contamination" else value)
        return self.apply_rule()

    def apply_rule(self) -> float | None:
        """Set the threshold by the chosen rule on the calibration scores (no re-evaluation)."""
        if self.view is None:
            return None
        rule, value = self.rule_box.setting()
        try:
            threshold = threshold_for(self.view, rule, value)
        except UserError as exc:
            dialogs.show_error(self.window(), exc, title="Cannot set this threshold")
            return None
        self.histogram.set_threshold(threshold)
        return threshold

    def _dragged(self, value: float) -> None:
        """The line was dragged: the threshold is now a fixed value, shown in the controls."""
        self.rule_box.show_rule("value", value)

    # ---- export ------------------------------------------------------------------------------
    def export_flagged(self, path: str | None = None) -> Worker | None:
        if self.view is None or self.export_worker is not None:
            return None
        if path is None:
            start = f"{self.view.run_dir.name}-flagged.csv"
            path = exports.ask_save_path(self, "Export flagged samples", start, "csv")
            if path is None:
                return None
        worker = Worker(write_flagged, Path(path), self.view, self.histogram.threshold())
        worker.returned.connect(self._exported)
        worker.errored.connect(lambda exc, tb: self._export_failed(Path(path), exc, tb))
        worker.finished.connect(self._export_done)
        self.export_worker = worker
        self._update_controls()
        return self.runner.start(worker, "export")

    def _exported(self, out: tuple[Path, int]) -> None:
        path, count = out
        self.exported.emit(f"Saved {count:,} flagged {self._plural()} to {path}")

    def _export_failed(self, path: Path, exc: BaseException, tb: str) -> None:
        if isinstance(exc, OSError):
            exc = UserError(
                f"Cannot write {path}: {exc.strerror or exc}. Choose another folder or file name."
            )
        dialogs.show_error(self.window(), exc, tb, "Cannot export the flagged list")

    def _export_done(self) -> None:
        self.export_worker = None
        self._update_controls()


def _metric(name: str, mean: float | None, std: float | None, bold: bool) -> str:
    if mean is None:
        return f"{name} –"
    text = f"{mean:.3f}" + (f" ± {std:.3f}" if std is not None and std >= 0.0005 else "")
    return f"{name} <b>{text}</b>" if bold else f"{name} {text}"
