"""Evaluate: linear probe and kNN on frozen features at 1/10/100% of the labels, compared with the same
network at random initialisation and with the raw input (pixels, series values: the report names it);
plus the confusion matrix of the probe."""

from __future__ import annotations

import html
import logging
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QMenu,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QSplitter,
    QTabWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app import dialogs, exports
from app.run_context import RunContext, run_context, run_is_gone
from app.tabs.finetune_panel import FinetunePanel
from app.tabs.run_jobs import RunJobTab
from app.theme import series_color
from app.widgets.confusion import ConfusionMatrix
from app.widgets.curves import follow_theme, readable_axes, set_axis_label
from app.widgets.finetune_chart import FinetuneLines
from app.widgets.legend_bar import LegendBar
from app.workers import JobRunner, Worker

log = logging.getLogger(__name__)

# Feature sets in drawing order, with the titles shown when a report does not name them.
FEATURE_SETS = [
    ("pretrained", "Self-supervised (this run)"),
    ("random_init", "Same network, random weights"),
    ("raw_input", "Raw input"),
]
# Reports saved before the modality seam named the raw-input baseline "raw_pixels".
_OLD_KEYS = {"raw_pixels": "raw_input"}
EXPLAIN = (
    "How useful are the learned features? The trained network is frozen and a simple classifier is fitted "
    "on its features using <b>1%, 10% and 100%</b> of the labels: a <b>linear probe</b> (one linear layer) and a "
    "<b>k-nearest-neighbour</b> vote. Good self-supervised features beat the same network with random "
    "weights and the {raw}, especially with few labels. Accuracy is measured on held-out {plural}."
)


@dataclass
class ReportView:
    """What the tab draws, read from an evaluation report's dictionary."""

    fractions: list[float]
    series: dict[str, dict[str, tuple[list[float], list[float]]]]  # feature set -> probe/knn -> (means, stds)
    confusion: np.ndarray | None
    class_names: list[str] = field(default_factory=list)
    raw: dict[str, Any] = field(default_factory=dict)
    titles: dict[str, str] = field(default_factory=lambda: dict(FEATURE_SETS))  # feature set -> shown title
    ticks: list[str] = field(default_factory=list)  # per fraction: "1% (14)", the share and count of labels

    def title(self, feature_set: str) -> str:
        return self.titles.get(feature_set) or dict(FEATURE_SETS).get(feature_set, feature_set)

    def accuracy(self, feature_set: str, kind: str = "probe", fraction: float = 1.0) -> float | None:
        means, _ = self.series.get(feature_set, {}).get(kind, ([], []))
        for f, m in zip(self.fractions, means, strict=False):
            if math.isclose(f, fraction):
                return m
        return None


def _features(d: dict[str, Any]) -> dict[str, Any]:
    """A report's feature sets by name (older reports list them, or call the raw input "raw_pixels")."""
    features = d.get("features") or {}
    if isinstance(features, list):
        features = {f.get("name"): f for f in features}
    return {_OLD_KEYS.get(k, k): v for k, v in features.items()}


def parse_report(d: dict[str, Any]) -> ReportView:
    """Read ssl_core.eval's report dict: features[name].label_efficiency.rows and probe.confusion."""
    features = _features(d)
    series: dict[str, dict[str, tuple[list[float], list[float]]]] = {}
    titles = dict(FEATURE_SETS)
    fractions = [float(f) for f in d.get("fractions", [])]
    for key, _ in FEATURE_SETS:
        block = features.get(key)
        if not isinstance(block, dict):
            continue
        named = str(block.get("title") or "").strip()
        if named and key not in ("pretrained", "random_init"):  # the baseline as the modality names it
            titles[key] = named[:1].upper() + named[1:]
        rows = (block.get("label_efficiency") or {}).get("rows") or []
        if rows:
            fractions = [float(r["fraction"]) for r in rows]
        series[key] = {
            kind: ([float(r[kind]["mean"]) for r in rows], [float(r[kind].get("std", 0.0)) for r in rows])
            for kind in ("probe", "knn")
            if rows and all(kind in r for r in rows)
        }
    from ssl_core.eval.verdict import fraction_text, label_counts  # imports torch: not at app start

    counts = dict(label_counts(d))
    pretrained = features.get("pretrained") or {}
    confusion = (pretrained.get("probe") or {}).get("confusion")
    return ReportView(
        fractions=fractions,
        series=series,
        confusion=np.asarray(confusion) if confusion is not None else None,
        class_names=[str(n) for n in d.get("class_names", [])],
        raw=d,
        titles=titles,
        ticks=[fraction_text(f, counts.get(f)).replace(" labels)", ")") for f in fractions],
    )


