"""`finetune_run`: fine-tune a finished run with few labels, compare, and store the result as its own run.

The splits, the same for every variant and seed:
- the parent run's training samples give the labelled subset of each seed (`labelled_subset`: a
  stratified fraction, or a count per class) and, for pseudo-labels and FixMatch, the unlabelled rest;
- the parent's held-out samples are split once (stratified, by the parent's seed) into a validation part
  (`val_share`) for early stopping and a test part on which every variant is scored, the linear probe
  included. So the labels count is the labelled training samples; the validation labels are extra, as in
  most semi-supervised benchmarks, and the report states how many there are.

Variants: "fine-tune" (the pretrained backbone and a new linear head), "fine-tune (random init)" (the same
network at the weights training started from), "linear probe" (on the frozen pretrained features),
"fixmatch" (fine-tune with weak/strong consistency), "pseudo-labels" (a fresh fine-tune on the labels plus
predictions on unlabelled samples of the FixMatch model when there is one, else of the fine-tuned model: as
many as it makes at least `threshold` confident, each class's most confident in proportion to the labels)
and "distilled" (SimCLRv2's third step: a fresh fine-tune of the pretrained network on the labels plus the
soft predictions, on every training sample, of the last model of that chain: pseudo-labels, else FixMatch,
else the fine-tune).
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np
import torch

from ssl_core.device import select_device
from ssl_core.errors import UserError
from ssl_core.eval.evaluate import labelled_split
from ssl_core.eval.label_efficiency import stratified_subsample
from ssl_core.eval.loaded_run import pretrained_embeddings, random_init_method
from ssl_core.eval.probe import linear_probe
from ssl_core.finetune.classifier import Classifier, classifier_from_method
from ssl_core.finetune.fit import (
    Distillation,
    FitResult,
    SampleSet,
    fit_classifier,
    predict,
    score,
    weak_and_strong_views,
)
from ssl_core.finetune.report import (
    DISTILLED,
    FINETUNE,
    FIXMATCH,
    LINEAR_PROBE,
    PSEUDO_LABELS,
    RANDOM_INIT,
    FinetuneReport,
    VariantRow,
)
from ssl_core.finetune.settings import FinetuneSettings, labels_text
from ssl_core.finetune.storage import save_finetune_run
from ssl_core.progress import CancelToken, ProgressFn, check_cancel, report, stage_progress
from ssl_core.runs.store import LoadedRun, load_run, read_summary
from ssl_core.train.global_rng import isolated_global_stream

log = logging.getLogger(__name__)


def labelled_subset(train_labels: np.ndarray, labels: float | int, seed: int) -> np.ndarray:
    """Sorted positions (into `train_labels`) of one seed's labelled samples: a stratified fraction
    (`stratified_subsample`) for a float, `labels` per class (all of a smaller class) for an int."""
    if isinstance(labels, float):
        return stratified_subsample(train_labels, labels, seed)
    rng = np.random.default_rng(seed)
    chosen = []
    for cls in np.unique(train_labels):
        members = np.flatnonzero(train_labels == cls)
        take = min(len(members), int(labels))
        chosen.append(members if take == len(members) else rng.choice(members, size=take, replace=False))
    return np.sort(np.concatenate(chosen)) if chosen else np.zeros(0, dtype=np.int64)


def heldout_split(heldout_labels: np.ndarray, val_share: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(validation positions, test positions) of the held-out samples: stratified, fixed by `seed`."""
    val = stratified_subsample(heldout_labels, val_share, seed)
    test = np.setdiff1d(np.arange(len(heldout_labels)), val)
    if len(test) == 0 or len(val) == 0:
        raise UserError(
            f"The run holds out only {len(heldout_labels)} samples: too few to split into validation and "
            "test samples. Train with a larger data.val_fraction.",
            field="data.val_fraction",
        )
    return val, test


