"""An evaluation report: what `evaluate_run` measured, as dataclasses, as saved JSON and as text."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ssl_core.eval.knn import KNNResult
from ssl_core.eval.probe import ProbeResult
from ssl_core.eval.verdict import fraction_text, label_counts, verdict

REPORT_FILE = "report.json"


@dataclass
class FeatureEval:
    """Probe and kNN results for one kind of features (pretrained, random init or raw input)."""

    name: str  # "pretrained", "random_init" or "raw_input"
    title: str  # what a table shows
    dim: int
    probe: ProbeResult  # all training labels
    knn: KNNResult  # all training labels
    label_efficiency: dict[str, Any]  # see label_efficiency()

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "title": self.title,
            "dim": self.dim,
            "probe": self.probe.to_dict(),
            "knn": self.knn.to_dict(),
            "label_efficiency": self.label_efficiency,
        }


@dataclass
class EvalReport:
    run_dir: str
    method: str
    backbone: str
    data: str
    checkpoint: str
    checkpoint_key: str
    step: int
    n_train: int
    n_val: int
    num_classes: int
    class_names: list[str]
    fractions: list[float]
    seeds: list[int]
    k: int
    features: list[FeatureEval]
    seconds: float
    samples: str = "images"  # what one sample is called, plural (the data's modality: "images", "series")
    # Text runs: held-out perplexity against the unigram model, nearest words, a word-pair file's score
    # (ssl_core.eval.language.run_language_metrics); None for other data.
    language: dict[str, Any] | None = None
    # Held-out evaluation by groups (ssl_core.eval.hold_out.fold_summaries): the facet, how the folds were
    # made and each fold's accuracies; the feature tables are then the mean over folds. None otherwise.
    hold_out: dict[str, Any] | None = None
    moved_to_training: int = 0  # held-out samples moved to training: their source file had training ones
    created: str = field(default_factory=lambda: datetime.now(timezone.utc).isoformat(timespec="seconds"))

    def get(self, name: str) -> FeatureEval | None:
        return next((f for f in self.features if f.name == name), None)

    @property
    def pretrained(self) -> FeatureEval:
        found = self.get("pretrained")
        assert found is not None
        return found

    def to_dict(self) -> dict[str, Any]:
        d = {k: v for k, v in asdict(self).items() if k != "features"}
        d["features"] = {f.name: f.to_dict() for f in self.features}  # keyed by name, in table order
        for optional in ("language", "hold_out"):
            if d.get(optional) is None:
                d.pop(optional, None)  # reports of other data stay as they were
        if not d.get("moved_to_training"):
            d.pop("moved_to_training", None)
        d["kind"] = "offline linear probe and kNN on frozen features"
        return d


def report_path(run_dir: str | Path) -> Path:
    return Path(run_dir) / "eval" / REPORT_FILE


def hold_out_report_path(run_dir: str | Path, facet: str) -> Path:
    """Where a held-out evaluation by `facet` ("voice", "file") is saved, beside the run's report.json."""
    slug = "".join(c if c.isalnum() or c in "-_" else "-" for c in str(facet)) or "groups"
    return Path(run_dir) / "eval" / f"report-hold-out-{slug}.json"


