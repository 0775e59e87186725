"""Encoders for audio clips: (B, C, T) float waveforms in [-1, 1] -> (B, feature_dim).

- `WavEncoder` ("wav_cnn"): the wav2vec / wav2vec 2.0 convolutional feature encoder, scaled down: a wide
  first convolution with stride 5, then stride-2 convolutions, each with a per-step LayerNorm over channels
  and GELU, so one latent frame stands for about 20 ms of sound at any sample rate. Its per-frame latents
  (`forward_sequence`) are what CPC predicts; the clip's features are their mean and spread over time.
- `WavGRU` ("wav_gru"): the same encoder plus a causal GRU context network over the frames (CPC's g_ar).
- `MelCNN` ("mel_cnn", the audio default; ssl_core/models/mel_cnn.py): log-mel front end with settings from
  `info.extra["audio"]`, SpecAugment in training mode, a small 2-D CNN.
- `WaveGANDiscriminator` ("wavegan_d"; ssl_core/models/wavegan.py): WaveGAN's critic.

This module imports torch and the leaf modules mel_cnn / wavegan only; backbones.py registers
`AUDIO_BACKBONES` from here, never the other way round.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ssl_core.data.audio_info import audio_settings
from ssl_core.errors import UserError
from ssl_core.models.mel_cnn import MelCNN
from ssl_core.models.wavegan import WaveGANDiscriminator
from ssl_core.params import Param, ParamSet

DEFAULT_BACKBONE = "mel_cnn"  # the audio modality's default backbone
FRAME_MS = 20.0  # wav2vec's frame: 320 samples at 16 kHz
FIRST_KERNEL, FIRST_STRIDE = 10, 5  # wav2vec 2.0's first layer
MIN_FRAMES = 4  # the waveform encoder keeps at least this many frames per clip


# ---- the waveform encoder (wav_cnn, wav_gru) -----------------------------------------------------------
class ChannelNorm(nn.Module):
    """LayerNorm over the channels of each time step of (B, C, T): nothing mixes steps or samples, so
    the encoder stays causal and a batch's clips do not influence each other (wav2vec 2.0's layer-norm
    variant of the feature encoder)."""

    def __init__(self, channels: int):
        super().__init__()
        self.norm = nn.LayerNorm(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(x.transpose(1, 2).contiguous()).transpose(1, 2).contiguous()


class StridedConv(nn.Module):
    """Conv1d(kernel k, stride s) giving ceil(T / s) frames, frame t ending at input sample (t + 1) s - 1:
    k - s zeros on the left, extra frames on the right trimmed (needs k >= 2 s - 1); then the optional
    per-step ChannelNorm, and GELU."""

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int, norm: bool = False):
        super().__init__()
        self.stride = int(stride)
        self.conv = nn.Conv1d(c_in, c_out, kernel, stride=stride, padding=kernel - stride)
        self.norm = ChannelNorm(c_out) if norm else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        frames = -(-x.shape[-1] // self.stride)
        return F.gelu(self.norm(self.conv(x)[..., :frames]))


def stride2_layers(sample_rate: int, length: int, frame_ms: float = FRAME_MS) -> int:
    """How many stride-2 layers follow the stride-5 one: frames of about `frame_ms` (6 at 16 kHz: 320
    samples, as in wav2vec), between 1 and 8, and fewer when the clip would keep under MIN_FRAMES frames."""
    n = int(round(math.log2(max(1.0, sample_rate * frame_ms / 1000.0 / FIRST_STRIDE))))
    n = max(1, min(8, n))
    while n > 1 and math.ceil(length / (FIRST_STRIDE * 2**n)) < MIN_FRAMES:
        n -= 1
    return n


class WavEncoder(nn.Module):
    """Strided 1-D convolutions over the waveform (wav2vec 2.0's feature encoder, Baevski et al. 2020):
    kernel 10 stride 5 with a normalisation after it, then `stride2_layers` convolutions of kernel 3 and
    stride 2 (`width` channels each, GELU), then a per-step LayerNorm and linear projection to `dim`
    (wav2vec 2.0's post-extraction projection). As in wav2vec 2.0 base only the first layer is
    normalised, which is where the waveform's loudness varies most; the norm is per step over channels
    (its layer-norm variant) rather than base's group norm over time, so frames stay causal.

    `forward_sequence(x)` -> (B, frames, dim) with frames = ceil(T / downsample); frame t sees input samples
    up to the end of its own stretch only (`causal`, at frame resolution). `forward(x)` -> the mean and the
    standard deviation of the frames over time (statistics pooling, as in x-vectors): (B, 2 dim).
    """

    def __init__(self, in_channels: int, length: int, sample_rate: int, width: int = 64, dim: int = 64):
        super().__init__()
        n = stride2_layers(sample_rate, length)
        if length < FIRST_STRIDE * 2:
            raise UserError(
                f"Clips of {length} samples are too short for the waveform encoder; use clips of at least "
                f"{FIRST_STRIDE * 2} samples (a longer data.clip_seconds).",
                field="data.clip_seconds",
            )
        layers = [StridedConv(in_channels, width, FIRST_KERNEL, FIRST_STRIDE, norm=True)]
        layers += [StridedConv(width, width, 3, 2) for _ in range(n)]
        self.convs = nn.Sequential(*layers)
        self.project = nn.Sequential(nn.LayerNorm(width), nn.Linear(width, dim))
        self.length = int(length)
        self.sample_rate = int(sample_rate)
        self.downsample = FIRST_STRIDE * 2**n
        self.sequence_dim = int(dim)
        self.feature_dim = 2 * int(dim)
        self.causal = True

    def forward_sequence(self, x: torch.Tensor) -> torch.Tensor:
        return self.project(self.convs(x).transpose(1, 2))  # (B, frames, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = self.forward_sequence(x)
        return torch.cat([z.mean(dim=1), z.std(dim=1, unbiased=False)], dim=1)


class WavGRU(nn.Module):
    """`WavEncoder` frames -> a GRU over time (the context network of CPC, van den Oord et al. 2018).

    `forward_sequence(x)` -> the GRU's states (B, frames, hidden), each summarising the clip up to its frame
    (causal); `forward(x)` -> their mean over time (B, hidden): a clip's sound may sit anywhere in it, and
    the last state alone forgets an early event followed by silence."""

    def __init__(
        self,
        in_channels: int,
        length: int,
        sample_rate: int,
        width: int = 64,
        dim: int = 64,
        hidden: int = 128,
    ):
        super().__init__()
        self.encoder = WavEncoder(in_channels, length, sample_rate, width, dim)
        self.rnn = nn.GRU(dim, hidden, batch_first=True)
        self.length = int(length)
        self.downsample = self.encoder.downsample
        self.sequence_dim = int(hidden)
        self.feature_dim = int(hidden)
        self.causal = True

    def forward_sequence(self, x: torch.Tensor) -> torch.Tensor:
        if x.is_cuda:  # after a deepcopy (momentum encoders) the weights may no longer be one cuDNN block
            self.rnn.flatten_parameters()
        out, _ = self.rnn(self.encoder.forward_sequence(x))
        return out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_sequence(x).mean(dim=1)


# ---- registry entries -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class AudioBackbone:
    """What backbones.py needs to register an audio network: `factory(in_channels, size, info, **params)`."""

    name: str
    title: str
    description: str
    factory: Callable[..., nn.Module]
    params: ParamSet = field(default_factory=ParamSet)


def _width(default: int, help_text: str) -> Param:
    return Param("width", default, help_text, low=4, high=512, label="Channels")


WAV_PARAMS = ParamSet(
    (
        _width(64, "Channels of every convolution (wav2vec 2.0: 512; 64 keeps a CPU step short)."),
        Param(
            "dim",
            64,
            "Size of each frame's latent vector; the clip's features are its mean and spread over time, "
            "twice this size.",
            low=8,
            high=1024,
            label="Frame latent size",
        ),
    )
)
WAV_GRU_PARAMS = ParamSet(
    (
        *WAV_PARAMS,
        Param(
            "hidden",
            128,
            "Hidden units of the GRU that summarises the frames so far (CPC: 256); also the feature size.",
            low=8,
            high=1024,
            label="Memory of the past (width)",
        ),
    )
)
MEL_PARAMS = ParamSet(
    (
        _width(32, "Channels of the first stage; later stages have 2x and 4x as many (4x = the features)."),
        Param(
            "spec_augment",
            True,
            "Mask random time and frequency bands of each spectrogram while training (SpecAugment, Park et "
            "al. 2019): the network learns not to rely on any one moment or band. Never applied when "
            "features are extracted for evaluation.",
            label="SpecAugment while training",
        ),
    )
)
WAVEGAN_D_PARAMS = ParamSet(
    (
        _width(
            16,
            "Channels of the first layer, doubling per layer (WaveGAN: 64 for 16384-sample clips; 16 keeps "
            "the critic and its gradient penalty affordable on a CPU).",
        ),
        Param(
            "phase_shuffle",
            2,
            "Shift each layer's output by up to this many steps at random while training (WaveGAN's phase "
            "shuffle, paper: 2): the critic cannot tell real from generated clips by the periodic "
            "artefacts of transposed convolutions. 0 turns it off.",
            low=0,
            high=8,
            label="Phase shuffle (steps)",
        ),
    )
)


def _wav_cnn(in_channels: int, size: int, info: Any, **params: Any) -> nn.Module:
    return WavEncoder(in_channels, size, audio_settings(info)["sample_rate"], **params)


def _wav_gru(in_channels: int, size: int, info: Any, **params: Any) -> nn.Module:
    return WavGRU(in_channels, size, audio_settings(info)["sample_rate"], **params)


def _mel_cnn(in_channels: int, size: int, info: Any, **params: Any) -> nn.Module:
    return MelCNN(in_channels, size, audio_settings(info), **params)


def _wavegan_d(in_channels: int, size: int, info: Any, **params: Any) -> nn.Module:
    audio_settings(info)  # the clear error for data without a sample rate
    return WaveGANDiscriminator(in_channels, size, **params)


AUDIO_BACKBONES: tuple[AudioBackbone, ...] = (
    AudioBackbone(
        "mel_cnn",
        "Log-mel CNN",
        "Turns each clip into a log-mel spectrogram (a picture of which pitches sound when), masks random "
        "bands of it while training (SpecAugment), and reads it with a small 2-D CNN (32-64-128-128 "
        "channels, PANNs-style pooling); 128 features. The default: fast on a CPU and strong on sounds, "
        "instruments and words.",
        _mel_cnn,
        MEL_PARAMS,
    ),
    AudioBackbone(
        "wav_cnn",
        "Waveform CNN (wav2vec-style)",
        "Reads the raw waveform with strided 1-D convolutions, as wav2vec's feature encoder does: one "
        "latent frame per ~20 ms of sound, 64 channels; the features are the frames' mean and spread "
        "(128). Has per-frame outputs, so CPC can train it.",
        _wav_cnn,
        WAV_PARAMS,
    ),
    AudioBackbone(
        "wav_gru",
        "Waveform CNN + GRU",
        "The waveform CNN followed by a GRU that summarises the frames heard so far (CPC's context "
        "network); 128 features, the mean of its states. Causal: each frame's state depends on the past "
        "only.",
        _wav_gru,
        WAV_GRU_PARAMS,
    ),
    AudioBackbone(
        "wavegan_d",
        "WaveGAN critic",
        "WaveGAN's discriminator (ssl_core/models/wavegan.py): 1-D convolutions of length 25 and stride 4 "
        "with LeakyReLU and phase shuffle, no batch normalisation; the pooled maps of every layer are the "
        "features. Made for the WaveGAN method, whose critic it is.",
        _wavegan_d,
        WAVEGAN_D_PARAMS,
    ),
)
SEQUENCE_BACKBONES = ("wav_cnn", "wav_gru")  # the audio backbones with per-frame latents (CPC)
