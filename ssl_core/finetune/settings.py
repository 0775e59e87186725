"""What a fine-tuning job is asked to do: `FinetuneSettings`, checked field by field.

`labels` is either a fraction of the run's training labels in (0, 1] (a float: 0.01 is 1%) or a number
of labelled samples per class (an int: 5 keeps five of every class). `parse_labels` reads the text a
person types ("0.1", "10%", "5/class", "all") into one of those.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from typing import Any

from ssl_core.errors import UserError

# Defaults sized for small data on a CPU (digits: 1,437 training images); each one's reason:
DEFAULT_EPOCHS = 30  # an upper bound: early stopping usually ends a fine-tune at 1-10% labels sooner
# The head's AdamW rate. The head starts from the linear probe's solution (LP-FT), so it needs small steps:
# on digits at 1-10% labels 3e-3 and 1e-2 pulled it off that solution within an epoch (validation
# accuracy 71% -> 48-56%), 1e-3 kept it there or improved it.
DEFAULT_LR = 1e-3
# The backbone learns 10x slower than the head (the usual fine-tuning rule): pretrained features are
# adjusted, not overwritten by the gradients of a still-random head.
DEFAULT_BACKBONE_LR_RATIO = 0.1
DEFAULT_PATIENCE = 6  # epochs without a better validation accuracy before stopping
# Confidence a prediction needs: FixMatch's threshold (the weak view's guess must be this sure to become the
# strong view's target), and for pseudo-labels how many unlabelled samples get one: as many as the teacher
# predicts at least this confidently. FixMatch's 0.95 (Sohn et al. 2020) suits its sharp, trained-from-
# scratch network; a head started from the regularised probe is less confident. On digits (SimCLR, 150
# steps; 1% labels, 5 seeds) 0.95 kept 11% of the unlabelled images and pseudo-labels cost 2.8 points,
# FixMatch +0.4; 0.7 kept 61% (92% right): pseudo-labels +3.2, FixMatch +1.7 (10%: +0.3, +0.7).
DEFAULT_THRESHOLD = 0.7
DEFAULT_SEEDS = (0, 1, 2)
# Blocks of the method's projection head kept in the fine-tuned network (0: the backbone alone; methods
# without such a head always use the backbone alone). SimCLRv2 (Chen et al. 2020b) fine-tunes from the head's
# first layer and found it matters most at 1% labels. On digits (SimCLR, 60 steps, paired over the same
# subsets and test images) 1 block vs none: +1.9 +- 2.6 points at 1% (10 seeds; fine-tune - probe +1.2 +- 2.6;
# early stopping still kept epoch 0 on 6 of 10 seeds), -0.4 +- 1.2 at 10% (10 seeds). Neither clears the
# paired spread, so the default stays the plain backbone.
DEFAULT_PROJECTOR_LAYERS = 0
# With few labels, fixmatch + pseudo_labels (FixMatch's model labels the unlabelled samples for a fresh
# fine-tune) is the recipe that beats the linear probe. Digits, SimCLR 60 steps, 1% labels (one per class),
# paired over the same subsets and test images, pseudo-labels - probe: +3.8 +- 2.8 points on seeds 0-9 (where
# it was picked among ~20 recipes), +2.5 +- 1.6 on fresh seeds 10-19 (9 of 10 positive); plain fine-tuning
# -0.7 +- 2.2 and +1.0 +- 3.0. At 10% labels (seeds 0-9) +2.3 +- 1.2, and +1.0 +- 1.0 over plain
# fine-tuning. `distill` on top: +3.8 +- 2.4 over the probe (20 of 20 seeds positive) but only +0.7 +- 1.7
# over the pseudo-labels model it learns from. Not on by default: it trains three or four networks per seed
# instead of one, and it is measured on the digits alone.


@dataclass(frozen=True)
class FinetuneSettings:
    """A fine-tuning job's settings; `checked()` returns them validated (or raises a UserError naming the field).

    labels: fraction of the training labels (float in (0, 1]) or samples per class (int >= 1).
    epochs: most passes over the labelled samples (an epoch is at least MIN_STEPS_PER_EPOCH steps).
    lr: the head's learning rate; the backbone's is lr * backbone_lr_ratio.
    patience: epochs without a better validation accuracy before early stopping.
    pseudo_labels: also train a second model on the labels plus confident predictions on unlabelled data
        (the FixMatch model's when `fixmatch` is on, else the fine-tuned model's).
    threshold: FixMatch's confidence threshold; for pseudo-labels, how many unlabelled samples get one (as
        many as the predictions this confident, shared among the classes: see `pseudo_label_choice`).
    fixmatch: also train with FixMatch-style consistency (weak view's confident guess -> strong view).
    seeds: one repetition per seed: its labelled subset, head initialisation and batch order.
    compare: also run fine-tuning from random init and the linear probe on the same splits and seeds.
    projector_layers: blocks of the method's projection head fine-tuned with the backbone (0: none).
    distill: also distil the last model of the chain (pseudo-labels, else FixMatch, else the fine-tune) into a
        fresh student on every training sample (SimCLRv2's third step): the "distilled" row.
    """

    labels: float | int = 0.1
    epochs: int = DEFAULT_EPOCHS
    lr: float = DEFAULT_LR
    backbone_lr_ratio: float = DEFAULT_BACKBONE_LR_RATIO
    patience: int = DEFAULT_PATIENCE
    pseudo_labels: bool = False
    threshold: float = DEFAULT_THRESHOLD
    fixmatch: bool = False
    seeds: tuple[int, ...] = DEFAULT_SEEDS
    compare: bool = True
    batch_size: int = 64
    weight_decay: float = 1e-4
    # Share of the run's held-out samples used for early stopping; the rest is the test set every
    # variant is scored on (the same samples for all of them).
    val_share: float = 1 / 3
    unlabelled_ratio: int = 3  # FixMatch: unlabelled samples per labelled one in a step (the paper's mu is 7)
    fixmatch_weight: float = 1.0  # FixMatch: weight of the unlabelled consistency loss (lambda_u)
    projector_layers: int = DEFAULT_PROJECTOR_LAYERS
    distill: bool = False

    def checked(self) -> FinetuneSettings:
        labels = check_labels(self.labels)
        seeds = _check_seeds(self.seeds)
        epochs = _whole(self.epochs, "epochs", 1, 10_000, "e.g. 30")
        patience = _whole(self.patience, "patience", 1, 10_000, "e.g. 5 epochs")
        batch = _whole(self.batch_size, "batch_size", 1, 1 << 16, "e.g. 64")
        ratio_u = _whole(self.unlabelled_ratio, "unlabelled_ratio", 1, 64, "e.g. 3")
        lr = _number(self.lr, "lr", 0.0, 10.0, "e.g. 0.003", low_open=True)
        ratio = _number(self.backbone_lr_ratio, "backbone_lr_ratio", 0.0, 10.0, "e.g. 0.1 (0 freezes it)")
        threshold = _number(self.threshold, "threshold", 0.0, 1.0, "e.g. 0.95", low_open=True)
        wd = _number(self.weight_decay, "weight_decay", 0.0, 1.0, "e.g. 0.0001")
        val_share = _number(self.val_share, "val_share", 0.0, 1.0, "e.g. 0.33", low_open=True, high_open=True)
        weight = _number(self.fixmatch_weight, "fixmatch_weight", 0.0, 100.0, "e.g. 1")
        neck = _whole(self.projector_layers, "projector_layers", 0, 8, "e.g. 1 (0: the backbone alone)")
        return replace(
            self, labels=labels, seeds=seeds, epochs=epochs, patience=patience, batch_size=batch,
            unlabelled_ratio=ratio_u, lr=lr, backbone_lr_ratio=ratio, threshold=threshold,
            weight_decay=wd, val_share=val_share, fixmatch_weight=weight, projector_layers=neck,
            pseudo_labels=bool(self.pseudo_labels), fixmatch=bool(self.fixmatch), compare=bool(self.compare),
            distill=bool(self.distill),
        )  # fmt: skip

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["seeds"] = list(self.seeds)
        return d

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FinetuneSettings:
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        if "seeds" in known:
            known["seeds"] = tuple(known["seeds"])
        return cls(**known).checked()


def check_labels(value: Any) -> float | int:
    """A fraction (float in (0, 1]) or a count per class (int >= 1); a UserError naming `labels` otherwise."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise UserError(
            f"labels = {value!r} is not a number; give a fraction of the labels in (0, 1] (0.01 is 1%) "
            "or a whole number of labelled samples per class (e.g. 5).",
            field="labels",
        )
    if isinstance(value, int):
        if value < 1:
            raise UserError(
                f"labels = {value} per class is too few; keep at least 1 labelled sample per class.",
                field="labels",
            )
        return int(value)
    if math.isnan(value) or not (0.0 < value <= 1.0):
        raise UserError(
            f"labels = {value!r} is outside (0, 1]; use e.g. 0.01 for 1% of the labels, 1.0 for all, "
            "or a whole number for samples per class.",
            field="labels",
        )
    return float(value)


def parse_labels(text: str) -> float | int:
    """What a person types -> `labels`: "0.1" or "10%" (fractions), "5/class" or "5" (per class), "all"."""
    raw = str(text).strip().lower()
    try:
        if raw in ("all", "100%"):
            return 1.0
        if raw.endswith("%"):
            return check_labels(float(raw[:-1]) / 100.0)
        for suffix in ("/class", "per class", "pc"):
            if raw.endswith(suffix):
                return check_labels(int(raw[: -len(suffix)].strip()))
        if raw == "1":  # "1" reads as "all of them"; one per class is "1/class"
            return 1.0
        if raw.isdigit():
            return check_labels(int(raw))
        return check_labels(float(raw))
    except ValueError:
        raise UserError(
            f"labels {text!r} is not understood; use a fraction (0.1), a percentage (10%), "
            "a count per class (5/class) or 'all'.",
            field="labels",
        ) from None


def labels_text(labels: float | int) -> str:
    """How a labels setting reads in tables: "1%", "10%", "100%", "5 per class"."""
    if isinstance(labels, int) and not isinstance(labels, bool):
        return f"{labels} per class"
    return f"{labels * 100:g}%"


def _check_seeds(seeds: Any) -> tuple[int, ...]:
    try:
        values = tuple(dict.fromkeys(int(s) for s in seeds))
    except (TypeError, ValueError):
        raise UserError(f"seeds must be whole numbers; got {seeds!r}.", field="seeds") from None
    if not values:
        raise UserError("seeds is empty; give at least one seed, e.g. 0.", field="seeds")
    return values


def _whole(value: Any, field: str, low: int, high: int, example: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float) or int(value) != value:
        raise UserError(f"{field} = {value!r} is not a whole number; use {example}.", field=field)
    if not (low <= int(value) <= high):
        raise UserError(f"{field} = {value} is outside {low} to {high}; use {example}.", field=field)
    return int(value)


def _number(
    value: Any, field: str, low: float, high: float, example: str, low_open=False, high_open=False
) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(float(value)):
        raise UserError(f"{field} = {value!r} is not a number; use {example}.", field=field)
    v = float(value)
    too_low = v <= low if low_open else v < low
    too_high = v >= high if high_open else v > high
    if too_low or too_high:
        lo, hi = ("(" if low_open else "["), (")" if high_open else "]")
        raise UserError(
            f"{field} = {value} is outside {lo}{low:g}, {high:g}{hi}; use {example}.", field=field
        )
    return v