CLASSIFIERS = {"probe": "linear probe", "knn": "k-nearest neighbours"}
EXPORTS = {  # the Export menu: format -> entry
    "csv": "Results as CSV…",
    "png": "Charts as PNG…",
    "svg": "Charts as SVG…",
    "json": "Report as JSON…",
}


def results_table(view: ReportView) -> tuple[list[str], list[list[Any]]]:
    """The accuracies the charts show, one row per feature set, classifier and label fraction, with each
    seed's value (a seed picks the labelled subsample; all labels need only one). Accuracies in percent."""
    from ssl_core.eval.verdict import label_counts

    d = view.raw
    seeds = [int(s) for s in d.get("seeds") or []]
    counts = dict(label_counts(d))
    header = [
        "feature_set",
        "features",
        "classifier",
        "fraction",
        "labelled",
        "mean_accuracy_percent",
        "std_percent",
        *[f"seed_{s}_percent" for s in seeds],
    ]
    rows: list[list[Any]] = []
    features = _features(d)
    for key, _ in FEATURE_SETS:
        block_rows = ((features.get(key) or {}).get("label_efficiency") or {}).get("rows") or []
        for kind, classifier in CLASSIFIERS.items():
            for r in block_rows:
                if kind not in r:
                    continue
                stat, fraction = r[kind], float(r["fraction"])
                values = [float(v) for v in stat.get("values") or [stat["mean"]]]
                per_seed = [_percent(v) for v in values] + [""] * (len(seeds) - len(values))
                rows.append(
                    [
                        key,
                        view.title(key),
                        classifier,
                        fraction,
                        int(r.get("labels_used", counts.get(fraction, 0))),
                        _percent(stat["mean"]),
                        _percent(stat.get("std", 0.0)),
                        *per_seed[: len(seeds)],
                    ]
                )
    return header, rows


def _percent(value: float) -> float:
    return round(100.0 * float(value), 6)


def run_evaluation(run_dir: Path, progress=None, cancel=None, hold_out: str | None = None) -> dict[str, Any]:
    from ssl_core.eval import evaluate_run

    return evaluate_run(run_dir, progress=progress, cancel=cancel, hold_out=hold_out).to_dict()


def hold_out_words(name: str) -> str:
    """How the "Test on" box names a hold-out choice: "Whole files in turn", "Each voice in turn"."""
    return "Whole files in turn" if name == "file" else f"Each {name} in turn"


def saved_report(run_dir: Path) -> dict[str, Any] | None:
    from ssl_core.eval import read_report

    return read_report(run_dir)


