"""Run loss maths in float32 even under autocast: fp16 overflows in similarity matrices and
underflows in variance/normalisation terms, which is where SSL runs turn into NaNs."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TypeVar

import torch

F = TypeVar("F", bound=Callable)

# Big enough that 1/sqrt(var + EPS) and x/(norm + EPS) stay finite even if a caller feeds fp16 values. It is
# VICReg's epsilon (1e-4, as in its paper) and Barlow Twins' standardisation eps (BatchNorm's is 1e-5).
EPS = 1e-4


def float32_loss(fn: F) -> F:
    """Decorator: disable autocast and cast every floating tensor argument to float32."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        device_type = next(
            (a.device.type for a in (*args, *kwargs.values()) if isinstance(a, torch.Tensor)), "cpu"
        )

        def cast(value):
            if isinstance(value, torch.Tensor) and value.is_floating_point():
                return value.float()
            return value

        with torch.autocast(device_type=device_type, enabled=False):
            return fn(*(cast(a) for a in args), **{k: cast(v) for k, v in kwargs.items()})

    return wrapper  # type: ignore[return-value]


def normalize(x: torch.Tensor) -> torch.Tensor:
    """L2-normalise rows (float32 input expected)."""
    return torch.nn.functional.normalize(x, dim=-1, eps=1e-8)


def check_pair(a: torch.Tensor, b: torch.Tensor, names: str = "z1, z2") -> None:
    if a.dim() != 2 or a.shape != b.shape:
        raise ValueError(
            f"{names} must both be (N, D) with equal shapes; got {tuple(a.shape)} and {tuple(b.shape)}"
        )
