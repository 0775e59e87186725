"""Optimizer, learning-rate schedule and the effective hyperparameters of a run."""

from __future__ import annotations

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
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        (no_decay if p.ndim <= 1 or name.endswith(".bias") else decay).append(p)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def build_optimizer(model: nn.Module, spec: MethodSpec, hyper: Hyper) -> torch.optim.Optimizer:
    groups = _param_groups(model, hyper.weight_decay)
    if spec.optim.optimizer == "sgd":
        return torch.optim.SGD(groups, lr=hyper.lr, momentum=0.9, nesterov=True)
    return torch.optim.AdamW(groups, lr=hyper.lr)


def build_scheduler(optimizer: torch.optim.Optimizer, total_steps: int, warmup_steps: int):
    return torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: warmup_cosine(step, total_steps, warmup_steps)
    )
