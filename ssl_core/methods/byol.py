"""BYOL: predict a slowly moving target network's embedding of another view; no negatives."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ssl_core.data.base import DataInfo
from ssl_core.losses import byol_loss
from ssl_core.methods._joint import VIEWS_ON_SERIES, JointEmbeddingMethod
from ssl_core.methods._momentum import cosine_momentum, ema_update, momentum_copy
from ssl_core.methods.base import MethodSpec, OptimDefaults, StepContext, StepOutput
from ssl_core.methods.projection_params import predictor_param, projection_params
from ssl_core.models.heads import byol_mlp
from ssl_core.params import Param, params


class BYOL(JointEmbeddingMethod):
    def __init__(self, backbone: nn.Module, hparams: dict[str, Any], info: DataInfo):
        super().__init__(backbone, hparams, info, "byol")
        out_dim = hparams["proj_out_dim"]
        self.projector = byol_mlp(self.feature_dim, hparams["proj_hidden_dim"], out_dim)
        self.predictor = byol_mlp(out_dim, hparams["pred_hidden_dim"], out_dim)
        self.target_backbone = momentum_copy(self.backbone)
        self.target_projector = momentum_copy(self.projector)
        self.momentum = float(hparams["base_momentum"])

    @torch.no_grad()
    def _target(self, views: torch.Tensor) -> torch.Tensor:
        return self.target_projector(self.target_backbone(views))

    def training_step(self, images: torch.Tensor, ctx: StepContext) -> StepOutput:
        v1, v2 = self.make_views(images, ctx.generator)
        p1 = self.predictor(self.projector(self.backbone(v1)))
        p2 = self.predictor(self.projector(self.backbone(v2)))
        t1, t2 = self._target(v1), self._target(v2)
        # Symmetrised as BYOL, but averaged rather than summed (BYOL's sum runs 0..8), so the loss stays in
        # one direction's 0..4 range.
        loss = (byol_loss(p1, t2) + byol_loss(p2, t1)) / 2
        return StepOutput(loss)

    @torch.no_grad()
    def after_optimizer_step(self, ctx: StepContext) -> None:
        self.momentum = cosine_momentum(self.hparams["base_momentum"], ctx.step, ctx.total_steps)
        ema_update(self.target_backbone, self.backbone, self.momentum)
        ema_update(self.target_projector, self.projector, self.momentum)


SPEC = MethodSpec(
    name="byol",
    title="BYOL",
    family="self-distillation",
    summary="Predict a slowly updated target network's embedding of another view, without negatives.",
    description=(
        "BYOL trains a network to predict, from one view of an image, what a second 'target' network "
        "outputs for another view of the same image. The target is not trained directly: its weights are "
        "a slowly moving average of the learner's own weights. Because the target always lags a little "
        "behind and only the learner has an extra predictor head, the easy shortcut of mapping every image "
        "to the same point does not happen in practice. No negative examples are needed, so small "
        "batches work well."
    )
    + VIEWS_ON_SERIES,
    paper="Grill et al., Bootstrap Your Own Latent: A New Approach to Self-Supervised Learning, NeurIPS 2020",
    params=params(
        Param(
            "base_momentum",
            0.99,
            "Starting momentum of the target network; it rises along a cosine to 1.0 by the end of "
            "training. Higher values make the target change more slowly (paper: 0.996 for long ImageNet "
            "runs). For runs of only a few hundred steps, 0.9-0.96 lets the target keep up.",
            low=0.9,
            high=1.0,
            label="Slow copy's momentum",
        ),
        *projection_params(
            512,
            128,
            "Width of the projector's hidden layer (paper: 4096).",
            "Size of the projected embedding (paper: 256).",
        ),
        predictor_param(),
    ),
    factory=BYOL,
    # The paper: LARS at batch 4096, lr 0.2 per 256. AdamW as SimCLR here (simclr.py); measured on digits
    # (10 epochs, probe with 10% of the labels, 5 seeds), SGD at lightly's 0.06 is no better: 0.899±0.023
    # against 0.898±0.025.
    optim=OptimDefaults(optimizer="adamw", lr=2e-3, weight_decay=1e-4, warmup_epochs=1.0, batch_size=256),
    preview_kind="views",
    modalities=("image", "series", "table", "text", "audio"),
)
BYOL.spec = SPEC
