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
        if d.get("language") is None:
            d.pop("language", None)  # reports of other data stay as they were
        d["kind"] = "offline linear probe and kNN on frozen features"
        return d


def report_path(run_dir: str | Path) -> Path:
    return Path(run_dir) / "eval" / REPORT_FILE


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
    lines = [
        f"Run {d['run_dir']}",
        f"  {d['method']} on {d['data']} ({d['backbone']} backbone), checkpoint at step {d['step']}",
        f"  {d['n_train']} training / {d['n_val']} held-out {d.get('samples', 'images')}, "
        f"{d['num_classes']} classes; "
        f"offline probes on frozen features; kNN k={d['k']}, seeds {', '.join(map(str, d['seeds']))}",
        "",
    ]
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
    return "\n".join(lines)
