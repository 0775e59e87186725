"""`evaluate_run`: probe a run's frozen encoder against baselines and save run_dir/eval/report.json.

It measures the pretrained encoder and, for reference, the same backbone at its random initialisation
(rebuilt with the run's seed, so exactly the weights training started from) and the raw input (pixels,
values). All three go through the same code: a linear probe and weighted kNN on the held-out split,
with all training labels and at smaller label fractions.

Where the source knows which file each sample came from (audio clips cut from recordings), no file is on
both sides of the probe's split; `hold_out` (a facet such as "voice", or "file") evaluates one group at a
time instead (see ssl_core/eval/hold_out.py) and saves eval/report-hold-out-<name>.json.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ssl_core.errors import UserError
from ssl_core.eval.embeddings import raw_features_of_source
from ssl_core.eval.hold_out import (
    combine_folds,
    fold_summaries,
    keep_groups_apart,
    plan_hold_out,
    source_groups,
)
from ssl_core.eval.knn import DEFAULT_K, knn_classify
from ssl_core.eval.label_efficiency import (
    DEFAULT_FRACTIONS,
    DEFAULT_SEEDS,
    check_fractions,
    check_seeds,
    efficiency_row,
    label_efficiency,
)
from ssl_core.eval.loaded_run import pretrained_embeddings, random_init_features
from ssl_core.eval.metrics import NO_LABELS_HINT, infer_num_classes
from ssl_core.eval.probe import linear_probe
from ssl_core.eval.report import EvalReport, FeatureEval, hold_out_report_path, report_path
from ssl_core.progress import CancelToken, ProgressFn, check_cancel, report, stage_progress, sub_progress
from ssl_core.runs.atomic import atomic_write_json
from ssl_core.runs.store import load_run, write_summary

FEATURE_TITLES = {"pretrained": "pretrained", "random_init": "random init", "raw_input": "raw input"}
# How the probing stage names each kind of features in progress messages.
STAGE_WORDS = {"pretrained": "this run's features", "random_init": "the random-weights network's features"}
LANGUAGE_FILE = "language.json"  # run_dir/eval/: the language section of a text run without labels
RAW_INPUT = (
    "raw_input"  # the raw-input baseline's key; reports saved before modalities called it "raw_pixels"
)


@dataclass(frozen=True)
class ProbeSettings:
    """How features are scored: label fractions, seeds of the label subsamples, and kNN's k."""

    fractions: tuple[float, ...]
    seeds: tuple[int, ...]
    k: int

    @classmethod
    def checked(cls, fractions: Sequence[float], seeds: Sequence[int], k: int) -> ProbeSettings:
        """Settings as a caller gave them; values out of range are a user error naming the field."""
        fractions, seeds = check_fractions(fractions), check_seeds(seeds)
        if int(k) < 1:
            raise UserError(f"k = {k} is too small; use at least 1 neighbour (20 is usual).", field="k")
        return cls(fractions, seeds, int(k))


@dataclass(frozen=True)
class LabelledSplit:
    """Every sample's label and the run's training / held-out split."""

    labels: np.ndarray  # (N,) int64
    train_idx: np.ndarray
    val_idx: np.ndarray
    num_classes: int
    moved: int = 0  # held-out samples moved to the training side: their source file had training samples


@dataclass(frozen=True)
class FeatureSet:
    """One kind of features of every sample: "pretrained", "random_init" or RAW_INPUT."""

    name: str
    features: np.ndarray  # (N, D)
    title: str = ""  # what a table shows; default: FEATURE_TITLES

    @property
    def shown_title(self) -> str:
        return self.title or FEATURE_TITLES.get(self.name, self.name)


def evaluate_features(
    features: FeatureSet,
    split: LabelledSplit,
    settings: ProbeSettings,
    progress: ProgressFn | None = None,
    cancel: CancelToken | None = None,
) -> FeatureEval:
    """Linear probe and kNN with all training labels, and both at the smaller label fractions."""
    title = features.shown_title
    what = f"{title} features"
    feats, labels = features.features, split.labels
    x_train, y_train = feats[split.train_idx], labels[split.train_idx]
    x_val, y_val = feats[split.val_idx], labels[split.val_idx]
    num_classes = split.num_classes
    report(progress, 0.0, "fitting with all labels")
    probe = linear_probe(x_train, y_train, x_val, y_val, num_classes=num_classes, cancel=cancel, what=what)
    check_cancel(cancel)
    knn = knn_classify(
        x_train, y_train, x_val, y_val, k=settings.k, num_classes=num_classes, cancel=cancel, what=what
    )
    report(progress, 0.3, "fitting with fewer labels")
    partial = tuple(f for f in settings.fractions if f < 1.0)
    rows: dict[float, dict[str, Any]] = {}
    if partial:
        curve = label_efficiency(
            x_train, y_train, x_val, y_val, partial, settings.seeds, settings.k,
            num_classes=num_classes, progress=sub_progress(progress, 0.3, 1.0), cancel=cancel, what=what,
        )  # fmt: skip
        rows.update((row["fraction"], row) for row in curve["rows"])
    if 1.0 in settings.fractions:  # the all-labels row is the full result above; no need to fit it again
        rows[1.0] = efficiency_row(1.0, [probe.n_train], [probe.accuracy], [knn.accuracy], {probe.solver})
    table = {
        "fractions": list(settings.fractions),
        "seeds": list(settings.seeds),
        "k": settings.k,
        "num_classes": num_classes,
        "rows": [rows[f] for f in settings.fractions],
    }
    return FeatureEval(features.name, title, int(feats.shape[1]), probe, knn, table)


