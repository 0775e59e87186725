"""Contrastive Predictive Coding (CPC): summarise a series' or a clip's past and pick its true future out of
a crowd. On audio it reads the raw waveform through a strided encoder (wav_cnn, wav_gru), as in the paper's
speech experiments."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from ssl_core.augment import sampling
from ssl_core.data.base import DataInfo
from ssl_core.errors import UserError
from ssl_core.losses import info_nce_in_batch
from ssl_core.losses._precision import normalize
from ssl_core.methods.base import (
    SMALL_SERIES_OPTIM,
    MethodSpec,
    Preview,
    SSLMethod,
    StepContext,
    StepOutput,
)
from ssl_core.methods.setup_check import SetupFacts, SetupProblem, raise_first
from ssl_core.models.decoders import eval_mode
from ssl_core.params import Param, params

# window = 0 pools the backbone's latents into about this many steps (so K = 4 predictions look a
# quarter of the series ahead, whatever its length).
_AUTO_STEPS = 16
_FIELD = "method.params(cpc)"


def latent_steps(facts: SetupFacts) -> int:
    """The backbone's steps over a series or clip: its length divided by the backbone's downsampling.

    Before the backbone is built (Setup) an audio clip is counted in the waveform encoders' frames (about
    20 ms each), not in samples, which no audio backbone keeps."""
    info = facts.info
    if facts.downsample is None and info.modality == "audio":
        from ssl_core.models.audio import FIRST_STRIDE, audio_settings, stride2_layers

        rate = audio_settings(info)["sample_rate"]
        return math.ceil(info.length / (FIRST_STRIDE * 2 ** stride2_layers(rate, info.length)))
    return math.ceil(info.length / facts.stride)


def _sequence_backbones(modality: str) -> str:
    """The backbones with per-step latents for data of `modality`, in words."""
    if modality == "audio":
        from ssl_core.models.audio import SEQUENCE_BACKBONES

        return f"a waveform backbone ({' or '.join(SEQUENCE_BACKBONES)})"
    return "a series backbone (cnn1d, gru, lstm or transformer1d)"


def _backbone_requirement(bspec: Any) -> str | None:
    """CPC reads per-step latents: of the audio backbones only the waveform encoders give them."""
    from ssl_core.models.audio import SEQUENCE_BACKBONES

    if "audio" in bspec.modalities and bspec.name not in SEQUENCE_BACKBONES:
        return (
            f"CPC predicts the next frames of a clip and needs a backbone with one latent per frame; "
            f"{bspec.title} has none. Choose {_sequence_backbones('audio')} (or auto)."
        )
    return None


def auto_window(steps: int) -> int:
    return max(1, round(steps / _AUTO_STEPS))


def window_problems(hparams: Mapping[str, Any], facts: SetupFacts) -> list[SetupProblem]:
    """Pooling `window` steps must leave at least 2 prediction steps (one to predict the other from)."""
    steps, requested = latent_steps(facts), int(hparams["window"])
    left = steps // (requested or auto_window(steps))
    if left >= 2:
        return []
    from ssl_core.modalities import modality_of

    name = facts.info.name
    noun = modality_of(facts.info).plural
    return [
        SetupProblem(
            "window",
            f"Averaging {requested or auto_window(steps)} steps at a time leaves {left} step(s) of the "
            f"{steps} in {name}'s {noun}, and CPC needs at least 2 to predict one from another: average at "
            f"most {max(1, steps // 2)} steps, or choose Automatic.",
            detail=(
                f"{_FIELD}.window = {requested} leaves {left} step(s) of the {steps} latent steps of "
                f"{name}'s {noun}, and CPC needs at least 2 to predict one from another; "
                f"use a window of at most {max(1, steps // 2)} (or 0 to choose automatically)."
            ),
        )
    ]


class CPC(SSLMethod):
    """Encoder z_t = backbone.forward_sequence (pooled over `window` steps), context c_t = GRU(z_<=t),
    and one linear predictor W_k per step ahead: W_k c_t should pick z_{t+k} among the latents of every
    series in the batch at every sampled target position (InfoNCE, averaged over k = 1..K).

    Each step samples `anchors` times per series (without repeats) instead of using every t, which keeps
    the cost at (B * anchors)^2 similarities per k. The representation is the backbone's `forward`.
    """

    def __init__(self, backbone: nn.Module, hparams: dict[str, Any], info: DataInfo):
        super().__init__(backbone, hparams, info)
        dim = getattr(backbone, "sequence_dim", None)
        if not dim:
            raise UserError(
                f"CPC needs a backbone with per-step latents; {getattr(backbone, 'name', 'this one')} has "
                f"none. Choose {_sequence_backbones(info.modality)}.",
                field="method.backbone",
            )
        facts = SetupFacts.of_backbone(info, backbone)
        raise_first(window_problems(hparams, facts), "cpc")  # the rule Setup shows beside the window
        steps = latent_steps(facts)
        self.window = int(hparams["window"]) or auto_window(steps)
        self.steps = steps // self.window  # context steps after pooling
        self.max_ahead = min(int(hparams["prediction_steps"]), self.steps - 1)
        context_dim = int(hparams["context_dim"])
        self.context = nn.GRU(int(dim), context_dim, batch_first=True)
        self.predictors = nn.ModuleList(nn.Linear(context_dim, int(dim)) for _ in range(self.max_ahead))

    # ---- core --------------------------------------------------------------------------------------
    def latents(self, x: torch.Tensor) -> torch.Tensor:
        """z (B, steps, D): the backbone's per-step latents, averaged over windows of `window` steps."""
        z = self.backbone.forward_sequence(x).float()
        b, t, d = z.shape
        steps = t // self.window
        if steps < 2:
            raise UserError(
                f"A {self.modality.noun} of {x.shape[-1]} steps is too short for CPC with window {self.window}.",
                field=f"{_FIELD}.window",
            )
        return z[:, : steps * self.window].reshape(b, steps, self.window, d).mean(dim=2)

    def contexts(self, z: torch.Tensor) -> torch.Tensor:
        """c (B, steps, context_dim): the context network's summary of z up to each step."""
        if z.is_cuda:
            self.context.flatten_parameters()
        c, _ = self.context(z)
        return c

    def training_step(self, images: torch.Tensor, ctx: StepContext) -> StepOutput:
        z = self.latents(images)
        c = self.contexts(z)
        b, steps, d = z.shape
        ahead = min(self.max_ahead, steps - 1)
        usable = steps - ahead  # anchors t with t + ahead inside the series
        count = min(int(self.hparams["anchors"]), usable)
        scores = sampling.uniform(b * usable, 0.0, 1.0, ctx.generator, images.device).view(b, usable)
        anchors = scores.argsort(dim=1)[:, :count]  # (B, A), distinct times per series
        c_at = c.gather(1, anchors.unsqueeze(-1).expand(-1, -1, c.shape[-1])).reshape(b * count, -1)
        losses, accuracies = [], []
        for k in range(1, ahead + 1):
            target = z.gather(1, (anchors + k).unsqueeze(-1).expand(-1, -1, d)).reshape(b * count, d)
            loss, accuracy = info_nce_in_batch(
                self.predictors[k - 1](c_at), target, float(self.hparams["temperature"]), gather=ctx.gather
            )
            losses.append(loss)
            accuracies.append(accuracy)
        loss = torch.stack(losses).mean()
        return StepOutput(loss, {"cpc_acc": torch.stack(accuracies).mean().detach()})

    # ---- preview -----------------------------------------------------------------------------------
    def _input_steps(self, latent_step: int, length: int) -> int:
        """The first input step after `latent_step` pooled latent steps (clipped to the series)."""
        per = self.window * int(getattr(self.backbone, "downsample", 1) or 1)
        return min(length, latent_step * per)

    @torch.no_grad()
    def preview(self, images: torch.Tensor, generator: torch.Generator) -> Preview:
        """Each series split at a context point: the past the model summarises, the span it predicts.

        Captions say how many of the K future latents the model picked out of every latent of every
        preview series (a harder crowd than training's sampled anchors).
        """
        x = images.float()
        n, _, length = x.shape
        with eval_mode(self):
            z = self.latents(x)
            c = self.contexts(z)
        steps = z.shape[1]
        ahead = min(self.max_ahead, steps - 1)
        anchor = (steps - ahead - 1) // 2  # the middle of the usable anchors
        crowd = normalize(z.reshape(n * steps, -1))
        hits = torch.zeros(n, dtype=torch.long)
        for k in range(1, ahead + 1):
            guess = normalize(self.predictors[k - 1](c[:, anchor])) @ crowd.t()  # (n, n * steps)
            truth = torch.arange(n, device=z.device) * steps + anchor + k
            hits += (guess.argmax(dim=1) == truth).long().cpu()
        seen = self._input_steps(anchor + 1, length)
        end = self._input_steps(anchor + 1 + ahead, length)
        # What stands for the unseen part: NaN (no curve) for series, silence for audio (playable).
        nan = float(getattr(self.modality, "hidden_shown_as", float("nan")))
        context = x.clone()
        context[..., seen:] = nan
        future = torch.full_like(x, nan)
        future[..., seen:end] = x[..., seen:end]
        captions = [
            f"picked the true future {h}/{ahead} times out of {n * steps} latents" for h in hits.tolist()
        ]
        finish = self.modality.finish_preview
        return self.make_preview(
            "prediction",
            {"input": finish(x), "context": finish(context), "future": finish(future)},
            future=captions,
        )


