"""The fine-tuning results of a run as a table (labels, model, accuracy ± spread over the seeds) and a
finished job's report as one sentence."""

from __future__ import annotations

import html
from typing import Any

from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableWidget, QTableWidgetItem, QWidget

from app.widgets.finetune_chart import accuracy_of

VARIANT_TITLES = {  # the engine's variant -> the table's words, in the table's order
    "fine-tune": "Fine-tuned (this run's network)",
    "fine-tune (random init)": "Fine-tuned from random weights",
    "linear probe": "Linear probe (frozen network)",
    "pseudo-labels": "Fine-tuned + pseudo-labels",
    "fixmatch": "Fine-tuned + FixMatch",
    "distilled": "Distilled into a fresh copy (all images)",
}


def percent(entry: dict[str, Any]) -> tuple[float | None, float]:
    """An entry's accuracy and spread in percent (None: it has none)."""
    acc = accuracy_of(entry)
    return (None, 0.0) if acc is None else (100.0 * acc[0], 100.0 * acc[1])


def labels_words(labels: float | int) -> str:
    """ "1% of the labels", "all the labels", "5 labels per class"."""
    from ssl_core.finetune import labels_text

    if isinstance(labels, int):
        return f"{labels} label{'s' if labels != 1 else ''} per class"
    return "all the labels" if labels >= 1.0 else f"{labels_text(labels)} of the labels"


def summary(report: dict[str, Any], plural: str = "samples") -> str:
    """One sentence on a finished job (FinetuneReport.to_dict()): each variant's accuracy, as rich text."""
    rows = report.get("rows") or []
    parts = []
    for row in rows:
        mean, _ = percent(row)
        if mean is not None:
            title = VARIANT_TITLES.get(str(row.get("variant")), str(row.get("variant")))
            parts.append(f"{html.escape(title.lower())} <b>{mean:.1f}%</b>")
    labels = report.get("labels")
    head = f"With {labels_words(labels)}" if isinstance(labels, int | float) else "Done"
    n = next((r.get("n_labels") for r in rows if r.get("n_labels") is not None), None)
    if n is not None:
        head += f" ({int(n):,} labelled {html.escape(plural)})"
    return head + ": " + "; ".join(parts) + "." if parts else head + "."


class FinetuneResults(QTableWidget):
    """Every stored fine-tuning result of a run, by share of labels, then variant."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(0, 3, parent)
        self.setObjectName("finetune_table")
        self.setHorizontalHeaderLabels(["Labels", "Model", "Accuracy"])
        self.verticalHeader().hide()
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        header = self.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        self.setMinimumHeight(90)

    def show_results(self, results: list[dict[str, Any]]) -> None:
        self.setRowCount(0)
        for entry in sorted(results, key=_order):
            mean, std = percent(entry)
            if mean is None:
                continue
            r = self.rowCount()
            self.insertRow(r)
            variant = str(entry.get("variant", ""))
            spread = f" ± {std:.1f}" if len(entry.get("values") or [0, 0]) > 1 else ""
            cells = [_labels_cell(entry), VARIANT_TITLES.get(variant, variant), f"{mean:.1f}%{spread}"]
            for c, text in enumerate(cells):
                self.setItem(r, c, QTableWidgetItem(text))

    def cells(self) -> list[list[str]]:
        """The table's text, row by row."""
        return [[self.item(r, c).text() for c in range(self.columnCount())] for r in range(self.rowCount())]


def _order(entry: dict[str, Any]) -> tuple[float, int]:
    variant = str(entry.get("variant", ""))
    order = list(VARIANT_TITLES)
    try:
        fraction = float(entry.get("fraction", entry.get("labels", 0)) or 0)
    except (TypeError, ValueError):
        fraction = 0.0
    return (fraction, order.index(variant) if variant in order else len(order))


def _labels_cell(entry: dict[str, Any]) -> str:
    """ "10% (143)": the labels asked for and how many labelled samples that came to."""
    fraction = entry.get("fraction", entry.get("labels"))
    text = entry.get("labels_text") or (
        f"{float(fraction) * 100:.3g}%" if isinstance(fraction, int | float) else str(fraction)
    )
    n = entry.get("n_labels")
    return f"{text} ({int(n):,})" if n is not None else str(text)
