"""Corruptions of time series for generative methods (denoising, masked reconstruction).

Inputs are float (B, C, T), standardised per channel; outputs keep shape and dtype and are not clipped
(standardised values have no fixed range). Every sample gets its own random corruption, all drawn from
`generator`. Masks are bool (B, 1, T), True where a step is hidden in every channel, so they broadcast
over channels in a masked loss such as `((pred - x) ** 2 * mask).sum() / (mask.sum() * C)`. The default
fill 0 is each channel's mean after standardisation.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from ssl_core.augment import sampling
from ssl_core.augment.checks import check_fraction as _check_fraction


def _check_series(x: Tensor) -> None:
    if x.dim() != 3 or not x.is_floating_point():
        raise ValueError(f"expected float series (B, C, T); got {x.dtype} of shape {tuple(x.shape)}")


def gaussian_noise(x: Tensor, std: float, generator: torch.Generator) -> Tensor:
    """x plus independent N(0, std^2) noise per step and channel (std in units of a channel's std)."""
    _check_series(x)
    if std < 0:
        raise ValueError(f"std must be >= 0; got {std}")
    noise = sampling.normal(tuple(x.shape), generator, x.device, torch.float32)
    return x + (std * noise).to(x.dtype)


def time_mask(
    x: Tensor, ratio: float, patch: int, generator: torch.Generator, fill: float = 0.0
) -> tuple[Tensor, Tensor]:
    """Hide a random `ratio` of the `patch`-step windows of each series, in all channels together.

    Each sample hides exactly round(ratio * number of patches) patches, at least one when ratio > 0 and
    at least one left visible when ratio < 1 (visibility wins for a single patch), chosen independently
    per sample; the last patch is partial when T is not a multiple of `patch`.
    Returns (x with hidden steps set to `fill`, mask (B, 1, T)).
    """
    _check_series(x)
    _check_fraction("ratio", ratio)
    if patch < 1:
        raise ValueError(f"patch must be >= 1; got {patch}")
    b, _, t = x.shape
    n_patches = math.ceil(t / patch)
    k = round(ratio * n_patches)
    k = max(k, 1) if ratio > 0 else 0
    k = min(k, n_patches - 1) if ratio < 1 else n_patches
    # A random permutation per sample: rank of each patch's uniform score; the k lowest are hidden.
    scores = sampling.uniform(b * n_patches, 0.0, 1.0, generator, x.device).view(b, n_patches)
    hidden = scores.argsort(dim=1).argsort(dim=1) < k
    mask = hidden.unsqueeze(-1).expand(b, n_patches, patch).reshape(b, 1, n_patches * patch)[..., :t]
    return torch.where(mask, torch.full_like(x, fill), x), mask


def span_mask(
    x: Tensor, fraction: float, generator: torch.Generator, fill: float = 0.0
) -> tuple[Tensor, Tensor]:
    """Hide one contiguous span of round(fraction * T) steps per sample (at least one when fraction > 0).

    The span's start is uniform over the positions where it fits. Returns (x_hidden, mask (B, 1, T)).
    """
    _check_series(x)
    _check_fraction("fraction", fraction)
    b, _, t = x.shape
    span = round(fraction * t)
    if fraction > 0:
        span = max(span, 1)
    start = (sampling.uniform(b, 0.0, 1.0, generator, x.device) * (t - span + 1)).floor().clamp(max=t - span)
    steps = torch.arange(t, device=x.device, dtype=torch.float32).view(1, t)
    mask = ((steps >= start.view(b, 1)) & (steps < start.view(b, 1) + span)).unsqueeze(1)
    return torch.where(mask, torch.full_like(x, fill), x), mask
