"""A plain verdict on an evaluation report: did this run's features beat the baselines, in counts a person
understands ("With 14 labelled images (1%), this run's features reach 77% ...").

With all labels the pretrained features, the same network at random init and the raw input often tie, so
the verdict is told at the label fraction where the pretrained features differ most from the best baseline.
Works on an `EvalReport` or its saved dictionary (`report.json`); no Qt, no torch needed.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any, NamedTuple

PRETRAINED = "pretrained"
BASELINES = ("random_init", "raw_input")
_OLD_KEYS = {"raw_pixels": "raw_input"}  # reports saved before the modality seam
# Method families whose features are known to do poorly under a linear probe.
RECONSTRUCTION_FAMILIES = ("generative",)
RECONSTRUCTION_HINT = (
    "Masked and reconstruction models usually need fine-tuning rather than a linear probe: their features "
    "keep the detail needed to redraw the input, which a single linear layer cannot sort into classes."
)
LOSS_HINT = (
    "Short runs often do this: train for more steps (or with stronger augmentations) and evaluate again."
)
TIE_POINTS = 0.01  # differences below one percentage point are ties, whatever the spread over seeds


@dataclass(frozen=True)
class Verdict:
    """What a person reads first about an evaluation, and the numbers it was made from."""

    text: str  # one or two plain sentences ("" when the report holds no accuracies)
    outcome: str  # "wins", "ties", "loses", "alone" (no baselines measured) or "empty"
    fraction: float | None = None  # the label fraction the verdict is told at
    labels: int | None = None  # how many labelled samples that fraction means
    pretrained: float | None = None  # accuracy of this run's features there
    baselines: dict[str, float] = field(default_factory=dict)  # feature set -> accuracy there
    hint: str = ""  # why a run may lose (part of `text` too)
    error_bars: str = ""  # what the error bars in a chart or the ± in a table are
    kind: str = "probe"  # the classifier: "probe" (linear probe) or "knn"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _as_dict(report: Any) -> dict[str, Any]:
    return report.to_dict() if hasattr(report, "to_dict") else dict(report)


def _features(d: dict[str, Any]) -> dict[str, dict[str, Any]]:
    features = d.get("features") or {}
    if isinstance(features, list):
        features = {f.get("name"): f for f in features}
    return {_OLD_KEYS.get(k, k): v for k, v in features.items() if isinstance(v, dict)}


def _rows(feature: dict[str, Any] | None) -> list[dict[str, Any]]:
    return list(((feature or {}).get("label_efficiency") or {}).get("rows") or [])


def label_counts(report: Any) -> list[tuple[float, int]]:
    """(fraction, number of labelled training samples) per label fraction of the report.

    The fractions are of the training split's labels, subsampled per class (at least one per class), so
    the count is the one the probes really used when the report says it, else fraction x training size.
    """
    d = _as_dict(report)
    features = _features(d)
    rows = next((_rows(f) for f in features.values() if _rows(f)), [])
    used = {float(r["fraction"]): int(r["labels_used"]) for r in rows if "labels_used" in r}
    n_train = int(d.get("n_train") or 0)
    fractions = [float(r["fraction"]) for r in rows] or [float(f) for f in d.get("fractions") or []]
    return [(f, used.get(f, int(round(f * n_train)))) for f in fractions]


def fraction_text(fraction: float, labels: int | None = None) -> str:
    """ "1% (14 labels)", or "1%" when the count is unknown."""
    text = f"{fraction * 100:g}%"
    if labels is not None:
        text += f" ({labels:,} label{'' if labels == 1 else 's'})"
    return text


def error_bar_text(report: Any) -> str:
    """One sentence on what the error bars (the ± of the tables) are."""
    d = _as_dict(report)
    seeds = [str(s) for s in d.get("seeds") or []]
    held = d.get("hold_out")
    if isinstance(held, dict) and held.get("folds"):
        each = "some whole files" if held.get("kind") == "groups" else f"one {held.get('facet')}"
        text = (
            f"Error bars show the spread (standard deviation) over the {len(held['folds'])} folds "
            f"({each} held out in each)"
        )
        if len(seeds) > 1 and any(float(f) < 1.0 for f in d.get("fractions") or []):
            text += (
                f"; below all labels each fold's figure is the mean over {len(seeds)} random picks of labels"
            )
        return text + "."
    if len(seeds) < 2:
        return "Each point is a single label subsample (one seed), so there are no error bars."
    text = (
        f"Error bars show the spread (standard deviation) over {len(seeds)} random picks of the labelled "
        f"{d.get('samples') or 'samples'} (seeds {', '.join(seeds)})"
    )
    if any(float(f) >= 1.0 for f in d.get("fractions") or []):
        text += "; with all labels there is nothing to pick, so that point has none"
    return text + "."


def _one(plural: str) -> str:
    return plural if plural.endswith("series") or not plural.endswith("s") else plural[:-1]


def _pct(values: list[float]) -> str:
    """Format spec for a sentence's accuracies: whole percents unless that would blur a difference."""
    closest = min((abs(a - b) for i, a in enumerate(values) for b in values[i + 1 :]), default=1.0)
    return ".0f" if closest >= 0.015 else ".1f"


def _baseline_name(key: str, feature: dict[str, Any]) -> str:
    if key == "random_init":
        return "the same network with random weights"
    title = str(feature.get("title") or "raw input").strip().lower()
    return f"the {title}"


def _family(method: str) -> str | None:
    try:
        from ssl_core.methods import METHODS

        return METHODS.get(method).family if method in METHODS else None
    except Exception:  # noqa: BLE001 - a verdict never fails over a hint
        return None


