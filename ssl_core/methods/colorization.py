"""Colorization: see a grayscale image, predict its colours."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ssl_core.augment.functional import grayscale_of, join_colour, split_colour
from ssl_core.data.base import DataInfo
from ssl_core.methods.base import MethodSpec, OptimDefaults, Preview, SSLMethod, StepContext, StepOutput
from ssl_core.models.decoders import (
    ConvDecoder,
    channel_means,
    eval_mode,
    per_sample_error,
    pixel_loss,
    to_preview,
)
from ssl_core.params import Param, params


def gray_input(images: torch.Tensor) -> torch.Tensor:
    """Colour images -> their luma repeated over the 3 colour channels (extra channels such as alpha kept).

    The run's backbone is built for the data's channel count (3 or 4), so rather than a 1-channel
    backbone the method feeds it three identical gray channels: the network stays shape-compatible with
    colour inputs, and evaluation can pass ordinary images to `encode`.
    """
    colour, extra = split_colour(images)
    gray = grayscale_of(colour)
    return join_colour(gray.expand(-1, colour.shape[1], -1, -1), extra)


class Colorization(SSLMethod):
    """Backbone features of the gray image + the gray image itself -> ConvDecoder -> RGB.

    The gray image enters the decoder's last layers (a skip input), so the decoder can keep edges
    sharp while the backbone's global features decide which colours belong where, as in Iizuka et al.'s
    fusion of global and local features. The loss is on the colour channels.
    """

    def __init__(self, backbone: nn.Module, hparams: dict[str, Any], info: DataInfo):
        super().__init__(backbone, hparams, info)
        self.decoder = ConvDecoder(
            self.feature_dim,
            3,
            (info.height, info.width),
            width=int(hparams["decoder_width"]),
            skip_channels=1,
            out_mean=channel_means(backbone, 3),
        )

    def colorize(self, images: torch.Tensor) -> torch.Tensor:
        """Predicted colour (B, 3, H, W) logits for the gray version of `images`."""
        gray = gray_input(images)
        return self.decoder(self.backbone(gray), skip=gray[:, :1])

    def training_step(self, images: torch.Tensor, ctx: StepContext) -> StepOutput:
        target = images[:, :3]
        loss = pixel_loss(self.colorize(images), target, str(self.hparams["loss"]))
        return StepOutput(loss)

    @torch.no_grad()
    def preview(self, images: torch.Tensor, generator: torch.Generator) -> Preview:
        with eval_mode(self):
            colour = torch.sigmoid(self.colorize(images).float())
        return Preview(
            "reconstruction",
            {
                "input": to_preview(images[:, :3]),
                "grayscale": to_preview(gray_input(images)[:, :3]),
                "reconstruction": to_preview(colour),
            },
        )

    @torch.no_grad()
    def anomaly_scores(self, images: torch.Tensor) -> torch.Tensor:
        """Per-image mean squared colour error (B,): high where the colours are not what training taught."""
        with eval_mode(self):
            colour = torch.sigmoid(self.colorize(images).float())
        return per_sample_error(colour, images[:, :3])

    def encode(self, images: torch.Tensor) -> torch.Tensor:
        """Backbone features of the gray version, the only kind of input the backbone was trained on."""
        return self.backbone(gray_input(images))


SPEC = MethodSpec(
    name="colorization",
    title="Colorization",
    family="generative",
    summary="Show the network a black-and-white image and have it paint in the colours.",
    description=(
        "Colorization turns each colour image into black-and-white and asks the network to bring the "
        "colours back. To know that grass is green and sky is blue it has to recognise what is in the "
        "picture, so its backbone learns useful features without any labels. It needs colour images; "
        "the backbone always sees the gray version (as three identical channels), during training and "
        "when it is evaluated. The previews show the original, the gray input and the painted result."
    ),
    params=params(
        Param(
            "loss",
            "mse",
            "How predicted colours are compared with the true ones: mse (mean squared error) or l1 "
            "(absolute error, which gives slightly less washed-out colours).",
            choices=("mse", "l1"),
            label="Error measure",
            choice_words=("Mean squared error", "Mean absolute error"),
        ),
        Param(
            "decoder_width",
            64,
            "Channels of the decoder's last upsampling stages (the first has twice as many).",
            low=16,
            high=512,
            label="Decoder width",
        ),
    ),
    factory=Colorization,
    # The paper: Adam (betas 0.9, 0.99), lr 3e-5, weight decay 1e-3, hundreds of thousands of ImageNet steps.
    # Short runs here use the autoencoders' AdamW at 1e-3 per 256 (RECONSTRUCTION_OPTIM's values).
    optim=OptimDefaults(optimizer="adamw", lr=1e-3, weight_decay=1e-4, warmup_epochs=1.0, batch_size=256),
    preview_kind="reconstruction",
    requires_color=True,
    paper="Zhang, Isola & Efros, Colorful Image Colorization, ECCV 2016 (here as regression, as in Iizuka et al. 2016)",
)
Colorization.spec = SPEC
