"""Held-out evaluation by groups: probe and kNN fitted on some groups of samples, tested on another.

A source may say more about its samples than their labels (`DataSource.facets()`: the voice of each
synthesised word, for instance) and which source file each sample came from (`DataSource.groups()`: the
clips cut from one recording). Two clips of one recording, or two words of one voice, are closer to each
other than to the rest; a probe scored on samples whose siblings it was fitted on measures how well it
recognises the recording or the voice, not the label. So:

* `--hold-out FACET` evaluates leave-one-value-out: for each value of the facet (each voice), the probe
  and kNN are fitted on the samples of the other values and tested on that value's samples;
* `--hold-out file` keeps each source file's samples on one side, in up to `MAX_GROUP_FOLDS` folds of
  whole files (like scikit-learn's GroupKFold: biggest files first, each into the fold with fewest samples);
* without --hold-out, `keep_groups_apart` makes the run's own split honest: a held-out sample whose file
  also has training samples moves to the training side.

The report then holds the mean over folds (± the spread over folds) in its usual tables, and each fold's
figures under `hold_out`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ssl_core.errors import UserError
from ssl_core.eval.knn import KNNResult
from ssl_core.eval.probe import ProbeResult
from ssl_core.eval.report import FeatureEval

GROUP_WORDS = ("file", "files", "group", "groups")  # --hold-out names for DataSource.groups()
MAX_GROUP_FOLDS = 5  # folds of whole files: enough to test every file once, few enough to stay quick
FIELD = "hold_out"


@dataclass(frozen=True)
class Fold:
    """One held-out group: the samples the classifiers are fitted on and the ones they are tested on."""

    name: str  # the held-out value ("en-us m1") or "files 1-12 of 60"
    train_idx: np.ndarray  # sorted int64
    test_idx: np.ndarray  # sorted int64


@dataclass(frozen=True)
class HoldOutPlan:
    facet: str  # the facet's name, or "file"
    kind: str  # "facet" (one fold per value) or "groups" (folds of whole source files)
    folds: list[Fold]
    description: str  # "one voice at a time (3 folds)"


# ---- what a source offers -------------------------------------------------------------------------------
def source_groups(source: Any) -> np.ndarray | None:
    """The source file of each sample as int64 (N,), or None when the source does not say."""
    getter = getattr(source, "groups", None)
    groups = getter() if callable(getter) else None
    if groups is None:
        return None
    values = np.asarray(groups.numpy() if hasattr(groups, "numpy") else groups).astype(np.int64).reshape(-1)
    if len(values) != len(source):
        raise ValueError(f"groups() gave {len(values)} values for {len(source)} samples")
    return values


def source_facets(source: Any) -> dict[str, tuple[np.ndarray, list[str]]]:
    """Other labelings of the samples: name -> (int64 codes (N,), value names); {} when there are none."""
    getter = getattr(source, "facets", None)
    facets = getter() if callable(getter) else None
    found = {}
    for name, (codes, names) in dict(facets or {}).items():
        values = np.asarray(codes.numpy() if hasattr(codes, "numpy") else codes).astype(np.int64).reshape(-1)
        if len(values) != len(source):
            raise ValueError(f"facet {name!r} has {len(values)} values for {len(source)} samples")
        found[str(name)] = (values, [str(n) for n in names])
    return found


def hold_out_choices(source: Any) -> list[str]:
    """What --hold-out accepts for this source: its facets, then "file" where it knows the files."""
    return [*source_facets(source), *(["file"] if source_groups(source) is not None else [])]


# ---- the run's own split ---------------------------------------------------------------------------------
def keep_groups_apart(
    train_idx: np.ndarray, val_idx: np.ndarray, groups: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray, int]:
    """(train, val, moved): held-out samples whose source file also has training samples move to the
    training side, so no file is on both sides of the probe's split. A no-op for a split made by groups."""
    train_idx = np.asarray(train_idx, dtype=np.int64)
    val_idx = np.asarray(val_idx, dtype=np.int64)
    if groups is None or len(val_idx) == 0:
        return train_idx, val_idx, 0
    shared = np.isin(groups[val_idx], groups[train_idx])
    if not shared.any():
        return train_idx, val_idx, 0
    moved = val_idx[shared]
    return np.sort(np.concatenate([train_idx, moved])), val_idx[~shared], int(len(moved))


