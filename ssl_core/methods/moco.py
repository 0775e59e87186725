"""MoCo v2: contrast queries with momentum-encoded keys, using a queue of past keys as negatives."""

from __future__ import annotations

import logging
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ssl_core.data.base import DataInfo
from ssl_core.distributed import all_gather_no_grad
from ssl_core.distributed.context import broadcast_tensors_
from ssl_core.distributed.shuffle import shuffle_batch, unshuffle_batch
from ssl_core.losses import info_nce_queue
from ssl_core.methods._joint import VIEWS_ON_SERIES, JointEmbeddingMethod
from ssl_core.methods._momentum import cosine_momentum, ema_update, momentum_copy
from ssl_core.methods.base import MethodSpec, OptimDefaults, StepContext, StepOutput
from ssl_core.methods.projection_params import projection_params
from ssl_core.models.heads import moco_projector
from ssl_core.params import Param, params

log = logging.getLogger(__name__)


class MoCo(JointEmbeddingMethod):
    """Symmetrised MoCo v2: each view's query is matched with the other view's key, both against the queue
    as it was before the step, and the two losses are averaged; then both views' keys are enqueued: 2B keys
    per step for a batch of B, where MoCo v2 is asymmetric and enqueues B (docs/method_defaults.md).

    The queue (queue_size, proj_out_dim) of L2-normalised keys and its write pointer are buffers, so a
    checkpoint restores them and a resumed run sees the same negatives.

    With several processes (`ctx.gather`), each process enqueues the keys of the whole global batch (in
    rank order, so the pointer advances by the global key count) and the queues stay identical; a key
    encoder with BatchNorm gets MoCo's shuffled BatchNorm across processes
    (ssl_core.distributed.shuffle). One process runs the plain path whatever ctx.gather says.
    """

    def __init__(self, backbone: nn.Module, hparams: dict[str, Any], info: DataInfo):
        super().__init__(backbone, hparams, info, "moco_v2")
        out_dim = hparams["proj_out_dim"]
        self.projector = moco_projector(self.feature_dim, hparams["proj_hidden_dim"], out_dim)
        self.momentum_backbone = momentum_copy(self.backbone)
        self.momentum_projector = momentum_copy(self.projector)
        self.momentum = float(hparams["base_momentum"])
        size = int(hparams["queue_size"])
        # Random unit vectors stand in for keys until real ones arrive, as in the reference code.
        self.register_buffer("queue", F.normalize(torch.randn(size, out_dim), dim=1))
        self.register_buffer("queue_ptr", torch.zeros((), dtype=torch.long))
        self._shuffle_bn: bool | None = None  # whether the key encoder needs shuffled BatchNorm (lazy)
        self._queue_synced = False  # set once rank 0's queue has been broadcast (several processes)
        if info.size and size > info.size:
            message = (
                f"MoCo queue_size {size} exceeds the {info.size} {self.modality.plural} of {info.name}: the "
                f"queue will hold older keys of the same {self.modality.plural} as negatives; consider a "
                "queue_size below the dataset size."
            )
            log.warning(message)
            self.setup_warnings.append(message)

    @torch.no_grad()
    def _keys(self, views: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.momentum_projector(self.momentum_backbone(views)).float(), dim=1)

    def _key_encoder_has_batch_norm(self) -> bool:
        """True when the key encoder normalises with per-process batch statistics (plain BatchNorm; a
        SyncBatchNorm already uses the global batch's, so shuffling would hide nothing)."""
        if self._shuffle_bn is None:
            modules = [*self.momentum_backbone.modules(), *self.momentum_projector.modules()]
            self._shuffle_bn = any(
                isinstance(m, nn.modules.batchnorm._BatchNorm) and not isinstance(m, nn.SyncBatchNorm)
                for m in modules
            )
        return self._shuffle_bn

    @torch.no_grad()
    def _global_keys(self, views: torch.Tensor, ctx: StepContext) -> tuple[torch.Tensor, torch.Tensor]:
        """(this process's keys, every process's keys in rank order) of `views`, with MoCo's shuffled
        BatchNorm when the key encoder has BatchNorm: the global batch is shuffled across the processes
        before the key encoder and the keys unshuffled after it, so a query and its key are never
        normalised with statistics of the same sub-batch. The permutation is drawn from rank 0's
        generator. Called with several processes only."""
        if self._key_encoder_has_batch_norm():
            shuffled, shuffle = shuffle_batch(views, ctx.generator)
            return unshuffle_batch(self._keys(shuffled), shuffle)
        keys = self._keys(views)
        return keys, all_gather_no_grad(keys)

    @torch.no_grad()
    def _enqueue(self, keys: torch.Tensor) -> None:
        size = self.queue.shape[0]
        keys = keys[-size:]  # a batch larger than the queue keeps its newest keys
        idx = (self.queue_ptr + torch.arange(keys.shape[0], device=keys.device)) % size
        self.queue[idx] = keys.to(self.queue.dtype)
        self.queue_ptr.copy_((self.queue_ptr + keys.shape[0]) % size)

    def training_step(self, images: torch.Tensor, ctx: StepContext) -> StepOutput:
        v1, v2 = self.make_views(images, ctx.generator)
        q1 = self.projector(self.backbone(v1))
        q2 = self.projector(self.backbone(v2))
        if ctx.gather and self.training:
            # Several processes: every process enqueues the keys of the whole global batch, so the queues
            # stay identical (a queue drawn differently on some process is replaced by rank 0's first).
            if not self._queue_synced:
                broadcast_tensors_(self.queue, self.queue_ptr)
                self._queue_synced = True
            (k1, all1), (k2, all2) = self._global_keys(v1, ctx), self._global_keys(v2, ctx)
        else:
            k1, k2 = self._keys(v1), self._keys(v2)
            all1, all2 = k1, k2
        t = self.hparams["temperature"]
        loss = (info_nce_queue(q1, k2, self.queue, t) + info_nce_queue(q2, k1, self.queue, t)) / 2
        if self.training:  # evaluation passes must not change the negatives
            self._enqueue(torch.cat([all1, all2]))
        return StepOutput(loss)

    @torch.no_grad()
    def after_optimizer_step(self, ctx: StepContext) -> None:
        self.momentum = cosine_momentum(self.hparams["base_momentum"], ctx.step, ctx.total_steps)
        ema_update(self.momentum_backbone, self.backbone, self.momentum)
        ema_update(self.momentum_projector, self.projector, self.momentum)


