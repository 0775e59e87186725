"""WaveGAN: a generator learns to make sound waves from random latent vectors while a critic learns to
tell them from real clips (WGAN-GP); the critic's features are the representation.

As the image GAN (ssl_core/methods/gan.py), the two networks are the method's two optimizer parts
(`optimizer_parts`), updated in turn at every step by the trainer: first the critic on real clips and
fresh fakes, then the generator against the updated critic. The critic is the backbone (the "wavegan_d"
network of ssl_core/models/wavegan.py) plus a linear score head.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from ssl_core.data.base import DataInfo
from ssl_core.methods import _audio
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
from ssl_core.methods.gan import DISCRIMINATOR, GENERATOR, PREVIEW_COLUMNS, slerp
from ssl_core.methods.setup_check import SetupFacts, SetupProblem, raise_first
from ssl_core.models.wavegan import WaveGANGenerator
from ssl_core.params import Param, params

FIXED_LATENT_SEED = (
    20180212  # one draw of the preview's latents, the same in every run (WaveGAN's arXiv date)
)
MAX_LENGTH = 2**17  # samples (about 8 s at 16 kHz): the paper made 16384, later versions up to 65536
WASSERSTEIN = "Wasserstein estimate"
PENALTY = "gradient penalty"


def wavegan_setup_check(hparams: Mapping[str, Any], facts: SetupFacts) -> list[SetupProblem]:
    """WaveGAN's rule: clips of at most MAX_LENGTH samples (its networks are sized for about a second)."""
    info = facts.info
    if info.modality == "audio" and info.length > MAX_LENGTH:
        return [
            SetupProblem(
                "data.clip_seconds",
                f"WaveGAN is made for clips of about a second, but these have {info.length} samples; use "
                f"clips of at most {MAX_LENGTH} samples (a shorter clip length or a lower sample rate).",
            )
        ]
    return []


def _critic_requirement(bspec: Any) -> str | None:
    if bspec.name != "wavegan_d":
        return (
            f"WaveGAN's critic must be the WaveGAN critic (wavegan_d), not {bspec.title}: it has no batch "
            "normalisation, which would mix the real and generated clips of a batch and spoil the gradient "
            "penalty, and it shuffles phase so it cannot judge by artefacts. Choose wavegan_d (or auto)."
        )
    return None