class _Score(NamedTuple):
    key: str  # feature set: "random_init", "raw_input"
    name: str  # as a sentence says it: "the raw pixels"
    mean: float
    std: float
    values: tuple[float, ...] = ()  # per fold of a held-out evaluation (paired with this run's), else ()


def _stat(row: dict[str, Any] | None, kind: str) -> tuple[float, float]:
    stat = (row or {}).get(kind) or {}
    return float(stat.get("mean", math.nan)), float(stat.get("std", 0.0) or 0.0)


def _with_labels(fraction: float, labels: int | None, plural: str) -> str:
    if labels is None:
        return f"With {fraction_text(fraction)} of the labels"
    if fraction >= 1.0:
        return f"With all {labels:,} labelled {plural}"
    return f"With {labels:,} labelled {plural if labels != 1 else _one(plural)} ({fraction * 100:g}%)"


def _fold_values(row: dict[str, Any] | None, kind: str, paired: bool) -> tuple[float, ...]:
    return tuple(float(v) for v in ((row or {}).get(kind) or {}).get("values") or ()) if paired else ()


def _spread(std: float, other: _Score, values: tuple[float, ...]) -> float:
    """How far apart two accuracies may be and still be level: the spread of their difference. Over the
    folds of a held-out evaluation the scores are paired (one voice is hard for every kind of features),
    so it is the spread of the per-fold differences; otherwise the two spreads combined."""
    if len(values) > 1 and len(values) == len(other.values):
        diffs = [a - b for a, b in zip(values, other.values, strict=True)]
        centre = sum(diffs) / len(diffs)
        return math.sqrt(sum((x - centre) ** 2 for x in diffs) / (len(diffs) - 1))
    return math.hypot(std, other.std)


def verdict(report: Any, kind: str = "probe", family: str | None = None) -> Verdict:
    """The verdict at the label fraction where this run's features differ most from the best baseline.

    Ties (differences under one point or within the spread over label picks) go to the fewest labels.
    `family`: the method's family ("generative" gets a hint on why it may lose); looked up from the
    method registry when not given.
    """
    d = _as_dict(report)
    features = _features(d)
    bars = error_bar_text(d)
    pre_rows = {float(r["fraction"]): r for r in _rows(features.get(PRETRAINED)) if kind in r}
    if not pre_rows:
        return Verdict("", "empty", error_bars=bars, kind=kind)
    base_rows = {
        key: {float(r["fraction"]): r for r in _rows(features[key])} for key in BASELINES if key in features
    }
    paired = bool((d.get("hold_out") or {}).get("folds"))  # every kind of features scored on the same folds

    def scores(fraction: float) -> list[_Score]:
        found = [
            _Score(
                key,
                _baseline_name(key, features[key]),
                *_stat(rows.get(fraction), kind),
                _fold_values(rows.get(fraction), kind, paired),
            )  # fmt: skip
            for key, rows in base_rows.items()
        ]
        return [s for s in found if not math.isnan(s.mean)]

    def gap(fraction: float) -> float:
        others = scores(fraction)
        return _stat(pre_rows[fraction], kind)[0] - max(s.mean for s in others) if others else 0.0

    fraction = max(pre_rows, key=lambda f: (abs(gap(f)), -f))
    mean, std = _stat(pre_rows[fraction], kind)
    pre_values = _fold_values(pre_rows[fraction], kind, paired)
    others = scores(fraction)
    labels = dict(label_counts(d)).get(fraction)
    start = _with_labels(fraction, labels, str(d.get("samples") or "samples"))
    fmt = _pct([mean] + [s.mean for s in others])
    facts = dict(fraction=fraction, labels=labels, pretrained=mean, error_bars=bars, kind=kind)
    facts["baselines"] = {s.key: s.mean for s in others}

    def pc(value: float) -> str:
        return f"{value * 100:{fmt}}%"

    def listed(group: list[_Score]) -> str:
        return " and ".join(f"{s.name} ({pc(s.mean)})" for s in group)

    def level(s: _Score) -> bool:
        return abs(mean - s.mean) < max(TIE_POINTS, _spread(std, s, pre_values))

    if not others:
        text = f"{start}, this run's features reach {pc(mean)}; no baselines were measured to compare with."
        return Verdict(text, "alone", **facts)
    best = max(others, key=lambda s: s.mean)
    if level(best):
        text = f"{start}, this run's features reach {pc(mean)}, level with {listed([s for s in others if level(s)])}"
        if any(not level(s) for s in others):
            text += f" (above {listed([s for s in others if not level(s)])})"
        text += ": the self-supervised training made no clear difference here."
        return Verdict(text, "ties", **facts)
    if mean > best.mean:
        verb = "reach" if others[0].key != "random_init" and others[0].name.endswith("s") else "reaches"
        parts = [f"{s.name} {verb + ' ' if i == 0 else ''}{pc(s.mean)}" for i, s in enumerate(others)]
        return Verdict(
            f"{start}, this run's features reach {pc(mean)}; {' and '.join(parts)}.", "wins", **facts
        )

    above = [s for s in others if s.mean > mean and not level(s)]
    text = f"{start}, this run's features reach only {pc(mean)}, below {listed(above)}"
    if any(level(s) for s in others):
        text += f", level with {listed([s for s in others if level(s)])}"
    if any(s.mean < mean and not level(s) for s in others):
        text += f", though above {listed([s for s in others if s.mean < mean and not level(s)])}"
    family = family if family is not None else _family(str(d.get("method") or ""))
    hint = RECONSTRUCTION_HINT if family in RECONSTRUCTION_FAMILIES else LOSS_HINT
    return Verdict(f"{text}. {hint}", "loses", hint=hint, **facts)