SPEC = MethodSpec(
    name="moco",
    title="MoCo v2",
    family="contrastive",
    summary="Contrastive learning with a slowly moving key encoder and a large queue of negatives.",
    description=(
        "MoCo plays the same matching game as SimCLR: two views of one image should look alike, views of "
        "different images should not. Instead of needing a huge batch for negatives, it keeps a queue of "
        "thousands of embeddings from recent batches. Those embeddings come from a second 'momentum' "
        "encoder, a slowly updated average of the main one, so the queued entries stay consistent with "
        "each other. This lets MoCo learn well with modest batches and memory."
    )
    + VIEWS_ON_SERIES,
    paper="Chen, Fan, Girshick & He, Improved Baselines with Momentum Contrastive Learning, 2020 (MoCo v2)",
    params=params(
        Param(
            "temperature",
            0.2,
            "Softmax temperature of the InfoNCE loss (MoCo v2 uses 0.2).",
            low=0.01,
            high=2.0,
            log_scale=True,
            label="Temperature",
        ),
        Param(
            "queue_size",
            4096,
            "Number of past keys kept as negatives (paper: 65,536 for ImageNet; the MoCo authors' CIFAR-10 "
            "demo: 4,096). Keep it well below the number of training images, or the queue will contain "
            "older views of the very images being matched.",
            low=256,
            high=65536,
            log_scale=True,
            label="Past examples kept",
        ),
        Param(
            "base_momentum",
            0.99,
            "Starting momentum of the key encoder; it rises along a cosine to 1.0 by the end of training "
            "(BYOL's schedule; MoCo v2 keeps a constant 0.999). Higher values make the keys change more "
            "slowly; short runs need keys that keep up.",
            low=0.9,
            high=1.0,
            label="Slow copy's momentum",
        ),
        *projection_params(
            512,
            128,
            "Width of the projector's hidden layer (paper: 2048, ResNet-50's width; 512 for the small "
            "backbones here, as SimCLR's).",
            "Size of the embedding stored in the queue (paper: 128).",
        ),
    ),
    factory=MoCo,
    # The paper: SGD, lr 0.03 per 256, momentum 0.9, weight decay 1e-4. Measured on digits (10 epochs, probe
    # with 10% of the labels, 3 seeds): SGD at 0.03 0.943±0.005, AdamW at 1e-3 0.942±0.008; base momentum
    # 0.999 0.939±0.009 against 0.99's 0.942±0.008. Neither paper value is better; AdamW as every method here.
    optim=OptimDefaults(optimizer="adamw", lr=1e-3, weight_decay=1e-4, warmup_epochs=1.0, batch_size=256),
    preview_kind="views",
    modalities=("image", "series", "table", "text", "audio"),
)
MoCo.spec = SPEC
