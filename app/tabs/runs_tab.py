"""Runs: the run store as a table; open, resume, compare loss curves, delete, export backbone weights."""

from __future__ import annotations

import math
from datetime import datetime
from pathlib import Path
from typing import Any

import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app import dialogs, exports
from app.run_context import run_is_gone
from app.theme import series_color
from app.widgets.curves import EmaSmoother, legend_below, make_plot, set_axis_label
from app.widgets.elided_label import ElidedLabel
from app.workers import JobRunner, Worker

COLUMNS = [
    "Run",
    "Method",
    "Data",
    "Created",
    "Epochs",
    "Steps",
    "Final loss",
    "Probe, few labels",
    "Probe, all labels",
    "Status",
]
FEW_LABELS_COLUMN, ALL_LABELS_COLUMN = COLUMNS.index("Probe, few labels"), COLUMNS.index("Probe, all labels")
PATH_ROLE = Qt.ItemDataRole.UserRole
HEADER_TIPS = {
    FEW_LABELS_COLUMN: "Linear-probe accuracy on held-out data when the probe learns from only a few labelled "
    "samples (the smallest fraction evaluated, e.g. 1%): where good features stand out.",
    ALL_LABELS_COLUMN: "Linear-probe accuracy with every training label; with this many labels even raw "
    "inputs often do well, so runs tend to look alike here.",
}


def _percent(value: float | None) -> str:
    return f"{value * 100:.1f}%" if isinstance(value, int | float) else "–"


def method_title(name: str) -> str:
    """A method as people call it ("SimCLR", "Denoising autoencoder"); unknown names as saved."""
    from ssl_core.methods import METHODS

    return METHODS.get(name).title if name in METHODS else name


def _named_item(title: str, saved: str, what: str) -> QTableWidgetItem:
    """A cell showing a readable name, with what the run's config holds (for the CLI) in its tooltip."""
    item = QTableWidgetItem(title or saved)
    if title != saved:
        item.setToolTip(f"In the run's config and the CLI: {what} {saved}")
    return item


def _fraction_text(fraction: float) -> str:
    return f"{fraction * 100:g}%"


def few_labels_header(records: list[Any]) -> str:
    """ "Probe, 1% labels" when every evaluated run used the same smallest fraction, else a general title."""
    fractions = {r.few_label_fraction for r in records if r.few_label_fraction is not None}
    return f"Probe, {_fraction_text(fractions.pop())} labels" if len(fractions) == 1 else "Probe, few labels"


def _few_labels_tip(rec: Any) -> str:
    if rec.few_label_probe is None:
        return "Not evaluated with few labels yet: open the run and use the Evaluate tab."
    return (
        f"{_percent(rec.few_label_probe)} of held-out samples classified right by a linear probe trained on "
        f"{rec.few_label_count} labelled samples ({_fraction_text(rec.few_label_fraction)} of the training labels)."
    )


def _created(text: str) -> str:
    try:
        return datetime.fromisoformat(text).strftime("%Y-%m-%d %H:%M")
    except (TypeError, ValueError):
        return text or ""


class NumberItem(QTableWidgetItem):
    """Sorts by value, not by text."""

    def __init__(self, value: float | None, text: str):
        super().__init__(text)
        self.value = (
            value if value is not None and not (isinstance(value, float) and math.isnan(value)) else -math.inf
        )
        self.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)

    def __lt__(self, other: QTableWidgetItem) -> bool:
        return self.value < getattr(other, "value", -math.inf)


def load_curves(run_dirs: list[Path]) -> dict[str, tuple[list[int], list[float]]]:
    from ssl_core.runs.store import read_metrics

    out = {}
    for run_dir in run_dirs:
        records = read_metrics(run_dir)
        out[Path(run_dir).name] = (
            [int(r["step"]) for r in records],
            [float(r.get("loss", math.nan)) for r in records],
        )
    return out


