"""Barlow Twins: make the cross-correlation of two views' embeddings close to the identity matrix."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ssl_core.data.base import DataInfo
from ssl_core.losses import barlow_twins_loss
from ssl_core.methods._joint import VIEWS_ON_SERIES, JointEmbeddingMethod
from ssl_core.methods.base import MethodSpec, OptimDefaults, StepContext, StepOutput
from ssl_core.methods.projection_params import projection_params
from ssl_core.models.heads import wide_projector
from ssl_core.params import Param, params


class BarlowTwins(JointEmbeddingMethod):
    def __init__(self, backbone: nn.Module, hparams: dict[str, Any], info: DataInfo):
        super().__init__(backbone, hparams, info, "barlow")
        self.projector = wide_projector(self.feature_dim, hparams["proj_hidden_dim"], hparams["proj_out_dim"])

    def training_step(self, images: torch.Tensor, ctx: StepContext) -> StepOutput:
        v1, v2 = self.make_views(images, ctx.generator)
        z1 = self.projector(self.backbone(v1))
        z2 = self.projector(self.backbone(v2))
        loss, parts = barlow_twins_loss(z1, z2, self.hparams["lambd"], gather=ctx.gather)
        return StepOutput(loss, parts)


SPEC = MethodSpec(
    name="barlow_twins",
    title="Barlow Twins",
    family="redundancy reduction",
    summary="Make the two views' embeddings agree, dimension by dimension, while decorrelating dimensions.",
    description=(
        "Barlow Twins compares two views of each image feature by feature. Across a batch it measures how "
        "strongly every feature of the first view correlates with every feature of the second view, and "
        "trains the network so that each feature agrees with itself (correlation 1) and is unrelated to "
        "all others (correlation 0). Agreement makes the features ignore the augmentations; "
        "decorrelation forces each feature to carry different information, which rules out collapse "
        "without negative examples or momentum encoders. It likes wide projectors."
    )
    + VIEWS_ON_SERIES,
    paper="Zbontar et al., Barlow Twins: Self-Supervised Learning via Redundancy Reduction, ICML 2021",
    params=params(
        Param(
            "lambd",
            0.005,
            "Weight of the off-diagonal (redundancy) term relative to the on-diagonal (invariance) term "
            "(paper: 5e-3).",
            low=1e-4,
            high=0.1,
            log_scale=True,
            label="Lambda",
        ),
        *projection_params(
            1024,
            1024,
            "Width of the projector's hidden layers (paper: 8192; 1024 here, as the loss's D x D "
            "cross-correlation at 8192 would dominate a CPU step).",
            "Size of the embedding whose cross-correlation is computed (paper: 8192).",
            out_low=16,
        ),
    ),
    factory=BarlowTwins,
    # The paper: LARS at batch 2048, lr 0.2 per 256. AdamW as SimCLR here (simclr.py); measured on digits
    # (10 epochs, probe with 10% of the labels, 3 seeds), SGD at lightly's 0.06 is no better: 0.940±0.001
    # against 0.942±0.008.
    optim=OptimDefaults(optimizer="adamw", lr=2e-3, weight_decay=1e-4, warmup_epochs=1.0, batch_size=256),
    preview_kind="views",
    modalities=("image", "series", "table", "text", "audio"),
)
BarlowTwins.spec = SPEC
