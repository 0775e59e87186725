"""SwAV: cluster each image's crops online, and predict one crop's cluster from another crop."""

from __future__ import annotations

import logging
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ssl_core.data.base import DataInfo
from ssl_core.distributed import all_gather_no_grad
from ssl_core.losses import sinkhorn_knopp, swav_loss
from ssl_core.methods._multicrop import MULTI_CROP_WORDS, MultiCropMethod, local_size_param, n_local_param
from ssl_core.methods.base import MethodSpec, OptimDefaults, StepContext, StepOutput
from ssl_core.methods.projection_params import projection_params
from ssl_core.models.heads import mlp
from ssl_core.params import Param, params

log = logging.getLogger(__name__)


class SwAV(MultiCropMethod):
    """Backbone + projector (Linear-BN-ReLU-Linear, L2-normalised output) + K prototypes (a bias-free linear
    layer whose rows are kept at unit length), on multi-crop views.

    For each global crop, Sinkhorn-Knopp turns the batch's prototype scores into balanced codes; every other
    crop predicts them (`swav_loss`). The prototypes get no gradient during the first `freeze_prototypes`
    of training (SwAV's `freeze_prototypes_niters`). With `queue_size` > 0, the embeddings of the last
    batches' global crops are kept in a buffer (saved with checkpoints) and, once it is full, scored along
    with the batch so the codes are balanced over more samples than one small batch holds.

    With several processes (`ctx.gather`), Sinkhorn-Knopp balances the codes over the global batch (its
    prototype totals all-reduced) and the queue takes every process's embeddings, so it stays identical on
    every process and counts once in the balance: the codes are those of one process on the concatenated
    batch.
    """

    def __init__(self, backbone: nn.Module, hparams: dict[str, Any], info: DataInfo):
        super().__init__(backbone, hparams, info, "swav")
        out_dim = int(hparams["proj_out_dim"])
        self.projector = mlp(self.feature_dim, int(hparams["proj_hidden_dim"]), out_dim, num_layers=2)
        self.prototypes = nn.Linear(out_dim, int(hparams["n_prototypes"]), bias=False)
        with torch.no_grad():
            self.prototypes.weight.copy_(F.normalize(self.prototypes.weight, dim=1))
        size = int(hparams["queue_size"])
        # One queue per global crop, newest first; zeros until filled (rows of zeros are never scored).
        self.register_buffer("queue", torch.zeros(2, size, out_dim))
        if size and info.size and size > info.size:
            message = (
                f"SwAV queue_size {size} exceeds the {info.size} images of {info.name}: the queue would hold "
                "the same images twice; consider a queue_size below the dataset size."
            )
            log.warning(message)
            self.setup_warnings.append(message)

    @torch.no_grad()
    def normalize_prototypes(self) -> None:
        """Rows of the prototype matrix back to unit length (SwAV does this before every step)."""
        self.prototypes.weight.copy_(F.normalize(self.prototypes.weight, dim=1))

    def _queue_ready(self) -> bool:
        # SwAV starts using its queue once it is full: its last row is no longer zero.
        return self.queue.shape[1] > 0 and bool(self.queue[0, -1].abs().sum() > 0)

    @torch.no_grad()
    def codes(
        self, scores: list[torch.Tensor], prototypes: torch.Tensor, gather: bool = False
    ) -> list[torch.Tensor]:
        """Sinkhorn-Knopp codes (B, K) for the two global crops, with the queue's scores when it is full.

        gather=True (several processes): balanced over the global batch, the queue (identical on every
        process) counted once."""
        h, out = self.hparams, []
        use_queue = self._queue_ready()
        for j in range(2):
            s = scores[j].detach().float()
            shared = 0
            if use_queue:
                s = torch.cat([self.queue[j].float() @ prototypes.detach().float().t(), s])
                shared = self.queue.shape[1]
            q = sinkhorn_knopp(s, float(h["epsilon"]), int(h["sinkhorn_iterations"]), gather, shared)
            out.append(q[-scores[j].shape[0] :])
        return out

    @torch.no_grad()
    def _enqueue(self, embeddings: list[torch.Tensor], gather: bool = False) -> None:
        """Newest first; gather=True enqueues every process's embeddings (in rank order), so the queues of
        all processes stay identical."""
        size = self.queue.shape[1]
        if not size:
            return
        for j in range(2):
            new = all_gather_no_grad(embeddings[j]) if gather else embeddings[j]
            new = new.detach().to(self.queue.dtype)[-size:]
            self.queue[j] = torch.cat([new, self.queue[j, : size - new.shape[0]]])

    def training_step(self, images: torch.Tensor, ctx: StepContext) -> StepOutput:
        self.normalize_prototypes()
        crops = self.make_crops(images, ctx.generator)
        features = self.embed_crops(self.backbone, crops)
        z = F.normalize(self.projector(torch.cat(features)).float(), dim=1, eps=1e-6)
        frozen = ctx.step < round(float(self.hparams["freeze_prototypes"]) * ctx.total_steps)
        weight = self.prototypes.weight.detach() if frozen else self.prototypes.weight
        scores = list((z @ weight.float().t()).chunk(len(crops)))
        embeddings = list(z.chunk(len(crops)))
        codes = self.codes(scores, weight, gather=ctx.gather)
        self._enqueue(embeddings[:2], gather=ctx.gather)
        loss = swav_loss(scores, codes, float(self.hparams["temperature"]))
        return StepOutput(loss)


