"""Per-sample random draws, all taken from one `torch.Generator` so seeded runs repeat exactly.

Draws happen on the generator's own device and are then moved to the images' device. With the
generator on the training device (the contract), that move is a no-op and nothing syncs with the host;
a CPU generator still works for GPU images, only with a small copy.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor


def uniform(n: int, low: float, high: float, generator: torch.Generator, device: torch.device) -> Tensor:
    """(n,) float32 values drawn uniformly from [low, high)."""
    r = torch.rand(n, generator=generator, device=generator.device)
    return (low + (high - low) * r).to(device)


def bernoulli(n: int, p: float, generator: torch.Generator, device: torch.device) -> Tensor:
    """(n,) bool, each True with probability p."""
    return (torch.rand(n, generator=generator, device=generator.device) < p).to(device)


def normal(
    shape: tuple[int, ...], generator: torch.Generator, device: torch.device, dtype: torch.dtype
) -> Tensor:
    """Standard normal noise of the given shape."""
    return torch.randn(shape, generator=generator, device=generator.device, dtype=dtype).to(device)


def crop_boxes(
    n: int,
    height: int,
    width: int,
    scale: tuple[float, float],
    ratio: tuple[float, float],
    generator: torch.Generator,
    device: torch.device,
) -> Tensor:
    """(n, 4) random crop boxes (top, left, height, width) in pixels, as in RandomResizedCrop.

    Area fraction ~ U(scale), aspect ratio (w/h) ~ log-uniform(ratio). Where a box would not fit,
    its side is clipped to the image instead of re-drawing (torchvision retries up to 10 times and
    then falls back to a centre crop); clipping keeps the batch to a fixed number of draws.
    """
    area = uniform(n, scale[0], scale[1], generator, device) * (height * width)
    log_ratio = uniform(n, math.log(ratio[0]), math.log(ratio[1]), generator, device)
    aspect = torch.exp(log_ratio)
    box_w = torch.sqrt(area * aspect).clamp(max=float(width))
    box_h = torch.sqrt(area / aspect).clamp(max=float(height))
    top = uniform(n, 0.0, 1.0, generator, device) * (height - box_h)
    left = uniform(n, 0.0, 1.0, generator, device) * (width - box_w)
    return torch.stack([top, left, box_h, box_w], dim=1)
