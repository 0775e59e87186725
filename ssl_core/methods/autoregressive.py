"""Next-step prediction: a causal backbone reads a series step by step and predicts what comes next."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from ssl_core.data.base import DataInfo
from ssl_core.errors import UserError
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
from ssl_core.wording import spoken_list

# The forecast preview shows the first 60% of each series and lets the model continue it.
FORECAST_CUT = 0.6
_TITLE = "Next-step prediction"


@functools.cache
def _is_causal(name: str) -> bool:
    """Whether the registered series backbone `name` is causal (a tiny instance is built once to ask)."""
    from ssl_core.models.backbones import BACKBONES
    from ssl_core.train.global_rng import isolated_global_stream

    spec = BACKBONES.get(name)
    with isolated_global_stream():  # asking must not move a seeded run's (or a racing build's) random stream
        net = spec.factory(1, 16)
    return bool(getattr(net, "causal", False))


def _series_backbones() -> list[str]:
    from ssl_core.models.backbones import BACKBONES

    return [name for name, spec in BACKBONES.items() if "series" in spec.modalities]


def causal_reason(backbone_name: str) -> str | None:
    """Why the backbone `backbone_name` cannot serve next-step prediction, or None when it can."""
    from ssl_core.models.backbones import BACKBONES

    series = _series_backbones()
    causal = [name for name in series if _is_causal(name)] or ["gru", "lstm"]
    kinds = BACKBONES.get(backbone_name).modalities
    if "series" not in kinds:
        return (
            f"{_TITLE} needs a causal series backbone ({spoken_list(causal, 'or')}); {backbone_name} "
            f"works on {' or '.join(kinds)} data."
        )
    if _is_causal(backbone_name):
        return None
    future = [name for name in series if not _is_causal(name)]
    verb = "sees" if len(future) == 1 else "see"
    return (
        f"{_TITLE} needs a causal backbone ({spoken_list(causal, 'or')}): "
        f"{spoken_list(future, 'and')} {verb} the future."
    )


def backbone_requirement(bspec: Any) -> str | None:
    return causal_reason(bspec.name)


def horizon_problems(hparams: Mapping[str, Any], facts: SetupFacts) -> list[SetupProblem]:
    """The horizon must end inside the series: at most its length - 1 steps ahead."""
    info = facts.info
    horizon, length = int(hparams["horizon"]), int(info.sample_shape[-1])
    if horizon < length:
        return []
    return [
        SetupProblem(
            "horizon",
            f"Predicting {horizon} steps ahead reaches past the end of the series ({info.name} has "
            f"{length} steps): predict at most {length - 1} steps ahead.",
            detail=(
                f"method.params(autoregressive).horizon = {horizon} reaches past the end of "
                f"{info.name}'s {length}-step series; use at most {length - 1}."
            ),
        )
    ]


class NextStepPrediction(SSLMethod):
    """Causal backbone -> hidden state h_t per step -> linear head -> x_{t+1} ... x_{t+horizon}.

    `forward_sequence` of a causal backbone gives h_t from steps <= t only; the head maps it to the next
    `horizon` values of every channel and the loss is their mean squared error over all steps (each
    step ahead weighted equally). The representation is the backbone's `forward`: for the recurrent
    backbones, the last hidden state.
    """

    def __init__(self, backbone: nn.Module, hparams: dict[str, Any], info: DataInfo):
        super().__init__(backbone, hparams, info)
        name = getattr(backbone, "name", type(backbone).__name__)
        if not getattr(backbone, "causal", False):
            raise UserError(
                causal_reason(name)
                if isinstance(name, str) and name in _series_backbones()
                else (f"{_TITLE} needs a causal series backbone (gru or lstm); {name} is not one."),
                field="method.backbone",
            )
        if int(getattr(backbone, "downsample", 1) or 1) != 1:
            raise UserError(
                f"{_TITLE} needs one hidden state per time step; the {name} backbone summarises several "
                "steps per state. Use gru or lstm.",
                field="method.backbone",
            )
        raise_first(horizon_problems(hparams, SetupFacts(info)), "autoregressive")  # as Setup shows it
        self.channels = int(info.sample_shape[0])
        self.horizon = int(hparams["horizon"])
        width = int(getattr(backbone, "sequence_dim", None) or self.feature_dim)
        out = self.channels * self.horizon
        hidden = int(hparams["head_hidden"])
        self.head = (
            nn.Sequential(nn.Linear(width, hidden), nn.GELU(), nn.Linear(hidden, out))
            if hidden
            else nn.Linear(width, out)
        )

    def predict(self, x: torch.Tensor) -> torch.Tensor:
        """(B, T, horizon, C): at step t, the predictions of x[:, :, t + 1] ... x[:, :, t + horizon]."""
        b, _, t = x.shape
        states = self.backbone.forward_sequence(x)  # (B, T, D), causal
        return self.head(states).float().view(b, t, self.horizon, self.channels)

    def step_errors(self, x: torch.Tensor) -> torch.Tensor:
        """Mean squared error per sample and step ahead (B, horizon), over all steps that have a target."""
        pred = self.predict(x)
        target = x.float().transpose(1, 2)  # (B, T, C)
        t = target.shape[1]
        errors = [
            (pred[:, : t - k, k - 1] - target[:, k:]).pow(2).mean(dim=(1, 2))
            for k in range(1, min(self.horizon, t - 1) + 1)
        ]
        return torch.stack(errors, dim=1)

    def training_step(self, images: torch.Tensor, ctx: StepContext) -> StepOutput:
        errors = self.step_errors(images)
        loss = errors.mean()
        if self.horizon == 1:
            return StepOutput(loss)
        return StepOutput(loss, {"next_step": errors[:, 0].mean().detach()})

    @torch.no_grad()
    def forecast(self, history: torch.Tensor, steps: int) -> torch.Tensor:
        """Continue each series (B, C, t0) by `steps` values (B, C, steps), feeding predictions back in.

        Each round reads the series so far and appends the `horizon` values predicted from its last
        hidden state. Call it in eval mode (BatchNorm-free recurrent backbones do not care).
        """
        seq = history.float()
        made: list[torch.Tensor] = []
        produced = 0
        while produced < steps:
            ahead = self.predict(seq)[:, -1]  # (B, horizon, C) from the last state
            take = min(self.horizon, steps - produced)
            block = ahead[:, :take].transpose(1, 2)  # (B, C, take)
            made.append(block)
            seq = torch.cat([seq, block], dim=-1)
            produced += take
        if not made:
            return history.new_zeros(history.shape[0], history.shape[1], 0).float()
        return torch.cat(made, dim=-1)

    @torch.no_grad()
    def preview(self, images: torch.Tensor, generator: torch.Generator) -> Preview:
        x = images.float()
        t = x.shape[-1]
        cut = min(t - 1, max(1, round(FORECAST_CUT * t)))
        with eval_mode(self):
            future = self.forecast(x[..., :cut], t - cut)
        nan = float("nan")
        history = x.clone()
        history[..., cut:] = nan
        truth = x.clone()
        truth[..., :cut] = nan
        prediction = torch.full_like(x, nan)
        prediction[..., cut:] = future
        error = (future - x[..., cut:]).pow(2).mean(dim=(1, 2))
        flat = (x[..., cut - 1 : cut] - x[..., cut:]).pow(2).mean(dim=(1, 2))  # "it stays where it was"
        captions = [
            f"forecast error {e:.3g} (holding the last value: {f:.3g})"
            for e, f in zip(error.tolist(), flat.tolist(), strict=True)
        ]
        finish = self.modality.finish_preview
        return self.make_preview(
            "forecast",
            {"history": finish(history), "truth": finish(truth), "prediction": finish(prediction)},
            prediction=captions,
        )

    @torch.no_grad()
    def anomaly_scores(self, images: torch.Tensor) -> torch.Tensor:
        """Mean squared error of the model's predictions of each next step (B,), in standardised units."""
        with eval_mode(self):
            return self.step_errors(images).mean(dim=1)


