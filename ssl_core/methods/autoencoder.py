"""Autoencoder: compress a sample (image, series or table row) to the backbone's feature vector and
rebuild it."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ssl_core.data.base import DataInfo
from ssl_core.methods.base import MethodSpec, OptimDefaults, Preview, SSLMethod, StepContext, StepOutput
from ssl_core.models.decoders import eval_mode
from ssl_core.params import Param, params


class Autoencoder(SSLMethod):
    """Backbone (pooled features) -> the modality's reconstruction head -> the sample.

    The head comes from the data's modality: for images a ConvDecoder giving logits (sigmoid for the
    image in [0, 1], keys `decoder.*` as before), for series a SeriesDecoder giving standardised values,
    for tables a TableReconstruction giving standardised values and category logits (missing values in
    the target are left out of the loss).
    The target is the model input itself. Subclasses change what the network sees (`make_input`); the
    reconstruction path, previews and anomaly scores are shared.
    """

    def __init__(self, backbone: nn.Module, hparams: dict[str, Any], info: DataInfo):
        super().__init__(backbone, hparams, info)
        self.decoder = self.modality.reconstruction_head(
            self.feature_dim, info, backbone, int(hparams["decoder_width"]), loss=self.loss_kind
        )

    @property
    def loss_kind(self) -> str:
        return str(self.hparams.get("loss", "mse"))

    def reconstruct_logits(self, inputs: torch.Tensor) -> torch.Tensor:
        """The head's raw outputs (image logits; series values) for (possibly corrupted) inputs."""
        return self.decoder(self.backbone(inputs))

    def reconstruct(self, inputs: torch.Tensor) -> torch.Tensor:
        """The rebuilt sample in the input's units (images in [0, 1], standardised series)."""
        return self.decoder.to_sample(self.reconstruct_logits(inputs))

    def make_input(self, images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """What the encoder sees; the plain autoencoder sees the sample itself."""
        return images

    def training_step(self, images: torch.Tensor, ctx: StepContext) -> StepOutput:
        outputs = self.reconstruct_logits(self.make_input(images, ctx.generator))
        return StepOutput(self.decoder.loss(outputs, images))

    def finished(self, **arrays: torch.Tensor) -> dict[str, torch.Tensor]:
        """Preview arrays as the GUI receives them (float32 on the CPU, in the payload's range)."""
        return {name: self.modality.finish_preview(x) for name, x in arrays.items()}

    @torch.no_grad()
    def preview(self, images: torch.Tensor, generator: torch.Generator) -> Preview:
        with eval_mode(self):
            recon = self.reconstruct(images)
        return self.make_preview("reconstruction", self.finished(input=images, reconstruction=recon))

    @torch.no_grad()
    def anomaly_scores(self, images: torch.Tensor) -> torch.Tensor:
        """Per-sample mean squared reconstruction error (B,): high for samples unlike the training data."""
        with eval_mode(self):
            return self.decoder.error(self.reconstruct_logits(images), images)


def decoder_width_param() -> Param:
    return Param(
        "decoder_width",
        64,
        "Channels of the decoder's last upsampling stages (the first has twice as many); for tables, half "
        "the width of the decoder's hidden layer. Wider decoders rebuild finer detail but take more memory.",
        low=16,
        high=512,
        label="Decoder width",
    )


def loss_param(compared: str) -> Param:
    """The `loss` setting; `compared` says what is compared with what ("the rebuilt sample ...")."""
    return Param(
        "loss",
        "mse",
        f"How {compared}: mse (mean squared error), l1 (mean absolute error, less swayed by a few badly "
        "rebuilt values) or bce (binary cross-entropy, which treats each pixel as a probability; suits "
        "near black-and-white images such as digits, and images only, since series and table columns are "
        "standardised). Table categories are always scored by cross-entropy.",
        choices=("mse", "l1", "bce"),
        label="Error measure",
        choice_words=("Mean squared error", "Mean absolute error", "Binary cross-entropy"),
    )


# Small series sets (80-200 series) and image sets alike: AdamW at 1e-3 per 256 samples.
RECONSTRUCTION_OPTIM = OptimDefaults(
    optimizer="adamw", lr=1e-3, weight_decay=1e-4, warmup_epochs=1.0, batch_size=256
)

SPEC = MethodSpec(
    name="autoencoder",
    title="Autoencoder",
    family="generative",
    summary="Squeeze each sample into the backbone's feature vector, then rebuild it from that vector.",
    description=(
        "An autoencoder learns by copying: the backbone squeezes each image or series into a short list "
        "of numbers (its features), and a small decoder has to redraw the whole sample from those numbers "
        "alone. Because the features are much smaller than the sample, the backbone must keep what "
        "matters most, such as overall shape and layout. It is the simplest self-supervised method and a "
        "good baseline, though its features often capture fine detail more than meaning. After "
        "training, samples it rebuilds badly are unusual ones, which makes it a handy anomaly detector."
    ),
    params=params(loss_param("the rebuilt sample is compared with the original"), decoder_width_param()),
    factory=Autoencoder,
    optim=RECONSTRUCTION_OPTIM,
    preview_kind="reconstruction",
    paper="Hinton & Salakhutdinov, Reducing the Dimensionality of Data with Neural Networks, Science 2006",
    modalities=("image", "series", "table"),
    # A CNN's pooled features do not say where in time a pattern sits, so they cannot rebuild a series
    # whose timing varies; a GRU's last state (a sequence autoencoder) can.
    preferred_backbone={"series": "gru"},
)
Autoencoder.spec = SPEC
