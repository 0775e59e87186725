"""Corruptions for generative methods (denoising, inpainting, masked autoencoding).

Inputs are float (B, C, H, W) in [0, 1]; outputs keep shape, dtype and range. Every sample gets its own
random corruption, all drawn from `generator`. Masks are bool (B, 1, H, W), True where a pixel is hidden,
so they broadcast over channels in a masked loss such as `((pred - x) ** 2 * mask).sum() / mask.sum()`.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from ssl_core.augment import sampling
from ssl_core.augment.checks import check_fraction as _check_fraction


def _check_images(x: Tensor) -> None:
    if x.dim() != 4 or not x.is_floating_point():
        raise ValueError(f"expected float images (B, C, H, W); got {x.dtype} of shape {tuple(x.shape)}")


def gaussian_noise(x: Tensor, std: float, generator: torch.Generator) -> Tensor:
    """x plus independent N(0, std^2) noise per pixel and channel, clipped to [0, 1]."""
    _check_images(x)
    if std < 0:
        raise ValueError(f"std must be >= 0; got {std}")
    noise = sampling.normal(tuple(x.shape), generator, x.device, x.dtype)
    return (x + std * noise).clamp_(0.0, 1.0)


def salt_and_pepper(x: Tensor, amount: float, generator: torch.Generator) -> Tensor:
    """Set a random `amount` of pixel positions (all channels together) to white or black, half each."""
    _check_images(x)
    _check_fraction("amount", amount)
    b, _, h, w = x.shape
    hit = sampling.uniform(b * h * w, 0.0, 1.0, generator, x.device).view(b, 1, h, w) < amount
    salt = sampling.bernoulli(b * h * w, 0.5, generator, x.device).view(b, 1, h, w)
    value = salt.to(x.dtype).expand_as(x)
    return torch.where(hit, value, x)


def random_mask(
    x: Tensor, ratio: float, patch: int, generator: torch.Generator, fill: float = 0.0
) -> tuple[Tensor, Tensor]:
    """Hide a random `ratio` of the patch x patch squares of each image (MAE-style masking).

    Each sample hides exactly round(ratio * number of patches) patches (at least one when ratio > 0,
    at least one left visible when ratio < 1), chosen independently per sample. Edge patches are
    partial when H or W is not a multiple of `patch`. Returns (x with hidden pixels set to `fill`, mask).
    """
    _check_images(x)
    _check_fraction("ratio", ratio)
    if patch < 1:
        raise ValueError(f"patch must be >= 1; got {patch}")
    b, _, h, w = x.shape
    gh, gw = math.ceil(h / patch), math.ceil(w / patch)
    n_patches = gh * gw
    k = round(ratio * n_patches)
    k = max(k, 1) if ratio > 0 else 0
    k = min(k, n_patches - 1) if ratio < 1 else n_patches
    # A random permutation per sample: rank of each patch's uniform score; the k lowest are hidden.
    scores = sampling.uniform(b * n_patches, 0.0, 1.0, generator, x.device).view(b, n_patches)
    ranks = scores.argsort(dim=1).argsort(dim=1)
    grid = (ranks < k).view(b, 1, gh, gw)
    mask = grid.repeat_interleave(patch, dim=2).repeat_interleave(patch, dim=3)[:, :, :h, :w]
    return torch.where(mask, torch.full_like(x, fill), x), mask


def random_region(
    x: Tensor, fraction: float, generator: torch.Generator, fill: float = 0.0
) -> tuple[Tensor, Tensor]:
    """Hide one random rectangle per sample covering about `fraction` of the image (inpainting).

    The rectangle's aspect ratio is log-uniform in [1/2, 2] and its sides are rounded to whole pixels
    (clipped to the image), so the hidden share is `fraction` up to rounding. Returns (x_hidden, mask).
    """
    _check_images(x)
    _check_fraction("fraction", fraction)
    b, _, h, w = x.shape
    dev = x.device
    area = fraction * h * w
    aspect = torch.exp(sampling.uniform(b, -math.log(2.0), math.log(2.0), generator, dev))
    box_h = torch.sqrt(area / aspect).round().clamp(0, h)
    box_w = torch.sqrt(area * aspect).round().clamp(0, w)
    if fraction > 0:  # at least one pixel, so a loss over the hidden region is never empty
        box_h, box_w = box_h.clamp(min=1), box_w.clamp(min=1)
    top = (sampling.uniform(b, 0.0, 1.0, generator, dev) * (h - box_h + 1)).floor()
    left = (sampling.uniform(b, 0.0, 1.0, generator, dev) * (w - box_w + 1)).floor()
    rows = torch.arange(h, device=dev, dtype=torch.float32).view(1, h, 1)
    cols = torch.arange(w, device=dev, dtype=torch.float32).view(1, 1, w)
    t, lft = top.view(b, 1, 1), left.view(b, 1, 1)
    inside = (
        (rows >= t) & (rows < t + box_h.view(b, 1, 1)) & (cols >= lft) & (cols < lft + box_w.view(b, 1, 1))
    )
    mask = inside.unsqueeze(1)
    return torch.where(mask, torch.full_like(x, fill), x), mask
