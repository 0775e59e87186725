"""GAN (DCGAN-style): a generator learns to draw images from random latent vectors while a discriminator
learns to tell them from real ones; the discriminator's features are the representation.

The two networks are the method's two optimizer parts (`optimizer_parts`), updated in turn at every step
by the trainer: first the discriminator on real images and fresh fakes, then the generator against the
updated discriminator. The discriminator is the backbone (by default the "dcgan_d" trunk of
ssl_core/models/gan.py) plus a linear score head, so evaluation and export see its features.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ssl_core.data.base import DataInfo
from ssl_core.methods.base import (
    STRIP_ROWS_KEY,
    MethodSpec,
    OptimDefaults,
    OptimizerPart,
    Preview,
    SSLMethod,
    StepContext,
    StepOutput,
)
from ssl_core.methods.setup_check import SetupFacts, SetupProblem, raise_first
from ssl_core.models.gan import DCGANGenerator, SNLinear, set_spectral_norm
from ssl_core.params import Param, params

DISCRIMINATOR, GENERATOR = "discriminator", "generator"
PREVIEW_COLUMNS = 8  # samples per row of the preview (the GUI shows 8 columns)
FIXED_LATENT_SEED = 20160107  # one draw of the preview's latents, the same in every run (DCGAN's arXiv date)
MAX_SIDE = 128  # the networks are sized for 8-64 px; beyond this the first layers grow very large
PENALTY_NAMES = {"r1": "R1 penalty", "wgan_gp": "gradient penalty"}


def gan_setup_check(hparams: Mapping[str, Any], facts: SetupFacts) -> list[SetupProblem]:
    """The GAN's rule: images between 4 and MAX_SIDE px a side (the networks are sized for 8-64 px)."""
    info = facts.info
    side = max(info.height, info.width)
    if info.modality == "image" and side > MAX_SIDE:
        return [
            SetupProblem(
                "data.image_size",
                f"The GAN is sized for images of 8 to 64 pixels a side, but these are {side}; set the image "
                "size to 64 or less.",
            )
        ]
    return []


def _discriminator_requirement(bspec: Any) -> str | None:
    """The GAN's discriminator needs a backbone without batch normalisation and with switchable spectral
    normalisation: the DCGAN discriminator."""
    if bspec.name != "dcgan_d":
        return (
            f"The GAN's discriminator must be the DCGAN discriminator (dcgan_d), not {bspec.title}: it has no "
            "batch normalisation, which would mix the real and generated images of a batch, and its layers "
            "can be spectrally normalised. "
            "Choose dcgan_d (or auto)."
        )
    return None


def slerp(a: torch.Tensor, b: torch.Tensor, steps: int) -> torch.Tensor:
    """`steps` points from `a` to `b` along the great circle (White 2016, Sampling Generative Networks):
    unlike a straight line, every point keeps the norm a Gaussian latent usually has."""
    t = torch.linspace(0, 1, steps, device=a.device, dtype=a.dtype).unsqueeze(1)
    cos = F.cosine_similarity(a, b, dim=0).clamp(-1 + 1e-6, 1 - 1e-6)
    omega = torch.acos(cos)
    return (torch.sin((1 - t) * omega) * a + torch.sin(t * omega) * b) / torch.sin(omega)


