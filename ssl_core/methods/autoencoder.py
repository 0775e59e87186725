"""Autoencoder: compress an image to the backbone's feature vector and rebuild it from that alone."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

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


class Autoencoder(SSLMethod):
    """Backbone (pooled features) -> ConvDecoder -> image logits; the target is the raw [0, 1] image.

    Subclasses change what the network sees (`make_input`) and how the loss is weighted; the
    reconstruction path, previews and anomaly scores are shared.
    """

    def __init__(self, backbone: nn.Module, hparams: dict[str, Any], info: DataInfo):
        super().__init__(backbone, hparams, info)
        self.decoder = ConvDecoder(
            self.feature_dim,
            info.channels,
            (info.height, info.width),
            width=int(hparams["decoder_width"]),
            out_mean=channel_means(backbone, info.channels),
        )

    @property
    def loss_kind(self) -> str:
        return str(self.hparams.get("loss", "mse"))

    def reconstruct_logits(self, inputs: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.backbone(inputs))

    def reconstruct(self, inputs: torch.Tensor) -> torch.Tensor:
        """The decoded image in [0, 1] for (possibly corrupted) inputs."""
        return torch.sigmoid(self.reconstruct_logits(inputs).float())

    def make_input(self, images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """What the encoder sees; the plain autoencoder sees the image itself."""
        return images

    def training_step(self, images: torch.Tensor, ctx: StepContext) -> StepOutput:
        logits = self.reconstruct_logits(self.make_input(images, ctx.generator))
        loss = pixel_loss(logits, images, self.loss_kind)
        return StepOutput(loss)

    @torch.no_grad()
    def preview(self, images: torch.Tensor, generator: torch.Generator) -> Preview:
        with eval_mode(self):
            recon = self.reconstruct(images)
        return Preview("reconstruction", {"input": to_preview(images), "reconstruction": to_preview(recon)})

    @torch.no_grad()
    def anomaly_scores(self, images: torch.Tensor) -> torch.Tensor:
        """Per-image mean squared reconstruction error (B,): high for images unlike the training data."""
        with eval_mode(self):
            return per_sample_error(self.reconstruct(images), images)


def decoder_width_param() -> Param:
    return Param(
        "decoder_width",
        64,
        "Channels of the decoder's last upsampling stages (the first has twice as many). Wider decoders "
        "rebuild finer detail but take more memory.",
        low=16,
        high=512,
    )


SPEC = MethodSpec(
    name="autoencoder",
    title="Autoencoder",
    family="generative",
    summary="Squeeze each image into the backbone's feature vector, then rebuild it from that vector.",
    description=(
        "An autoencoder learns by copying: the backbone squeezes each image into a short list of numbers "
        "(its features), and a small decoder has to redraw the whole image from those numbers alone. "
        "Because the features are much smaller than the image, the backbone must keep what matters most, "
        "such as overall shape and layout. It is the simplest self-supervised method and a good baseline, "
        "though its features often capture pixel detail more than meaning. After training, images it "
        "rebuilds badly are unusual ones, which makes it a handy anomaly detector."
    ),
    params=params(
        Param(
            "loss",
            "mse",
            "How the rebuilt image is compared with the original: mse (mean squared error) or bce "
            "(binary cross-entropy, which treats each pixel as a probability; suits near black-and-white "
            "images such as digits).",
            choices=("mse", "bce"),
        ),
        decoder_width_param(),
    ),
    factory=Autoencoder,
    optim=OptimDefaults(optimizer="adamw", lr=1e-3, weight_decay=1e-4, warmup_epochs=1.0, batch_size=256),
    preview_kind="reconstruction",
    paper="Hinton & Salakhutdinov, Reducing the Dimensionality of Data with Neural Networks, Science 2006",
)
Autoencoder.spec = SPEC
