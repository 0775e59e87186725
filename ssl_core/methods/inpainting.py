"""Inpainting (context encoder): hide a rectangle of each image and paint it back from its surroundings."""

from __future__ import annotations

import torch

from ssl_core.augment import corrupt
from ssl_core.methods.autoencoder import Autoencoder, decoder_width_param
from ssl_core.methods.base import MethodSpec, OptimDefaults, Preview, StepContext, StepOutput
from ssl_core.models.decoders import eval_mode, per_sample_error, pixel_loss, to_preview
from ssl_core.params import Param, params

# Hidden pixels are filled with mid grey, which (unlike black) cannot be mistaken for background on
# dark images such as digits, so the network can tell where the hole is.
HOLE_FILL = 0.5
_ANOMALY_SEED = 4321  # fixed holes, so an image's anomaly score does not change between calls
_ANOMALY_PASSES = 4


class Inpainting(Autoencoder):
    """Backbone sees the image with a hole; the decoder redraws the whole image.

    Loss = mean error inside the hole + `rest_weight` x mean error outside it (the small second term
    keeps the output consistent with the visible context, as the paper's overlap term does).
    """

    def hide(self, images: torch.Tensor, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        return corrupt.random_region(
            images, float(self.hparams["region_fraction"]), generator, fill=HOLE_FILL
        )

    def training_step(self, images: torch.Tensor, ctx: StepContext) -> StepOutput:
        hidden, mask = self.hide(images, ctx.generator)
        logits = self.reconstruct_logits(hidden)
        inside = pixel_loss(logits, images, "mse", weight=mask)
        outside = pixel_loss(logits, images, "mse", weight=~mask)
        loss = inside + float(self.hparams["rest_weight"]) * outside
        return StepOutput(loss, {"region_mse": inside.detach(), "context_mse": outside.detach()})

    @torch.no_grad()
    def preview(self, images: torch.Tensor, generator: torch.Generator) -> Preview:
        hidden, mask = self.hide(images, generator)
        with eval_mode(self):
            recon = self.reconstruct(hidden)
        pasted = torch.where(mask, recon.to(images.dtype), images)  # only the hole is painted in
        return Preview(
            "reconstruction",
            {"input": to_preview(images), "hidden": to_preview(hidden), "reconstruction": to_preview(pasted)},
        )

    @torch.no_grad()
    def anomaly_scores(self, images: torch.Tensor) -> torch.Tensor:
        """Mean squared error inside the hole (B,), averaged over a few holes placed with a fixed seed."""
        generator = torch.Generator(device=images.device).manual_seed(_ANOMALY_SEED)
        total = torch.zeros(images.shape[0], device=images.device)
        with eval_mode(self):
            for _ in range(_ANOMALY_PASSES):
                hidden, mask = self.hide(images, generator)
                total += per_sample_error(self.reconstruct(hidden), images, mask)
        return total / _ANOMALY_PASSES


SPEC = MethodSpec(
    name="inpainting",
    title="Inpainting (context encoder)",
    family="generative",
    summary="Hide a rectangle of each image and paint it back from what surrounds it.",
    description=(
        "Inpainting cuts a hole in each image (a random rectangle, a quarter of the picture by default) "
        "and asks the network to paint in what is missing, using only the rest of the image. To fill the "
        "hole sensibly it must understand the scene around it: what object this is, and how its parts "
        "continue. That understanding is what the backbone's features learn. The previews show the "
        "input, the image with its hole, and the hole painted back in."
    ),
    params=params(
        Param(
            "region_fraction",
            0.25,
            "Share of the image hidden in one rectangle (the paper hid a central quarter of the image, or "
            "random blocks of similar total size).",
            low=0.05,
            high=0.6,
            label="Size of the hole",
        ),
        Param(
            "rest_weight",
            0.1,
            "Weight of the reconstruction error outside the hole, relative to 1 inside it. A small value "
            "keeps the painted region consistent with its surroundings; 0 scores the hole only.",
            low=0.0,
            high=1.0,
            label="Weight outside the hole",
        ),
        decoder_width_param(),
    ),
    factory=Inpainting,
    # The paper trained with Adam (lr 2e-4 with its adversarial term); without that term a higher lr is fine.
    optim=OptimDefaults(optimizer="adamw", lr=1e-3, weight_decay=1e-4, warmup_epochs=1.0, batch_size=256),
    preview_kind="reconstruction",
    paper="Pathak et al., Context Encoders: Feature Learning by Inpainting, CVPR 2016",
)
Inpainting.spec = SPEC
