"""SCARF: contrast each row with a copy whose values are partly replaced by other rows' values."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from ssl_core.data.base import DataInfo
from ssl_core.losses import info_nce_in_batch
from ssl_core.methods.base import MethodSpec, Preview, SSLMethod, StepContext, StepOutput
from ssl_core.methods.projection_params import projection_params
from ssl_core.methods.setup_check import SetupFacts, SetupProblem, raise_first
from ssl_core.methods.vime import SMALL_TABLE_OPTIM
from ssl_core.models.heads import mlp
from ssl_core.params import Param, params

_RATE_FIELD = "method.params(scarf).corruption_rate"


def corrupted_count(rate: float, columns: int) -> int:
    """How many of a row's `columns` SCARF replaces: round(rate * columns)."""
    return round(rate * columns)


def rate_problems(hparams: Mapping[str, Any], facts: SetupFacts) -> list[SetupProblem]:
    """SCARF replaces some of a row's values and keeps others: at least one of each."""
    info = facts.info
    rate, columns = float(hparams["corruption_rate"]), int(info.sample_shape[-1])
    count = corrupted_count(rate, columns)
    if columns < 2:
        words = (
            f"SCARF replaces some of a row's values and keeps the others, but {info.name} has a single "
            "feature column: use a table with at least 2 columns, or another method."
        )
        return [SetupProblem("data.spec", words, detail=words)]
    if 1 <= count < columns:
        return []
    return [
        SetupProblem(
            "corruption_rate",
            f"Replacing a share of {rate:g} changes {count} of the {columns} columns of {info.name}, and "
            f"SCARF needs at least one replaced and one kept: use a share from {1 / columns:.2f} to "
            f"{(columns - 1) / columns:.2f}.",
            detail=(
                f"{_RATE_FIELD} = {rate} replaces {count} of the {columns} columns of {info.name}; SCARF needs "
                f"at least one replaced and one kept. Use a rate from {1 / columns:.2f} to "
                f"{(columns - 1) / columns:.2f}."
            ),
        )
    ]


class SCARF(SSLMethod):
    """Anchor = the row, positive = the row with exactly round(rate * F) cells (chosen per row) taken from
    other random rows of the batch; encoder + 2-layer projection head; InfoNCE of each anchor against all
    positives of the batch (Bahri et al., 2022). The accuracy of picking the own positive is logged."""

    def __init__(self, backbone: nn.Module, hparams: dict[str, Any], info: DataInfo):
        raise_first(rate_problems(hparams, SetupFacts(info)), "scarf")  # the rule Setup shows
        super().__init__(backbone, hparams, info)
        self.projector = mlp(
            self.feature_dim, int(hparams["proj_hidden_dim"]), int(hparams["proj_out_dim"]), num_layers=2
        )

    def positive(self, x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        corrupted, _ = self.modality.corrupt(
            "marginal", x, generator, info=self.info, ratio=float(self.hparams["corruption_rate"]), exact=True
        )
        return corrupted

    def training_step(self, images: torch.Tensor, ctx: StepContext) -> StepOutput:
        anchors = self.projector(self.backbone(images))
        positives = self.projector(self.backbone(self.positive(images, ctx.generator)))
        loss, accuracy = info_nce_in_batch(
            anchors, positives, float(self.hparams["temperature"]), gather=ctx.gather
        )
        return StepOutput(loss, {"accuracy": accuracy})

    @torch.no_grad()
    def preview(self, images: torch.Tensor, generator: torch.Generator) -> Preview:
        return self.make_preview("views", {"corrupted": self.positive(images, generator)})


SPEC = MethodSpec(
    name="scarf",
    title="SCARF",
    family="contrastive",
    summary="Recognise each row among the others after some of its values were swapped for other rows'.",
    description=(
        "SCARF plays SimCLR's matching game with table rows. Each row gets a partner in which a fixed "
        "share of its values, 60% by default, is replaced by values the same columns take in other rows, "
        "and the network must tell which partner belongs to which row among all rows of the batch. To "
        "win it has to rely on the combination of values that makes each row what it is, rather than on "
        "any single column. It needs no decoder and works on numeric and categorical columns alike."
    ),
    params=params(
        Param(
            "corruption_rate",
            0.6,
            "Share of each row's values replaced in its partner (the paper's c, 0.6). Higher makes the "
            "game harder; at least one value must be replaced and one kept.",
            low=0.05,
            high=0.95,
            label="Share of values replaced",
        ),
        Param(
            "temperature",
            1.0,
            "Softmax temperature of the InfoNCE loss (the paper uses 1). Lower values focus on the rows "
            "that are hardest to tell apart; 0.1-1 all work.",
            low=0.01,
            high=2.0,
            log_scale=True,
            label="Temperature",
        ),
        *projection_params(
            256, 128, "Width of the projection head's hidden layer (256 in the paper).", high=4096
        ),
    ),
    factory=SCARF,
    setup_check=rate_problems,
    optim=SMALL_TABLE_OPTIM,
    preview_kind="views",
    paper=(
        "Bahri et al., SCARF: Self-Supervised Contrastive Learning using Random Feature Corruption, ICLR 2022"
    ),
    modalities=("table",),
)
SCARF.spec = SPEC
