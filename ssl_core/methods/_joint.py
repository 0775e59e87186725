"""What the six joint-embedding methods share: two augmented views per sample and a views preview."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ssl_core.data.base import DataInfo
from ssl_core.methods.base import Preview, SSLMethod

# Added to each joint-embedding method's description: the same method, with the data's own views.
VIEWS_ON_SERIES = (
    " On time series the two views come from added noise, scaling, time warps, crops and reordered "
    "segments instead of colour changes and blur; on tables, from replacing some of each row's values with "
    "values of other rows (as SCARF does) and a little noise; on text, from cropping a span of each text, "
    "deleting or masking some of its tokens and shuffling neighbouring words; on audio, from random crops of "
    "the waveform with changed gain, added noise, time shifts, speed changes and mixup, while the log-mel "
    "backbone masks bands of time and frequency (SpecAugment) during training."
)


class JointEmbeddingMethod(SSLMethod):
    """An SSLMethod that trains on two augmented views of each image.

    `views` names a view preset ("simclr", "byol", ...); the data's modality builds the two view
    augmenters for it (colour/crop/blur for images, jitter/scaling/warps for series, SCARF-style
    replacement by other rows' values for tables), once, for the
    data's shape. So one method file serves every modality.
    """

    def __init__(self, backbone: nn.Module, hparams: dict[str, Any], info: DataInfo, views: str):
        super().__init__(backbone, hparams, info)
        # Two parameter-free modules (view 1, view 2); a ModuleList so they show in repr and follow .to().
        self.views = nn.ModuleList(self.modality.view_pair(views, info))

    def make_views(
        self, images: torch.Tensor, generator: torch.Generator
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Two independently augmented views of the same samples, each shaped like `images`."""
        first, second = self.views
        return first(images, generator), second(images, generator)

    @torch.no_grad()
    def preview(self, images: torch.Tensor, generator: torch.Generator) -> Preview:
        v1, v2 = self.make_views(images, generator)
        return self.make_preview("views", {"view 1": v1, "view 2": v2})
