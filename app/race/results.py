"""The end of a race: both lanes scored with few labels in workers, side by side, with a plain verdict."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QProgressBar,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
)

# Small settings: a race ends with a quick answer. The Evaluate tab can score a run more thoroughly.
RACE_FRACTIONS = (0.01, 0.1, 1.0)
RACE_SEEDS = (0, 1)
TABLE_MIN_HEIGHT = 60


def evaluate_lane(run_dir: Path, include_baselines: bool, progress=None, cancel=None) -> dict[str, Any]:
    """Score a lane's run (on a worker): linear probe and kNN with 1%, 10% and all labels; the report is
    saved in the run as a normal evaluation. `include_baselines`: also the network at its random start."""
    from ssl_core.eval.evaluate import evaluate_run

    report = evaluate_run(
        run_dir,
        fractions=RACE_FRACTIONS,
        seeds=RACE_SEEDS,
        include_baselines=include_baselines,
        progress=progress,
        cancel=cancel,
    )
    return report.to_dict()


class RaceResults(QGroupBox):
    """Accuracies of both lanes per label count, the verdict, and a way to open each run."""

    open_run = Signal(object)  # a lane's run folder

    def __init__(self, parent=None):
        super().__init__("Few-label accuracy (a linear probe on each lane's frozen features)", parent)
        self.setObjectName("race_results")
        self.progress = QProgressBar()
        self.progress.setObjectName("race_eval_progress")
        self.progress.setRange(0, 100)
        self.progress.setVisible(False)
        self.table = QTableWidget(0, 3)
        self.table.setObjectName("race_table")
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.table.setMaximumHeight(TABLE_MIN_HEIGHT * 2)
        self.verdict = QLabel("Both lanes are scored here when they finish.")
        self.verdict.setObjectName("race_verdict")
        self.verdict.setWordWrap(True)
        self.verdict.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        font = self.verdict.font()
        font.setBold(True)
        font.setPointSizeF(font.pointSizeF() * 1.15)  # what a room reads first
        self.verdict.setFont(font)
        self.open_buttons: dict[str, QPushButton] = {}
        buttons = QHBoxLayout()
        for key in ("A", "B"):
            button = QPushButton(f"Open run {key} in the workbench")
            button.setObjectName(f"race_open_{key.lower()}")
            button.setVisible(False)
            button.clicked.connect(lambda _=False, k=key: self._open(k))
            self.open_buttons[key] = button
            buttons.addWidget(button)
        buttons.addStretch(1)
        self._runs: dict[str, Path] = {}
        layout = QVBoxLayout(self)
        layout.addWidget(self.progress)
        layout.addWidget(self.table)
        layout.addWidget(self.verdict)
        layout.addLayout(buttons)

    def clear(self, titles: tuple[str, str]) -> None:
        self.table.setRowCount(0)
        self.table.setHorizontalHeaderLabels(["Labels used", f"A · {titles[0]}", f"B · {titles[1]}"])
        self.verdict.setText("Both lanes are scored here when they finish.")
        self.verdict.setProperty("role", "")
        self.progress.setVisible(False)
        self._runs = {}
        for button in self.open_buttons.values():
            button.setVisible(False)

    def scoring(self, fraction: float, message: str) -> None:
        self.progress.setVisible(True)
        self.progress.setValue(int(round(100 * fraction)))
        self.progress.setFormat(f"Scoring: {message}" if message else "Scoring both lanes…")

    def show_rows(self, rows: list[tuple[str, str, str]], verdict_text: str) -> None:
        self.progress.setVisible(False)
        self.table.setRowCount(len(rows))
        for r, row in enumerate(rows):
            for c, text in enumerate(row):
                item = QTableWidgetItem(text)
                item.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
                self.table.setItem(r, c, item)
        self._fit_table()
        self.verdict.setText(verdict_text or "No accuracies to compare: see the lanes for why.")

    def _fit_table(self) -> None:
        """As tall as its rows: the verdict sits right under the numbers."""
        table = self.table
        height = table.horizontalHeader().height() + 2 * table.frameWidth()
        height += sum(table.rowHeight(r) for r in range(table.rowCount()))
        table.setMaximumHeight(max(height, TABLE_MIN_HEIGHT))

    def show_problem(self, text: str) -> None:
        self.progress.setVisible(False)
        self.verdict.setText(text)

    def set_runs(self, runs: dict[str, Path]) -> None:
        """The lanes' run folders, each openable in the main window."""
        self._runs = dict(runs)
        for key, button in self.open_buttons.items():
            button.setVisible(key in self._runs)

    def _open(self, key: str) -> None:
        if key in self._runs:
            self.open_run.emit(self._runs[key])

    def rows(self) -> list[tuple[str, ...]]:
        """The table as shown (for tests and exports)."""
        return [
            tuple(self.table.item(r, c).text() for c in range(self.table.columnCount()))
            for r in range(self.table.rowCount())
        ]