def read_report(run_dir: str | Path) -> dict[str, Any] | None:
    """The saved eval/report.json of a run as a dict, or None when there is none (or it is damaged)."""
    try:
        data = json.loads(report_path(run_dir).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None
    return data if isinstance(data, dict) else None


# ---- text output ------------------------------------------------------------------------------
def _fmt_stat(stat: dict[str, Any]) -> str:
    if stat.get("runs", len(stat.get("values", []))) > 1 or stat.get("std", 0.0) > 0:
        return f"{stat['mean']:.3f} ± {stat['std']:.3f}"
    return f"{stat['mean']:.3f}"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    return lines


def _feature_list(d: dict[str, Any]) -> list[dict[str, Any]]:
    features = d["features"]
    return list(features.values()) if isinstance(features, dict) else list(features)


def format_report(result: EvalReport | dict[str, Any]) -> str:
    """A plain-text summary: probe and kNN accuracy per label fraction for every feature set."""
    d = result.to_dict() if isinstance(result, EvalReport) else result
    plural = d.get("samples", "images")
    held = d.get("hold_out")
    if held:
        sizes = (
            f"  held out: {held['description']}; each fold fits on ~{d['n_train']} {plural} of the others and "
            f"tests on the held-out ones ({d['n_val']} tested in all), {d['num_classes']} classes; "
        )
    else:
        sizes = f"  {d['n_train']} training / {d['n_val']} held-out {plural}, {d['num_classes']} classes; "
    lines = [
        f"Run {d['run_dir']}",
        f"  {d['method']} on {d['data']} ({d['backbone']} backbone), checkpoint at step {d['step']}",
        sizes + f"offline probes on frozen features; kNN k={d['k']}, seeds {', '.join(map(str, d['seeds']))}",
    ]
    if d.get("moved_to_training"):
        lines.append(
            f"  {d['moved_to_training']} held-out {plural} moved to the training side: their source file "
            "had training ones (no file is on both sides)"
        )
    lines.append("")
    said = verdict(d)
    if said.text:
        lines += [f"Verdict (linear probe): {said.text}", ""]
    counts = label_counts(d)
    for title, key in (("Linear probe accuracy (held-out)", "probe"), ("kNN accuracy (held-out)", "knn")):
        lines.append(title)
        header = ["features", "dim", *[fraction_text(f, n) for f, n in counts]]
        rows = []
        for feat in _feature_list(d):
            cells = []
            for row in feat["label_efficiency"]["rows"]:
                stat = dict(row[key], runs=row["runs"])
                cells.append(_fmt_stat(stat))
            rows.append([feat.get("title", feat["name"]), str(feat["dim"]), *cells])
        lines += _table(header, rows)
        lines.append("")
    pre = next((f for f in _feature_list(d) if f["name"] == "pretrained"), None)
    if pre is not None:
        names = d.get("class_names") or []
        per_class = pre["probe"]["per_class_accuracy"]
        parts = [
            f"{names[i] if i < len(names) else i}: {'-' if acc is None else f'{acc:.2f}'}"
            for i, acc in enumerate(per_class)
        ]
        lines.append("Per-class probe accuracy (pretrained, all labels): " + ", ".join(parts))
        lines.append(f"Probe solver: {pre['probe']['solver']}; evaluated in {d['seconds']:.1f} s")
    if any(row.get("runs", 1) > 1 for feat in _feature_list(d) for row in feat["label_efficiency"]["rows"]):
        lines.append(said.error_bars.replace("Error bars show", "± is"))
    if held:
        lines += ["", *_fold_table(d, held)]
    return "\n".join(lines)


def _fold_table(d: dict[str, Any], held: dict[str, Any]) -> list[str]:
    """Each fold's probe and kNN accuracy with all its training labels, per kind of features."""
    features = _feature_list(d)
    header = [f"held out ({held['facet']})", "fit on", "tested"]
    header += [f"probe: {f.get('title', f['name'])}" for f in features]
    header += [f"kNN: {f.get('title', f['name'])}" for f in features]
    rows = []
    for fold in held["folds"]:
        found = fold["features"]
        cells = [fold["name"], str(fold["n_train"]), str(fold["n_test"])]
        for key in ("probe", "knn"):
            cells += [f"{found[f['name']][key]:.3f}" if f["name"] in found else "-" for f in features]
        rows.append(cells)
    lines = ["Per fold (all training labels of the fold)", *_table(header, rows)]
    unseen = sum(int(fold.get("unseen_label", 0)) for fold in held["folds"])
    if unseen:
        lines.append(
            f"Note: {unseen} tested {d.get('samples', 'samples')} have a label that no training sample of their "
            f"fold has (it occurs only in the held-out {held['facet']}); no classifier can get those right."
        )
    return lines
