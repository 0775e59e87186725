"""`FinetuneReport`: what a fine-tuning job measured, as rows of variants with mean and spread over seeds."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ssl_core.finetune.settings import labels_text

# The variants, in the order tables show them.
FINETUNE = "fine-tune"
RANDOM_INIT = "fine-tune (random init)"
LINEAR_PROBE = "linear probe"
PSEUDO_LABELS = "pseudo-labels"
FIXMATCH = "fixmatch"
DISTILLED = "distilled"
VARIANTS = (FINETUNE, RANDOM_INIT, LINEAR_PROBE, PSEUDO_LABELS, FIXMATCH, DISTILLED)


@dataclass
class VariantRow:
    """One variant's test accuracy per seed (`values`) and what it used."""

    variant: str
    values: list[float]
    n_labels: int  # labelled training samples used (mean over seeds, rounded)
    details: dict[str, Any] = field(default_factory=dict)  # epochs, pseudo-label counts, ...

    @property
    def accuracy(self) -> float:
        return float(np.mean(self.values)) if self.values else 0.0

    @property
    def std(self) -> float:
        return float(np.std(self.values, ddof=1)) if len(self.values) > 1 else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "variant": self.variant,
            "accuracy": self.accuracy,
            "std": self.std,
            "values": [float(v) for v in self.values],
            "n_labels": int(self.n_labels),
            "details": self.details,
        }


@dataclass
class FinetuneReport:
    parent: str  # the pretrained run's folder
    run_dir: str  # the fine-tune run's own folder
    labels: float | int  # as asked: a fraction or a count per class
    fraction: float  # labelled samples / training samples (the labels axis of the label-efficiency chart)
    n_train: int  # training samples of the parent run (labelled + unlabelled)
    n_val: int  # held-out samples used for early stopping
    n_test: int  # held-out samples every variant is scored on
    num_classes: int
    class_names: list[str]
    seeds: list[int]
    rows: list[VariantRow]
    settings: dict[str, Any]
    method: str = ""
    data: str = ""
    seconds: float = 0.0

    def row(self, variant: str) -> VariantRow | None:
        return next((r for r in self.rows if r.variant == variant), None)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": "finetune",
            "parent": self.parent,
            "run_dir": self.run_dir,
            "labels": self.labels,
            "labels_text": labels_text(self.labels),
            "fraction": self.fraction,
            "n_train": self.n_train,
            "n_val": self.n_val,
            "n_test": self.n_test,
            "num_classes": self.num_classes,
            "class_names": list(self.class_names),
            "seeds": list(self.seeds),
            "rows": [r.to_dict() for r in self.rows],
            "settings": self.settings,
            "method": self.method,
            "data": self.data,
            "seconds": self.seconds,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> FinetuneReport:
        rows = [VariantRow(r["variant"], list(r["values"]), int(r["n_labels"]), dict(r.get("details", {})))
                for r in d["rows"]]  # fmt: skip
        return cls(
            parent=d["parent"], run_dir=d["run_dir"], labels=d["labels"], fraction=float(d["fraction"]),
            n_train=int(d["n_train"]), n_val=int(d["n_val"]), n_test=int(d["n_test"]),
            num_classes=int(d["num_classes"]), class_names=list(d.get("class_names", [])),
            seeds=list(d["seeds"]), rows=rows, settings=dict(d.get("settings", {})),
            method=d.get("method", ""), data=d.get("data", ""), seconds=float(d.get("seconds", 0.0)),
        )  # fmt: skip


def format_report(report: FinetuneReport) -> str:
    """A table for the terminal: one line per variant, accuracy as mean ± std over the seeds."""
    lines = [
        f"Fine-tuning {report.parent} with {labels_text(report.labels)} of the labels "
        f"({report.rows[0].n_labels if report.rows else 0} of {report.n_train:,} training samples), "
        f"scored on {report.n_test:,} held-out samples ({report.n_val:,} more for early stopping), "
        f"seeds {', '.join(map(str, report.seeds))}:",
    ]
    width = max(len(v) for v in VARIANTS)
    for r in report.rows:
        spread = f" ± {r.std:.3f}" if len(r.values) > 1 else ""
        note = _note(r)
        lines.append(f"  {r.variant:<{width}}  {r.accuracy:.3f}{spread}  ({r.n_labels} labels){note}")
    lines.append(f"Saved as {report.run_dir}")
    return "\n".join(lines)


def _note(row: VariantRow) -> str:
    d = row.details
    teacher = (d.get("per_seed") or [{}])[0].get("teacher")
    if row.variant == PSEUDO_LABELS and "pseudo_labels" in d:
        acc = d.get("pseudo_label_accuracy")
        right = f", {acc:.1%} of them right" if acc is not None else ""
        by = f" (by the {teacher} model)" if teacher else ""
        return f"  + {d['pseudo_labels']:.0f} pseudo-labels{right}{by}"
    if row.variant == FIXMATCH and d.get("confident_share") is not None:
        return f"  ({d['confident_share']:.0%} of unlabelled guesses above the threshold)"
    if row.variant == DISTILLED and teacher:
        return f"  (student of the {teacher} model on all {d.get('distilled_on', 0):.0f} training samples)"
    return ""
