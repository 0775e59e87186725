"""Denoising autoencoder: rebuild the clean sample (image, series or table row) from a corrupted copy."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import torch
from torch import nn

from ssl_core.data.base import DataInfo
from ssl_core.methods.autoencoder import (
    RECONSTRUCTION_OPTIM,
    Autoencoder,
    decoder_width_param,
    loss_param,
)
from ssl_core.methods.base import MethodSpec, Preview
from ssl_core.methods.setup_check import SetupFacts, SetupProblem, raise_first, spoken_list
from ssl_core.models.decoders import eval_mode
from ssl_core.params import Param, params

# corruption name -> the options the modality's `corrupt(name, ...)` takes, from the method's hparams.
CorruptionOptions = Callable[[dict[str, Any]], dict[str, float]]
_TITLE = "Denoising autoencoder"
CORRUPTIONS: dict[str, CorruptionOptions] = {
    "gaussian": lambda hp: {"std": float(hp["noise_std"])},
    "salt_and_pepper": lambda hp: {"amount": float(hp["noise_amount"])},
    "mask": lambda hp: {"ratio": float(hp["mask_ratio"]), "patch": int(hp["mask_patch"])},
    "swap": lambda hp: {"ratio": float(hp["mask_ratio"])},
    "missing": lambda hp: {"ratio": float(hp["mask_ratio"])},
}


# What each corruption is called in the form (the config keeps the token).
CORRUPTION_WORDS = {
    "gaussian": "Gaussian noise",
    "salt_and_pepper": "Salt-and-pepper noise",
    "mask": "Blanked patches",
    "swap": "Values swapped between rows",
    "missing": "Missing values",
}


def offered_corruptions(info: DataInfo) -> list[str]:
    """The corruptions this method offers that the data's modality can apply."""
    from ssl_core.modalities import modality_of

    return [c for c in CORRUPTIONS if c in modality_of(info).corruptions()]


def corruption_problems(hparams: Mapping[str, Any], facts: SetupFacts) -> list[SetupProblem]:
    """The chosen corruption must be one the data's modality can apply to this data."""
    from ssl_core.modalities import modality_of

    name, info = str(hparams["corruption"]), facts.info
    modality = modality_of(info)
    offered = offered_corruptions(info)
    if name in offered:
        unfit = modality.corruption_reason(name, info)
        if not unfit:
            return []
        choices = spoken_list((CORRUPTION_WORDS[c] for c in offered if c != name), "or")
        return [
            SetupProblem(
                "corruption",
                f"{CORRUPTION_WORDS[name]} cannot damage {info.name} ({unfit.split(';')[0].rstrip('.')}): "
                f"choose {choices}.",
                detail=f"{_TITLE}: {unfit}",
            )
        ]
    words = CORRUPTION_WORDS.get(name, name)
    return [
        SetupProblem(
            "corruption",
            f"{words} does not apply to {info.modality} data such as {info.name}: choose "
            f"{spoken_list((CORRUPTION_WORDS[c] for c in offered), 'or') or 'another method'}.",
            detail=(
                f"{_TITLE}: the {name} corruption does not apply to {modality.plural}, and {info.name} is "
                f"{info.modality} data; set corruption to one of: {', '.join(offered) or 'none'}."
            ),
        )
    ]


