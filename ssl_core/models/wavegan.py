"""WaveGAN's networks (Donahue, McAuley & Puckette, Adversarial Audio Synthesis, ICLR 2019), sized to the
clip: a generator that turns a latent vector into a waveform, and the critic whose features are the
method's representation (registered as the "wavegan_d" backbone from ssl_core/models/audio.py).

The paper's networks make 16384 samples (about 1 s at 16 kHz) with five stride-4 layers of kernel 25 over
16 steps; here the number of layers follows the clip: `levels(length)` stride-4 layers take the critic
down to about 16 steps (1 to 5 layers), and the generator starts from ceil(length / 4^levels) steps and
crops its output to the clip. Channels start at `width` and double per layer (paper: 64).
No batch normalisation anywhere: the critic's gradient penalty needs each clip's score to depend on that
clip only, and the paper's generator has none either. This module imports torch only.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

KERNEL, STRIDE = 25, 4  # WaveGAN's 1-D convolutions
MAX_LEVELS = 5  # the paper's depth (16384 samples -> 16 steps)
MAX_WIDTH = 1024
LEAK = 0.2  # the critic's LeakyReLU slope (paper)


def levels(length: int) -> int:
    """Stride-4 layers for clips of `length` samples: down to about 16 steps, 1 to MAX_LEVELS."""
    return max(1, min(MAX_LEVELS, int(round(math.log(max(length, 64) / 16, STRIDE)))))


def phase_shuffle(x: torch.Tensor, radius: int, generator: torch.Generator | None) -> torch.Tensor:
    """Shift each sample's (C, T) map by its own random n in [-radius, radius] steps, filling the edge by
    reflection (WaveGAN's phase shuffle). `generator` None draws from torch's stream of x's device."""
    b, c, t = x.shape
    if radius <= 0 or t <= radius:
        return x
    device = generator.device if generator is not None else x.device
    shifts = torch.randint(-radius, radius + 1, (b,), generator=generator, device=device).to(x.device)
    padded = F.pad(x, (radius, radius), mode="reflect")
    index = torch.arange(t, device=x.device).unsqueeze(0) + radius - shifts.unsqueeze(1)  # (B, T)
    return padded.gather(2, index.unsqueeze(1).expand(b, c, t))


class WaveGANDiscriminator(nn.Module):
    """`levels(length)` Conv1d(kernel 25, stride 4) layers (width, 2 width, 4 width, ... channels), each
    followed by LeakyReLU(0.2) and, in training mode, phase shuffle (all but the last layer, as in the
    paper). Features: the time-average of every layer's map, concatenated (fine and coarse structure).

    The method hands its step's generator over through `shuffle_generator` so the shuffles are
    reproducible; without one they draw from torch's stream."""

    def __init__(self, in_channels: int, length: int, width: int = 16, phase_shuffle: int = 2):
        super().__init__()
        n = levels(length)
        convs, c = [], in_channels
        for i in range(n):
            out = min(MAX_WIDTH, width * 2**i)
            convs.append(nn.Conv1d(c, out, KERNEL, stride=STRIDE, padding=KERNEL // 2))
            c = out
        self.convs = nn.ModuleList(convs)
        self.radius = int(phase_shuffle)
        self.length = int(length)
        self.feature_dim = sum(conv.out_channels for conv in convs)
        self.shuffle_generator: torch.Generator | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pooled = []
        last = len(self.convs) - 1
        for i, conv in enumerate(self.convs):
            x = F.leaky_relu(conv(x), LEAK)
            pooled.append(x.mean(dim=2))
            if self.training and i < last:
                x = phase_shuffle(x, self.radius, self.shuffle_generator)
        return torch.cat(pooled, dim=1)


class WaveGANGenerator(nn.Module):
    """Latent (B, latent_dim) -> Linear -> (B, width * 2^(L-1), ceil(length / 4^L)) -> ReLU -> L layers
    that each make the clip 4x longer (kernel-25 transposed convolutions as in the paper, or nearest-
    neighbour upsampling then a kernel-25 convolution, the paper's alternative without checkerboard
    artefacts), halving the channels, ReLU between -> tanh: (B, channels, length) waveforms in [-1, 1]."""

    def __init__(
        self, latent_dim: int, channels: int, length: int, width: int = 16, upsample: str = "transposed"
    ):
        super().__init__()
        if upsample not in ("transposed", "nearest"):
            raise ValueError(f"upsample must be 'transposed' or 'nearest', not {upsample!r}")
        n = levels(length)
        self.length = int(length)
        self.start = math.ceil(length / STRIDE**n)
        c = min(MAX_WIDTH, width * 2 ** (n - 1))
        self.start_channels = c
        self.latent_dim = int(latent_dim)
        self.project = nn.Linear(latent_dim, c * self.start)
        layers: list[nn.Module] = []
        for i in range(n):
            out = channels if i == n - 1 else max(width, c // 2)
            if upsample == "transposed":
                layers.append(
                    nn.ConvTranspose1d(
                        c, out, KERNEL, stride=STRIDE, padding=KERNEL // 2 - 1, output_padding=1
                    )
                )
            else:
                layers += [
                    nn.Upsample(scale_factor=STRIDE, mode="nearest"),
                    nn.Conv1d(c, out, KERNEL, padding=KERNEL // 2),
                ]
            if i < n - 1:
                layers.append(nn.ReLU())
            c = out
        self.blocks = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.project(z).view(z.shape[0], self.start_channels, self.start))
        return torch.tanh(self.blocks(x)[..., : self.length])