class _Job:
    """One fine-tuning job's data, splits and progress bookkeeping (kept out of the public function)."""

    def __init__(self, run: LoadedRun, settings: FinetuneSettings, progress, cancel):
        self.run, self.settings, self.progress, self.cancel = run, settings, progress, cancel
        split = labelled_split(run)
        self.num_classes = split.num_classes
        self.train_idx = split.train_idx
        self.train_labels = split.labels[split.train_idx]
        held = split.val_idx
        val_pos, test_pos = heldout_split(split.labels[held], settings.val_share, int(run.config.train.seed))
        source = run.source
        self.validation = SampleSet(source, held[val_pos], split.labels[held[val_pos]])
        self.test = SampleSet(source, held[test_pos], split.labels[held[test_pos]])
        self.all_labels = split.labels
        self.device = select_device("auto")
        weak, strong = weak_and_strong_views(run.method)
        self.views = (weak.to(self.device), strong.to(self.device))
        fits_per_seed = (
            1 + (1 if settings.compare else 0) + int(settings.pseudo_labels) + int(settings.fixmatch)
            + int(settings.distill)
        )  # fmt: skip
        self.total = len(settings.seeds) * fits_per_seed + (1 if settings.compare else 0)
        self.done = 0
        self._random_init = None

    def stage(self, words: str) -> ProgressFn | None:
        start, end = 0.05 + 0.9 * self.done / self.total, 0.05 + 0.9 * (self.done + 1) / self.total
        self.done += 1
        return stage_progress(self.progress, start, end, words)

    def random_init(self):
        if self._random_init is None:
            self._random_init = random_init_method(self.run)
        return self._random_init

    def fit(
        self, method, labelled: SampleSet, seed: int, words: str, unlabelled=None, distill=None
    ) -> FitResult:
        with isolated_global_stream():  # BatchNorm, dropout: leave the caller's random stream alone
            torch.manual_seed(seed)
            model = classifier_from_method(method, self.num_classes, seed, self.settings.projector_layers)
            return fit_classifier(
                model, labelled, self.validation, self.settings, self.views, seed=seed, device=self.device,
                unlabelled=unlabelled, distill=distill, progress=self.stage(words), cancel=self.cancel,
            )  # fmt: skip

    def test_accuracy(self, model: Classifier) -> float:
        return score(predict(model, self.test, self.device, self.cancel), self.test.targets)[0]


