"""What the multi-crop methods (DINO, SwAV) share: the crops, the per-resolution forward, a views preview."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ssl_core.data.base import DataInfo
from ssl_core.methods.base import Preview, SSLMethod
from ssl_core.params import Param

PREVIEW_LOCALS = 2  # local crops shown in a preview (each is a row; the rest look alike)

# Added to both descriptions: what multi-crop is, in words.
MULTI_CROP_WORDS = (
    " Each image is cut into two large 'global' crops and several small 'local' crops; the small crops "
    "cost little to compute but must be matched to the whole picture, which teaches the network to relate "
    "parts to wholes."
)


def n_local_param(paper: int, default: int) -> Param:
    return Param(
        "n_local",
        default,
        f"Number of small local crops per image besides the two large ones (paper: {paper}). Each costs about "
        "a fifth of a large crop; 0 turns multi-crop off.",
        low=0,
        high=16,
        label="Small crops",
    )


def local_size_param() -> Param:
    return Param(
        "local_size",
        0,
        "Side of the small crops in pixels. 0 picks 96/224 of the image side, as in the papers (96 px "
        "crops of 224 px images), at least 4 px: 4 px for 8 px digits, 14 px for 32 px images.",
        low=0,
        high=512,
        label="Small crop size",
        zero_label="Automatic",
    )


class MultiCropMethod(SSLMethod):
    """An SSLMethod trained on 2 global + n_local local crops of each image (`self.crops`, from the data's
    modality). `embed_crops` runs a network over the crops one resolution at a time (BatchNorm statistics
    and ViT position grids are per resolution, as in DINO's MultiCropWrapper)."""

    def __init__(
        self,
        backbone: nn.Module,
        hparams: dict[str, Any],
        info: DataInfo,
        preset: str,
        local_size: int | None = None,
    ):
        super().__init__(backbone, hparams, info)
        size = int(hparams.get("local_size", 0) or 0) or local_size
        self.crops = self.modality.multi_crop(preset, info, n_local=int(hparams["n_local"]), local_size=size)

    @property
    def n_crops(self) -> int:
        return self.crops.n_crops

    def make_crops(self, images: torch.Tensor, generator: torch.Generator) -> list[torch.Tensor]:
        return self.crops(images, generator)

    @staticmethod
    def embed_crops(network: nn.Module, crops: list[torch.Tensor]) -> list[torch.Tensor]:
        """network(crop) for every crop, with one call per crop size (the globals, then the locals)."""
        out: list[torch.Tensor] = []
        start = 0
        while start < len(crops):
            end = start
            while end < len(crops) and crops[end].shape[-2:] == crops[start].shape[-2:]:
                end += 1
            out += list(network(torch.cat(crops[start:end])).chunk(end - start))
            start = end
        return out

    @torch.no_grad()
    def preview(self, images: torch.Tensor, generator: torch.Generator) -> Preview:
        crops = self.make_crops(images, generator)
        names = ["global 1", "global 2"] + [f"local {i + 1}" for i in range(len(crops) - 2)]
        arrays = dict(zip(names[: 2 + PREVIEW_LOCALS], crops[: 2 + PREVIEW_LOCALS], strict=False))
        return self.make_preview("views", {**arrays, **self.extra_preview(images)})

    def extra_preview(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        """More named arrays for the preview (DINO's attention maps); none by default."""
        return {}
