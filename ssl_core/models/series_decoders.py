"""Decoders back to a series, for the reconstruction methods (autoencoder, denoising, masked) on series.

Series are standardised per channel before they reach a network, so outputs are plain real values in
those units (no sigmoid, unlike the image decoders' logits) and the loss is a plain MSE against the
standardised target (`decoders.per_sample_error` works unchanged on (B, C, T)).
"""

from __future__ import annotations

import math

import torch
from torch import nn

# The decoder's coarse sequence has between _START_MAX / 2 and _START_MAX steps (or T, when shorter).
_START_MAX = 8


class SeriesDecoder(nn.Module):
    """Feature vector (B, D) -> series (B, C, T), for any T >= 1.

    A linear layer makes a coarse sequence of s <= 8 steps; each of n stages then doubles its length
    (nearest upsampling + conv 5 + BN + ReLU, which avoids the checkerboard artefacts of transposed
    convolutions), with n the fewest doublings that reach T and s = ceil(T / 2^n), so the final length
    s * 2^n is T or a little more and the surplus at the end is cut off. Widths halve per stage from
    2 * width down to 16. A conv 5 + ReLU + conv 1 head refines the result; with T <= 8 there are no
    stages and the linear layer alone lays out every step (an MLP decoder).
    """

    def __init__(self, feature_dim: int, channels: int, length: int, width: int = 64):
        super().__init__()
        if length < 1:
            raise ValueError(f"series length must be >= 1, got {length}")
        self.channels = int(channels)
        self.length = int(length)
        n_up = max(0, math.ceil(math.log2(self.length / _START_MAX)))
        self.start = math.ceil(self.length / 2**n_up)
        chans = [max(16, (2 * width) // 2**i) for i in range(n_up + 1)]
        self.fc = nn.Sequential(nn.Linear(feature_dim, chans[0] * self.start), nn.ReLU(inplace=True))
        stages: list[nn.Module] = []
        for c_in, c_out in zip(chans[:-1], chans[1:], strict=True):
            stages += [
                nn.Upsample(scale_factor=2, mode="nearest"),
                nn.Conv1d(c_in, c_out, 5, padding=2, bias=False),
                nn.BatchNorm1d(c_out),
                nn.ReLU(inplace=True),
            ]
        self.up = nn.Sequential(*stages)
        last = chans[-1]
        self.head = nn.Sequential(
            nn.Conv1d(last, last, 5, padding=2),
            nn.ReLU(inplace=True),
            nn.Conv1d(last, self.channels, 1),
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        h = self.fc(z).view(z.shape[0], -1, self.start)
        h = self.up(h)[..., : self.length]
        return self.head(h)


class SequenceHead(nn.Module):
    """Per-step linear head: a backbone's `forward_sequence` output (B, T', D) -> values (B, C, T).

    Each step's latent predicts `downsample` consecutive steps of all C channels (1 for the CNN and the
    recurrent encoders, the patch length for the Transformer), so the output has T' * downsample steps,
    cut to `length` when given (the Transformer pads the series to a multiple of its patch).
    Used for masked reconstruction (predict the hidden steps) and next-step prediction: with a causal
    backbone, output[..., t] computed from steps <= t is compared with x[..., t + 1].
    """

    def __init__(self, in_dim: int, channels: int, downsample: int = 1, hidden: int = 0):
        super().__init__()
        self.channels = int(channels)
        self.downsample = int(downsample)
        out = self.channels * self.downsample
        if hidden:
            self.net: nn.Module = nn.Sequential(nn.Linear(in_dim, hidden), nn.GELU(), nn.Linear(hidden, out))
        else:
            self.net = nn.Linear(in_dim, out)

    def forward(self, seq: torch.Tensor, length: int | None = None) -> torch.Tensor:
        b, n, _ = seq.shape
        y = self.net(seq).view(b, n, self.downsample, self.channels)  # step (token, offset) per row
        y = y.permute(0, 3, 1, 2).reshape(b, self.channels, n * self.downsample)
        return y if length is None else y[..., :length]
