"""Fine-tuning results on the label-efficiency chart: one line per fine-tuning variant (the whole network
fine-tuned, with pseudo-labels, with FixMatch) beside the linear probe's, from every fine-tuning stored
for the run (`ssl_core.finetune.saved_finetune_results`).

The chart's x axis is categorical (one tick per evaluated share of labels, 1% 10% 100%); a fine-tuning
at another share (5 labels per class, say) sits between the ticks, placed on a log scale."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyqtgraph as pg

from app.theme import series_color

DEFAULT_FRACTIONS = (0.01, 0.1, 1.0)  # the axis when the run has no evaluation yet
# Each variant's points sit this far right of their share (x units: one tick apart is 1) so that error
# bars at the same share do not hide each other or the linear probe's.
DODGE = 0.07
# variant -> (title in the legend, colour index after the evaluation's three, symbol)
LINES = {
    "fine-tune": ("Fine-tuned", 3, "s"),
    "pseudo-labels": ("Fine-tuned + pseudo-labels", 5, "t"),
    "fixmatch": ("Fine-tuned + FixMatch", 4, "d"),
    "distilled": ("Distilled", 6, "p"),
}


@dataclass(frozen=True)
class Point:
    """One stored fine-tuning result: a variant's accuracy (0..1) at a share of the training labels."""

    variant: str
    fraction: float
    mean: float
    std: float = 0.0
    n_labels: int | None = None


def accuracy_of(entry: dict[str, Any]) -> tuple[float, float] | None:
    """(mean, std) of an entry: {"accuracy": {"mean", "std"}}, {"accuracy": 0.8, "std"} or {"mean", "std"}."""
    acc = entry.get("accuracy", entry.get("mean"))
    if isinstance(acc, dict):
        mean, std = acc.get("mean"), acc.get("std", 0.0)
    else:
        mean, std = acc, entry.get("std", 0.0)
    try:
        mean, std = float(mean), float(std or 0.0)
    except (TypeError, ValueError):
        return None
    return (mean, std) if math.isfinite(mean) else None


def points(results: Sequence[dict[str, Any]]) -> list[Point]:
    """The stored results that have a line on the chart (the variants in LINES), the newest of each
    variant and share of labels kept, sorted by share."""
    found: dict[tuple[str, float], Point] = {}
    for entry in results:
        variant = str(entry.get("variant", ""))
        acc = accuracy_of(entry)
        # A share asked for (0.1) sits on its tick, as the evaluation's; a count per class at the share
        # of the labels it came to.
        setting = entry.get("labels_setting")
        try:
            fraction = float(
                setting if isinstance(setting, float) else entry.get("fraction", entry.get("labels"))
            )
        except (TypeError, ValueError):
            continue
        if variant not in LINES or acc is None or not 0.0 < fraction <= 1.0:
            continue
        n = entry.get("n_labels")
        found[(variant, round(fraction, 9))] = Point(
            variant, fraction, acc[0], acc[1], None if n is None else int(n)
        )
    return sorted(found.values(), key=lambda p: (p.variant, p.fraction))


def x_positions(fractions: Sequence[float], ticks: Sequence[float]) -> np.ndarray:
    """Where shares of labels sit on an axis whose ticks 0, 1, 2... are the shares `ticks` (sorted):
    linear in log(share) between neighbouring ticks, extended past the first and last."""
    f = np.log10(np.asarray(fractions, dtype=float))
    t = np.log10(np.asarray(ticks, dtype=float))
    if len(t) == 1:
        return np.zeros(len(f)) + (f - t[0])  # one tick: a decade per step
    i = np.clip(np.searchsorted(t, f) - 1, 0, len(t) - 2)
    return i + (f - t[i]) / (t[i + 1] - t[i])


class FinetuneLines:
    """The fine-tuning lines on one LabelEfficiencyChart; `show` replaces the previous ones."""

    def __init__(self, chart: pg.PlotWidget):
        self.chart = chart
        self.items: list[Any] = []
        self.title = chart.getPlotItem().titleLabel.text

    def clear(self) -> None:
        for it in self.items:
            self.chart.removeItem(it)
        self.items = []
        self.chart.getPlotItem().setTitle(self.title)

    def show(self, results: Sequence[dict[str, Any]], fractions: Sequence[float]) -> list[tuple[str, Any]]:
        """Draw the stored results over the chart whose ticks are the evaluated `fractions` (none: the
        chart is empty, so 1%, 10% and 100% are drawn); returns each line's (title, pen) for a legend."""
        self.clear()
        found = points(results)
        if not found:
            return []
        ticks = sorted(float(f) for f in fractions) if fractions else list(DEFAULT_FRACTIONS)
        if not fractions:
            axis = self.chart.getPlotItem().getAxis("bottom")
            axis.setTicks([[(float(i), f"{f * 100:g}%") for i, f in enumerate(ticks)]])
            self.chart.setXRange(-0.5, len(ticks) - 0.5, padding=0)
        entries = []
        for k, (variant, (title, colour_index, symbol)) in enumerate(LINES.items(), start=1):
            mine = [p for p in found if p.variant == variant]
            if not mine:
                continue
            xs = x_positions([p.fraction for p in mine], ticks) + k * DODGE
            y = 100.0 * np.array([p.mean for p in mine])
            err = 100.0 * np.array([p.std for p in mine])
            color = series_color(colour_index)
            pen = pg.mkPen(color, width=2, style=pg.QtCore.Qt.PenStyle.DashLine)
            line = self.chart.plot(
                xs, y, pen=pen, symbol=symbol, symbolSize=9, symbolPen=None, symbolBrush=color, name=title
            )
            bars = pg.ErrorBarItem(x=xs, y=y, top=err, bottom=err, beam=0.08, pen=pg.mkPen(color, width=1.5))
            self.chart.addItem(bars)
            self.items += [line, bars]
            entries.append((title, pen))
        self.chart.getPlotItem().setTitle(f"{self.title} and fine-tuning")
        return entries
