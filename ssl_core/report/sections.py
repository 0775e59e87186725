"""What each part of the report shows, as plain data for the HTML template: the charts drawn (as data
URIs), the tables of numbers, the previews through training. One function per section."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from ssl_core.eval.verdict import BASELINES, PRETRAINED, fraction_text, label_counts
from ssl_core.report.embed import PreviewRow, png_uri, preview_rows, svg_uri
from ssl_core.report.facts import RunFacts
from ssl_core.report.svg import Line, colour, confusion_svg, line_chart
from ssl_core.report.words import config_rows

FEATURE_ORDER = (PRETRAINED, *BASELINES)
BASELINE_GREYS = {"random_init": "#8c8c8c", "raw_input": "#bdbdbd"}


def percent(value: float | None, digits: int = 1) -> str:
    """0.7734 -> "77.3%" ("–" for a missing value); the report's one way of writing an accuracy."""
    if value is None or not math.isfinite(float(value)):
        return "–"
    return f"{float(value) * 100:.{digits}f}%"


def _features(evaluation: dict[str, Any] | None) -> dict[str, dict[str, Any]]:
    features = (evaluation or {}).get("features") or {}
    if isinstance(features, list):
        features = {f.get("name"): f for f in features}
    features = {("raw_input" if k == "raw_pixels" else k): v for k, v in features.items()}
    return {k: features[k] for k in FEATURE_ORDER if k in features} | {
        k: v for k, v in features.items() if k not in FEATURE_ORDER
    }


@dataclass
class Cell:
    text: str
    key: str = ""  # data-key of the cell: what a test (or a script) reads back


@dataclass
class EfficiencyTable:
    header: list[str]
    rows: list[tuple[str, list[Cell]]]  # (feature title, one cell per fraction)


def efficiency_table(facts: RunFacts, kind: str = "probe") -> EfficiencyTable | None:
    """Accuracy per label fraction for each kind of features, as `mean ± std` where there is a spread."""
    evaluation = facts.evaluation
    if not evaluation:
        return None
    counts = label_counts(evaluation)
    header = ["features", *[fraction_text(f, n) for f, n in counts]]
    rows = []
    for name, feature in _features(evaluation).items():
        cells = []
        for row in (feature.get("label_efficiency") or {}).get("rows") or []:
            stat = row.get(kind) or {}
            text = percent(stat.get("mean"))
            if float(stat.get("std") or 0.0) > 0:
                text += f" ± {float(stat['std']) * 100:.1f}"
            cells.append(Cell(text, f"{kind}-{name}-{float(row['fraction']):g}"))
        rows.append((str(feature.get("title") or name), cells))
    return EfficiencyTable(header, rows)


def _efficiency_lines(facts: RunFacts, label_prefix: str = "", pretrained_only: bool = False, index: int = 0):
    lines = []
    for name, feature in _features(facts.evaluation).items():
        if pretrained_only and name != PRETRAINED:
            continue
        rows = (feature.get("label_efficiency") or {}).get("rows") or []
        points = [(float(r["fraction"]), float((r.get("probe") or {}).get("mean", math.nan))) for r in rows]
        errors = [float((r.get("probe") or {}).get("std") or 0.0) for r in rows]
        title = str(feature.get("title") or name)
        lines.append(
            Line(
                f"{label_prefix}{title}",
                points,
                errors,
                colour=colour(index) if name == PRETRAINED else BASELINE_GREYS.get(name, "#999999"),
                dashed=name != PRETRAINED,
            )
        )
    return lines


def efficiency_chart(runs: list[RunFacts], labels: list[str], baselines: bool = True) -> str:
    """The label-efficiency chart (linear probe accuracy against the fraction of labels) as a data URI;
    with two runs, both runs' pretrained features and the first run's baselines (none with `baselines`
    False: runs on different data)."""
    lines = []
    for i, (facts, label) in enumerate(zip(runs, labels, strict=True)):
        if facts.evaluation:
            lines += _efficiency_lines(facts, label, pretrained_only=i > 0 or not baselines, index=i)
    if not lines:
        return ""
    return svg_uri(
        line_chart(
            lines, "labelled samples used (share of the training labels)", "held-out accuracy",
            "Label efficiency: linear probe accuracy", log_x=True,
            x_text=lambda f: f"{f * 100:g}%", y_text=lambda a: f"{a * 100:.0f}%", y_span=0.2,
        )
    )  # fmt: skip


def relative_losses(losses: list[tuple[int, float]]) -> list[tuple[int, float]]:
    """Each loss divided by the mean of the first few (its start), so curves of different scales compare."""
    start = sum(v for _, v in losses[:5]) / max(len(losses[:5]), 1)
    return [(step, v / start) for step, v in losses] if start and math.isfinite(start) else losses


def loss_chart(runs: list[RunFacts], labels: list[str]) -> str:
    """The loss per step; two runs are drawn relative to their start (see relative_losses)."""
    compare = len(runs) > 1
    lines = [
        Line(label.strip(" :"), relative_losses(facts.losses) if compare else facts.losses, colour=colour(i))
        for i, (facts, label) in enumerate(zip(runs, labels, strict=True))
    ]
    if not any(line.points for line in lines):
        return ""
    y_title = "loss relative to its start" if compare else "loss"
    return svg_uri(line_chart(lines, "training step", y_title, "Training loss per step"))


@dataclass
class PreviewSection:
    step: int
    title: str  # "Step 150 of 600 (25%)"
    rows: list[PreviewRow]
    payload: str = "image_grid"  # image grids sit two to a line on a wide screen; the others one


