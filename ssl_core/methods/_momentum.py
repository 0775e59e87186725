"""Momentum (EMA) target networks shared by BYOL and MoCo."""

from __future__ import annotations

import copy
import math

import torch
from torch import nn


def cosine_momentum(base: float, step: int, total_steps: int) -> float:
    """BYOL's schedule: base at step 0, rising along a half cosine to 1.0 at total_steps."""
    progress = min(1.0, max(0.0, step / max(1, total_steps)))
    return 1.0 - (1.0 - base) * (math.cos(math.pi * progress) + 1.0) / 2.0


def momentum_copy(module: nn.Module) -> nn.Module:
    """A frozen deep copy: no gradients, so optimizers never touch it; updated only by ema_update."""
    target = copy.deepcopy(module)
    for p in target.parameters():
        p.requires_grad_(False)
    return target


@torch.no_grad()
def ema_update(target: nn.Module, online: nn.Module, momentum: float) -> None:
    """target = momentum * target + (1 - momentum) * online, for parameters; buffers
    (BatchNorm running statistics) are copied from the online network."""
    t_params = [p for p in target.parameters()]
    o_params = [p.detach() for p in online.parameters()]
    if t_params:
        torch._foreach_mul_(t_params, momentum)
        torch._foreach_add_(t_params, o_params, alpha=1.0 - momentum)
    for t_buf, o_buf in zip(target.buffers(), online.buffers(), strict=True):
        t_buf.copy_(o_buf)
