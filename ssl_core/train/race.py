"""A race: two runs on the same data that differ only in the method, so their results can be compared.

`plan_race(base, second)` turns one config (the one Setup shows) into two lanes. Both share the data, the
held-out split, the seed, the batch size and the step budget; lane B swaps the method (with its own
defaults) or, with `NO_PRETRAINING`, does not train at all: it is lane A's network at its starting
weights, which `evaluate_run` measures anyway as its "random_init" baseline. The plan says in words what
both share and what differs, so a person can judge the comparison's fairness.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ssl_core.config import RunConfig
from ssl_core.errors import UserError
from ssl_core.methods import METHODS, MethodSpec
from ssl_core.wording import spoken_list

NO_PRETRAINING = "no_pretraining"  # lane B's choice: no training, the network at its random start
NO_PRETRAINING_TITLE = "No pretraining (random weights)"
PREFERRED_SECOND = ("byol", "simclr", "vicreg", "barlow_twins")  # a contrast to lane A, in this order
OPTIMIZER_TITLES = {"adamw": "AdamW", "sgd": "SGD"}
LANE_NAMES = ("race-a", "race-b")  # part of each run's id, so the two runs are easy to find


@dataclass(frozen=True)
class Lane:
    key: str  # "A" or "B"
    title: str  # "SimCLR", or NO_PRETRAINING_TITLE
    config: RunConfig | None  # None: this lane trains nothing (random weights)

    @property
    def trains(self) -> bool:
        return self.config is not None


@dataclass(frozen=True)
class RacePlan:
    a: Lane
    b: Lane
    shared: list[str]  # what both lanes share, one phrase each
    differences: list[str]  # what differs, one sentence each

    @property
    def lanes(self) -> tuple[Lane, Lane]:
        return self.a, self.b

    def summary(self) -> str:
        """Both lists as a short paragraph."""
        return f"Both lanes share {spoken_list(self.shared, last='and')}. " + " ".join(self.differences)


def method_title(name: str) -> str:
    if name == NO_PRETRAINING:
        return NO_PRETRAINING_TITLE
    return METHODS.get(name).title if name in METHODS else name


def second_choices(first: str, info: Any = None, image_size: int | None = None) -> list[str]:
    """What lane B can be on this data: every other method that runs on it, then NO_PRETRAINING."""
    names = [name for name, spec in METHODS.items() if name != first and _fits(spec, info, image_size)]
    return [*names, NO_PRETRAINING]


def default_second(first: str, info: Any = None, image_size: int | None = None) -> str:
    """BYOL (or the first of PREFERRED_SECOND that fits and is not lane A), else any method that fits."""
    choices = second_choices(first, info, image_size)
    return next((name for name in PREFERRED_SECOND if name in choices), choices[0])


def _fits(spec: MethodSpec, info: Any, image_size: int | None) -> bool:
    if info is None:
        return True
    return spec.unavailable_reason(info) is None and not spec.setup_problems({}, info, image_size)


def plan_race(base: RunConfig, second: str, info: Any = None) -> RacePlan:
    """Two lane configs from `base` (lane A, as given) and lane B's method (or NO_PRETRAINING).

    The batch size is fixed to lane A's (the methods' defaults differ), a time limit is cleared (it
    would give the faster method more steps) and both lanes train in this process (train.processes = 1). `info` (the data's DataInfo) lets the plan name the
    backbones each method picks for "auto"."""
    base.validate("Race")
    if second != NO_PRETRAINING and second not in METHODS:
        METHODS.get(second)  # raises the registry's "unknown method, did you mean" error
    if second == base.method.name:
        raise UserError(f"Both lanes use {method_title(second)}; choose a different method for lane B.")
    spec_a = METHODS.get(base.method.name)
    a = _copy(base)
    a.name = LANE_NAMES[0]
    a.train.batch_size = base.train.batch_size or spec_a.optim.batch_size
    a.train.time_limit_s = 0.0
    # both lanes train side by side in this process, one device each share: never as a multi-process job
    # (Setup's "All N GPUs")
    a.train.processes = 1
    b = None
    if second != NO_PRETRAINING:
        b = _copy(a)
        b.name = LANE_NAMES[1]
        b.method.name = second
        b.method.params = {}  # lane B runs with its method's defaults
        spec_b = METHODS.get(second)
        if a.method.backbone.lower() != "auto" and spec_b.backbone_reason(a.method.backbone, info):
            b.method.backbone, b.method.backbone_params = "auto", {}
    plan_a = Lane("A", method_title(a.method.name), a)
    plan_b = Lane("B", method_title(second), b)
    return RacePlan(plan_a, plan_b, shared_words(a, base), difference_words(a, b, info))


def _copy(config: RunConfig) -> RunConfig:
    return RunConfig.from_dict(config.to_dict(), source="Race")


def shared_words(a: RunConfig, base: RunConfig) -> list[str]:
    """What both lanes share, as phrases ("the data (digits)", "seed 0", ...)."""
    t = a.train
    budget = f"{t.epochs} epoch{'s' if t.epochs != 1 else ''}"
    if t.max_steps:
        budget += f", at most {t.max_steps:,} steps"
    words = [
        f"the data ({a.data.spec})",
        f"the split ({a.data.val_fraction:.0%} held out for scoring)",
        f"seed {t.seed}",
        f"batch size {t.batch_size}",
        f"the step budget ({budget})",
        "the same device" if t.device == "auto" else f"the device ({t.device})",
    ]
    if base.train.time_limit_s:
        words.append("no time limit (a limit would give the faster method more steps)")
    return words


def difference_words(a: RunConfig, b: RunConfig | None, info: Any = None) -> list[str]:
    """What differs between the lanes, one sentence each."""
    title_a = method_title(a.method.name)
    if b is None:
        return [
            f"Lane B does not train: it is lane A's network at its random starting weights (same seed), "
            f"so the race shows what {title_a}'s training added."
        ]
    spec_a, spec_b = METHODS.get(a.method.name), METHODS.get(b.method.name)
    title_b = method_title(b.method.name)
    out = [f"Only the method differs: {title_a} against {title_b}, each with its own loss and views."]
    if a.method.params:
        settings = ", ".join(f"{k} = {v}" for k, v in sorted(a.method.params.items()))
        out.append(
            f"{title_a} keeps the settings changed in Setup ({settings}); {title_b} uses its defaults."
        )
    backbone_a, backbone_b = _backbone(spec_a, a, info), _backbone(spec_b, b, info)
    if backbone_a != backbone_b:
        out.append(
            f"Backbone: {backbone_a} for {title_a}, {backbone_b} for {title_b} (each method's choice)."
        )
    lr_a, lr_b = _lr(spec_a, a), _lr(spec_b, b)
    if a.train.lr is None and (lr_a != lr_b or spec_a.optim.optimizer != spec_b.optim.optimizer):
        out.append(
            f"Learning rate: each method's own default ({_optimizer(spec_a)} at {lr_a:g} for {title_a}, "
            f"{_optimizer(spec_b)} at {lr_b:g} for {title_b})."
        )
    return out


def _backbone(spec: MethodSpec, config: RunConfig, info: Any) -> str:
    requested = config.method.backbone
    if info is None:
        return requested
    return spec.backbone_for(info, requested)


def _optimizer(spec: MethodSpec) -> str:
    return OPTIMIZER_TITLES.get(spec.optim.optimizer, spec.optim.optimizer)


def _lr(spec: MethodSpec, config: RunConfig) -> float:
    if config.train.lr is not None:
        return float(config.train.lr)
    return float(f"{spec.optim.lr * int(config.train.batch_size or spec.optim.batch_size) / 256:.3g}")