class RunsTab(QWidget):
    open_requested = Signal(object)  # Path
    resume_requested = Signal(object)  # Path
    deleted = Signal(object)  # Path
    run_missing = Signal(object, str)  # run_dir, dialog title: its folder went away underneath
    report_requested = Signal(list)  # [Path] of one or two runs: a run report (app/report_actions.py)

    def __init__(self, runner: JobRunner, parent: QWidget | None = None):
        super().__init__(parent)
        self.runner = runner
        self.runs_dir: Path | None = None
        self.records: list[Any] = []
        self.locked: set[Path] = set()  # runs a job is using right now (not deletable/resumable)
        self._busy = False

        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setObjectName("runs_table")
        self.table.setHorizontalHeaderLabels(COLUMNS)
        for column, tip in HEADER_TIPS.items():
            self.table.horizontalHeaderItem(column).setToolTip(tip)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setAlternatingRowColors(True)
        self.table.verticalHeader().setVisible(False)
        self.table.setSortingEnabled(True)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        # Names stay on one line (a squeezed column wrapped "Handwritten digits" into "Han… digits");
        # a narrow window scrolls the table sideways instead.
        self.table.setWordWrap(False)
        self.table.itemSelectionChanged.connect(self._update_buttons)
        self.table.itemDoubleClicked.connect(lambda _: self.open_selected())

        self.folder_label = ElidedLabel()
        self.folder_label.setAlignment(Qt.AlignmentFlag.AlignRight)
        self.folder_label.setProperty("role", "muted")
        self.buttons: dict[str, QPushButton] = {}
        row = QHBoxLayout()
        for key, text, tip, slot in (
            ("refresh", "Refresh", "Read the runs folder again.", self.refresh),
            ("open", "Open", "Show this run's settings, curves, embeddings and results.", self.open_selected),
            (
                "resume",
                "Resume",
                "Continue training this run from its last checkpoint.",
                self.resume_selected,
            ),
            (
                "compare",
                "Compare",
                "Plot the loss curves of the selected runs together.",
                self.compare_selected,
            ),
            (
                "export",
                "Export backbone…",
                "Save the trained backbone's weights to a file.",
                self.export_selected,
            ),
            (
                "report",
                "Report…",
                "Save a web page about the selected run, or comparing the two selected runs, to share.",
                lambda: self.report_requested.emit(self.selected_paths()),
            ),
            ("delete", "Delete…", "Delete the selected runs from disk.", self.delete_selected),
        ):
            button = QPushButton(text)
            button.setObjectName(f"runs_{key}")
            button.setToolTip(tip)
            button.clicked.connect(slot)
            self.buttons[key] = button
            row.addWidget(button)
        self.relative = QCheckBox("Relative to start")
        self.relative.setToolTip(
            "Divide each curve by its first value, so methods whose losses have different scales can be compared."
        )
        self.relative.toggled.connect(lambda _: self._curves is not None and self.show_curves(self._curves))
        self._relative_chosen = False  # set once the user clicks it: from then on their choice stays
        self.relative.clicked.connect(lambda: setattr(self, "_relative_chosen", True))
        row.addWidget(self.relative)
        row.addSpacing(12)
        row.addWidget(self.folder_label, 1)
        self._curves: dict[str, tuple[list[int], list[float]]] | None = None

        self.compare_plot = make_plot("Loss of the selected runs (smoothed)", "loss")
        self.compare_plot.setObjectName("compare_plot")
        legend_below(self.compare_plot.getPlotItem())
        self._compare_items: list[Any] = []

        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.table)
        split.addWidget(self.compare_plot)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        split.setChildrenCollapsible(False)
        layout = QVBoxLayout(self)
        layout.addLayout(row)
        layout.addWidget(split, 1)
        self._update_buttons()

    # ---- table -------------------------------------------------------------------------------
    def set_runs_dir(self, runs_dir: Path) -> None:
        self.runs_dir = Path(runs_dir)
        self.folder_label.setText(f"Folder: {self.runs_dir}")
        self.refresh()

    def refresh(self) -> None:
        from ssl_core.data.sources import spec_title
        from ssl_core.runs.store import list_runs

        selected = set(self.selected_paths())
        self.records = list_runs(self.runs_dir) if self.runs_dir is not None else []
        self.table.setSortingEnabled(False)
        self.table.setRowCount(len(self.records))
        for i, rec in enumerate(self.records):
            loss = rec.final_loss
            cells = [
                QTableWidgetItem(rec.run_id),
                _named_item(method_title(rec.method), rec.method, "method"),
                _named_item(spec_title(rec.data), rec.data, "data"),
                QTableWidgetItem(_created(rec.created)),
                NumberItem(rec.epochs, str(rec.epochs)),
                NumberItem(rec.steps, f"{rec.steps:,}"),
                NumberItem(loss, f"{loss:.4g}" if isinstance(loss, int | float) else "–"),
                NumberItem(rec.few_label_probe, _percent(rec.few_label_probe)),
                NumberItem(rec.probe_accuracy, _percent(rec.probe_accuracy)),
                QTableWidgetItem(rec.status),
            ]
            cells[FEW_LABELS_COLUMN].setToolTip(_few_labels_tip(rec))
            cells[0].setData(PATH_ROLE, str(rec.path))
            cells[0].setToolTip(str(rec.path))
            for j, cell in enumerate(cells):
                self.table.setItem(i, j, cell)
        self.table.horizontalHeaderItem(FEW_LABELS_COLUMN).setText(few_labels_header(self.records))
        self.table.setSortingEnabled(True)
        for i in range(self.table.rowCount()):
            if Path(self.table.item(i, 0).data(PATH_ROLE)) in selected:
                self.table.selectRow(i)
        self._update_buttons()

    def selected_paths(self) -> list[Path]:
        rows = sorted({index.row() for index in self.table.selectionModel().selectedRows()})
        return [
            Path(self.table.item(r, 0).data(PATH_ROLE)) for r in rows if self.table.item(r, 0) is not None
        ]

    def select_run(self, run_dir: Path) -> None:
        for i in range(self.table.rowCount()):
            if Path(self.table.item(i, 0).data(PATH_ROLE)) == Path(run_dir):
                self.table.selectRow(i)
                return

    def set_locked(self, paths: set[Path], busy: bool) -> None:
        """Runs in use by a job can't be deleted or resumed; while training, nothing can be resumed."""
        self.locked = {Path(p) for p in paths}
        self._busy = busy
        self._update_buttons()

    def _update_buttons(self) -> None:
        paths = self.selected_paths()
        one = len(paths) == 1
        free = not any(p in self.locked for p in paths)
        self.buttons["open"].setEnabled(one and not self._busy)
        finetuned = one and _is_finetuned(paths[0])  # a classifier: nothing to continue training
        self.buttons["resume"].setEnabled(one and free and not self._busy and not finetuned)
        self.buttons["resume"].setToolTip(
            "A fine-tuned classifier cannot be resumed: resume the run it was fine-tuned from."
            if finetuned
            else "Continue training this run from its last checkpoint."
        )
        self.buttons["compare"].setEnabled(len(paths) >= 1)
        self.buttons["export"].setEnabled(one)
        self.buttons["report"].setEnabled(len(paths) in (1, 2))
        self.buttons["delete"].setEnabled(bool(paths) and free and not self._busy)

    # ---- actions -----------------------------------------------------------------------------
    def open_selected(self) -> None:
        paths = self.selected_paths()
        if len(paths) == 1 and not self._busy:
            self.open_requested.emit(paths[0])

    def resume_selected(self) -> None:
        paths = self.selected_paths()
        if len(paths) == 1:
            self.resume_requested.emit(paths[0])

    def delete_selected(self) -> None:
        from ssl_core.runs.store import delete_run

        paths = [p for p in self.selected_paths() if p not in self.locked]
        gone = [p for p in paths if run_is_gone(p)]
        for path in gone:  # already deleted outside the app: nothing to ask
            self.deleted.emit(path)
        paths = [p for p in paths if p not in gone]
        if not paths:
            self.refresh()
            return
        names = "\n".join(f"  • {p.name}" for p in paths[:10]) + ("\n  …" if len(paths) > 10 else "")
        if not dialogs.ask(
            self.window(),
            "Delete runs",
            f"Delete {len(paths)} run(s) and all their checkpoints and results?\n\n{names}\n\n"
            "This cannot be undone.",
        ):
            return
        for path in paths:
            try:
                delete_run(path)
            except Exception as exc:  # noqa: BLE001 - shown to the user, others still get deleted
                dialogs.show_error(self.window(), exc, title="Cannot delete a run")
            else:
                self.deleted.emit(path)
        self.refresh()

    def export_selected(self, path: str | None = None) -> Path | None:
        from ssl_core.runs.store import export_backbone

        paths = self.selected_paths()
        if len(paths) != 1:
            return None
        run = paths[0]
        if run_is_gone(run):
            self.run_missing.emit(run, "Cannot export the backbone")
            return None
        if not path:
            path, _ = QFileDialog.getSaveFileName(
                self,
                "Export backbone weights",
                str(exports.start_dir(self) / f"{run.name}-backbone.pt"),
                "PyTorch weights (*.pt)",
            )
            if not path:
                return None
        try:
            out = export_backbone(run, path)
        except Exception as exc:  # noqa: BLE001 - a UserError (no checkpoint) or a bug, both shown
            dialogs.show_error(self.window(), exc, title="Cannot export the backbone")
            return None
        dialogs.present(self.window(), "info", "Backbone exported", f"Saved the backbone weights to {out}.")
        return Path(out)

    def compare_selected(self) -> Worker | None:
        paths = self.selected_paths()
        if not paths:
            return None
        methods = {r.method for r in self.records if r.path in set(paths)}
        if not self._relative_chosen:
            # different methods have losses on different scales: compare their shapes instead
            self.relative.blockSignals(True)
            self.relative.setChecked(len(methods) > 1)
            self.relative.blockSignals(False)
        worker = Worker(load_curves, paths)
        worker.returned.connect(self.show_curves)
        worker.errored.connect(
            lambda exc, tb: dialogs.show_error(self.window(), exc, tb, "Cannot read the curves")
        )
        return self.runner.start(worker, "compare")

    def show_curves(self, curves: dict[str, tuple[list[int], list[float]]]) -> None:
        for item in self._compare_items:
            self.compare_plot.removeItem(item)
        self._compare_items = []
        legend = self.compare_plot.getPlotItem().legend
        if legend is not None:
            legend.clear()
        self._curves = curves
        relative = self.relative.isChecked()
        set_axis_label(self.compare_plot.getPlotItem(), "left", "loss / first loss" if relative else "loss")
        for i, (name, (steps, losses)) in enumerate(curves.items()):
            smooth = EmaSmoother(0.9)(losses)
            if relative and smooth and smooth[0] not in (0.0,) and math.isfinite(smooth[0]):
                smooth = [v / smooth[0] for v in smooth]
            item = self.compare_plot.plot(steps, smooth, pen=pg.mkPen(series_color(i), width=2), name=name)
            self._compare_items.append(item)
        self.compare_plot.autoRange()

    def compared_names(self) -> list[str]:
        return [item.name() for item in self._compare_items]


def _is_finetuned(run_dir: Path) -> bool:
    from ssl_core.runs.store import read_summary

    return read_summary(run_dir).get("kind") == "finetune"