# ---- planning the folds ------------------------------------------------------------------------------------
def plan_hold_out(source: Any, name: str, plural: str = "samples", seed: int = 0) -> HoldOutPlan:
    """The folds of `--hold-out name`; an unknown name, or one that cannot make two sides, is a UserError
    (one line, naming the choices)."""
    spec = getattr(getattr(source, "info", None), "spec", "") or "the data"
    key = str(name).strip()
    facets = source_facets(source)
    groups = source_groups(source)
    choices = hold_out_choices(source)
    if key in facets:
        codes, names = facets[key]
        return _facet_plan(key, codes, names, spec, plural, choices)
    if key.lower() in GROUP_WORDS:
        if groups is None:
            raise UserError(f"--hold-out {key}: {spec} does not say which file each of its {plural} came from; "
                            f"{_choices_text(choices, plural)}", field=FIELD)  # fmt: skip
        return _group_plan(groups, spec, plural, seed, choices)
    raise UserError(
        f"--hold-out {key!r}: {spec} has no such facet; {_choices_text(choices, plural)}", field=FIELD
    )


def _choices_text(choices: Sequence[str], plural: str) -> str:
    if not choices:
        return (
            f"its {plural} carry no second labelling (such as the voice of synthetic speech) and no source "
            "files, so evaluate without --hold-out."
        )
    return f"choose one of: {', '.join(choices)}."


def _facet_plan(
    key: str, codes: np.ndarray, names: list[str], spec: str, plural: str, choices: list[str]
) -> HoldOutPlan:
    present = [int(v) for v in np.unique(codes) if v >= 0]
    if len(present) < 2:
        only = _value_name(present[0], names) if present else "none"
        others = [c for c in choices if c != key]
        raise UserError(
            f"--hold-out {key}: all {plural} of {spec} have the same {key} ({only}), "
            f"so holding one out leaves nothing to fit on; "
            + (f"choose one of: {', '.join(others)}." if others else "evaluate without --hold-out."),
            field=FIELD,
        )
    everything = np.arange(len(codes), dtype=np.int64)
    folds = []
    for value in present:
        test = everything[codes == value]
        folds.append(Fold(_value_name(value, names), np.setdiff1d(everything, test), test))
    return HoldOutPlan(key, "facet", folds, f"one {key} at a time ({len(folds)} folds)")


def _value_name(code: int, names: list[str]) -> str:
    return names[code] if 0 <= code < len(names) else str(code)


def _group_plan(groups: np.ndarray, spec: str, plural: str, seed: int, choices: list[str]) -> HoldOutPlan:
    ids, counts = np.unique(groups, return_counts=True)
    if len(ids) < 2:
        others = [c for c in choices if c != "file"]
        raise UserError(
            f"--hold-out file: all {plural} of {spec} come from one file, so holding files out leaves nothing "
            "to fit on; "
            + (f"choose one of: {', '.join(others)}." if others else "evaluate without --hold-out."),
            field=FIELD,
        )
    n_folds = min(MAX_GROUP_FOLDS, len(ids))
    # Biggest files first (ties in a seeded random order), each into the fold with the fewest samples so far.
    order = np.random.default_rng(int(seed)).permutation(len(ids))
    order = order[np.argsort(-counts[order], kind="stable")]
    sizes = np.zeros(n_folds, dtype=np.int64)
    fold_of = np.empty(len(ids), dtype=np.int64)
    for i in order:
        target = int(np.argmin(sizes))
        fold_of[i] = target
        sizes[target] += counts[i]
    everything = np.arange(len(groups), dtype=np.int64)
    position = np.searchsorted(ids, groups)
    folds = []
    for f in range(n_folds):
        test = everything[fold_of[position] == f]
        files = int((fold_of == f).sum())
        name = f"fold {f + 1} of {n_folds} ({files} file{'' if files == 1 else 's'})"
        folds.append(Fold(name, np.setdiff1d(everything, test), test))
    return HoldOutPlan("file", "groups", folds, f"whole source files, {n_folds} folds of {len(ids)} files")


# ---- combining the folds ------------------------------------------------------------------------------------
def _stats(values: Sequence[float]) -> dict[str, Any]:
    arr = np.asarray(values, dtype=np.float64)
    std = float(arr.std(ddof=1)) if len(arr) > 1 else 0.0
    return {"mean": float(arr.mean()), "std": std, "values": [float(v) for v in arr]}


