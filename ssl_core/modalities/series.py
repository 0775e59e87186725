"""Time series: float32 (C, T) samples standardised per channel on the training split, sensor views
(jitter, scaling, warps, crops, permutation, channel dropout, rotation), time masking, 1-D backbones.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ssl_core.data.base import DataInfo, DataSource
from ssl_core.modalities.base import Modality, PreviewPayload, ReconstructionHead, sample_indices

# The raw-input baseline keeps at most this many values per series (longer ones are averaged in time).
RAW_INPUT_MAX_VALUES = 2048
_MIN_STD = 1e-6


class Standardise(nn.Module):
    """(x - mean) / std per channel, with statistics of the training split kept as buffers (saved with the run)."""

    def __init__(self, mean: torch.Tensor, std: torch.Tensor):
        super().__init__()
        self.register_buffer("mean", mean.float().view(1, -1, 1))
        self.register_buffer("std", std.float().clamp_min(_MIN_STD).view(1, -1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x.float() - self.mean) / self.std

    def inverse(self, x: torch.Tensor) -> torch.Tensor:
        return x.float() * self.std + self.mean


def channel_statistics(values: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-channel mean and std of (N, C, T) values, in float64 for accuracy; constant channels get std 1."""
    x = values.double()
    mean = x.mean(dim=(0, 2))
    std = x.std(dim=(0, 2)) if x.shape[0] * x.shape[2] > 1 else torch.ones_like(mean)
    std = torch.where(std > _MIN_STD, std, torch.ones_like(std))
    return mean.float(), std.float()


class SeriesReconstruction(ReconstructionHead):
    """SeriesDecoder: feature vector -> standardised series (B, C, T); mean squared error."""

    def __init__(self, feature_dim: int, info: DataInfo, width: int, loss: str = "mse"):
        super().__init__()
        from ssl_core.errors import UserError
        from ssl_core.models.series_decoders import SeriesDecoder

        if loss not in ("mse", "l1"):
            raise UserError(
                f"loss = {loss!r} compares values in [0, 1] and suits images; series are standardised, so "
                "use loss = mse (or l1).",
                field="method.params.loss",
            )
        self.loss_kind = loss
        channels, length = info.sample_shape
        self.net = SeriesDecoder(feature_dim, channels, length, width=width)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.net(features)

    def _per_value(self, outputs, target):
        outputs, target = outputs.float(), target.float()
        if self.loss_kind == "l1":
            return (outputs - target).abs()
        return (outputs - target) ** 2

    def loss(self, outputs, target, mask=None):
        per = self._per_value(outputs, target)
        if mask is None:
            return per.mean()
        weight = mask.float().expand_as(per)
        return (per * weight).sum() / weight.sum().clamp_min(1e-8)

    def error(self, outputs, target):
        return ((outputs.float() - target.float()) ** 2).flatten(1).mean(dim=1)


class SeriesModality(Modality):
    name = "series"
    title = "Time series"
    noun = "series"
    plural = "series"
    default_backbone = "cnn1d"
    preview_payload = PreviewPayload.SIGNAL
    size_setting = "data.length"
    hidden_shown_as = float("nan")  # a gap in the curve
    raw_title = "raw input"

    def describe(self, info: DataInfo) -> str:
        channels, length = info.sample_shape
        return f"{channels} channel{'s' if channels != 1 else ''} x {length} steps"

    def sample_dims(self) -> int:
        return 2

    def input_adapter(self, source: DataSource, train_idx: torch.Tensor, seed: int) -> nn.Module:
        values, _ = source.read(sample_indices(train_idx, seed))
        mean, std = channel_statistics(values)
        return Standardise(mean, std)

    def encoder_stats(self, source, train_idx, seed, adapter):
        channels = int(source.info.sample_shape[0])
        return [0.0] * channels, [1.0] * channels  # the adapter already standardised the input

    def view_pair(self, preset: str, info: DataInfo):
        from ssl_core.augment.series import series_view_pair

        channels, length = info.sample_shape
        return series_view_pair(preset, channels=channels, length=length)

    def corruptions(self) -> tuple[str, ...]:
        return ("gaussian", "mask", "span")

    def corrupt(self, name, x, generator, **options):
        from ssl_core.augment import series_corrupt

        if name == "gaussian":
            return series_corrupt.gaussian_noise(x, float(options.get("std", 0.3)), generator), None
        if name == "mask":
            patch = max(1, min(int(options.get("patch", 4)), x.shape[-1] // 2 or 1))
            return series_corrupt.time_mask(x, float(options.get("ratio", 0.5)), patch, generator)
        if name == "span":
            return series_corrupt.span_mask(x, float(options.get("fraction", 0.25)), generator)
        return super().corrupt(name, x, generator, **options)

    def reconstruction_head(self, feature_dim, info, backbone, width, loss: str = "mse"):
        return SeriesReconstruction(feature_dim, info, width, loss)

    def raw_features(self, batch: torch.Tensor, adapter: nn.Module) -> np.ndarray:
        x = adapter(batch).float()
        n, c, t = x.shape
        if c * t > RAW_INPUT_MAX_VALUES:
            steps = max(1, RAW_INPUT_MAX_VALUES // c)
            x = F.adaptive_avg_pool1d(x, steps)
        return np.ascontiguousarray(x.reshape(n, -1).cpu().numpy(), dtype=np.float32)
