"""SimSiam: a Siamese network with a predictor and a stop-gradient; no negatives, no momentum encoder."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ssl_core.data.base import DataInfo
from ssl_core.losses import negative_cosine
from ssl_core.methods._joint import VIEWS_ON_SERIES, JointEmbeddingMethod
from ssl_core.methods.base import MethodSpec, OptimDefaults, StepContext, StepOutput
from ssl_core.methods.projection_params import predictor_param
from ssl_core.models.heads import simsiam_predictor, simsiam_projector
from ssl_core.params import Param, params


class SimSiam(JointEmbeddingMethod):
    def __init__(self, backbone: nn.Module, hparams: dict[str, Any], info: DataInfo):
        super().__init__(backbone, hparams, info, "simsiam")
        dim = hparams["proj_dim"]
        self.projector = simsiam_projector(self.feature_dim, dim, dim)
        self.predictor = simsiam_predictor(dim, hparams["pred_hidden_dim"])

    def training_step(self, images: torch.Tensor, ctx: StepContext) -> StepOutput:
        v1, v2 = self.make_views(images, ctx.generator)
        z1 = self.projector(self.backbone(v1))
        z2 = self.projector(self.backbone(v2))
        p1, p2 = self.predictor(z1), self.predictor(z2)
        # negative_cosine stops the gradient through its second argument.
        loss = (negative_cosine(p1, z2) + negative_cosine(p2, z1)) / 2
        return StepOutput(loss)


SPEC = MethodSpec(
    name="simsiam",
    title="SimSiam",
    family="self-distillation",
    summary="Predict one view's embedding from the other's, with a stop-gradient instead of negatives.",
    description=(
        "SimSiam is the simplest of the self-distillation methods. One network embeds two views of an "
        "image, and a small predictor head tries to turn the first view's embedding into the second's. "
        "The trick is that the second embedding is treated as a fixed target for that step (a "
        "'stop-gradient'), which keeps the network from taking the shortcut of giving every image the same "
        "embedding. It needs neither negative examples nor a momentum encoder, so it is cheap and easy to "
        "run. Its loss goes from 0 towards -1 as the views agree."
    )
    + VIEWS_ON_SERIES,
    paper="Chen & He, Exploring Simple Siamese Representation Learning, CVPR 2021",
    params=params(
        Param(
            "proj_dim",
            512,
            "Width and output size of the three-layer projector (paper: 2048).",
            low=16,
            high=16384,
            label="Projection head width",
        ),
        predictor_param(
            128,
            "Bottleneck width of the predictor; a quarter of proj_dim, as in the paper (512 of 2048).",
            low=8,
        ),
    ),
    factory=SimSiam,
    # The paper: SGD at 0.05 per 256, the predictor's rate not decayed. Here the predictor follows the same
    # schedule as the rest: measured on digits (10 epochs, probe with 10% of the labels, 5 seeds), a fixed
    # predictor rate gave 0.911±0.014 against 0.910±0.013, no better. AdamW: see simclr.py.
    optim=OptimDefaults(optimizer="adamw", lr=2e-3, weight_decay=1e-4, warmup_epochs=1.0, batch_size=256),
    preview_kind="views",
    modalities=("image", "series", "table", "text", "audio"),
)
SimSiam.spec = SPEC
