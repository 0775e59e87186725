"""What the six joint-embedding methods share: two augmented views per image and a views preview."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ssl_core.augment import make_view_pair
from ssl_core.data.base import DataInfo
from ssl_core.methods.base import Preview, SSLMethod


class JointEmbeddingMethod(SSLMethod):
    """An SSLMethod that trains on two augmented views of each image.

    `recipes` is an augmentation preset from ssl_core.augment (e.g. `simclr_views()`); the view
    augmenters are built once here for the data's size and channel count.
    """

    def __init__(self, backbone: nn.Module, hparams: dict[str, Any], info: DataInfo, recipes: Any):
        super().__init__(backbone, hparams, info)
        # Two parameter-free modules (view 1, view 2); a ModuleList so they show in repr and follow .to().
        self.views = nn.ModuleList(
            make_view_pair(
                recipes, image_size=info.height, channels=info.channels, mirror_safe=info.mirror_safe
            )
        )

    def make_views(
        self, images: torch.Tensor, generator: torch.Generator
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Two independently augmented views of the same images, (B, C, H, W) each."""
        first, second = self.views
        return first(images, generator), second(images, generator)

    @torch.no_grad()
    def preview(self, images: torch.Tensor, generator: torch.Generator) -> Preview:
        v1, v2 = self.make_views(images, generator)
        return Preview(kind="views", images={"view 1": v1.clamp(0, 1), "view 2": v2.clamp(0, 1)})