class LabelEfficiencyChart(pg.PlotWidget):
    """Accuracy against the share of labels used, one line with error bars per feature set."""

    def __init__(self, title: str, parent=None):
        super().__init__(parent)
        item = self.getPlotItem()
        readable_axes(item)
        item.setTitle(title)
        item.setLabel("left", "accuracy (%)")
        item.setLabel("bottom", "share of labels")
        item.showGrid(x=False, y=True, alpha=0.2)
        item.setMouseEnabled(x=False, y=False)
        self.setMinimumSize(220, 200)  # title, plot and axis label readable, at a 1024x700 window too
        follow_theme(self)
        self.items: list[Any] = []

    def show_view(self, view: ReportView, kind: str) -> list[tuple[str, Any]]:
        """Draw one classifier's accuracies; returns the (title, pen) of each line, for a legend that
        sits outside the plots (the lines fill the whole accuracy range, so no corner is free)."""
        for it in self.items:
            self.removeItem(it)
        self.items = []
        entries = []
        xs = np.arange(len(view.fractions), dtype=float)
        for i, (key, _) in enumerate(FEATURE_SETS):
            if kind not in view.series.get(key, {}):
                continue
            title = view.title(key)
            means, stds = view.series[key][kind]
            y = 100.0 * np.asarray(means)
            err = 100.0 * np.asarray(stds)
            color = series_color(i)
            line = self.plot(
                xs,
                y,
                pen=pg.mkPen(color, width=2),
                symbol="o",
                symbolSize=8,
                symbolPen=None,
                symbolBrush=color,
                name=title,
            )
            bars = pg.ErrorBarItem(x=xs, y=y, top=err, bottom=err, beam=0.12, pen=pg.mkPen(color, width=1.5))
            self.addItem(bars)
            self.items += [line, bars]
            entries.append((title, pg.mkPen(color, width=2)))
        axis = self.getPlotItem().getAxis("bottom")
        ticks = view.ticks if len(view.ticks) == len(xs) else [f"{f * 100:g}%" for f in view.fractions]
        axis.setTicks([list(zip(xs.tolist(), ticks, strict=True))])
        samples = view.raw.get("samples") or "samples"
        set_axis_label(self.getPlotItem(), "bottom", f"share of labels (number of {samples})")
        # half a step of room each side: the first and last tick texts ("100% (1,438)") fit whole
        self.setXRange(-0.5, max(0.5, len(xs) - 0.5), padding=0)
        self.setYRange(0, 104, padding=0)  # room above 100% for a point's marker
        return entries