SPEC = MethodSpec(
    name="cpc",
    title="Contrastive Predictive Coding (CPC)",
    family="contrastive",
    summary="Summarise each series' or clip's past and recognise its true future among many others.",
    description=(
        "Contrastive Predictive Coding reads a series up to some point, summarises what it has seen, and "
        "then has to recognise what really came next among many decoys: later stretches of the same "
        "series and stretches of the other series in the batch. It never has to predict exact values, "
        "only to tell the true future apart, so it can focus on the slow, meaningful structure (which "
        "movement is under way, which phase of a cycle) and ignore noise. Its accuracy of picking the "
        "right future is plotted next to the loss; it should climb well above chance as training goes. "
        "It works with any series backbone, and a causal one (gru, lstm) keeps the future fully hidden. "
        "On audio it listens to the raw waveform, about 50 frames a second (wav_cnn or wav_gru), as in "
        "the paper's speech experiments, where its features told speakers and speech sounds apart."
    ),
    params=params(
        Param(
            "prediction_steps",
            4,
            "How many steps ahead the model predicts (K), in pooled steps of about a sixteenth of the "
            "series each, so 4 reaches a quarter of it (paper: 12 steps of 10 ms in speech); capped by the "
            "series length.",
            low=1,
            high=32,
            label="Steps ahead predicted",
        ),
        Param(
            "anchors",
            8,
            "Context points sampled per series at each training step. More anchors give more negatives "
            "and a steadier loss, at a cost that grows with (batch x anchors) squared (the paper predicts "
            "from every time step).",
            low=1,
            high=64,
            label="Starting points per series",
        ),
        # The paper scores exp(z W_k c) without normalising, so it has no temperature. Measured (10 epochs,
        # probe with 10% of the labels, 5 seeds), that form is no better: OSULeaf 0.693±0.038 against
        # 0.718±0.056 here, ArrowHead 0.654±0.046 against 0.660±0.041, BasicMotions 0.993 against 1.000.
        Param(
            "temperature",
            0.1,
            "Softmax temperature of the InfoNCE loss over cosine similarities (the paper's scores are not "
            "normalised; cosine scores learned as well here); lower values focus on the hardest decoys.",
            low=0.01,
            high=2.0,
            log_scale=True,
            label="Temperature",
        ),
        Param(
            "context_dim",
            128,
            "Hidden units of the GRU that summarises the past (the context network; paper: 256 for speech, "
            "128 here for small series sets and clips).",
            low=8,
            high=2048,
            label="Memory of the past (width)",
        ),
        Param(
            "window",
            0,
            "Backbone steps averaged into one prediction step. 0 chooses it so that a series has about 16 "
            "steps; 1 predicts the backbone's own steps (fine for the Transformer's patches).",
            low=0,
            high=256,
            label="Steps averaged together",
            zero_label="Automatic",
        ),
    ),
    factory=CPC,
    setup_check=window_problems,
    optim=SMALL_SERIES_OPTIM,
    preview_kind="prediction",
    paper="van den Oord, Li & Vinyals, Representation Learning with Contrastive Predictive Coding, 2018",
    modalities=("series", "audio"),
    # The audio default (mel_cnn) has no per-frame latents: CPC reads the waveform (van den Oord et al.).
    preferred_backbone={"audio": "wav_cnn"},
    backbone_requirement=_backbone_requirement,
)
CPC.spec = SPEC