def evaluate_run(
    run_dir: str | Path,
    fractions: Sequence[float] = DEFAULT_FRACTIONS,
    seeds: Sequence[int] = DEFAULT_SEEDS,
    k: int = DEFAULT_K,
    include_baselines: bool = True,
    progress: ProgressFn | None = None,
    cancel: CancelToken | None = None,
    batch_size: int = 512,
    word_pairs: str | Path | None = None,
    hold_out: str | None = None,
) -> EvalReport:
    """Probe + kNN (+ label fractions) of a run's frozen encoder and its baselines; saves eval/report.json.

    Text runs also get their language section (`EvalReport.language`: held-out perplexity against the
    unigram model, nearest words, and with `word_pairs` the score of that word-pair file).
    `hold_out`: a facet of the source ("voice") or "file": one group held out at a time, the tables the
    mean over those folds; saved as eval/report-hold-out-<name>.json (eval/report.json is left alone)."""
    started = time.perf_counter()
    settings = ProbeSettings.checked(fractions, seeds, k)
    report(progress, 0.0, "Loading the run")
    run = load_run(run_dir)
    check_cancel(cancel)
    source, config = run.source, run.config
    split = labelled_split(run, held_out=hold_out is None)  # folds need labels, not the run's split
    plan = None
    if hold_out is not None:  # refused (one line, naming the choices) before any embedding work
        plan = plan_hold_out(source, hold_out, run.method.modality.plural, config.train.seed)

    # Each stage says what it is; counts in the words are the stage's own, the percentage is the whole's.
    stages = 3 if include_baselines else 2
    trained = stage_progress(progress, 0.02, 0.25, f"Step 1 of {stages}, this run's trained network")
    embedded = pretrained_embeddings(run, batch_size, trained, cancel)
    feature_sets = [FeatureSet("pretrained", embedded.features)]
    if include_baselines:
        check_cancel(cancel)
        baseline = stage_progress(
            progress, 0.25, 0.4, f"Step 2 of {stages}, the same network with random weights (the baseline)"
        )
        report(baseline, 0.0, "starting")
        random_feats = random_init_features(run, batch_size, baseline, cancel)
        check_cancel(cancel)
        raw_title = run.method.modality.raw_title
        report(progress, 0.4, f"Reading the {raw_title}")
        raw = raw_features_of_source(run.method, source)
        feature_sets += [FeatureSet("random_init", random_feats), FeatureSet(RAW_INPUT, raw, raw_title)]

    folds = [None] if plan is None else plan.folds
    per_fold: list[list[FeatureEval]] = []
    span = 0.55 / (len(feature_sets) * len(folds))
    for f, fold in enumerate(folds):
        fold_split = split if fold is None else _fold_split(split, fold)
        where = "" if fold is None else f", {plan.facet} {fold.name} held out ({f + 1} of {len(folds)})"
        results = []
        for i, features in enumerate(feature_sets):
            check_cancel(cancel)
            at = 0.43 + (f * len(feature_sets) + i) * span
            sub = stage_progress(
                progress, at, at + span,
                f"Step {stages} of {stages}, linear probe and kNN on "
                f"{STAGE_WORDS.get(features.name, 'the ' + features.shown_title)} "
                f"({i + 1} of {len(feature_sets)}){where}",
            )  # fmt: skip
            results.append(evaluate_features(features, fold_split, settings, sub, cancel))
        per_fold.append(results)
    results = per_fold[0] if plan is None else combine_folds(per_fold)
    n_train, n_val = len(split.train_idx), len(split.val_idx)
    if plan is not None:  # each fold's training side on average; every sample is tested once
        n_train = int(round(np.mean([len(fold.train_idx) for fold in plan.folds])))
        n_val = int(sum(len(fold.test_idx) for fold in plan.folds))

    language = None
    if run.method.modality.name == "text":
        check_cancel(cancel)
        report(progress, 0.98, "Language-model metrics on the held-out texts")
        from ssl_core.eval.language import run_language_metrics

        language = run_language_metrics(run, word_pairs)
    result = EvalReport(
        run_dir=str(run.run_dir),
        method=config.method.name,
        backbone=str(getattr(run.method.backbone, "name", config.method.backbone)),
        data=config.data.spec,
        checkpoint=str(run.checkpoint_path),
        checkpoint_key=embedded.key,
        step=int(getattr(run, "step", 0)),
        n_train=n_train,
        n_val=n_val,
        num_classes=split.num_classes,
        class_names=list(source.info.class_names),
        fractions=list(settings.fractions),
        seeds=list(settings.seeds),
        k=settings.k,
        features=results,
        seconds=round(time.perf_counter() - started, 3),
        samples=run.method.modality.plural,
        language=language,
        hold_out=None if plan is None else fold_summaries(plan, per_fold, split.labels),
        moved_to_training=split.moved if plan is None else 0,
    )
    if plan is None:
        atomic_write_json(report_path(run.run_dir), result.to_dict())
        _record_in_summary(run.run_dir, result)
    else:  # a different question than the run's own split: its own file, and not the run list's figure
        atomic_write_json(hold_out_report_path(run.run_dir, plan.facet), result.to_dict())
    report(progress, 1.0, "Evaluation done")
    return result