def _pooled(confusions: Sequence[list[list[int]]]) -> tuple[np.ndarray, list[float | None]]:
    total = np.sum([np.asarray(c, dtype=np.int64) for c in confusions], axis=0)
    support = total.sum(axis=1)
    per_class = [float(total[c, c] / support[c]) if support[c] else None for c in range(len(total))]
    return total, per_class


def combine_folds(per_fold: Sequence[Sequence[FeatureEval]]) -> list[FeatureEval]:
    """One FeatureEval per kind of features: accuracies are the mean over folds, ± the spread over folds
    (each fold's label-fraction figure is already the mean over its label picks); confusions are summed
    over folds (every sample is tested once)."""
    combined = []
    for i, first in enumerate(per_fold[0]):
        evals = [fold[i] for fold in per_fold]
        probes, knns = [e.probe for e in evals], [e.knn for e in evals]
        confusion, per_class = _pooled([p.confusion for p in probes])
        probe_acc = [p.accuracy for p in probes]
        probe = ProbeResult(
            accuracy=float(np.mean(probe_acc)),
            per_class_accuracy=per_class,
            confusion=confusion.tolist(),
            train_accuracy=float(np.mean([p.train_accuracy for p in probes])),
            n_train=int(round(np.mean([p.n_train for p in probes]))),
            n_test=int(sum(p.n_test for p in probes)),
            num_classes=first.probe.num_classes,
            solver=", ".join(sorted({p.solver for p in probes})),
            iterations=max(p.iterations for p in probes),
            extra={"folds": len(evals), "fold_accuracy": probe_acc, "std": _stats(probe_acc)["std"]},
        )
        k_confusion, k_per_class = _pooled([k.confusion for k in knns])
        knn = KNNResult(
            accuracy=float(np.mean([k.accuracy for k in knns])),
            per_class_accuracy=k_per_class,
            confusion=k_confusion.tolist(),
            k=min(k.k for k in knns),
            temperature=first.knn.temperature,
            n_train=int(round(np.mean([k.n_train for k in knns]))),
            n_test=int(sum(k.n_test for k in knns)),
            num_classes=first.knn.num_classes,
            weighting=first.knn.weighting,
        )
        table = dict(first.label_efficiency)
        table["rows"] = [_combined_row([e.label_efficiency["rows"][r] for e in evals])
                         for r in range(len(first.label_efficiency["rows"]))]  # fmt: skip
        table["folds"] = len(evals)
        combined.append(FeatureEval(first.name, first.title, first.dim, probe, knn, table))
    return combined


def _combined_row(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    return {
        "fraction": rows[0]["fraction"],
        "labels_used": int(round(float(np.mean([r["labels_used"] for r in rows])))),
        "runs": len(rows),  # folds: the ± of a table is the spread over them
        "picks": rows[0]["runs"],  # label picks (seeds) averaged inside each fold
        "probe": _stats([r["probe"]["mean"] for r in rows]),
        "knn": _stats([r["knn"]["mean"] for r in rows]),
        "probe_solver": ", ".join(sorted({s for r in rows for s in r["probe_solver"].split(", ") if s})),
    }


def fold_summaries(
    plan: HoldOutPlan, per_fold: Sequence[Sequence[FeatureEval]], labels: np.ndarray
) -> dict[str, Any]:
    """The report's `hold_out` section: the plan and each fold's accuracies per kind of features, and how
    many of its tested samples have a label none of its training samples has (no classifier can get those)."""
    folds = []
    for fold, evals in zip(plan.folds, per_fold, strict=True):
        unseen = ~np.isin(labels[fold.test_idx], labels[fold.train_idx])
        folds.append(
            {
                "name": fold.name,
                "n_train": int(len(fold.train_idx)),
                "n_test": int(len(fold.test_idx)),
                "unseen_label": int(unseen.sum()),
                "features": {
                    e.name: {
                        "probe": e.probe.accuracy,
                        "knn": e.knn.accuracy,
                        "rows": [
                            {"fraction": r["fraction"], "probe": r["probe"]["mean"], "knn": r["knn"]["mean"]}
                            for r in e.label_efficiency["rows"]
                        ],
                    }
                    for e in evals
                },
            }
        )
    return {"facet": plan.facet, "kind": plan.kind, "description": plan.description, "folds": folds}
