"""NNCLR: contrastive learning whose positive is the nearest neighbour of a view in a support set."""

from __future__ import annotations

import logging
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ssl_core.data.base import DataInfo
from ssl_core.distributed import all_gather_no_grad
from ssl_core.losses.nnclr import nnclr_loss
from ssl_core.methods._joint import VIEWS_ON_SERIES, JointEmbeddingMethod
from ssl_core.methods.base import MethodSpec, OptimDefaults, StepContext, StepOutput
from ssl_core.methods.projection_params import predictor_param, projection_params
from ssl_core.models.heads import byol_mlp, mlp
from ssl_core.params import Param, params

log = logging.getLogger(__name__)


@torch.no_grad()
def nearest_neighbours(z: torch.Tensor, support: torch.Tensor) -> torch.Tensor:
    """For each row of z (N, D), the row of support (K, D) with the highest cosine similarity (N, D).

    Computed in float32 (autocast off): near-ties between neighbours are common and fp16 would pick
    among them at random. The result is detached and L2-normalised.
    """
    with torch.autocast(device_type=z.device.type, enabled=False):
        z = F.normalize(z.detach().float(), dim=1)
        support = F.normalize(support.float(), dim=1)
        return support[(z @ support.t()).argmax(dim=1)]


def nnclr_projector(in_dim: int, hidden_dim: int, out_dim: int) -> nn.Sequential:
    """NNCLR: three Linear layers with BN after each (the last BN keeps its affine parameters)."""
    return mlp(in_dim, hidden_dim, out_dim, num_layers=3, hidden_bn=True, last_bn=True)


class NNCLR(JointEmbeddingMethod):
    """Symmetrised NNCLR with a support queue of view-1 projections.

    The support set (queue_size, proj_out_dim) of L2-normalised projections, its write pointer and the
    number of rows filled so far are buffers, so a checkpoint restores them and a resumed run finds the
    same neighbours. The reference code starts from random unit vectors; here neighbours are searched
    among the filled rows only, and before the first batch is stored each projection is its own
    neighbour (the very first step is then SimCLR's loss with a predictor), so no step trains towards
    random vectors. With several processes (`ctx.gather`) every process enqueues the projections of the
    whole global batch, so the support sets stay identical, and the predictions of every process are the
    loss's negatives.
    """

    def __init__(self, backbone: nn.Module, hparams: dict[str, Any], info: DataInfo):
        super().__init__(backbone, hparams, info, "byol")  # the paper uses BYOL's augmentations
        out_dim = hparams["proj_out_dim"]
        self.projector = nnclr_projector(self.feature_dim, hparams["proj_hidden_dim"], out_dim)
        self.predictor = byol_mlp(out_dim, hparams["pred_hidden_dim"], out_dim)
        size = int(hparams["queue_size"])
        self.register_buffer("support", torch.zeros(size, out_dim))
        self.register_buffer("support_ptr", torch.zeros((), dtype=torch.long))
        self.register_buffer("support_filled", torch.zeros((), dtype=torch.long))
        if info.size and size > info.size:
            message = (
                f"NNCLR queue_size {size} exceeds the {info.size} {self.modality.plural} of {info.name}: the "
                f"nearest neighbour of a view will often be an older view of the same {self.modality.noun} "
                f"rather than another {self.modality.noun}; consider a queue_size below the dataset size."
            )
            log.warning(message)
            self.setup_warnings.append(message)

    def neighbours(self, z: torch.Tensor) -> torch.Tensor:
        """Nearest neighbours of projections z in the filled part of the support set (z itself when empty)."""
        filled = int(self.support_filled)
        if filled == 0:
            return F.normalize(z.detach().float(), dim=1)
        return nearest_neighbours(z, self.support[:filled])

    @torch.no_grad()
    def _enqueue(self, z: torch.Tensor) -> None:
        size = self.support.shape[0]
        z = F.normalize(z.detach().float(), dim=1)[-size:]  # a batch larger than the queue keeps its newest
        idx = (self.support_ptr + torch.arange(z.shape[0], device=z.device)) % size
        self.support[idx] = z.to(self.support.dtype)
        self.support_ptr.copy_((self.support_ptr + z.shape[0]) % size)
        self.support_filled.copy_(torch.clamp(self.support_filled + z.shape[0], max=size))

    def training_step(self, images: torch.Tensor, ctx: StepContext) -> StepOutput:
        v1, v2 = self.make_views(images, ctx.generator)
        z1 = self.projector(self.backbone(v1))
        z2 = self.projector(self.backbone(v2))
        p1, p2 = self.predictor(z1), self.predictor(z2)
        t = self.hparams["temperature"]
        nn1, nn2 = self.neighbours(z1), self.neighbours(z2)
        loss = (nnclr_loss(nn1, p2, t, gather=ctx.gather) + nnclr_loss(nn2, p1, t, gather=ctx.gather)) / 2
        if self.training:  # evaluation passes must not change the support set
            # The reference stores view 1's projections only; several processes store every process's
            # (gathered in rank order), so each process's support set stays the same.
            self._enqueue(all_gather_no_grad(z1) if ctx.gather else z1)
        return StepOutput(loss)


SPEC = MethodSpec(
    name="nnclr",
    title="NNCLR",
    family="contrastive",
    summary="Contrast each view with its nearest neighbour from a memory of past samples, not just itself.",
    description=(
        "NNCLR plays SimCLR's matching game with a twist. It keeps a memory of the embeddings of recently "
        "seen samples, and instead of matching a view with the other view of the same image, it matches "
        "the other view with the most similar sample in that memory: its nearest neighbour. The neighbour "
        "is a different picture of something similar (another handwritten 3, another dog), so the network "
        "learns what similar things have in common, which plain augmentations cannot show it. Other "
        "samples in the batch still serve as negative examples, and a small predictor head helps it "
        "train."
    )
    + VIEWS_ON_SERIES,
    paper=(
        "Dwibedi et al., With a Little Help from My Friends: Nearest-Neighbor Contrastive Learning of "
        "Visual Representations, ICCV 2021"
    ),
    params=params(
        Param(
            "temperature",
            0.2,
            "Softmax temperature of the contrastive loss. Lower values focus on the hardest negatives. The "
            "paper's 0.1 is for batches of 4096; with batches of a few hundred 0.2 learns better (digits, "
            "15 epochs: 68% with 10 labels against 60% at 0.1).",
            low=0.01,
            high=2.0,
            log_scale=True,
            label="Temperature",
        ),
        Param(
            "queue_size",
            2048,
            "Number of past embeddings searched for nearest neighbours (paper: 98,304 for ImageNet's 1.28 "
            "million images). Larger finds closer neighbours; keep it below the number of training samples, "
            "or a view's neighbour is often an older view of itself.",
            low=64,
            high=131072,
            log_scale=True,
            label="Past examples kept",
        ),
        *projection_params(
            512,
            128,
            "Width of the projector's hidden layers (paper: 2048).",
            "Size of the embedding stored in the memory and compared by the loss (paper: 256).",
        ),
        predictor_param(),
    ),
    factory=NNCLR,
    # The paper trains with LARS at a batch of 4096; AdamW at SimCLR's rate suits the small batches here.
    optim=OptimDefaults(optimizer="adamw", lr=2e-3, weight_decay=1e-4, warmup_epochs=1.0, batch_size=256),
    preview_kind="views",
    modalities=("image", "series", "table", "text", "audio"),
)
NNCLR.spec = SPEC
