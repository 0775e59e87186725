"""Masked reconstruction: hide patches of a series (time windows) or an image (squares), rebuild them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from ssl_core.data.base import DataInfo
from ssl_core.methods.autoencoder import RECONSTRUCTION_OPTIM
from ssl_core.methods.base import MethodSpec, Preview, SSLMethod, StepContext, StepOutput
from ssl_core.methods.setup_check import SetupFacts, SetupProblem, raise_first
from ssl_core.modalities import ReconstructionHead
from ssl_core.models.decoders import eval_mode, per_sample_error
from ssl_core.models.series_decoders import SequenceHead
from ssl_core.params import Param, params

# mask_patch = 0 aims for about this many patches along each axis: 20 time windows of a series,
# 8 x 8 squares of an image. Never below 2 steps or pixels, so a gap is more than one value wide.
_AUTO_PATCHES_PER_AXIS = {1: 20, 2: 8}
_MIN_AUTO_PATCH = 2
# How hidden values are drawn in the "masked" preview: a gap in a curve, mid grey in an image.
# Anomaly scores average the error on hidden values over this many fixed (seeded) masks.
_ANOMALY_PASSES = 4
_ANOMALY_SEED = 1234
_FIELD = "method.params(masked_reconstruction).mask_patch"


def longest_axis(info: DataInfo) -> int:
    """Time steps of a series, or pixels along an image's longer side."""
    return max(info.sample_shape[1:])