SPEC = MethodSpec(
    name="swav",
    title="SwAV",
    family="contrastive",
    summary="Sort the crops of each image into learned clusters and predict one crop's cluster from another.",
    description=(
        "SwAV (swapping assignments between views) learns a set of 'prototypes', reference points that act "
        "as clusters, together with the network. For each batch it sorts the large crops of every image into "
        "the clusters, making sure the batch is spread evenly over all of them (the Sinkhorn-Knopp "
        "algorithm), so the network cannot put every image in the same cluster. Then every other crop of an "
        "image must predict the cluster of that image's large crops: the prediction is swapped between "
        "crops. It compares images with cluster centres rather than with each other, so it needs no large "
        "batches of negative examples." + MULTI_CROP_WORDS
    ),
    paper="Caron et al., Unsupervised Learning of Visual Features by Contrasting Cluster Assignments, "
    "NeurIPS 2020",
    params=params(
        n_local_param(6, 4),  # 4, not the paper's 6: cheaper on a CPU
        local_size_param(),
        Param(
            "n_prototypes",
            100,
            "Number of prototypes (clusters). The paper uses 3000 for ImageNet's 1000 classes; about 10 "
            "per expected class suits small data sets (100 for the 10 digits) and balances over a batch "
            "of 256.",
            low=2,
            high=65536,
            log_scale=True,
            label="Prototypes",
        ),
        Param(
            "temperature",
            0.1,
            "Softmax temperature of the swapped prediction (paper: 0.1).",
            low=0.01,
            high=1.0,
            log_scale=True,
            label="Temperature",
        ),
        Param(
            "epsilon",
            0.05,
            "Smoothness of the cluster assignments in Sinkhorn-Knopp (paper: 0.05); larger values give "
            "softer codes, smaller ones sharper but less stable codes.",
            low=0.01,
            high=1.0,
            log_scale=True,
            label="Sinkhorn epsilon",
        ),
        Param(
            "sinkhorn_iterations",
            3,
            "Sinkhorn-Knopp iterations per batch (paper: 3).",
            low=1,
            high=50,
            label="Sinkhorn iterations",
        ),
        Param(
            "freeze_prototypes",
            0.05,
            "Fraction of training during which the prototypes are not updated, so they do not chase the "
            "still-random embeddings (paper: the first 313 steps, about one ImageNet epoch at batch 4096). "
            "Short runs here freeze the first 5%.",
            low=0.0,
            high=0.5,
            label="Freeze prototypes",
        ),
        Param(
            "queue_size",
            0,
            "Embeddings of earlier batches kept to balance the clusters over more samples than a batch "
            "holds (paper: 3840 with batches of 256, from epoch 15). 0 keeps no queue; use one for batches "
            "smaller than about 2x the number of prototypes.",
            low=0,
            high=65536,
            label="Queue size",
        ),
        *projection_params(
            512,
            128,
            "Width of the projector's hidden layer (paper: 2048).",
            "Size of the normalised embedding compared with the prototypes (paper: 128).",
        ),
    ),
    factory=SwAV,
    # The paper: LARS SGD, lr 4.8 at batch 4096 (0.3 per 256), weight decay 1e-6, cosine schedule.
    # AdamW at 2e-3 per 256 (as BYOL here) trains the small networks faster; the paper's tiny weight decay.
    optim=OptimDefaults(optimizer="adamw", lr=2e-3, weight_decay=1e-6, warmup_epochs=1.0, batch_size=256),
    preview_kind="views",
    modalities=("image",),
)
SwAV.spec = SPEC