class WaveGAN(SSLMethod):
    """Generator (WaveGANGenerator) + critic (the backbone and a linear score head), trained with the
    Wasserstein loss and gradient penalty of Gulrajani et al. (2017), as WaveGAN was."""

    def __init__(self, backbone: nn.Module, hparams: dict[str, Any], info: DataInfo):
        raise_first(wavegan_setup_check(hparams, SetupFacts(info)), "wavegan")
        super().__init__(backbone, hparams, info)
        latent = int(hparams["latent_dim"])
        channels, length = info.sample_shape
        self.generator = WaveGANGenerator(
            latent, int(channels), int(length), int(hparams["generator_width"]), str(hparams["upsample"])
        )
        self.critic = nn.Linear(self.feature_dim, 1)
        # The gradient penalty differentiates the critic's gradient (double backward), which torch.compile
        # does not support: train.compile leaves the critic eager.
        self.eager_modules = ("backbone", "critic")
        fixed = torch.randn(
            2 * PREVIEW_COLUMNS + 2, latent, generator=torch.Generator().manual_seed(FIXED_LATENT_SEED)
        )
        self.register_buffer("fixed_latents", fixed)

    # ---- the two players ------------------------------------------------------------------------------
    def optimizer_parts(self) -> dict[str, OptimizerPart]:
        return {
            DISCRIMINATOR: OptimizerPart(
                [*self.backbone.parameters(), *self.critic.parameters()],
                lr_scale=float(self.hparams["critic_lr_ratio"]),
            ),
            GENERATOR: OptimizerPart(list(self.generator.parameters())),
        }

    def score(self, clips: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """The critic's score (B,): high for clips it takes for real. `generator` draws its phase shuffles."""
        net = getattr(self.backbone, "net", self.backbone)
        net.shuffle_generator = generator
        try:
            return self.critic(self.backbone(clips)).squeeze(1)
        finally:
            net.shuffle_generator = None

    def sample(self, n: int, generator: torch.Generator, device: torch.device) -> torch.Tensor:
        """`n` new clips (n, C, T) in [-1, 1] from latents drawn with `generator`."""
        z = torch.randn(n, self.generator.latent_dim, generator=generator, device=generator.device)
        return self.generator(z.to(device))

    def training_step(self, images: torch.Tensor, ctx: StepContext, part: str | None = None) -> StepOutput:
        if part == DISCRIMINATOR:
            return self._critic_step(images, ctx)
        if part == GENERATOR:
            return self._generator_step(images, ctx)
        raise ValueError(f"WaveGAN trains in two parts ({DISCRIMINATOR}, {GENERATOR}), not {part!r}")

    def _critic_step(self, real: torch.Tensor, ctx: StepContext) -> StepOutput:
        with torch.no_grad():
            fake = self.sample(real.shape[0], ctx.generator, real.device).to(real.dtype)
        real_score, fake_score = self.score(torch.cat([real, fake]), ctx.generator).float().chunk(2)
        distance = real_score.mean() - fake_score.mean()
        penalty = self._penalty(real, fake, ctx.generator)
        loss = -distance + float(self.hparams["penalty_weight"]) * penalty
        return StepOutput(loss, {WASSERSTEIN: distance.detach(), PENALTY: penalty.detach()})

    def _generator_step(self, real: torch.Tensor, ctx: StepContext) -> StepOutput:
        fake = self.sample(real.shape[0], ctx.generator, real.device)
        return StepOutput(-self.score(fake, ctx.generator).float().mean())

    def _penalty(self, real: torch.Tensor, fake: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """WGAN-GP: E(|grad D(x)| - 1)^2 on random mixes x of real and generated clips, in float32."""
        with torch.autocast(real.device.type, enabled=False):
            mix = torch.rand(real.shape[0], 1, 1, generator=generator, device=generator.device).to(
                real.device
            )
            x = (mix * real.detach().float() + (1 - mix) * fake.detach().float()).requires_grad_(True)
            (grad,) = torch.autograd.grad(self.score(x, generator).sum(), x, create_graph=True)
            return (grad.flatten(1).pow(2).sum(1).add(1e-12).sqrt() - 1).pow(2).mean()

    # ---- previews ----------------------------------------------------------------------------------------
    @torch.no_grad()
    def preview(self, images: torch.Tensor, generator: torch.Generator) -> Preview:
        """Real clips, two rows of clips from the fixed latents and an interpolation strip between two of
        them: the same latents all run, so a person hears the generator's noise turn into sound."""
        z = self.fixed_latents
        n = PREVIEW_COLUMNS
        strip = slerp(z[2 * n], z[2 * n + 1], n)
        made = self.generator(torch.cat([z[: 2 * n], strip]))  # no batch norm: no mode to switch
        arrays = {
            "real": _audio.waveform(images[:n]),
            "samples": _audio.waveform(made[:n]),
            "more samples": _audio.waveform(made[n : 2 * n]),
            "interpolation": _audio.waveform(made[2 * n :]),
        }
        preview = self.make_preview(
            "samples", arrays, interpolation=[f"{t:.0%}" for t in torch.linspace(0, 1, n).tolist()]
        )
        preview.meta = {**preview.meta, STRIP_ROWS_KEY: ["interpolation"]}
        return preview


SPEC = MethodSpec(
    name="wavegan",
    title="WaveGAN",
    family="generative",
    summary="A generator learns to make sounds that a critic cannot tell from real clips.",
    description=(
        "WaveGAN is a game between two networks playing with sound. The generator turns a list of random "
        "numbers straight into a sound wave; the critic listens to real clips and generated ones and "
        "scores how real each sounds. They train in turn: the critic to score real clips higher than fakes, "
        "the generator to raise its fakes' scores. To judge well, the critic has to notice what real "
        "sounds have in common (pitch, rhythm, the attack and fade of a note), and those features are the "
        "representation used afterwards. The preview plays clips made from the same random numbers all "
        "run, so you hear hiss turn into sound as training goes, and a strip that morphs from one sound to "
        "another. The critic's loss is minus its estimate of how far apart real and generated sound are "
        "(plus a penalty that keeps it smooth): as the generator improves, the estimate shrinks. The two "
        "losses go up and down as each network catches up with the other, which is normal for a GAN."
    ),
    paper=(
        "Donahue, McAuley & Puckette, Adversarial Audio Synthesis, ICLR 2019; Gulrajani et al., Improved "
        "Training of Wasserstein GANs, NeurIPS 2017"
    ),
    params=params(
        Param(
            "latent_dim",
            64,
            "Length of the random vector each clip is made from (paper: 100, for 16384-sample clips of "
            "speech, drums and birds; 64 is plenty for a small demo set).",
            low=2,
            high=512,
            label="Latent size",
        ),
        Param(
            "penalty_weight",
            10.0,
            "Weight of the gradient penalty that keeps the critic's slope near 1 between real and generated "
            "clips (WGAN-GP's lambda; paper: 10). Too low and the critic's scores run away; too high and "
            "it cannot tell clips apart.",
            low=0.0,
            high=100.0,
            label="Penalty weight",
        ),
        Param(
            "critic_lr_ratio",
            3.0,
            "The critic's learning rate as a multiple of the generator's (the run's). The paper updates the "
            "critic 5 times per generator update; here both update once per step and the critic learns "
            "faster instead (the two time-scale rule of Heusel et al. 2017, who trained WGAN-GP with a 3x "
            "faster critic).",
            low=0.1,
            high=10.0,
            label="Critic learning-rate ratio",
        ),
        Param(
            "generator_width",
            16,
            "Channels of the generator's last layer before the output; each earlier layer has twice as "
            "many (paper: 64 for 16384 samples; 16 keeps a step short on a CPU).",
            low=4,
            high=256,
            label="Generator width",
        ),
        Param(
            "upsample",
            "transposed",
            "How the generator makes its clip longer at each layer: transposed (the paper's transposed "
            "convolutions of length 25 and stride 4) or nearest (repeat each step 4 times, then a "
            "convolution: the paper's alternative, free of the faint periodic buzz transposed convolutions "
            "can leave).",
            choices=("transposed", "nearest"),
            choice_words=("Transposed convolution", "Repeat, then convolve"),
            label="Upsampling",
        ),
    ),
    factory=WaveGAN,
    # WaveGAN: Adam, lr 1e-4 with betas (0.5, 0.9), batch 64, no weight decay, no schedule. Here batch 64 at
    # 2e-4 (8e-4 per 256, scaled linearly with the batch; DCGAN's rate, twice the paper's, because a demo
    # trains for hundreds of steps, not the paper's hundred thousand), a constant rate after no warm-up.
    optim=OptimDefaults(
        optimizer="adamw",
        lr=8e-4,
        weight_decay=0.0,
        warmup_epochs=0.0,
        batch_size=64,
        betas=(0.5, 0.9),
        schedule="constant",
    ),
    preview_kind="samples",
    modalities=("audio",),
    preferred_backbone={"audio": "wavegan_d"},
    backbone_requirement=_critic_requirement,
    setup_check=wavegan_setup_check,
)
WaveGAN.spec = SPEC

__all__ = ["SPEC", "WaveGAN"]
