"""DCGAN-style networks for small images (8-64 px): a generator that draws an image from a latent vector,
and the discriminator trunk whose features are the GAN's representation.

The discriminator trunk is registered as the "dcgan_d" backbone (ssl_core/models/backbones.py), so
evaluation, export and every other method use it like any backbone. It has no batch normalisation (a
gradient penalty needs each sample's score to depend on that sample only) and its layers can divide their
weights by their largest singular value (spectral normalisation, Miyato et al. 2018). Whether they do is a
buffer of each layer, so exported weights rebuild the same network.

Sizes follow Radford et al. 2016 (DCGAN), scaled down: 4x4 stride-2 convolutions halve (discriminator) or
double (generator) the resolution `levels(size)` times, from 8 px (once) to 64 px (four times), starting
at 64 channels and doubling per level.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

MAX_LEVELS = 4  # 64 px -> 4 px, as in DCGAN; larger images keep a larger last map
MAX_WIDTH = 512  # channels of the widest layer
LEAK = 0.2  # the discriminator's LeakyReLU slope (DCGAN)


def levels(size: int) -> int:
    """How many times the networks halve / double the resolution for images of side `size`: down to a
    map of about 4 px (8 px: 1, 16: 2, 32: 3, 64: 4), at least once and at most MAX_LEVELS times."""
    return max(1, min(MAX_LEVELS, int(math.floor(math.log2(max(size, 8) / 4)))))


class _SpectralMixin:
    """Divides the layer's weight by an estimate of its largest singular value when `spectral` is on.

    One power iteration per training forward refines the estimate (vectors `sn_u`, `sn_v` are buffers,
    as in torch.nn.utils.parametrizations.spectral_norm); the weight parameter keeps its name, and the
    switch is the buffer `sn_on`, so a state_dict loads into a fresh layer and turns it on."""

    weight: nn.Parameter

    def _init_spectral(self, rows: int, cols: int) -> None:
        self.register_buffer("sn_on", torch.zeros((), dtype=torch.bool))
        self.register_buffer("sn_u", F.normalize(torch.randn(rows), dim=0))
        self.register_buffer("sn_v", F.normalize(torch.randn(cols), dim=0))
        self.spectral = False  # mirrors sn_on, read without a device sync

    def set_spectral(self, on: bool) -> None:
        self.spectral = bool(on)
        self.sn_on.fill_(bool(on))

    def _load_from_state_dict(self, *args, **kwargs) -> None:  # noqa: D401 - torch hook
        super()._load_from_state_dict(*args, **kwargs)  # type: ignore[misc]
        self.spectral = bool(self.sn_on)

    def normalised_weight(self) -> torch.Tensor:
        if not self.spectral:
            return self.weight
        matrix = self.weight.flatten(1)
        if self.training:
            with torch.no_grad(), torch.autocast(matrix.device.type, enabled=False):
                w = matrix.float()
                v = F.normalize(w.t() @ self.sn_u, dim=0, eps=1e-12)
                u = F.normalize(w @ v, dim=0, eps=1e-12)
                self.sn_u.copy_(u)
                self.sn_v.copy_(v)
        with torch.autocast(matrix.device.type, enabled=False):  # sigma in float32, gradient through W
            sigma = torch.dot(self.sn_u, matrix.float() @ self.sn_v)
        return self.weight / sigma.to(self.weight.dtype)


class SNConv2d(_SpectralMixin, nn.Conv2d):
    """A Conv2d with switchable spectral normalisation."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._init_spectral(self.weight.shape[0], self.weight[0].numel())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._conv_forward(x, self.normalised_weight(), self.bias)


class SNLinear(_SpectralMixin, nn.Linear):
    """A Linear with switchable spectral normalisation."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._init_spectral(self.out_features, self.in_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.normalised_weight(), self.bias)


def set_spectral_norm(module: nn.Module, on: bool) -> int:
    """Turn spectral normalisation on or off in every layer of `module` that has it; returns how many."""
    layers = [m for m in module.modules() if isinstance(m, _SpectralMixin)]
    for layer in layers:
        layer.set_spectral(on)
    return len(layers)


class DCGANDiscriminator(nn.Module):
    """3x3 conv, then `levels(size)` 4x4 stride-2 convs (64 -> 128 -> 256 -> 512 channels), then a 3x3 conv,
    each followed by LeakyReLU(0.2), no normalisation layers.

    Features: the global average of every level's map, concatenated (DCGAN's paper also used all layers'
    features), so the representation holds both fine strokes and overall shape."""

    def __init__(self, in_channels: int, image_size: int, width: int = 64):
        super().__init__()
        self.stem = nn.Sequential(SNConv2d(in_channels, width, 3, padding=1), nn.LeakyReLU(LEAK))
        stages, c = [], width
        for _ in range(levels(image_size)):
            out = min(MAX_WIDTH, c * 2)
            stages.append(nn.Sequential(SNConv2d(c, out, 4, stride=2, padding=1), nn.LeakyReLU(LEAK)))
            c = out
        stages.append(nn.Sequential(SNConv2d(c, c, 3, padding=1), nn.LeakyReLU(LEAK)))
        self.stages = nn.ModuleList(stages)
        self.feature_dim = sum(stage[0].out_channels for stage in stages)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        pooled = []
        for stage in self.stages:
            x = stage(x)
            pooled.append(x.mean(dim=(2, 3)))
        return torch.cat(pooled, dim=1)


class DCGANGenerator(nn.Module):
    """Latent vector -> linear projection to a small map (about 4 px) -> `levels` 4x4 stride-2 transposed
    convs, each halving the channels, with BatchNorm and ReLU -> 3x3 conv -> sigmoid: images in [0, 1].

    Sides that do not halve evenly are drawn a little larger and cropped to (height, width)."""

    def __init__(self, latent_dim: int, channels: int, height: int, width: int, base_width: int = 64):
        super().__init__()
        n = levels(min(height, width))
        scale = 2**n
        self.height, self.width = int(height), int(width)
        self.start = (math.ceil(height / scale), math.ceil(width / scale))
        c = min(MAX_WIDTH, base_width * scale)
        self.start_channels = c
        self.project = nn.Sequential(
            nn.Linear(latent_dim, c * self.start[0] * self.start[1], bias=False),
            nn.BatchNorm1d(c * self.start[0] * self.start[1]),
            nn.ReLU(),
        )
        blocks: list[nn.Module] = []
        for _ in range(n):
            out = max(base_width, c // 2)
            blocks += [
                nn.ConvTranspose2d(c, out, 4, stride=2, padding=1, bias=False),
                nn.BatchNorm2d(out),
                nn.ReLU(),
            ]
            c = out
        blocks.append(nn.Conv2d(c, channels, 3, padding=1))
        self.blocks = nn.Sequential(*blocks)
        self.latent_dim = int(latent_dim)

    def logits(self, z: torch.Tensor) -> torch.Tensor:
        x = self.project(z).view(z.shape[0], self.start_channels, *self.start)
        x = self.blocks(x)
        return x[..., : self.height, : self.width]

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.logits(z))
