"""Denoising autoencoder: rebuild the clean image from a corrupted copy."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from ssl_core.augment import corrupt
from ssl_core.methods.autoencoder import Autoencoder, decoder_width_param
from ssl_core.methods.base import MethodSpec, OptimDefaults, Preview
from ssl_core.models.decoders import eval_mode, to_preview
from ssl_core.params import Param, params

# corruption name -> f(images, hparams, generator) -> corrupted images in [0, 1]
Corruption = Callable[[torch.Tensor, dict[str, Any], torch.Generator], torch.Tensor]
CORRUPTIONS: dict[str, Corruption] = {
    "gaussian": lambda x, hp, g: corrupt.gaussian_noise(x, float(hp["noise_std"]), g),
    "salt_and_pepper": lambda x, hp, g: corrupt.salt_and_pepper(x, float(hp["noise_amount"]), g),
    "mask": lambda x, hp, g: corrupt.random_mask(x, float(hp["mask_ratio"]), int(hp["mask_patch"]), g)[0],
}


class DenoisingAutoencoder(Autoencoder):
    """The autoencoder's network, fed a corrupted image and scored against the clean one.

    Anomaly scores use the clean image as input (no corruption), like a plain autoencoder.
    """

    def make_input(self, images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        return CORRUPTIONS[str(self.hparams["corruption"])](images, self.hparams, generator)

    @torch.no_grad()
    def preview(self, images: torch.Tensor, generator: torch.Generator) -> Preview:
        corrupted = self.make_input(images, generator)
        with eval_mode(self):
            recon = self.reconstruct(corrupted)
        return Preview(
            "reconstruction",
            {
                "input": to_preview(images),
                "corrupted": to_preview(corrupted),
                "reconstruction": to_preview(recon),
            },
        )


SPEC = MethodSpec(
    name="denoising_autoencoder",
    title="Denoising autoencoder",
    family="generative",
    summary="Rebuild the clean image from a copy spoiled by noise or missing pixels.",
    description=(
        "A denoising autoencoder is shown a damaged copy of each image (speckled with noise, or with "
        "pixels blanked out) and must draw the clean original. To undo the damage it cannot just copy "
        "pixels: it has to know what images of this kind usually look like, for example that a stroke "
        "continues behind a missing patch. That knowledge ends up in the backbone's features. Try the "
        "three kinds of damage and watch the previews: input, damaged copy, and the network's repair."
    ),
    params=params(
        Param(
            "corruption",
            "gaussian",
            "How images are damaged: gaussian (add random noise to every pixel), salt_and_pepper (set "
            "some pixels to pure black or white) or mask (blank out random pixels or square patches; "
            "the original paper's 'masking noise').",
            choices=tuple(CORRUPTIONS),
        ),
        Param(
            "noise_std",
            0.3,
            "Strength of gaussian noise: its standard deviation on the 0-1 pixel scale.",
            low=0.01,
            high=1.0,
        ),
        Param(
            "noise_amount",
            0.25,
            "salt_and_pepper: fraction of pixels set to black or white.",
            low=0.01,
            high=0.9,
        ),
        Param(
            "mask_ratio",
            0.25,
            "mask: fraction of the image blanked out (the paper used 25% of pixels).",
            low=0.01,
            high=0.9,
        ),
        Param(
            "mask_patch",
            1,
            "mask: side in pixels of each blanked square (1 masks single pixels, as in the paper).",
            low=1,
            high=32,
        ),
        Param(
            "loss",
            "mse",
            "How the repaired image is compared with the clean one: mse (mean squared error) or bce "
            "(binary cross-entropy; suits near black-and-white images such as digits).",
            choices=("mse", "bce"),
        ),
        decoder_width_param(),
    ),
    factory=DenoisingAutoencoder,
    optim=OptimDefaults(optimizer="adamw", lr=1e-3, weight_decay=1e-4, warmup_epochs=1.0, batch_size=256),
    preview_kind="reconstruction",
    paper=(
        "Vincent et al., Extracting and Composing Robust Features with Denoising Autoencoders, ICML 2008; "
        "Stacked Denoising Autoencoders, JMLR 2010"
    ),
)
DenoisingAutoencoder.spec = SPEC