def evaluate_language(
    run_dir: str | Path, word_pairs: str | Path | None = None, progress: ProgressFn | None = None
) -> dict[str, Any] | None:
    """The language section alone (text runs without labels have no probe to fit); saved as
    eval/language.json. None for a run that is not on text."""
    report(progress, 0.0, "Loading the run")
    run = load_run(run_dir)
    if run.method.modality.name != "text":
        return None
    from ssl_core.eval.language import run_language_metrics

    report(progress, 0.3, "Language-model metrics on the held-out texts")
    language = run_language_metrics(run, word_pairs)
    atomic_write_json(report_path(run.run_dir).with_name(LANGUAGE_FILE), language)
    report(progress, 1.0, "Evaluation done")
    return language


def labelled_split(run, held_out: bool = True) -> LabelledSplit:
    """The run's labels and its training/held-out split (the one its evaluation uses; fine-tuning reuses it).
    Data without labels, or (`held_out`) a run without held-out samples, is a user error."""
    config = run.config
    labels = run.source.labels()
    if labels is None:
        raise UserError(
            f"{config.data.spec} has no labels; {NO_LABELS_HINT} (ssl-core embed {run.run_dir}).",
            field="data.spec",
        )
    if held_out and len(run.val_idx) == 0:
        raise UserError(
            f"Run {run.run_dir} has no held-out {run.method.modality.plural} (data.val_fraction = "
            f"{config.data.val_fraction}); a probe is scored on held-out samples, so train with "
            "data.val_fraction above 0.",
            field="data.val_fraction",
        )
    values = labels.numpy().astype(np.int64)
    # Clips of one recording are near copies of each other: none may be on both sides of the split.
    train_idx, val_idx, moved = keep_groups_apart(
        run.train_idx.numpy(), run.val_idx.numpy(), source_groups(run.source)
    )
    if held_out and len(val_idx) == 0:
        raise UserError(
            f"Every held-out {_one(run.method.modality.plural)} of run {run.run_dir} comes from a file that "
            "also has training ones, so nothing is left to score a probe on; evaluate with --hold-out file.",
            field="data.val_fraction",
        )
    return LabelledSplit(
        labels=values,
        train_idx=train_idx,
        val_idx=val_idx,
        num_classes=infer_num_classes(values, num_classes=run.source.info.num_classes),
        moved=moved,
    )


def _one(plural: str) -> str:
    return plural if plural.endswith("series") or not plural.endswith("s") else plural[:-1]


def _fold_split(split: LabelledSplit, fold) -> LabelledSplit:
    """The labelled split of one hold-out fold (the same labels and classes as the run's)."""
    return LabelledSplit(split.labels, fold.train_idx, fold.test_idx, split.num_classes)


def _record_in_summary(run_dir: Path, result: EvalReport) -> None:
    # `ssl-core runs` and the GUI's run list show the probe accuracy from summary.json.
    pre = result.pretrained
    write_summary(
        Path(run_dir),
        probe_accuracy=pre.probe.accuracy,
        knn_accuracy=pre.knn.accuracy,
        eval_step=result.step,
    )
