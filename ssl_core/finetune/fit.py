"""Training one classifier: supervised fine-tuning with early stopping, optionally FixMatch consistency.

It starts as LP-FT does (Kumar et al., ICLR 2022): features standardised with the labelled samples'
statistics and the head set to the linear probe's solution on them, so fine-tuning begins where the probe
ends. Then every step draws a batch of labelled samples (cycling through a seeded permutation), applies
the weak view and minimises cross-entropy plus the probe's own penalty on the head. BatchNorm layers keep
their running statistics (batches of a few augmented samples would drag them away from the statistics the
features were computed with); their affine weights still learn. With `unlabelled` samples (FixMatch), each
step also draws `unlabelled_ratio` times as many unlabelled samples; the model's prediction on their weak
view, where it is at least `threshold` confident, becomes the target for their strong view (Sohn et al.,
FixMatch, NeurIPS 2020). With a `Distillation` (SimCLRv2's third step, Chen et al., NeurIPS 2020), each step
also draws DISTILL_BATCH of the distillation samples (every training sample, labelled or not) and adds the
cross-entropy between their weak view's prediction and a teacher's predicted probabilities on them (fixed,
computed once without augmentation). The weak and strong views are the data modality's own augmenters
(`view_pair("moco_v2")` and `view_pair("simclr")`), so this works for every modality.

The model is scored on the validation samples before training (epoch 0: the probe's head) and after each
epoch; the best epoch's weights are kept and training stops after `patience` epochs without a better
validation accuracy (ties go to the lower validation loss).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ssl_core.eval.probe import DEFAULT_C
from ssl_core.finetune.classifier import Classifier
from ssl_core.finetune.settings import FinetuneSettings
from ssl_core.models.modes import eval_mode
from ssl_core.progress import CancelToken, ProgressFn, check_cancel, report

# An epoch is one pass over the labelled samples, but at least this many steps: at 1% of the digits
# (14 labels) a pass is a single step, and early stopping would judge the model after every step.
MIN_STEPS_PER_EPOCH = 8
EVAL_BATCH = 256
WEAK_PRESET = "moco_v2"  # crops from 20%, mild colour jitter: FixMatch's "weak" flip-and-shift role
STRONG_PRESET = "simclr"  # crops from 8%, strong colour distortion and blur: the "strong" role
# Distillation samples per step. An epoch is then (at least) one pass over them: at 1% of the digits 23
# steps, each with the few labelled samples as well.
DISTILL_BATCH = 64


@dataclass(frozen=True)
class SampleSet:
    """Samples of a data source by index, read on demand (sources streamed from disk stay on disk)."""

    source: object
    indices: np.ndarray  # (n,) int64 positions in the source
    targets: np.ndarray | None = None  # (n,) int64 class targets; None for unlabelled samples

    def __len__(self) -> int:
        return int(len(self.indices))

    def read(self, rows: np.ndarray) -> torch.Tensor:
        samples, _ = self.source.read(torch.as_tensor(self.indices[rows], dtype=torch.long))
        return samples


@dataclass
class FitResult:
    model: Classifier  # with the best validation epoch's weights, in eval mode
    val_accuracy: float
    epochs_run: int
    best_epoch: int  # 1-based
    steps: int
    masked_share: float | None = None  # FixMatch: mean share of unlabelled samples above the threshold


@dataclass(frozen=True)
class Distillation:
    """What a student is distilled from: samples (any targets are ignored) and the teacher's softmax
    probabilities on them, (len(samples), classes), computed once (`predict`) at temperature 1."""

    samples: SampleSet
    teacher_probs: torch.Tensor


Views = tuple[Callable[[torch.Tensor, torch.Generator], torch.Tensor], ...]


@torch.no_grad()
def predict(
    model: Classifier, samples: SampleSet, device: torch.device, cancel: CancelToken | None = None
) -> torch.Tensor:
    """Softmax probabilities (n, classes) on the CPU, in eval mode, without augmentation."""
    out = []
    with eval_mode(model):
        for start in range(0, len(samples), EVAL_BATCH):
            check_cancel(cancel)
            rows = np.arange(start, min(len(samples), start + EVAL_BATCH))
            x = model.prepare(samples.read(rows).to(device))
            out.append(F.softmax(model.logits(x).float(), dim=1).cpu())
    return torch.cat(out) if out else torch.zeros(0, model.num_classes)


def score(probs: torch.Tensor, targets: np.ndarray) -> tuple[float, float]:
    """(accuracy, mean cross-entropy) of predicted probabilities against targets."""
    if len(targets) == 0:
        return 0.0, 0.0
    y = torch.as_tensor(targets, dtype=torch.long)
    accuracy = float((probs.argmax(1) == y).float().mean())
    loss = float(F.nll_loss(probs.clamp_min(1e-12).log(), y))
    return accuracy, loss


class _Batches:
    """Row numbers of a sample set, `size` at a time, cycling through fresh seeded permutations."""

    def __init__(self, n: int, size: int, generator: torch.Generator):
        self.n, self.size, self.generator = n, min(size, n), generator
        self.order, self.pos = torch.randperm(n, generator=generator), 0

    def next(self) -> np.ndarray:
        if self.pos + self.size > self.n:
            self.order, self.pos = torch.randperm(self.n, generator=self.generator), 0
        rows = self.order[self.pos : self.pos + self.size]
        self.pos += self.size
        return rows.numpy()


def fit_classifier(
    model: Classifier,
    labelled: SampleSet,
    validation: SampleSet,
    settings: FinetuneSettings,
    views: Views,
    *,
    seed: int,
    device: torch.device,
    unlabelled: SampleSet | None = None,
    distill: Distillation | None = None,
    progress: ProgressFn | None = None,
    cancel: CancelToken | None = None,
) -> FitResult:
    """Fine-tune `model` (in place, then restored to its best epoch) on the labelled samples.

    views: (weak,) or (weak, strong) augmenters `view(x, generator)`; FixMatch needs both and `unlabelled`.
    distill: also match a teacher's predictions on these samples (not together with FixMatch).
    """
    if labelled.targets is None or validation.targets is None:
        raise ValueError("labelled and validation samples need targets")
    fixmatch = unlabelled is not None and len(unlabelled) > 0
    distill = distill if distill is not None and len(distill.samples) > 0 else None
    if fixmatch and distill is not None:
        raise ValueError("distillation and FixMatch are separate fits")
    weak = views[0]
    if fixmatch and len(views) < 2:
        raise ValueError("FixMatch needs a weak and a strong view")
    generator = torch.Generator().manual_seed(int(seed))
    aug_generator = torch.Generator(device=device).manual_seed(int(seed) + 1)
    model.to(device)
    optimizer = torch.optim.AdamW(
        model.parameter_groups(settings.lr, settings.backbone_lr_ratio), weight_decay=settings.weight_decay
    )
    batches = _Batches(len(labelled), settings.batch_size, generator)
    steps_per_epoch = max(MIN_STEPS_PER_EPOCH, math.ceil(len(labelled) / batches.size))
    u_batches = (
        _Batches(len(unlabelled), batches.size * settings.unlabelled_ratio, generator) if fixmatch else None
    )
    d_batches = None
    if distill is not None:
        d_batches = _Batches(len(distill.samples), DISTILL_BATCH, generator)
        steps_per_epoch = max(steps_per_epoch, math.ceil(len(distill.samples) / d_batches.size))
    targets = torch.as_tensor(labelled.targets, dtype=torch.long)
    with eval_mode(model), torch.no_grad():
        feats = torch.cat([
            model.raw_features(model.prepare(labelled.read(np.arange(s, min(len(labelled), s + EVAL_BATCH))).to(device)))
            for s in range(0, len(labelled), EVAL_BATCH)
        ])  # fmt: skip
    model.start_from_probe(feats, targets, cancel)

    # The probe's own penalty on the head (scikit-learn's ||W||^2 / (2 C n)) stays on while fine-tuning, so
    # training continues the objective the probe's solution minimises instead of drifting to a sharper one.
    head_penalty = 1.0 / (2.0 * DEFAULT_C * len(labelled))
    # Epoch 0 (the probe's head on the untouched backbone) is a candidate too: fine-tuning must earn its keep.
    best_key = _val_key(model, validation, device, cancel)
    best_state, best_epoch, bad, steps, masked = copy.deepcopy(model.state_dict()), 0, 0, 0, []
    epoch = 0
    for epoch in range(1, settings.epochs + 1):
        train_mode(model)
        for _ in range(steps_per_epoch):
            check_cancel(cancel)
            rows = batches.next()
            x = weak(model.prepare(labelled.read(rows).to(device)), aug_generator)
            y = targets[rows].to(device)
            if d_batches is not None:
                loss = _distillation_loss(model, x, y, distill, d_batches.next(), weak, aug_generator, device)
            elif u_batches is None:
                loss = F.cross_entropy(model.logits(x), y)
            else:
                loss, share = _fixmatch_loss(model, x, y, unlabelled, u_batches.next(), views, aug_generator,
                                             settings, device)  # fmt: skip
                masked.append(share)
            loss = loss + head_penalty * model.head.weight.square().sum()
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            steps += 1
        key = _val_key(model, validation, device, cancel)
        accuracy = key[0]
        if key > best_key:
            best_key, best_epoch, bad = key, epoch, 0
            best_state = copy.deepcopy(model.state_dict())
        else:
            bad += 1
        report(progress, epoch / settings.epochs, f"epoch {epoch}: validation accuracy {accuracy:.1%}")
        if bad >= settings.patience:
            break
    model.load_state_dict(best_state)
    model.eval()
    return FitResult(
        model=model,
        val_accuracy=float(best_key[0]),
        epochs_run=epoch,
        best_epoch=best_epoch,
        steps=steps,
        masked_share=float(np.mean(masked)) if masked else None,
    )


def train_mode(model: Classifier) -> None:
    """Training mode with every BatchNorm kept on its running statistics (affine weights still learn).

    Batches of a few labelled, augmented samples would otherwise drag the running statistics away
    from those the pretrained features (and the probe's head) were computed with."""
    model.train()
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.eval()


def _val_key(model: Classifier, validation: SampleSet, device, cancel) -> tuple[float, float]:
    accuracy, loss = score(predict(model, validation, device, cancel), validation.targets)
    return accuracy, -loss


def _fixmatch_loss(
    model: Classifier,
    x_lab: torch.Tensor,
    y_lab: torch.Tensor,
    unlabelled: SampleSet,
    rows: np.ndarray,
    views: Views,
    generator: torch.Generator,
    settings: FinetuneSettings,
    device: torch.device,
) -> tuple[torch.Tensor, float]:
    """Supervised cross-entropy + lambda_u * the masked cross-entropy of strong views against the weak
    views' confident guesses. One forward pass over all three batches, as in FixMatch, so BatchNorm sees
    them together."""
    weak, strong = views[0], views[1]
    u = model.prepare(unlabelled.read(rows).to(device))
    u_weak, u_strong = weak(u, generator), strong(u, generator)
    logits = model.logits(torch.cat([x_lab, u_weak, u_strong]))
    n, m = len(x_lab), len(u)
    logits_lab, logits_weak, logits_strong = logits[:n], logits[n : n + m], logits[n + m :]
    with torch.no_grad():
        confidence, guess = F.softmax(logits_weak.float(), dim=1).max(dim=1)
        mask = (confidence >= settings.threshold).float()
    supervised = F.cross_entropy(logits_lab, y_lab)
    consistency = (F.cross_entropy(logits_strong, guess, reduction="none") * mask).mean()
    return supervised + settings.fixmatch_weight * consistency, float(mask.mean())


def _distillation_loss(
    model: Classifier,
    x_lab: torch.Tensor,
    y_lab: torch.Tensor,
    distill: Distillation,
    rows: np.ndarray,
    weak,
    generator: torch.Generator,
    device: torch.device,
) -> torch.Tensor:
    """Supervised cross-entropy + the cross-entropy of the weak views' predictions against the teacher's
    probabilities (SimCLRv2's distillation loss at temperature 1), in one forward pass."""
    u = weak(model.prepare(distill.samples.read(rows).to(device)), generator)
    logits = model.logits(torch.cat([x_lab, u]))
    n = len(x_lab)
    teacher = distill.teacher_probs[torch.as_tensor(rows, dtype=torch.long)].to(logits.device)
    soft = -(teacher * F.log_softmax(logits[n:].float(), dim=1)).sum(1).mean()
    return F.cross_entropy(logits[:n], y_lab) + soft


def weak_and_strong_views(method: nn.Module) -> tuple[nn.Module, nn.Module]:
    """The data modality's weak (moco_v2) and strong (simclr) view augmenters for a run's method."""
    modality, info = method.modality, method.info
    return modality.view_pair(WEAK_PRESET, info)[0], modality.view_pair(STRONG_PRESET, info)[0]