def finetune_run(
    run_dir: str | Path,
    settings: FinetuneSettings,
    progress: ProgressFn | None = None,
    cancel: CancelToken | None = None,
) -> FinetuneReport:
    """Fine-tune the run in `run_dir` with `settings.labels` labels (every seed), compare, save, report.

    The result is stored as a new run next to the parent (summary kind "finetune", parent = the parent's
    folder) holding the chosen classifier; a cancelled job (ssl_core.progress.Cancelled) leaves no folder.
    """
    started = time.perf_counter()
    settings = settings.checked()
    report(progress, 0.0, "Loading the run")
    if read_summary(Path(run_dir)).get("kind") == "finetune":
        raise UserError(
            f"{run_dir} is already a fine-tuned classifier; fine-tune its parent run "
            f"({read_summary(Path(run_dir)).get('parent', 'see its summary.json')}) instead.",
            path=str(run_dir),
        )
    run = load_run(run_dir)
    check_cancel(cancel)
    job = _Job(run, settings, progress, cancel)
    s = settings
    rows: dict[str, VariantRow] = {}
    kept: dict[str, tuple[float, Classifier]] = {}  # first seed's models, by variant: (val acc, model)
    probe_feats = None
    if s.compare:
        sub = job.stage("embedding the data with the pretrained network (for the linear probe)")
        probe_feats = pretrained_embeddings(run, 512, sub, cancel).features

    for i, seed in enumerate(s.seeds):
        check_cancel(cancel)
        lab_pos = labelled_subset(job.train_labels, s.labels, seed)
        labelled = SampleSet(run.source, job.train_idx[lab_pos], job.train_labels[lab_pos])
        rest = np.setdiff1d(np.arange(len(job.train_idx)), lab_pos)
        unlabelled = SampleSet(run.source, job.train_idx[rest], None)
        n = len(lab_pos)
        of = f"seed {seed} ({i + 1} of {len(s.seeds)}), {n} labels"

        fine = job.fit(run.method, labelled, seed, f"Fine-tuning the pretrained network, {of}")
        _add(rows, FINETUNE, job.test_accuracy(fine.model), n, fine)
        if i == 0:
            kept[FINETUNE] = (fine.val_accuracy, fine.model)
        if s.compare:
            scratch = job.fit(job.random_init(), labelled, seed, f"Fine-tuning from random weights, {of}")
            _add(rows, RANDOM_INIT, job.test_accuracy(scratch.model), n, scratch)
            check_cancel(cancel)
            ids, test_ids = labelled.indices, job.test.indices
            probe = linear_probe(
                probe_feats[ids], labelled.targets, probe_feats[test_ids], job.test.targets,
                num_classes=job.num_classes, cancel=cancel, what="pretrained features",
            )  # fmt: skip
            _add(rows, LINEAR_PROBE, probe.accuracy, n, None)
        # Each step's model teaches the next: fine-tune -> FixMatch -> pseudo-labels -> distilled student.
        teacher, teacher_name = fine.model, FINETUNE
        if s.fixmatch:
            result = job.fit(run.method, labelled, seed, f"FixMatch consistency training, {of}", unlabelled)
            _add(rows, FIXMATCH, job.test_accuracy(result.model), n, result,
                 {"confident_share": result.masked_share})  # fmt: skip
            if i == 0:
                kept[FIXMATCH] = (result.val_accuracy, result.model)
            teacher, teacher_name = result.model, FIXMATCH
        if s.pseudo_labels:
            # The FixMatch model labels better than the plain fine-tune (digits, 60-step SimCLR, 1% labels,
            # seeds 0-9, paired vs the probe, labels above a 0.7 threshold: pseudo-labels by the fine-tune
            # +2.5 +- 3.4 points, by FixMatch +3.8 +- 2.8).
            pseudo, extra = _pseudo_labelled(job, teacher, labelled, unlabelled)
            extra["teacher"] = teacher_name
            result = job.fit(
                run.method, pseudo, seed, f"Retraining with {extra['pseudo_labels']} pseudo-labels, {of}"
            )
            _add(rows, PSEUDO_LABELS, job.test_accuracy(result.model), n, result, extra)
            if i == 0:
                kept[PSEUDO_LABELS] = (result.val_accuracy, result.model)
            teacher, teacher_name = result.model, PSEUDO_LABELS
        if s.distill:
            everything = SampleSet(run.source, job.train_idx, None)
            soft = Distillation(everything, predict(teacher, everything, job.device, cancel))
            result = job.fit(run.method, labelled, seed, f"Distilling the {teacher_name} model, {of}",
                             distill=soft)  # fmt: skip
            _add(rows, DISTILLED, job.test_accuracy(result.model), n, result,
                 {"teacher": teacher_name, "distilled_on": len(everything)})  # fmt: skip
            if i == 0:
                kept[DISTILLED] = (result.val_accuracy, result.model)

    check_cancel(cancel)
    # The classifier kept is the first seed's variant with the best validation accuracy (never the test).
    chosen = max(kept, key=lambda v: kept[v][0])
    n_labels = [len(labelled_subset(job.train_labels, s.labels, seed)) for seed in s.seeds]
    order = [FINETUNE, RANDOM_INIT, LINEAR_PROBE, PSEUDO_LABELS, FIXMATCH, DISTILLED]
    result = FinetuneReport(
        parent=str(run.run_dir),
        run_dir="",
        labels=s.labels,
        fraction=float(np.mean(n_labels)) / max(1, len(job.train_idx)),
        n_train=int(len(job.train_idx)),
        n_val=len(job.validation),
        n_test=len(job.test),
        num_classes=job.num_classes,
        class_names=[str(c) for c in run.source.info.class_names] or [str(c) for c in range(job.num_classes)],
        seeds=list(s.seeds),
        rows=[rows[v] for v in order if v in rows],
        settings=s.to_dict(),
        method=run.config.method.name,
        data=run.config.data.spec,
    )
    report(progress, 0.96, f"Saving the fine-tuned classifier ({chosen}, {labels_text(s.labels)} labels)")
    result.seconds = round(time.perf_counter() - started, 3)
    result.run_dir = str(save_finetune_run(run, result, kept[chosen][1], chosen, cancel))
    report(progress, 1.0, "Fine-tuning done")
    return result