def preview_sections(facts: RunFacts) -> list[PreviewSection]:
    found = []
    for preview in facts.previews:
        rows = preview_rows(preview)
        if rows:
            title = f"Step {preview.step:,} of {preview.total_steps:,} ({preview.progress * 100:.0f}%)"
            found.append(PreviewSection(preview.step, title, rows, preview.payload))
    return found


PREVIEW_KIND_WORDS = {
    "views": "The random views the method compared: each column is one sample, the first row the sample "
    "itself, the other rows two views of it the network had to recognise as the same.",
    "reconstruction": "The same held-out samples all run: what the network was shown and what it rebuilt.",
    "prediction": "The same held-out samples all run, with what the network predicted about them.",
    "forecast": "The same held-out series all run: the known start and the network's forecast.",
    "samples": "Real samples, then what the generator drew from the same random numbers all run, and a strip "
    "morphing from one drawing to another.",
}


@dataclass
class KeyNumber:
    label: str
    value: str
    key: str


def key_numbers(facts: RunFacts) -> list[KeyNumber]:
    """The few numbers a reader looks for first (each with a data-key for scripts and tests)."""
    numbers = []
    pre = facts.pretrained
    if pre:
        rows = (pre.get("label_efficiency") or {}).get("rows") or []
        counts = dict(label_counts(facts.evaluation))
        if rows:
            fewest = min(rows, key=lambda r: float(r["fraction"]))
            if float(fewest["fraction"]) < 1.0:
                f = float(fewest["fraction"])
                numbers.append(
                    KeyNumber(
                        f"Linear probe with {fraction_text(f, counts.get(f))}",
                        percent(fewest["probe"]["mean"]),
                        f"probe-fewest-{f:g}",
                    )
                )
        numbers.append(KeyNumber("Linear probe, all labels", percent(pre["probe"]["accuracy"]), "probe-all"))
        numbers.append(KeyNumber("kNN, all labels", percent(pre["knn"]["accuracy"]), "knn-all"))
    lm = ((facts.evaluation or {}).get("language") or {}).get("lm")
    if lm:  # text runs: held-out perplexity against the unigram model
        what = "Masked-token" if lm["kind"] == "masked_token" else "Next-token"
        numbers.append(
            KeyNumber(
                f"{what} perplexity (unigram model: {lm['unigram_perplexity']:.1f})",
                f"{lm['perplexity']:.1f}",
                "perplexity",
            )
        )
        numbers.append(KeyNumber(f"{what} accuracy, held-out", percent(lm["accuracy"]), "lm-accuracy"))
    if facts.losses:
        numbers.append(KeyNumber("Final loss", f"{facts.losses[-1][1]:.4f}", "final-loss"))
    numbers.append(KeyNumber("Steps trained", f"{facts.losses[-1][0] if facts.losses else 0:,}", "steps"))
    return numbers


@dataclass
class RunSection:
    """One run's part of the report."""

    facts: RunFacts
    label: str  # "" for a single run, "A" / "B" in a comparison
    config: list[tuple[str, str]]
    numbers: list[KeyNumber]
    verdict: str
    not_evaluated: str  # one line saying how to evaluate, when the run has no evaluation
    previews: list[PreviewSection]
    preview_words: str
    efficiency: EfficiencyTable | None
    knn_efficiency: EfficiencyTable | None
    map_image: str
    map_words: str
    confusion_image: str
    per_class: list[tuple[str, str]] = field(default_factory=list)


def run_section(facts: RunFacts, label: str = "") -> RunSection:
    evaluation = facts.evaluation or {}
    pre = facts.pretrained
    names = list(evaluation.get("class_names") or [])
    confusion = ""
    per_class = []
    if pre:
        matrix = pre["probe"].get("confusion") or []
        confusion = svg_uri(confusion_svg(matrix, names, "Confusion matrix of the linear probe"))
        per_class = [
            (names[i] if i < len(names) else str(i), percent(acc, 0))
            for i, acc in enumerate(pre["probe"].get("per_class_accuracy") or [])
        ]
    kind = facts.previews[0].kind if facts.previews else ""
    return RunSection(
        facts=facts,
        label=label,
        config=config_rows(facts),
        numbers=key_numbers(facts),
        verdict=facts.verdict.text if facts.verdict else "",
        not_evaluated=""
        if facts.evaluation
        else f"Not evaluated yet: run `ssl-core eval {facts.run_dir}` "
        "(or make the report again without --no-eval) to add accuracies and the verdict.",
        previews=preview_sections(facts),
        preview_words=PREVIEW_KIND_WORDS.get(kind, ""),
        efficiency=efficiency_table(facts, "probe"),
        knn_efficiency=efficiency_table(facts, "knn"),
        map_image=png_uri(facts.map_png) if facts.map_png else "",
        map_words=_map_words(facts),
        confusion_image=confusion,
        per_class=per_class,
    )


def _map_words(facts: RunFacts) -> str:
    if not facts.map_png:
        return f"No map saved for this checkpoint yet: `ssl-core embed {facts.run_dir}` draws one."
    how = {"umap": "UMAP (it keeps neighbourhoods)", "pca": "PCA (a linear projection)"}
    return (
        f"Every point is one sample, placed by its features with {how.get(facts.map_projection, facts.map_projection)}"
        " and coloured by its true class. Samples the network finds alike sit close together; no labels were "
        "used to train it."
    )
