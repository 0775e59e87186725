"""Optimizers, learning-rate schedules and the effective hyperparameters of a run.

A method trains with one optimizer, or with one per part (`SSLMethod.optimizer_parts`: a GAN's
discriminator and generator), each with its own schedule, the parts stepped in turn by the trainer."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import torch
from torch import nn

from ssl_core.config import RunConfig
from ssl_core.methods.base import MethodSpec
from ssl_core.train.schedule import warmup_cosine


@dataclass
class Hyper:
    batch_size: int
    lr: float
    weight_decay: float
    warmup_epochs: float
    warnings: list[str] = field(default_factory=list)


def resolve_hyper(cfg: RunConfig, spec: MethodSpec, n_train: int, noun: str = "images") -> Hyper:
    """Fill unset training values from the method's paper defaults; scale lr linearly with batch size.

    `noun` names the samples in messages (the modality's plural: "images", "series")."""
    from ssl_core.errors import UserError

    if n_train < 2:
        raise UserError(
            f"data.spec {cfg.data.spec!r} leaves {n_train} training {noun}; at least 2 are needed. "
            f"Add {noun} or lower data.val_fraction.",
            field="data.spec",
        )
    warnings = []
    batch = cfg.train.batch_size or spec.optim.batch_size
    if batch > n_train:
        warnings.append(f"Batch size {batch} is larger than the {n_train} training {noun}; using {n_train}.")
        batch = n_train
    lr = cfg.train.lr if cfg.train.lr is not None else spec.optim.lr * batch / 256
    wd = cfg.train.weight_decay if cfg.train.weight_decay is not None else spec.optim.weight_decay
    warmup = cfg.train.warmup_epochs if cfg.train.warmup_epochs is not None else spec.optim.warmup_epochs
    return Hyper(batch, lr, wd, warmup, warnings)


def _param_groups(model: nn.Module, weight_decay: float) -> list[dict]:
    # Biases and normalisation weights are not decayed (as in the SimCLR/BYOL reference code).
    return _decay_groups([(name, p) for name, p in model.named_parameters() if p.requires_grad], weight_decay)


def _decay_groups(named: list[tuple[str, nn.Parameter]], weight_decay: float) -> list[dict]:
    decay, no_decay = [], []
    for name, p in named:
        (no_decay if p.ndim <= 1 or name.endswith(".bias") else decay).append(p)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def _optimizer(groups: list[dict], spec: MethodSpec, lr: float) -> torch.optim.Optimizer:
    if spec.optim.optimizer == "sgd":
        return torch.optim.SGD(groups, lr=lr, momentum=0.9, nesterov=True)
    return torch.optim.AdamW(groups, lr=lr, betas=tuple(spec.optim.betas))


def build_optimizer(model: nn.Module, spec: MethodSpec, hyper: Hyper) -> torch.optim.Optimizer:
    return _optimizer(_param_groups(model, hyper.weight_decay), spec, hyper.lr)


# The name of the one optimizer of a method without parts (SSLMethod.optimizer_parts returns {}).
SINGLE_PART = "all"


def build_optimizers(method: nn.Module, spec: MethodSpec, hyper: Hyper) -> dict[str, torch.optim.Optimizer]:
    """One optimizer per part of `method` (`optimizer_parts`), in its order; {SINGLE_PART: one over every
    parameter} for methods without parts. A part's learning rate is the run's times its `lr_scale`.

    Raises ValueError (a bug in the method) when a trainable parameter is in no part or in two."""
    parts = method.optimizer_parts() if hasattr(method, "optimizer_parts") else {}
    if not parts:
        return {SINGLE_PART: build_optimizer(method, spec, hyper)}
    names = {id(p): name for name, p in method.named_parameters()}
    owner: dict[int, str] = {}
    optimizers = {}
    for part_name, part in parts.items():
        named = []
        for p in part.params:
            if id(p) in owner:
                raise ValueError(f"parameter {names.get(id(p))} is in parts {owner[id(p)]} and {part_name}")
            owner[id(p)] = part_name
            if p.requires_grad:
                named.append((names.get(id(p), ""), p))
        optimizers[part_name] = _optimizer(
            _decay_groups(named, hyper.weight_decay), spec, hyper.lr * float(part.lr_scale)
        )
    left = [name for name, p in method.named_parameters() if p.requires_grad and id(p) not in owner]
    if left:
        raise ValueError(f"parameters in no optimizer part: {', '.join(left[:5])}")
    return optimizers


def optimized_params(optimizer: torch.optim.Optimizer) -> list[nn.Parameter]:
    """The parameters `optimizer` updates."""
    return [p for group in optimizer.param_groups for p in group["params"]]


@contextmanager
def training_only(optimizers: dict[str, torch.optim.Optimizer], part: str) -> Iterator[None]:
    """Within: only the parameters of part `part` can learn; the other parts' are frozen (no gradients
    computed for them, e.g. the discriminator's during the generator's update), and thawed after."""
    others = [
        p
        for name, opt in optimizers.items()
        if name != part
        for p in optimized_params(opt)
        if p.requires_grad
    ]
    for p in others:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p in others:
            p.requires_grad_(True)


def constant_after_warmup(step: int, warmup_steps: int) -> float:
    """Multiplier of the base learning rate at `step` (0-based): linear warm-up, then 1."""
    if warmup_steps > 0 and step < warmup_steps:
        return (step + 1) / warmup_steps
    return 1.0


def build_scheduler(
    optimizer: torch.optim.Optimizer, total_steps: int, warmup_steps: int, schedule: str = "warmup_cosine"
):
    """The learning-rate schedule `schedule` (OptimDefaults.schedule) over `total_steps` steps."""
    if schedule == "constant":
        return torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda step: constant_after_warmup(step, warmup_steps)
        )
    if schedule != "warmup_cosine":
        raise ValueError(f"unknown learning-rate schedule {schedule!r}")
    return torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: warmup_cosine(step, total_steps, warmup_steps)
    )