def resolve_mask_patch(requested: int, info: DataInfo) -> int:
    """The patch to hide (time steps of a series, pixels a side of an image); 0 picks one from the size."""
    raise_first(mask_patch_problems(requested, info), "masked_reconstruction")
    if requested:
        return int(requested)
    axes = info.sample_shape[1:]  # (T,) for a series, (H, W) for an image
    longest = longest_axis(info)
    per_axis = _AUTO_PATCHES_PER_AXIS.get(len(axes), 8)
    return max(_MIN_AUTO_PATCH, min(round(longest / per_axis), max(1, longest // 2)))


def mask_patch_problems(requested: int, info: DataInfo) -> list[SetupProblem]:
    """A sample must split into at least two patches of `requested` steps or pixels (0: automatic)."""
    longest = longest_axis(info)
    if not requested or requested <= max(1, longest // 2):
        return []
    unit = "steps" if info.modality == "series" else "pixels"
    return [
        SetupProblem(
            "mask_patch",
            f"Hidden patches of {requested} {unit} are too long for {info.name} ({longest} {unit} long): "
            f"a sample must split into at least two patches. Use at most {longest // 2}, or Automatic.",
            detail=(
                f"{_FIELD} = {requested} is too long for {info.name} ({longest} steps or pixels along its "
                f"longest axis): a sample must split into at least two patches. Use at most {longest // 2}, "
                "or 0 to choose automatically."
            ),
        )
    ]


def decoder_problems(choice: str, facts: SetupFacts) -> list[SetupProblem]:
    """The per-step decoder reads per-step latents, which only series backbones give."""
    if choice != "per_step" or facts.has_sequence_latents:
        return []
    return [
        SetupProblem(
            "decoder",
            "One decoder per time step needs a series backbone (it reads one latent per step); this "
            "backbone has none: choose From the pooled features, or Automatic.",
            detail=(
                "method.params(masked_reconstruction).decoder = per_step needs a backbone with per-step "
                "latents (a series backbone); this one has none. Use decoder = features or auto."
            ),
        )
    ]


def setup_check(hparams: Mapping[str, Any], facts: SetupFacts) -> list[SetupProblem]:
    """Masked reconstruction's rules: patches fit the sample, and the decoder fits the backbone."""
    return mask_patch_problems(int(hparams["mask_patch"]), facts.info) + decoder_problems(
        str(hparams["decoder"]), facts
    )


class PerStepReconstruction(ReconstructionHead):
    """A backbone's per-step latents (B, T', D) -> series values (B, C, T); mean squared error.

    A linear SequenceHead: each latent rebuilds the `downsample` input steps it stands for (one for the
    CNN and the recurrent encoders, a patch for the Transformer), so a hidden step is predicted from
    the latent at its own position, which has seen the visible steps around it.
    """

    def __init__(self, backbone: nn.Module, info: DataInfo):
        super().__init__()
        channels, self.length = (int(v) for v in info.sample_shape)
        self.net = SequenceHead(int(backbone.sequence_dim), channels, int(backbone.downsample or 1))

    def forward(self, sequence: torch.Tensor) -> torch.Tensor:
        return self.net(sequence, self.length)

    def loss(self, outputs, target, mask=None):
        per = (outputs.float() - target.float()).pow(2)
        if mask is None:
            return per.mean()
        weight = mask.float().expand_as(per)
        return (per * weight).sum() / weight.sum().clamp_min(1e-8)

    def error(self, outputs, target):
        return per_sample_error(outputs, target)


def has_per_step_latents(backbone: nn.Module) -> bool:
    return bool(getattr(backbone, "sequence_dim", None))


class MaskedReconstruction(SSLMethod):
    """Hide patches, encode the masked sample, rebuild the whole sample; the loss counts hidden values
    only (plus `visible_weight` times the visible ones).

    Two decoders (`decoder` setting): "per_step" reads the backbone's per-step latents (every series
    backbone has them) with a linear head per step, as in TST and PatchTST; "features" is the
    modality's reconstruction head on the pooled features (the only choice for images). The per-step
    head is the default where it exists because a pooled CNN summary is blind to where in time a pattern
    sits, so it cannot say what a gap at a given time held.
    """

    def __init__(self, backbone: nn.Module, hparams: dict[str, Any], info: DataInfo):
        raise_first(setup_check(hparams, SetupFacts.of_backbone(info, backbone)), "masked_reconstruction")
        patch = resolve_mask_patch(int(hparams["mask_patch"]), info)
        choice = str(hparams["decoder"])
        per_step = choice == "per_step" or (choice == "auto" and has_per_step_latents(backbone))
        super().__init__(backbone, {**hparams, "mask_patch": patch}, info)
        self.per_step = per_step
        self.decoder: ReconstructionHead = (
            PerStepReconstruction(backbone, info)
            if per_step
            else self.modality.reconstruction_head(
                self.feature_dim, info, backbone, int(hparams["decoder_width"])
            )
        )

    def hide(self, x: torch.Tensor, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """(x with random patches set to the fill value, mask (B, 1, ...) True where hidden)."""
        masked, hidden = self.modality.corrupt(
            "mask",
            x,
            generator,
            ratio=float(self.hparams["mask_ratio"]),
            patch=int(self.hparams["mask_patch"]),
        )
        assert hidden is not None
        return masked, hidden

    def rebuild(self, masked: torch.Tensor) -> torch.Tensor:
        """The head's raw outputs (image logits, series values) for a masked input."""
        if self.per_step:
            return self.decoder(self.backbone.forward_sequence(masked))
        return self.decoder(self.backbone(masked))

    def training_step(self, images: torch.Tensor, ctx: StepContext) -> StepOutput:
        masked, hidden = self.hide(images, ctx.generator)
        outputs = self.rebuild(masked)
        visible_weight = float(self.hparams["visible_weight"])
        if not visible_weight:
            return StepOutput(self.decoder.loss(outputs, images, mask=hidden))
        weight = hidden.float() + visible_weight * (~hidden).float()
        hidden_loss = self.decoder.loss(outputs.detach(), images, mask=hidden)
        return StepOutput(self.decoder.loss(outputs, images, mask=weight), {"hidden": hidden_loss})

    @torch.no_grad()
    def preview(self, images: torch.Tensor, generator: torch.Generator) -> Preview:
        masked, hidden = self.hide(images, generator)
        with eval_mode(self):
            predicted = self.decoder.to_sample(self.rebuild(masked))
        pasted = torch.where(hidden, predicted.to(images.dtype), images)  # visible values are the originals
        shown = masked.masked_fill(hidden, self.modality.hidden_shown_as)
        finish = self.modality.finish_preview
        return self.make_preview(
            "reconstruction",
            {"input": finish(images), "masked": finish(shown), "reconstruction": finish(pasted)},
        )

    @torch.no_grad()
    def anomaly_scores(self, images: torch.Tensor) -> torch.Tensor:
        """Mean squared error on hidden values (B,), over a few fixed masks shared by every sample.

        The masks are drawn with a fixed seed and are the same for every sample, so a sample's score
        depends neither on the call nor on the batch it is scored in.
        """
        b = images.shape[0]
        generator = torch.Generator(device=images.device).manual_seed(_ANOMALY_SEED)
        total = torch.zeros(b, device=images.device)
        with eval_mode(self):
            for _ in range(_ANOMALY_PASSES):
                _, hidden = self.hide(images[:1], generator)
                hidden = hidden.expand(b, *hidden.shape[1:])
                masked = images.masked_fill(hidden, 0.0)  # 0: both modalities' mask fill
                predicted = self.decoder.to_sample(self.rebuild(masked))
                total += per_sample_error(predicted, images, hidden)
        return total / _ANOMALY_PASSES


SPEC = MethodSpec(
    name="masked_reconstruction",
    title="Masked reconstruction",
    family="generative",
    summary="Hide stretches of each series (or patches of each image) and rebuild what was hidden.",
    description=(
        "Masked reconstruction hides random stretches of each series (or square patches of each image), "
        "half of them by default, and asks the network to fill in what is missing from what is left. "
        "The backbone reads the gappy sample and a small head rebuilds every value from what the "
        "backbone made of it; only the hidden values are scored, so copying the visible ones earns nothing. "
        "To fill a gap well, the backbone has to learn how the data usually behaves: its rhythms, trends "
        "and how channels move together. The previews show the input, the input with its gaps and the "
        "repair, and samples it repairs badly get high anomaly scores."
    ),
    params=params(
        Param(
            "mask_ratio",
            0.5,
            "Fraction of the patches hidden in each sample. Higher makes the puzzle harder and the "
            "features more about overall shape; lower makes it closer to interpolation.",
            low=0.05,
            high=0.95,
            label="Share of patches hidden",
        ),
        Param(
            "mask_patch",
            0,
            "Length in time steps of each hidden window of a series, or side in pixels of each hidden "
            "square of an image. 0 chooses about a twentieth of the series length (an eighth of the image "
            "side), at least 2. Windows much shorter than a pattern's features are easy to interpolate.",
            low=0,
            high=512,
            label="Hidden patch size",
            zero_label="Automatic",
        ),
        Param(
            "visible_weight",
            0.0,
            "Weight of the visible values in the loss, relative to the hidden ones. 0 scores hidden values "
            "only; a small weight such as 0.1 also asks the network to keep what it saw.",
            low=0.0,
            high=1.0,
            label="Weight of visible values",
        ),
        Param(
            "decoder",
            "auto",
            "What rebuilds the sample: per_step (a linear head on the backbone's latent at each time step; "
            "series backbones only), features (a decoder from the pooled feature vector, as in an "
            "autoencoder) or auto (per_step where the backbone offers it, else features).",
            choices=("auto", "per_step", "features"),
            label="Decoder",
            choice_words=("Automatic", "One per time step", "From the pooled features"),
        ),
        Param(
            "decoder_width",
            64,
            "features decoder only: channels of its last upsampling stages (the first has twice as many).",
            low=16,
            high=512,
            label="Decoder width",
        ),
    ),
    factory=MaskedReconstruction,
    setup_check=setup_check,
    optim=RECONSTRUCTION_OPTIM,
    preview_kind="reconstruction",
    paper=(
        "Zerveas et al., A Transformer-based Framework for Multivariate Time Series Representation "
        "Learning, KDD 2021; He et al., Masked Autoencoders Are Scalable Vision Learners, CVPR 2022"
    ),
    modalities=("image", "series"),
)
MaskedReconstruction.spec = SPEC
