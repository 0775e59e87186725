"""Decoders from a feature vector back to an image, and the pixel losses generative methods share.

The decoders output logits: apply `torch.sigmoid` for an image in [0, 1]. Keeping logits lets the BCE
loss use the numerically safe `binary_cross_entropy_with_logits` (plain BCE is refused under autocast).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ssl_core.models.modes import eval_mode  # noqa: F401  (methods import it from here)


def _size_pair(size: int | tuple[int, int]) -> tuple[int, int]:
    return (size, size) if isinstance(size, int) else (int(size[0]), int(size[1]))


class ConvDecoder(nn.Module):
    """Feature vector (B, D) -> image logits (B, C, H, W), for images from about 4 to 256 px.

    A linear layer makes a small spatial map (2x2 for images under 16 px, else 4x4); each stage then
    doubles the size (nearest upsampling + 3x3 conv, which avoids the checkerboard artefacts of
    transposed convolutions) until the image size is reached; odd sizes are met by one final bilinear
    resize. With `skip_channels`, an extra full-resolution input (e.g. a grayscale image for colorization)
    is concatenated before the last convolutions, so the decoder can align its output to local detail.
    `out_mean` (per output channel, in [0, 1]) starts the output at the data's mean colour instead of
    0.5 grey, which saves the first hundred steps or so on mostly dark or light images.
    """

    def __init__(
        self,
        in_dim: int,
        out_channels: int,
        image_size: int | tuple[int, int],
        width: int = 64,
        skip_channels: int = 0,
        out_mean: Sequence[float] | None = None,
    ):
        super().__init__()
        self.out_size = _size_pair(image_size)
        side = max(self.out_size)
        self.start = 2 if side < 16 else 4
        n_up = max(0, math.ceil(math.log2(side / self.start)))
        chans = [max(16, (2 * width) // 2**i) for i in range(n_up + 1)]
        self.fc = nn.Sequential(nn.Linear(in_dim, chans[0] * self.start**2), nn.ReLU(inplace=True))
        stages: list[nn.Module] = []
        for c_in, c_out in zip(chans[:-1], chans[1:], strict=True):
            stages += [
                nn.Upsample(scale_factor=2, mode="nearest"),
                nn.Conv2d(c_in, c_out, 3, padding=1, bias=False),
                nn.BatchNorm2d(c_out),
                nn.ReLU(inplace=True),
            ]
        self.up = nn.Sequential(*stages)
        self.skip_channels = skip_channels
        last = chans[-1]
        self.head = nn.Sequential(
            nn.Conv2d(last + skip_channels, last, 3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(last, out_channels, 1),
        )
        if out_mean is not None:
            mean = torch.as_tensor(list(out_mean), dtype=torch.float32).clamp(0.01, 0.99)
            with torch.no_grad():
                self.head[-1].bias.copy_(torch.logit(mean).expand(out_channels))

    def forward(self, z: torch.Tensor, skip: torch.Tensor | None = None) -> torch.Tensor:
        h = self.fc(z).view(z.shape[0], -1, self.start, self.start)
        h = self.up(h)
        if tuple(h.shape[-2:]) != self.out_size:
            h = F.interpolate(h, size=self.out_size, mode="bilinear", align_corners=False)
        if self.skip_channels:
            if skip is None:
                raise ValueError("this decoder was built with skip_channels and needs a skip input")
            h = torch.cat([h, skip.to(h.dtype)], dim=1)
        return self.head(h)


# ---- pixel losses ------------------------------------------------------------------------------
# Each maps (logits, target in [0, 1]) -> per-element loss, in float32 so fp16 autocast cannot overflow.
PixelLoss = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def _mse(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return (torch.sigmoid(logits.float()) - target.float()).pow(2)


def _l1(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return (torch.sigmoid(logits.float()) - target.float()).abs()


def _bce(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return F.binary_cross_entropy_with_logits(logits.float(), target.float(), reduction="none")


PIXEL_LOSSES: dict[str, PixelLoss] = {"mse": _mse, "l1": _l1, "bce": _bce}


def pixel_loss(
    logits: torch.Tensor, target: torch.Tensor, kind: str = "mse", weight: torch.Tensor | None = None
) -> torch.Tensor:
    """Mean per-pixel loss; with `weight` (broadcastable to target), a weighted mean over the weights."""
    per = PIXEL_LOSSES[kind](logits, target)
    if weight is None:
        return per.mean()
    weight = weight.float().expand_as(per)
    return (per * weight).sum() / weight.sum().clamp_min(1e-8)


def per_sample_error(
    recon: torch.Tensor, target: torch.Tensor, mask: torch.Tensor | None = None
) -> torch.Tensor:
    """Mean squared error per sample (B,), optionally only where `mask` (broadcastable, 1 = count) is set."""
    err = (recon.float() - target.float()).pow(2)
    if mask is None:
        return err.flatten(1).mean(1)
    mask = mask.float().expand_as(err)
    return (err * mask).flatten(1).sum(1) / mask.flatten(1).sum(1).clamp_min(1e-8)


def channel_means(backbone: nn.Module, channels: int) -> list[float] | None:
    """The per-channel input mean a backbone normalises with (an Encoder keeps it as a buffer), if any."""
    value = getattr(backbone, "mean", None)
    if isinstance(value, torch.Tensor) and value.numel() >= channels:
        return value.detach().flatten()[:channels].tolist()
    return None


def to_preview(x: torch.Tensor) -> torch.Tensor:
    """A tensor as a preview grid: detached float32 on the CPU, clamped to [0, 1]."""
    return x.detach().float().clamp(0.0, 1.0).cpu()