class GAN(SSLMethod):
    """Generator (DCGANGenerator) + discriminator (the backbone and a linear score head)."""

    def __init__(self, backbone: nn.Module, hparams: dict[str, Any], info: DataInfo):
        raise_first(gan_setup_check(hparams, SetupFacts(info)), "gan")
        super().__init__(backbone, hparams, info)
        latent = int(hparams["latent_dim"])
        self.generator = DCGANGenerator(
            latent, info.channels, info.height, info.width, int(hparams["generator_width"])
        )
        self.critic = SNLinear(self.feature_dim, 1)
        self.regulariser = str(hparams["regulariser"])
        self.loss_kind = str(hparams["loss"])
        spectral = self.regulariser == "spectral_norm"
        set_spectral_norm(self.backbone, spectral)
        set_spectral_norm(self.critic, spectral)
        # R1 and the gradient penalty differentiate the discriminator's gradient (double backward), which
        # torch.compile does not support: train.compile leaves the discriminator eager for them.
        self.eager_modules = ("backbone", "critic") if self.regulariser in PENALTY_NAMES else ()
        # The preview's latents, drawn once from their own seed (not the run's stream): two rows of
        # samples and the two ends of the interpolation strip, the same from the first step to the last.
        fixed = torch.randn(
            2 * PREVIEW_COLUMNS + 2, latent, generator=torch.Generator().manual_seed(FIXED_LATENT_SEED)
        )
        self.register_buffer("fixed_latents", fixed)

    # ---- the two players ------------------------------------------------------------------------------
    def optimizer_parts(self) -> dict[str, OptimizerPart]:
        ratio = float(self.hparams["discriminator_lr_ratio"])
        return {
            DISCRIMINATOR: OptimizerPart(
                [*self.backbone.parameters(), *self.critic.parameters()], lr_scale=ratio
            ),
            GENERATOR: OptimizerPart(list(self.generator.parameters())),
        }

    def score(self, images: torch.Tensor) -> torch.Tensor:
        """The discriminator's score (B,): high for images it takes for real."""
        return self.critic(self.backbone(images)).squeeze(1)

    def sample(self, n: int, generator: torch.Generator, device: torch.device) -> torch.Tensor:
        """`n` new images (n, C, H, W) in [0, 1] from latents drawn with `generator`."""
        z = torch.randn(n, self.generator.latent_dim, generator=generator, device=device)
        return self.generator(z)

    def training_step(self, images: torch.Tensor, ctx: StepContext, part: str | None = None) -> StepOutput:
        if part == DISCRIMINATOR:
            return self._discriminator_step(images, ctx)
        if part == GENERATOR:
            return self._generator_step(images, ctx)
        raise ValueError(f"the GAN trains in two parts ({DISCRIMINATOR}, {GENERATOR}), not {part!r}")

    def _discriminator_step(self, real: torch.Tensor, ctx: StepContext) -> StepOutput:
        with torch.no_grad():
            fake = self.sample(real.shape[0], ctx.generator, real.device).to(real.dtype)
        scores = self.score(torch.cat([real, fake]))
        real_score, fake_score = scores.float().chunk(2)
        if self.loss_kind == "hinge":  # Lim & Ye 2017; Miyato et al. 2018
            loss = F.relu(1 - real_score).mean() + F.relu(1 + fake_score).mean()
        else:  # non-saturating (Goodfellow et al. 2014): -log D(x) - log(1 - D(G(z)))
            loss = F.softplus(-real_score).mean() + F.softplus(fake_score).mean()
        parts = {}
        if self.regulariser in PENALTY_NAMES:
            penalty = self._penalty(real, fake, ctx.generator)
            loss = loss + float(self.hparams["penalty_weight"]) * penalty
            parts[PENALTY_NAMES[self.regulariser]] = penalty.detach()
        return StepOutput(loss, parts)

    def _generator_step(self, real: torch.Tensor, ctx: StepContext) -> StepOutput:
        fake = self.sample(real.shape[0], ctx.generator, real.device)
        score = self.score(fake).float()
        loss = -score.mean() if self.loss_kind == "hinge" else F.softplus(-score).mean()
        return StepOutput(loss)

    def _penalty(self, real: torch.Tensor, fake: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """R1 (Mescheder et al. 2018): gamma/2 * E|grad D(real)|^2, pulling the discriminator flat on the
        data; WGAN-GP (Gulrajani et al. 2017): E(|grad D(x)| - 1)^2 on random mixes x of real and fake.
        In float32 (outside mixed precision), where small gradients do not round to zero."""
        with torch.autocast(real.device.type, enabled=False):
            if self.regulariser == "r1":
                x = real.detach().float().requires_grad_(True)
            else:
                mix = torch.rand(real.shape[0], 1, 1, 1, generator=generator, device=real.device)
                x = (mix * real.detach().float() + (1 - mix) * fake.detach().float()).requires_grad_(True)
            (grad,) = torch.autograd.grad(self.score(x).sum(), x, create_graph=True)
            norm2 = grad.flatten(1).pow(2).sum(1)
            if self.regulariser == "r1":
                return 0.5 * norm2.mean()
            return (norm2.add(1e-12).sqrt() - 1).pow(2).mean()

    # ---- previews ----------------------------------------------------------------------------------------
    @torch.no_grad()
    def preview(self, images: torch.Tensor, generator: torch.Generator) -> Preview:
        """Real images, two rows of samples from the fixed latents and an interpolation strip between two of
        them: the same latents all run, so the rows show the generator's drawings change as it learns."""
        z = self.fixed_latents
        n = PREVIEW_COLUMNS
        strip = slerp(z[2 * n], z[2 * n + 1], n)
        drawn = self.generator(torch.cat([z[: 2 * n], strip]))
        arrays = {"real": images[:n], "samples": drawn[:n], "more samples": drawn[n : 2 * n]}
        arrays["interpolation"] = drawn[2 * n :]
        preview = self.make_preview(
            "samples",
            {k: v.float().clamp(0, 1) for k, v in arrays.items()},
            interpolation=[f"{t:.0%}" for t in torch.linspace(0, 1, n).tolist()],
        )
        # An ordered strip: a view with fewer columns keeps both ends and evenly spaced steps between them.
        preview.meta = {**preview.meta, STRIP_ROWS_KEY: ["interpolation"]}
        return preview


SPEC = MethodSpec(
    name="gan",
    title="GAN (DCGAN)",
    family="generative",
    summary="A generator learns to draw images that a discriminator cannot tell from real ones.",
    description=(
        "A GAN is a game between two networks. The generator turns a list of random numbers into an image; "
        "the discriminator looks at real images and generated ones and learns to tell them apart. Each "
        "network is trained in turn against the other: the discriminator to catch the fakes, the generator "
        "to fool the discriminator. To win, the discriminator has to notice what real images have in "
        "common (strokes, shapes, textures), and those features are the representation used afterwards. "
        "The live preview shows the generator's drawings from the same random numbers all run, so you can "
        "watch blobs turn into recognisable images, and a strip that morphs smoothly from one drawing to "
        "another. The two losses do not simply fall: they go up and down as each network catches up with "
        "the other, which is normal for a GAN."
    ),
    paper=(
        "Radford, Metz & Chintala, Unsupervised Representation Learning with Deep Convolutional Generative "
        "Adversarial Networks, ICLR 2016"
    ),
    params=params(
        Param(
            "latent_dim",
            64,
            "Length of the random vector each image is drawn from (paper: 100, for 64 px images; 64 is "
            "plenty for small images).",
            low=2,
            high=512,
            label="Latent size",
        ),
        Param(
            "loss",
            "non_saturating",
            "How the two networks are scored: non_saturating (the original GAN loss, with the generator "
            "maximising the discriminator's mistakes, as in DCGAN) or hinge (scores pushed past a margin of 1, "
            "as in SNGAN and BigGAN; often steadier with spectral normalisation).",
            choices=("non_saturating", "hinge"),
            label="Loss",
            choice_words=("Non-saturating", "Hinge"),
        ),
        Param(
            "regulariser",
            "r1",
            "What keeps the discriminator from becoming too sharp, which stalls the generator: r1 (a penalty "
            "on the discriminator's slope at real images; Mescheder et al. 2018), spectral_norm (each layer's "
            "weights scaled so no input direction is stretched by more than 1; Miyato et al. 2018) or wgan_gp "
            "(a penalty pulling its slope towards 1 between real and generated images; Gulrajani et al. 2017). "
            "r1 is the default: on 8x8 digits at DCGAN's learning rate its samples look like digits after "
            "about 100 steps, spectral_norm's after about 300. The penalties cost a second backward pass.",
            choices=("r1", "spectral_norm", "wgan_gp"),
            label="Regulariser",
            choice_words=("R1 penalty", "Spectral normalisation", "WGAN-GP penalty"),
        ),
        Param(
            "penalty_weight",
            1.0,
            "Weight of the gradient penalty (r1 and wgan_gp only): R1's gamma (papers: 0.1-10, smaller for "
            "small images) or WGAN-GP's lambda (paper: 10). Too high a weight makes the discriminator blind.",
            low=0.0,
            high=100.0,
            label="Penalty weight",
        ),
        Param(
            "discriminator_lr_ratio",
            1.0,
            "The discriminator's learning rate as a multiple of the generator's (the run's). DCGAN uses the "
            "same rate for both (1); the two time-scale rule (Heusel et al. 2017) gives the discriminator "
            "4x the generator's.",
            low=0.1,
            high=10.0,
            label="Discriminator learning-rate ratio",
        ),
        Param(
            "generator_width",
            64,
            "Channels of the generator's last layer; each earlier layer has twice as many, up to 512 "
            "(paper: 128 for 64 px images).",
            low=8,
            high=256,
            label="Generator width",
        ),
    ),
    factory=GAN,
    # DCGAN: Adam, lr 2e-4 with beta1 = 0.5, batch 128, no weight decay, no schedule. Here batch 64 at the
    # same 2e-4 (8e-4 per 256, scaled linearly with the batch), a constant rate after no warm-up.
    optim=OptimDefaults(
        optimizer="adamw",
        lr=8e-4,
        weight_decay=0.0,
        warmup_epochs=0.0,
        batch_size=64,
        betas=(0.5, 0.999),
        schedule="constant",
    ),
    preview_kind="samples",
    modalities=("image",),
    preferred_backbone={"image": "dcgan_d"},
    backbone_requirement=_discriminator_requirement,
    setup_check=gan_setup_check,
)
GAN.spec = SPEC

__all__ = ["GAN", "SPEC", "slerp"]
