"""Images: uint8 (C, H, W) samples, colour/crop/blur views, pixel corruptions, a conv decoder."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ssl_core.data.base import DataInfo, DataSource
from ssl_core.modalities.base import Modality, PreviewPayload, ReconstructionHead, sample_indices
from ssl_core.models.decoders import ConvDecoder, channel_means, per_sample_error, pixel_loss

RAW_PIXEL_MAX_SIDE = 32  # the raw-pixel baseline area-averages images down to at most 32 px a side


class UnitScale(nn.Module):
    """uint8 0..255 -> float 0..1 (float input passes through). No state: image checkpoints stay as they were."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.float().div_(255.0) if not x.is_floating_point() else x


class ImageReconstruction(ConvDecoder, ReconstructionHead):
    """The conv decoder's logits; sigmoid gives the image in [0, 1]. Its keys are ConvDecoder's."""

    def __init__(self, feature_dim: int, info: DataInfo, backbone: nn.Module, width: int, loss: str = "mse"):
        super().__init__(
            feature_dim,
            info.channels,
            (info.height, info.width),
            width=width,
            out_mean=channel_means(backbone, info.channels),
        )
        self.loss_kind = loss

    def to_sample(self, outputs: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(outputs.float())

    def loss(self, outputs, target, mask=None):
        return pixel_loss(outputs, target, self.loss_kind, weight=mask)

    def error(self, outputs, target):
        return per_sample_error(self.to_sample(outputs), target)


class ImageModality(Modality):
    name = "image"
    title = "Images"
    noun = "image"
    plural = "images"
    default_backbone = "small_cnn"
    preview_payload = PreviewPayload.IMAGE_GRID
    size_setting = "data.image_size"
    hidden_shown_as = 0.5  # mid grey
    raw_title = "raw pixels"

    def describe(self, info: DataInfo) -> str:
        colour = (
            "grayscale"
            if info.channels == 1
            else ("RGB" if info.channels == 3 else f"{info.channels}-channel")
        )
        return f"{info.height} x {info.width} {colour} images"

    def input_adapter(self, source: DataSource, train_idx: torch.Tensor, seed: int) -> nn.Module:
        return UnitScale()

    def encoder_stats(self, source, train_idx, seed, adapter):
        images, _ = source.read(sample_indices(train_idx, seed))
        x = adapter(images)
        mean = x.mean(dim=(0, 2, 3))
        std = x.std(dim=(0, 2, 3)).clamp_min(1e-3)
        return mean.tolist(), std.tolist()

    def view_pair(self, preset: str, info: DataInfo):
        from ssl_core.augment import make_view_pair, preset_views

        return make_view_pair(
            preset_views(preset), image_size=info.height, channels=info.channels, mirror_safe=info.mirror_safe
        )

    def multi_crop(self, preset, info, n_local=None, local_size=None):
        """Two global crops at the image's size and `n_local` local crops of `local_size` px (None: 96/224
        of the image's side, at least 4 px), from the preset's paper recipes adapted to the image size."""
        from ssl_core.augment.multicrop import multi_crop

        return multi_crop(
            preset,
            image_size=info.height,
            channels=info.channels,
            n_local=n_local,
            local_size=local_size,
            mirror_safe=info.mirror_safe,
        )

    def corruptions(self) -> tuple[str, ...]:
        return ("gaussian", "salt_and_pepper", "mask", "region")

    def corrupt(self, name, x, generator, **options):
        from ssl_core.augment import corrupt

        if name == "gaussian":
            return corrupt.gaussian_noise(x, float(options.get("std", 0.2)), generator), None
        if name == "salt_and_pepper":
            return corrupt.salt_and_pepper(x, float(options.get("amount", 0.2)), generator), None
        if name == "mask":
            return corrupt.random_mask(
                x, float(options.get("ratio", 0.5)), int(options.get("patch", 2)), generator
            )
        if name == "region":
            return corrupt.random_region(x, float(options.get("fraction", 0.25)), generator)
        return super().corrupt(name, x, generator, **options)

    def reconstruction_head(self, feature_dim, info, backbone, width, loss: str = "mse"):
        return ImageReconstruction(feature_dim, info, backbone, width, loss)

    def raw_features(self, batch: torch.Tensor, adapter: nn.Module) -> np.ndarray:
        from ssl_core.eval.embeddings import raw_pixel_features

        return raw_pixel_features(batch, RAW_PIXEL_MAX_SIDE)

    def finish_preview(self, x: torch.Tensor) -> torch.Tensor:
        return x.detach().float().clamp(0, 1).cpu()