SPEC = MethodSpec(
    name="autoregressive",
    title=_TITLE,
    family="predictive",
    summary="Read each series step by step and predict the next value, as a forecaster would.",
    description=(
        "Next-step prediction reads each series from the start, one step at a time, and at every step "
        "guesses the values that come next, like a weather forecaster who only knows the past. To guess "
        "well it must track where the series is heading: its rhythm, its trend and the state of each "
        "channel, and that running summary becomes the representation. It needs a backbone that cannot "
        "peek ahead (a GRU or an LSTM), and the preview shows how it continues a series on its own from "
        "60% of the way in. Series it predicts badly are unusual, which gives anomaly scores."
    ),
    params=params(
        Param(
            "horizon",
            1,
            "How many steps ahead each hidden state predicts: 1 is classic next-step prediction; larger "
            "values ask for the next few steps at once, which rewards knowing the trend over copying the "
            "last value.",
            low=1,
            high=64,
            label="Steps ahead predicted",
        ),
        Param(
            "head_hidden",
            0,
            "Hidden units of the prediction head on top of each hidden state; 0 uses a single linear "
            "layer, which keeps the work in the backbone.",
            low=0,
            high=1024,
            label="Prediction head width",
            zero_label="Single linear layer",
        ),
    ),
    factory=NextStepPrediction,
    setup_check=horizon_problems,
    optim=SMALL_SERIES_OPTIM,
    preview_kind="forecast",
    paper=(
        "Elman, Finding Structure in Time, Cognitive Science 1990; Graves, Generating Sequences with "
        "Recurrent Neural Networks, 2013"
    ),
    modalities=("series",),
    preferred_backbone={"series": "gru"},
    backbone_requirement=backbone_requirement,
)
NextStepPrediction.spec = SPEC
