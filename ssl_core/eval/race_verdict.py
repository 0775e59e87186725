"""The plain verdict of a race: which lane's features classify better with few labels, in counts a person
understands ("With 14 labelled images (1%), SimCLR reaches 77% and BYOL 70%: SimCLR wins by 7 points.").

Each lane's accuracies come from an evaluation report (`evaluate_run`, or its saved report.json): the
"pretrained" features of a trained lane, or the "random_init" features of lane A's report for a lane that
did not train (its network at its starting weights). As in `ssl_core.eval.verdict`, the race is told at
the label fraction where the lanes differ most; differences under a point, or within the spread over
label picks, are ties. No Qt, no torch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from ssl_core.eval.verdict import TIE_POINTS, fraction_text, label_counts


@dataclass(frozen=True)
class LaneScores:
    """One lane's linear-probe accuracy (mean, spread over label picks) per label fraction."""

    title: str
    by_fraction: dict[float, tuple[float, float]]
    labels: dict[float, int] = field(default_factory=dict)  # labelled samples used per fraction
    samples: str = "samples"  # the data's plural noun ("images")


@dataclass(frozen=True)
class RaceVerdict:
    text: str
    winner: str  # a lane's title, "" for a tie or when nothing could be compared
    outcome: str  # "wins", "ties" or "empty"
    fraction: float | None = None


def lane_scores(report: Any, title: str, features: str = "pretrained", kind: str = "probe") -> LaneScores:
    """A lane's accuracies from an evaluation report (an EvalReport or its dictionary)."""
    d = report.to_dict() if hasattr(report, "to_dict") else dict(report or {})
    feature_sets = d.get("features") or {}
    if isinstance(feature_sets, list):
        feature_sets = {f.get("name"): f for f in feature_sets}
    rows = ((feature_sets.get(features) or {}).get("label_efficiency") or {}).get("rows") or []
    by_fraction = {}
    for row in rows:
        stat = row.get(kind) or {}
        if "mean" in stat:
            by_fraction[float(row["fraction"])] = (float(stat["mean"]), float(stat.get("std") or 0.0))
    labels = dict(label_counts(d)) if rows else {}
    return LaneScores(title, by_fraction, labels, str(d.get("samples") or "samples"))


def table_rows(a: LaneScores, b: LaneScores) -> list[tuple[str, str, str]]:
    """(labels, lane A's accuracy, lane B's) per label fraction both lanes have, fewest labels first."""
    return [
        (fraction_text(f, a.labels.get(f, b.labels.get(f))), _pc(a.by_fraction[f]), _pc(b.by_fraction[f]))
        for f in _common(a, b)
    ]


def race_verdict(a: LaneScores, b: LaneScores) -> RaceVerdict:
    """Who wins, told at the label fraction where the lanes differ most (ties go to the fewest labels)."""
    fractions = _common(a, b)
    if not fractions:
        return RaceVerdict("", "", "empty")
    fraction = max(fractions, key=lambda f: (abs(a.by_fraction[f][0] - b.by_fraction[f][0]), -f))
    (mean_a, std_a), (mean_b, std_b) = a.by_fraction[fraction], b.by_fraction[fraction]
    start = _with_labels(fraction, a.labels.get(fraction), a.samples)
    gap = abs(mean_a - mean_b)
    if gap < max(TIE_POINTS, math.hypot(std_a, std_b)):
        text = (
            f"{start}, {a.title} reaches {_pc((mean_a, 0))} and {b.title} {_pc((mean_b, 0))}: level, "
            "no clear winner here."
        )
        return RaceVerdict(text, "", "ties", fraction)
    winner, loser = (a, b) if mean_a > mean_b else (b, a)
    text = (
        f"{start}, {a.title} reaches {_pc((mean_a, 0))} and {b.title} {_pc((mean_b, 0))}: "
        f"{winner.title} wins by {gap * 100:.0f} point{'' if round(gap * 100) == 1 else 's'}."
    )
    return RaceVerdict(text, winner.title, "wins", fraction)


def _common(a: LaneScores, b: LaneScores) -> list[float]:
    return sorted(set(a.by_fraction) & set(b.by_fraction))


def _pc(stat: tuple[float, float]) -> str:
    mean, std = stat
    text = f"{mean * 100:.0f}%"
    return f"{text} ± {std * 100:.0f}" if std >= 0.005 else text


def _with_labels(fraction: float, labels: int | None, plural: str) -> str:
    if fraction >= 1.0:
        return f"With all {labels:,} labelled {plural}" if labels else "With all the labels"
    if labels is None:
        return f"With {fraction * 100:g}% of the labels"
    return f"With {labels:,} labelled {plural} ({fraction * 100:g}%)"