def _add(rows: dict[str, VariantRow], variant: str, accuracy: float, n: int, fit: FitResult | None,
         extra: dict | None = None) -> None:  # fmt: skip
    row = rows.setdefault(variant, VariantRow(variant, [], n, {"per_seed": []}))
    row.values.append(float(accuracy))
    row.n_labels = n  # equal for every seed (stratified counts do not depend on the seed)
    seed_info = dict(extra or {})
    if fit is not None:
        seed_info.update(epochs=fit.epochs_run, best_epoch=fit.best_epoch, val_accuracy=fit.val_accuracy)
    row.details["per_seed"].append(seed_info)
    numbers = [k for k in seed_info if isinstance(seed_info[k], int | float) and seed_info[k] is not None]
    for key in numbers:
        values = [d[key] for d in row.details["per_seed"] if d.get(key) is not None]
        row.details[key] = float(np.mean(values))


# Pseudo-labels go to each class's most confident predictions, as many for a class as its share of the
# labelled samples (class-balanced selection, as in FlexMatch's per-class thresholds, Zhang et al. 2021, and
# curriculum labelling, Cascante-Bonilla et al. 2021); the teacher's confident predictions only say how many
# in all. One threshold for every class keeps most of the easy classes and few of the hard ones, so the hard
# classes' pseudo-labels are few and their mistakes weigh more. Digits, SimCLR 60 steps, one FixMatch teacher
# per seed, paired (pseudo-labels - linear probe) on a bf16 and a float32 parent, at 1% labels: balanced
# +4.2 +- 3.5 and +4.0 +- 2.7 points on seeds 0-9, +5.3 +- 2.1 and +5.6 +- 2.6 on fresh seeds 10-19 (38 of
# 40 positive); the threshold alone +3.1 +- 3.8 and +1.5 +- 3.7 (6 of 10 positive), +3.4 +- 2.3 and
# +4.3 +- 1.4. At 10% labels (seeds 0-5) balanced +2.6 +- 1.0 and +2.1 +- 1.1, the threshold alone
# +2.7 +- 0.9 and +1.7 +- 0.7. (Half of the unlabelled samples, balanced, did as well at 1% and worse at 10%:
# +1.6 +- 0.9 and +1.5 +- 0.5.)
def pseudo_label_choice(
    probs: torch.Tensor, prior: np.ndarray, threshold: float
) -> tuple[np.ndarray, np.ndarray]:
    """The unlabelled samples that get a pseudo-label, and the classes they get: as many as `probs` (n,
    classes) has predictions at least `threshold` confident, shared among the classes by `prior` (their
    shares among the labelled samples), each class's most confident predictions. Positions sorted."""
    confidence, guess = (t.numpy() for t in probs.max(dim=1))
    total = int((confidence >= threshold).sum())
    chosen = []
    for cls, weight in enumerate(prior):
        quota = int(round(total * float(weight)))
        members = np.flatnonzero(guess == cls)
        if quota > 0 and len(members):
            chosen.append(members[np.argsort(-confidence[members], kind="stable")[:quota]])
    keep = np.sort(np.concatenate(chosen)) if chosen else np.zeros(0, dtype=np.int64)
    return keep, guess[keep].astype(np.int64)


def _pseudo_labelled(job: _Job, model: Classifier, labelled: SampleSet, unlabelled: SampleSet):
    """The labelled samples plus the unlabelled ones `pseudo_label_choice` picks, labelled with the model's
    prediction; and how many were added and how many of them are right."""
    probs = predict(model, unlabelled, job.device, job.cancel)
    prior = np.bincount(labelled.targets, minlength=job.num_classes) / max(1, len(labelled))
    keep, guesses = pseudo_label_choice(probs, prior, job.settings.threshold)
    ids = unlabelled.indices[keep]
    truth = job.all_labels[ids]
    extra = {
        "pseudo_labels": int(len(keep)),
        "pseudo_label_share": float(len(keep) / len(unlabelled)) if len(unlabelled) else 0.0,
        "pseudo_label_accuracy": float(np.mean(guesses == truth)) if len(ids) else None,
    }
    combined = SampleSet(
        labelled.source,
        np.concatenate([labelled.indices, ids]),
        np.concatenate([labelled.targets, guesses]),
    )
    return combined, extra


__all__ = ["finetune_run", "heldout_split", "labelled_subset", "pseudo_label_choice"]