class DenoisingAutoencoder(Autoencoder):
    """The autoencoder's network, fed a corrupted sample and scored against the clean one.

    The corruption comes from the data's modality (`modality.corrupt`), so images get pixel noise,
    salt and pepper or masked squares, series get noise or masked time windows, and table rows get noise
    on their numeric columns or cells replaced by other rows' values (mask, swap) or blanked (missing).
    Anomaly scores use the clean sample as input (no corruption), like a plain autoencoder.
    """

    def __init__(self, backbone: nn.Module, hparams: dict[str, Any], info: DataInfo):
        raise_first(corruption_problems(hparams, SetupFacts(info)), "denoising_autoencoder")  # as in Setup
        super().__init__(backbone, hparams, info)

    def make_input(self, images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        name = str(self.hparams["corruption"])
        options = CORRUPTIONS[name](self.hparams)
        corrupted, _ = self.modality.corrupt(name, images, generator, info=self.info, **options)
        return corrupted

    @torch.no_grad()
    def preview(self, images: torch.Tensor, generator: torch.Generator) -> Preview:
        corrupted = self.make_input(images, generator)
        with eval_mode(self):
            recon = self.reconstruct(corrupted)
        arrays = self.finished(input=images, corrupted=corrupted, reconstruction=recon)
        return self.make_preview("reconstruction", arrays)


SPEC = MethodSpec(
    name="denoising_autoencoder",
    title="Denoising autoencoder",
    family="generative",
    summary="Rebuild the clean sample from a copy spoiled by noise or missing values.",
    description=(
        "A denoising autoencoder is shown a damaged copy of each image or series (speckled with noise, "
        "or with pixels or stretches of time blanked out) and must rebuild the clean original. To undo "
        "the damage it cannot just copy values: it has to know what samples of this kind usually look "
        "like, for example that a stroke continues behind a missing patch or that a rhythm carries on "
        "through a gap. That knowledge ends up in the backbone's features. Try the kinds of damage and "
        "watch the previews: input, damaged copy, and the network's repair."
    ),
    params=params(
        Param(
            "corruption",
            "gaussian",
            "How samples are damaged: gaussian (add random noise to every value; a table's numeric "
            "columns), salt_and_pepper (set some pixels to pure black or white; images only), mask (blank "
            "out random pixels or square patches of an image, or random windows of time steps of a "
            "series, the original paper's 'masking noise'; in a table, replace cells by the same "
            "column's value in other rows, as VIME does), swap (tables: each row takes some columns from "
            "one other row) or missing (tables: blank cells as missing values).",
            choices=tuple(CORRUPTIONS),
            choice_words=tuple(CORRUPTION_WORDS[c] for c in CORRUPTIONS),
            label="Kind of damage",
        ),
        Param(
            "noise_std",
            0.3,
            "Strength of gaussian noise: its standard deviation on the 0-1 pixel scale (images) or in "
            "units of each channel's (series) or numeric column's (tables) standard deviation.",
            low=0.01,
            high=1.0,
            label="Noise strength",
        ),
        Param(
            "noise_amount",
            0.25,
            "salt_and_pepper: fraction of pixels set to black or white.",
            low=0.01,
            high=0.9,
            label="Share of pixels salted",
        ),
        Param(
            "mask_ratio",
            0.25,
            "mask, swap, missing: fraction of the sample blanked out or replaced (the paper used 25% of "
            "pixels).",
            low=0.01,
            high=0.9,
            label="Share blanked or replaced",
        ),
        Param(
            "mask_patch",
            1,
            "mask: side in pixels of each blanked square, or length in time steps of each blanked window "
            "of a series (1 masks single pixels or steps, as in the paper).",
            low=1,
            high=32,
            label="Blanked patch size",
        ),
        loss_param("the repaired sample is compared with the clean one"),
        decoder_width_param(),
    ),
    factory=DenoisingAutoencoder,
    setup_check=corruption_problems,
    optim=RECONSTRUCTION_OPTIM,
    preview_kind="reconstruction",
    paper=(
        "Vincent et al., Extracting and Composing Robust Features with Denoising Autoencoders, ICML 2008; "
        "Stacked Denoising Autoencoders, JMLR 2010"
    ),
    modalities=("image", "series", "table"),
    # A CNN's pooled features do not say where in time a pattern sits, so they cannot rebuild a series
    # whose timing varies; a GRU's last state (a sequence autoencoder) can.
    preferred_backbone={"series": "gru"},
)
DenoisingAutoencoder.spec = SPEC