class EvaluateTab(RunJobTab, QWidget):
    busy_changed = Signal(bool)
    evaluated = Signal(object)  # ReportView
    finetuned = Signal(object)  # a fine-tuning's report (dict): a new run is stored beside this one
    run_missing = Signal(object, str)  # run_dir, dialog title: its folder went away under a job

    def __init__(self, runner: JobRunner, parent: QWidget | None = None):
        super().__init__(parent)
        self.runner = runner
        self.run_dir: Path | None = None
        self.worker: Worker | None = None
        self.view: ReportView | None = None
        self.context: RunContext | None = None
        self.setup_spec: str | None = None  # the data chosen in Setup, to say when it is not the run's
        self._blocked = False  # the app is busy (training, loading): see set_busy

        explain = QLabel(EXPLAIN.format(raw="raw input", plural="samples"))
        explain.setObjectName("eval_explain")
        explain.setWordWrap(True)
        explain.setProperty("role", "banner")
        self.explain = explain
        self.button = QPushButton("Evaluate")
        self.button.setObjectName("evaluate_button")
        self.button.setProperty("role", "primary")
        self._button_tip = "Measure how well the run's features classify the labels (saved with the run)."
        self.button.setToolTip(self._button_tip)
        self.button.clicked.connect(self.evaluate)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self.cancel)
        self.cancel_button.hide()
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.hide()
        self.run_caption = QLabel("")
        self.run_caption.setObjectName("eval_run")
        self.run_caption.setWordWrap(True)
        self.run_caption.setTextFormat(Qt.TextFormat.RichText)
        self.run_caption.setProperty("role", "muted")
        self.headline = QLabel("No evaluation yet.")
        self.headline.setObjectName("eval_headline")
        self.headline.setWordWrap(True)
        self.headline.setTextFormat(Qt.TextFormat.RichText)
        self.export_button = QToolButton()
        self.export_button.setObjectName("eval_export")
        self.export_button.setText("Export")
        self.export_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        menu = QMenu(self)
        for fmt, text in EXPORTS.items():
            menu.addAction(text, lambda f=fmt: self.export(f))
        self.export_button.setMenu(menu)
        self.finetune_button = QPushButton("Fine-tune…")  # the Fine-tune action: its panel beside the charts
        self.finetune_button.setObjectName("finetune_open")
        self.finetune_button.setToolTip(
            "Train the whole network on a few labels and compare (beside the charts)."
        )
        self.finetune_button.clicked.connect(lambda: self.show_finetune())
        # What the probes are tested on: the run's held-out samples, or (data that knows its files or a
        # second labelling, such as a voice) one group at a time, fitted on all the others.
        self.hold_out_box = QComboBox()
        self.hold_out_box.setObjectName("eval_hold_out")
        self.hold_out_box.setToolTip(
            "Test on the run's held-out samples, or hold out one group at a time (a voice, or whole files): "
            "the probes are fitted on the other groups, and the charts show the mean over the groups."
        )
        self.hold_out_box.hide()
        top = QHBoxLayout()
        top.addWidget(self.button)
        top.addWidget(self.hold_out_box)
        top.addWidget(self.cancel_button)
        top.addWidget(self.progress, 1)
        top.addStretch(0)
        top.addWidget(self.finetune_button)
        top.addWidget(self.export_button)
        self.button.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)

        self.probe_chart = LabelEfficiencyChart("Linear probe")
        self.probe_chart.setObjectName("probe_chart")
        self.knn_chart = LabelEfficiencyChart("k-nearest neighbours")
        self.knn_chart.setObjectName("knn_chart")
        self.confusion = ConfusionMatrix()
        self.confusion.setObjectName("confusion_matrix")
        self.legend = LegendBar()
        self.legend.setObjectName("eval_legend")
        self.finetune = FinetunePanel(runner)  # fine-tuning with few labels: its lines join the probe's chart
        self.finetune.setObjectName("finetune_panel")
        self.finetune_lines = FinetuneLines(self.probe_chart)
        self.finetune_legend = LegendBar()  # a second line: one line of six entries is wider than 1024 px
        self.finetune_legend.setObjectName("finetune_legend")
        self.finetune_legend.hide()
        self.finetune.results_changed.connect(self._draw_finetune)
        self.finetune.busy_changed.connect(lambda _: self._update_controls())
        self.finetune.run_missing.connect(self.run_missing)
        self.finetune.finetuned.connect(self.finetuned)
        # The two charts side by side under their shared legend: stacked, each got half the height and a
        # small window squeezed them until one's axis label ran into the other's title.
        pair = QSplitter(Qt.Orientation.Horizontal)
        pair.addWidget(self.probe_chart)
        pair.addWidget(self.knn_chart)
        pair.setChildrenCollapsible(False)
        self.figure = QWidget()  # what "Charts as PNG/SVG" saves: the legend and both charts
        self.figure.setObjectName("eval_figure")
        figure_layout = QVBoxLayout(self.figure)
        figure_layout.setContentsMargins(0, 0, 0, 0)
        figure_layout.addWidget(self.legend)
        figure_layout.addWidget(self.finetune_legend)
        figure_layout.addWidget(pair, 1)
        self.side = QTabWidget()  # beside the charts: the probe's confusion matrix, or fine-tuning
        self.side.setObjectName("eval_side")
        self.side.addTab(self.confusion, "Confusion matrix")
        self.side.addTab(self.finetune, "Fine-tune with few labels")
        charts = QSplitter(Qt.Orientation.Horizontal)
        charts.addWidget(self.figure)
        charts.addWidget(self.side)
        charts.setSizes([620, 380])  # shares of the width: the matrix's title fits at 1024 px too
        charts.setChildrenCollapsible(False)

        layout = QVBoxLayout(self)
        layout.addWidget(explain)
        layout.addLayout(top)
        layout.addWidget(self.run_caption)
        layout.addWidget(self.headline)
        layout.addWidget(charts, 1)
        self._update_controls()

    @property
    def busy(self) -> bool:
        return self.worker is not None or self.finetune.busy

    def set_run(self, run_dir: Path | None, reload: bool = False) -> None:
        """Show the run's saved results, if any. `reload`: read them again (the run changed)."""
        if run_dir == self.run_dir and self.view is not None and not reload:
            return
        self.cancel()
        self.run_dir = run_dir
        self.view = None
        self.context = run_context(run_dir) if run_dir is not None else None
        self._show_caption()
        self._explain()
        report = saved_report(run_dir) if run_dir is not None else None
        if report is not None:
            self.show_report(report)
        else:
            self.probe_chart.show_view(ReportView([], {}, None), "probe")
            self.knn_chart.show_view(ReportView([], {}, None), "knn")
            self.legend.set_entries([])
            self.confusion.set_matrix(np.zeros((0, 0)), [])
            if run_dir is None:
                text = "Train a model or open a run first."
            elif not self.context.has_checkpoint or self.context.training:
                text = self.context.no_model_text("evaluate")
            else:
                text = "Press Evaluate to measure how useful the learned features are."
            self.headline.setText(text)
        self.finetune.set_run(run_dir, self.context)  # its stored results: lines on the chart
        self._fill_hold_out()
        self._update_controls()

    def _fill_hold_out(self) -> None:
        """The "Test on" choices of the shown run's data; hidden where there is nothing to hold out."""
        box, c = self.hold_out_box, self.context
        box.clear()
        choices = c.hold_out if c is not None else ()
        box.addItem(f"Held-out {c.plural if c is not None else 'samples'}", None)
        for name in choices:
            box.addItem(hold_out_words(name), name)
        box.setVisible(bool(choices))

    def _explain(self) -> None:
        """The explanation in the shown run's words: held-out "series", the "raw input" baseline."""
        c = self.context
        raw, plural = (c.raw_title, c.plural) if c is not None else ("raw input", "samples")
        self.explain.setText(EXPLAIN.format(raw=raw, plural=plural))

    def set_setup_data(self, spec: str | None) -> None:
        """The data now chosen in Setup: the caption says so when the results are about other data."""
        self.setup_spec = spec
        self._show_caption()

    def _show_caption(self) -> None:
        c = self.context
        if c is None:
            self.run_caption.setText("")
            return
        text = f"Results for {c.title_html()}"
        if c.data_differs(self.setup_spec):
            text += (
                f" — not for {html.escape(self.setup_spec or '')}, the data now chosen in Setup; train a run "
                "on it to evaluate that."
            )
        self.run_caption.setText(text)

    def evaluate(self) -> Worker | None:
        if self.run_dir is None or self.worker is not None:
            return None
        run_dir = self.run_dir
        hold_out = self.hold_out_box.currentData() if self.hold_out_box.isVisibleTo(self) else None
        extra = {"hold_out": hold_out} if hold_out else {}  # the default job is the plain evaluation
        worker = Worker(run_evaluation, run_dir, inject=("progress", "cancel"), **extra)
        worker.progress.connect(self._progress)
        worker.returned.connect(lambda report: self._evaluated(run_dir, report))
        worker.errored.connect(lambda exc, tb: self._failed(run_dir, exc, tb))
        worker.finished.connect(self._done)
        self.worker = worker
        self.progress.setValue(0)
        self.progress.setFormat("Starting…")
        self.progress.show()
        self.cancel_button.show()
        self.busy_changed.emit(True)
        self.runner.start(worker, "evaluate")
        self._update_controls()
        return worker

    def cancel(self) -> None:
        if self.worker is not None:
            self.worker.quit()
        self.finetune.cancel()

    def show_finetune(self) -> None:
        """Bring the fine-tuning panel forward (the Fine-tune action)."""
        self.side.setCurrentWidget(self.finetune)

    def _draw_finetune(self, results: list[dict[str, Any]]) -> None:
        """The stored fine-tuning results as lines on the linear probe's chart, with their legend line."""
        fractions = self.view.fractions if self.view is not None else []
        entries = self.finetune_lines.show(results, fractions)
        self.finetune_legend.set_entries(entries)
        self.finetune_legend.setVisible(bool(entries))

    def _evaluated(self, run_dir: Path, report: dict[str, Any]) -> None:
        # A job cancelled by a change of run may still have finished: its results are saved with its
        # run (reopening that run shows them) but never drawn under another run's name.
        if run_dir != self.run_dir:
            log.info("Dropping the evaluation of %s: %s is shown now", run_dir, self.run_dir)
            return
        self.show_report(report)

    def _failed(self, run_dir: Path, exc: BaseException, tb: str) -> None:
        if run_is_gone(run_dir):
            self.run_missing.emit(run_dir, "Cannot evaluate")
        else:
            dialogs.show_error(self.window(), exc, tb, f"Cannot evaluate {run_dir.name}")

    def _done(self) -> None:
        self.worker = None
        self.progress.hide()
        self.cancel_button.hide()
        self.busy_changed.emit(False)
        self._update_controls()

    def _update_controls(self) -> None:
        self.show_enabled(self.button, self.can_evaluate(), self._button_tip)
        self.hold_out_box.setEnabled(self.worker is None)
        self.finetune.set_busy(self._blocked)
        ready = self.view is not None and bool(self.view.series)
        self.export_button.setEnabled(ready)
        self.export_button.setToolTip(
            "Save the accuracies as CSV, the charts as PNG or SVG, or the whole report as JSON."
            if ready
            else "Nothing to export yet: evaluate the run (or open an evaluated one) first."
        )

    # ---- export ------------------------------------------------------------------------------
    def export(self, fmt: str, path: str | Path | None = None) -> Path | None:
        """Save what the tab shows: "csv" the accuracies, "png"/"svg" the charts, "json" the report."""
        if self.view is None or not self.view.series:
            exports.nothing_to_export(
                self, "evaluation results", "Evaluate the run, or open an evaluated run."
            )
            return None
        view = self.view
        stem = f"{self.run_dir.name}-evaluation" if self.run_dir is not None else "evaluation"
        if fmt in exports.FIGURE_FORMATS:
            return exports.export_figure(self, [self.figure], "the evaluation charts", stem, fmt, path)
        if fmt == "json":
            produce, what = (lambda: exports.json_bytes(view.raw)), "the evaluation report"
        else:
            produce, what = (lambda: exports.csv_bytes(*results_table(view))), "the evaluation results"
        return exports.export_file(self, what, f"{stem}.{fmt}", fmt, produce, path)

    def can_evaluate(self) -> bool:
        return self.context is not None and self.context.has_checkpoint and self.worker is None

    def show_report(self, report: dict[str, Any]) -> None:
        view = parse_report(report)
        self.view = view
        entries = self.probe_chart.show_view(view, "probe")
        entries += [e for e in self.knn_chart.show_view(view, "knn") if e[0] not in dict(entries)]
        self.legend.set_entries(entries)
        self._draw_finetune(self.finetune.results)  # placed on this report's ticks
        if view.confusion is not None:
            self.confusion.set_matrix(
                view.confusion, view.class_names, "Linear probe, all labels: confusion matrix"
            )
        parts = []
        for kind, title in (("probe", "Linear probe"), ("knn", "kNN")):
            acc = view.accuracy("pretrained", kind)
            if acc is None:
                continue
            text = f"{title}: <b>{acc * 100:.1f}%</b>"
            base = [(view.title(k), view.accuracy(k, kind)) for k, _ in FEATURE_SETS[1:]]
            extras = [f"{t.lower()} {a * 100:.1f}%" for t, a in base if a is not None]
            if extras:
                text += " (" + "; ".join(extras) + ")"
            parts.append(text)
        from ssl_core.eval.verdict import verdict

        said = verdict(view.raw)
        lines = [f"<b>{html.escape(said.text)}</b>"] if said.text else []
        lines.append(
            "With all labels — " + " &nbsp;·&nbsp; ".join(parts) if parts else "No accuracies in this report."
        )
        if said.text and said.error_bars:
            lines.append(f"<small>{html.escape(said.error_bars)}</small>")
        self.headline.setText("<br>".join(lines))
        self._update_controls()  # results to export now
        self.evaluated.emit(view)
