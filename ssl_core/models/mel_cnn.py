"""The log-mel CNN backbone ("mel_cnn", the audio default) and the decoder the spectrogram methods put
on it.

- `MelCNN`: a log-mel front end (ssl_core/models/logmel.py), SpecAugment in training mode, and a small 2-D
  CNN in the style of PANNs' CNN (Kong et al. 2020). Exposes `spectrogram(x)`, `feature_maps(spec)`,
  `encode_spectrogram(spec)` and `band_stats()` for masked spectrogram modelling and spectrogram
  denoising.
- `SpectrogramDecoder`: the CNN's feature maps back to a (B, C, n_mels, F) log-mel spectrogram.
- `mel_front(backbone, method)`: the MelCNN inside an Encoder, or a UserError naming mel_cnn.

A leaf like logmel.py: ssl_core/models/audio.py registers it, never the other way round.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ssl_core.errors import UserError
from ssl_core.models.logmel import LogMel, spec_augment

SPEC_AUGMENT_SEED = 20190418  # SpecAugment's arXiv date; the masks' stream starts here in every run


def _conv_block(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU())


class MelCNN(nn.Module):
    """Waveform -> log-mel (B, C, n_mels, F) -> per-band BatchNorm (PANNs' bn0: each mel band standardised
    by statistics learned over the training data) -> four 3x3 conv-BN-ReLU stages (width, 2, 4, 4 x width
    channels; 2x2 average pooling after the first three) -> mean over frequency, then mean + max over time
    (PANNs' pooling): (B, 4 width) features.

    In training mode, with `spec_augment` on, each clip's spectrogram gets SpecAugment masks (two time and
    two frequency bands of up to 15%) before the CNN. The masks come from a stream seeded from a counter
    buffer, so a resumed run draws the same masks as an uninterrupted one; evaluation never masks.
    """

    def __init__(
        self,
        in_channels: int,
        length: int,
        settings: dict[str, Any],
        width: int = 32,
        spec_augment: bool = True,
    ):
        super().__init__()
        self.logmel = LogMel(
            settings["sample_rate"], settings["n_mels"], settings["win_ms"], settings["hop_ms"]
        )
        if length < self.logmel.win_length:
            raise UserError(
                f"Clips of {length} samples are shorter than one {settings['win_ms']:g} ms spectrogram "
                "window; use longer clips (data.clip_seconds) or a shorter window (data.win_ms).",
                field="data.clip_seconds",
            )
        self.in_channels = int(in_channels)
        self.n_mels = int(settings["n_mels"])
        self.frames = self.logmel.frames(length)
        self.length = int(length)
        self.bands = nn.BatchNorm2d(self.n_mels)
        widths = (width, 2 * width, 4 * width, 4 * width)
        stages, c = [], in_channels
        for i, w in enumerate(widths):
            stage = [_conv_block(c, w)]
            if i < 3:
                stage.append(nn.AvgPool2d(2, ceil_mode=True))
            stages.append(nn.Sequential(*stage))
            c = w
        self.stages = nn.Sequential(*stages)
        self.feature_dim = int(widths[-1])
        self.map_channels = int(widths[-1])
        self.spec_augment = bool(spec_augment)
        self.register_buffer("augment_calls", torch.zeros((), dtype=torch.int64))
        self._calls = 0  # mirrors augment_calls, read without a device sync

    def spectrogram(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, T) waveforms -> (B, C, n_mels, F) log-mel power (float32), never masked."""
        return self.logmel(x)

    def augment(self, spec: torch.Tensor) -> torch.Tensor:
        """SpecAugment masks, new ones per clip and per call (see the class)."""
        generator = torch.Generator(device=spec.device)
        generator.manual_seed(SPEC_AUGMENT_SEED + self._calls)
        self._calls += 1
        self.augment_calls.fill_(self._calls)
        return spec_augment(spec, generator)

    def _load_from_state_dict(self, *args, **kwargs) -> None:  # noqa: D401 - torch hook
        super()._load_from_state_dict(*args, **kwargs)
        self._calls = int(self.augment_calls)

    def band_stats(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Each mel band's running mean and standard deviation of log-mel (the per-band BatchNorm's,
        detached), shaped (1, 1, n_mels, 1): what a decoder predicting normalised bands scales back by."""
        mean = self.bands.running_mean.detach().view(1, 1, -1, 1)
        std = (self.bands.running_var.detach() + self.bands.eps).sqrt().view(1, 1, -1, 1)
        return mean, std

    def feature_maps(self, spec: torch.Tensor) -> torch.Tensor:
        """(B, C, n_mels, F) log-mel -> the last stage's maps (B, map_channels, M', F'), M' ~ n_mels / 8."""
        bands = self.bands(spec.transpose(1, 2)).transpose(1, 2)  # each mel band standardised
        return self.stages(bands)

    def encode_spectrogram(self, spec: torch.Tensor) -> torch.Tensor:
        """(B, C, n_mels, F) log-mel -> (B, feature_dim): mean over frequency, then mean + max over time."""
        maps = self.feature_maps(spec).mean(dim=2)
        return maps.mean(dim=2) + maps.amax(dim=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        spec = self.spectrogram(x)
        if self.training and self.spec_augment:
            spec = self.augment(spec)
        return self.encode_spectrogram(spec)


class SpectrogramDecoder(nn.Module):
    """The mel CNN's maps (B, D, M', F') -> (B, channels, n_mels, frames) log-mel: three stages of 2x
    nearest-neighbour upsampling + 3x3 conv-BN-ReLU (halving the channels), a 1x1 conv to the channels,
    then bilinear resizing to the exact spectrogram size (the encoder's pooling rounds odd sizes up)."""

    def __init__(self, in_channels: int, channels: int, n_mels: int, frames: int, width: int = 64):
        super().__init__()
        widths = (2 * width, width, max(8, width // 2))
        layers: list[nn.Module] = []
        c = in_channels
        for w in widths:
            layers += [nn.Upsample(scale_factor=2, mode="nearest"), _conv_block(c, w)]
            c = w
        layers.append(nn.Conv2d(c, channels, 1))
        self.net = nn.Sequential(*layers)
        self.size = (int(n_mels), int(frames))

    def forward(self, maps: torch.Tensor) -> torch.Tensor:
        out = self.net(maps)
        if tuple(out.shape[-2:]) != self.size:
            out = F.interpolate(out, size=self.size, mode="bilinear", align_corners=False)
        return out


def mel_front(backbone: nn.Module, method: str) -> MelCNN:
    """The MelCNN inside an Encoder (or a bare one); a UserError naming mel_cnn for any other backbone."""
    net = getattr(backbone, "net", backbone)
    if not isinstance(net, MelCNN):
        raise UserError(
            f"{method} works on log-mel spectrograms and needs the log-mel CNN backbone (mel_cnn), not "
            f"{getattr(backbone, 'name', type(net).__name__)}; choose mel_cnn (or auto).",
            field="method.backbone",
        )
    return net
