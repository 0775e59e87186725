"""Encoders for multichannel time series: (B, C, T) floats, standardised per channel, -> (B, feature_dim).

Every network here also offers `forward_sequence(x) -> (B, T', sequence_dim)`, its per-step latents before
pooling (what CPC and next-step prediction work on), and says how that sequence relates to the input:
`causal` (step t depends on input steps <= t only) and `downsample` (T / T', rounded up).

This module is a leaf: it imports torch only. The backbone registry (backbones.py) imports
`SERIES_BACKBONES` from here and registers the entries, never the other way round, so there is no
import cycle and importing either module first works.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

DEFAULT_BACKBONE = "cnn1d"  # the series modality's default backbone


class ConvBNReLU1d(nn.Module):
    """Conv1d (stride 1) + BatchNorm + optional ReLU, with T steps out for T steps in.

    'same' padding puts k // 2 zeros on each side (one too many on the right for even kernels) and
    causal padding k - 1 on each side; the first T outputs are kept, so output t sees inputs
    t - k // 2 ... t + (k - 1) // 2, or t - (k - 1) ... t when causal. The convolution pads itself:
    an explicit F.pad first made conv + backward ~2x slower on a CPU.
    """

    def __init__(self, c_in: int, c_out: int, kernel: int, causal: bool = False, relu: bool = True):
        super().__init__()
        self.conv = nn.Conv1d(c_in, c_out, kernel, padding=kernel - 1 if causal else kernel // 2, bias=False)
        self.bn = nn.BatchNorm1d(c_out)
        self.relu = relu

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv(x)
        if y.shape[-1] != x.shape[-1]:
            y = y[..., : x.shape[-1]]
        y = self.bn(y)
        return F.relu(y, inplace=True) if self.relu else y


class ResBlock1d(nn.Module):
    """Wang et al. (2017) ResNet block: conv 8 -> conv 5 -> conv 3 (BN, ReLU), plus a shortcut."""

    def __init__(self, c_in: int, c_out: int, kernels: Sequence[int] = (8, 5, 3), causal: bool = False):
        super().__init__()
        k1, k2, k3 = kernels
        self.convs = nn.Sequential(
            ConvBNReLU1d(c_in, c_out, k1, causal),
            ConvBNReLU1d(c_out, c_out, k2, causal),
            ConvBNReLU1d(c_out, c_out, k3, causal, relu=False),
        )
        # A 1x1 conv + BN shortcut where the width changes (as in the paper), else the identity.
        self.shortcut = (
            nn.Identity()
            if c_in == c_out
            else nn.Sequential(nn.Conv1d(c_in, c_out, 1, bias=False), nn.BatchNorm1d(c_out))
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.convs(x) + self.shortcut(x), inplace=True)


class CNN1d(nn.Module):
    """ResNet-1D after Wang et al. (2017), "Time series classification from scratch with deep neural
    networks: a strong baseline": three residual blocks of conv 8/5/3 (BN, ReLU), global average pooling.

    Widths are reduced from the paper's 64-128-128 (~0.5 M weights) to 32-48-64 (~0.1 M) so it trains
    comfortably on a CPU. Every convolution has stride 1 and length-preserving padding, so any T >= 1
    works and `forward_sequence` returns one feature vector per input step (downsample = 1). The
    receptive field is 40 steps. With `causal=True` all padding goes on the left, so step t sees inputs
    <= t only; note that in training mode BatchNorm's batch statistics still span all steps.
    """

    def __init__(
        self,
        in_channels: int,
        length: int,
        widths: Sequence[int] = (32, 48, 64),
        kernels: Sequence[int] = (8, 5, 3),
        causal: bool = False,
    ):
        super().__init__()
        self.length = int(length)
        blocks: list[nn.Module] = []
        c_in = in_channels
        for width in widths:
            blocks.append(ResBlock1d(c_in, width, kernels, causal))
            c_in = width
        self.blocks = nn.Sequential(*blocks)
        self.feature_dim = int(widths[-1])
        self.sequence_dim = int(widths[-1])
        self.causal = bool(causal)
        self.downsample = 1

    def forward_sequence(self, x: torch.Tensor) -> torch.Tensor:
        return self.blocks(x).transpose(1, 2)  # (B, T, D)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.blocks(x).mean(dim=2)


class RecurrentEncoder(nn.Module):
    """Per-step input projection (Linear + LayerNorm + GELU) into a stacked GRU or LSTM.

    `forward` returns the top layer's last hidden state: a causal summary of the whole series that,
    unlike an average, weighs recent steps as the recurrence learned to and is what the network would
    carry forward to predict what comes next. `forward_sequence` returns all hidden states (B, T, hidden);
    step t depends on inputs <= t only (causal, in training and evaluation mode alike: nothing normalises
    across time). Batches have one length, so no packing is needed: nn.GRU / nn.LSTM with batch_first run
    as one cuDNN call on a GPU.
    """

    def __init__(
        self,
        in_channels: int,
        length: int,
        cell: str = "gru",
        hidden: int = 128,
        num_layers: int = 1,
        proj_dim: int = 64,
    ):
        super().__init__()
        rnn_cls = {"gru": nn.GRU, "lstm": nn.LSTM}.get(cell)
        if rnn_cls is None:
            raise ValueError(f"unknown recurrent cell {cell!r}; use 'gru' or 'lstm'")
        self.length = int(length)
        self.cell = cell
        self.proj = nn.Sequential(nn.Linear(in_channels, proj_dim), nn.LayerNorm(proj_dim), nn.GELU())
        self.rnn = rnn_cls(proj_dim, hidden, num_layers=num_layers, batch_first=True)
        self.feature_dim = int(hidden)
        self.sequence_dim = int(hidden)
        self.causal = True
        self.downsample = 1

    def forward_sequence(self, x: torch.Tensor) -> torch.Tensor:
        if x.is_cuda:  # after a deepcopy (momentum encoders) the weights may no longer be one cuDNN block
            self.rnn.flatten_parameters()
        out, _ = self.rnn(self.proj(x.transpose(1, 2)))
        return out  # (B, T, hidden)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_sequence(x)[:, -1]


def patch_length_for(length: int, target_patches: int = 16, lo: int = 2, hi: int = 16) -> int:
    """The patch length for a series of `length` steps: about length / 16, clipped to [2, 16]."""
    return int(min(hi, max(lo, math.ceil(length / target_patches))))


class Transformer1d(nn.Module):
    """A small pre-norm Transformer over non-overlapping patches of the series (PatchTST-style).

    The series is zero-padded on the right to a multiple of the patch length p (about T / 16, clipped to
    [2, 16]); each patch of p steps x C channels is linearly embedded, a learned position embedding (one
    per patch) is added, and `depth` nn.TransformerEncoderLayer blocks (batch_first, norm_first) follow.
    `forward` is the mean of the patch tokens after a final LayerNorm (no class token, as in the ViT);
    `forward_sequence` returns those tokens, one per patch (downsample = p), not causal. A series of
    another length than the one the network was built for gets its position embedding linearly
    interpolated to its number of patches.
    """

    def __init__(
        self,
        in_channels: int,
        length: int,
        dim: int = 64,
        depth: int = 3,
        heads: int = 4,
        mlp_ratio: float = 2.0,
        patch: int | None = None,
    ):
        super().__init__()
        if dim % heads:
            raise ValueError(f"embedding dimension {dim} is not divisible by {heads} heads")
        self.length = int(length)
        self.patch = int(patch) if patch is not None else patch_length_for(self.length)
        self.num_patches = math.ceil(self.length / self.patch)
        self.patch_embed = nn.Conv1d(in_channels, dim, kernel_size=self.patch, stride=self.patch)
        self.pos_embed = nn.Parameter(torch.zeros(1, self.num_patches, dim))
        self.layers = nn.ModuleList(
            nn.TransformerEncoderLayer(
                dim,
                heads,
                dim_feedforward=int(dim * mlp_ratio),
                dropout=0.0,
                activation="gelu",
                batch_first=True,
                norm_first=True,
            )
            for _ in range(depth)
        )
        self.norm = nn.LayerNorm(dim)
        self.feature_dim = int(dim)
        self.sequence_dim = int(dim)
        self.causal = False
        self.downsample = self.patch
        nn.init.trunc_normal_(self.pos_embed, std=0.02)
        # Initialise the patch projection like a linear layer on the flattened patch, as MAE does.
        nn.init.xavier_uniform_(self.patch_embed.weight.view(dim, -1))
        nn.init.zeros_(self.patch_embed.bias)

    def _positions(self, n: int, dtype: torch.dtype) -> torch.Tensor:
        pos = self.pos_embed
        if n != pos.shape[1]:
            pos = F.interpolate(pos.transpose(1, 2), size=n, mode="linear", align_corners=False)
            pos = pos.transpose(1, 2)
        return pos.to(dtype)

    def forward_sequence(self, x: torch.Tensor) -> torch.Tensor:
        extra = -x.shape[-1] % self.patch
        if extra:
            x = F.pad(x, (0, extra))
        tokens = self.patch_embed(x).transpose(1, 2)  # (B, N, dim)
        tokens = tokens + self._positions(tokens.shape[1], tokens.dtype)
        for layer in self.layers:
            tokens = layer(tokens)
        return self.norm(tokens)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_sequence(x).mean(dim=1)


@dataclass(frozen=True)
class SeriesBackbone:
    """What backbones.py needs to register a series network: `factory(in_channels, length)`."""

    name: str
    title: str
    description: str
    factory: Callable[[int, int], nn.Module]


SERIES_BACKBONES: tuple[SeriesBackbone, ...] = (
    SeriesBackbone(
        "cnn1d",
        "1-D CNN (ResNet)",
        "Three residual blocks of 1-D convolutions (kernels 8, 5, 3; 32-48-64 channels) with global "
        "average pooling; 64 features. A strong, fast default for series of any length: it picks up "
        "local shapes (peaks, steps, oscillations) wherever they occur, and each feature sees about 40 "
        "neighbouring steps.",
        lambda in_channels, length: CNN1d(in_channels, length),
    ),
    SeriesBackbone(
        "gru",
        "GRU (recurrent)",
        "Reads the series step by step with a gated recurrent unit (128 hidden units) and keeps its final "
        "state as the summary; 128 features. Causal (each step sees only the past), so it suits "
        "forecasting-style methods such as CPC and next-step prediction. Slower than the CNN on long "
        "series, because the steps are processed one after another.",
        lambda in_channels, length: RecurrentEncoder(in_channels, length, cell="gru"),
    ),
    SeriesBackbone(
        "lstm",
        "LSTM (recurrent)",
        "Like the GRU, but with a long short-term memory cell (128 hidden units), which can hold on to "
        "information over longer stretches at a somewhat higher cost; 128 features. Causal.",
        lambda in_channels, length: RecurrentEncoder(in_channels, length, cell="lstm"),
    ),
    SeriesBackbone(
        "transformer1d",
        "Transformer (patches)",
        "Cuts the series into about 16 short patches and lets a small Transformer (3 layers, width 64) "
        "relate every patch to every other; 64 features. Good at long-range structure (a pattern early "
        "that matters late), and the natural choice for masked reconstruction; likes more data than the "
        "CNN.",
        lambda in_channels, length: Transformer1d(in_channels, length),
    ),
)
