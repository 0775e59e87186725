"""SimCSE: two passes of the same sentences through the encoder, different only by dropout, are a positive
pair; every other sentence of the batch is a negative."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ssl_core.data.base import DataInfo
from ssl_core.errors import UserError
from ssl_core.losses import info_nce_in_batch
from ssl_core.losses._precision import normalize
from ssl_core.methods._text_lm import TEXT_OPTIM, backbone_dropout, text_backbone_reason, tokenizer_of
from ssl_core.methods.base import MethodSpec, Preview, SSLMethod, StepContext, StepOutput
from ssl_core.params import Param, params

_TITLE = "SimCSE (dropout views)"
PREVIEW_NEIGHBOURS = 3


def backbone_requirement(bspec: Any) -> str | None:
    reason = text_backbone_reason(_TITLE, bspec, ("text_transformer", "text_gpt", "text_gru", "text_lstm"))
    if reason:
        return reason
    if bspec.name == "word2vec":
        return (
            f"{_TITLE} makes its two views of a sentence with dropout inside the network; the word2vec "
            "backbone is a plain table of word vectors with no dropout. Use text_transformer."
        )
    return None


def no_dropout_reason(backbone: nn.Module) -> str | None:
    """Why the backbone cannot make SimCSE's views: it drops nothing, so both passes would be equal."""
    if backbone_dropout(backbone) > 0:
        return None
    name = getattr(backbone, "name", type(backbone).__name__)
    return (
        f"{_TITLE} makes its two views of a sentence with dropout, but the {name} backbone has dropout 0, so "
        "both passes would be identical and there would be nothing to learn; set "
        "method.backbone_params.dropout to 0.1 (or choose a backbone with dropout)."
    )


class SimCSE(SSLMethod):
    """z1 = proj(f(x)), z2 = proj(f(x)) with independent dropout masks (the model is in train mode); InfoNCE
    over the batch with a low temperature (0.05). The representation is the encoder's mean token state,
    without the projection (as in SimCSE, which drops its MLP at test time)."""

    def __init__(self, backbone: nn.Module, hparams: dict[str, Any], info: DataInfo):
        super().__init__(backbone, hparams, info)
        reason = no_dropout_reason(backbone)
        if reason:
            raise UserError(reason, field="method.backbone_params")
        dim = self.feature_dim
        self.projector = (
            nn.Sequential(nn.Linear(dim, dim), nn.Tanh()) if hparams["projection"] else nn.Identity()
        )

    def embed(self, ids: torch.Tensor) -> torch.Tensor:
        return self.projector(self.backbone(ids))

    def training_step(self, images: torch.Tensor, ctx: StepContext) -> StepOutput:
        z1, z2 = self.embed(images), self.embed(images)  # two dropout masks: the two views
        loss, accuracy = info_nce_in_batch(z1, z2, float(self.hparams["temperature"]), gather=ctx.gather)
        return StepOutput(loss, {"contrast_acc": accuracy})

    @torch.no_grad()
    def similar_rows(self, ids: torch.Tensor, k: int = PREVIEW_NEIGHBOURS) -> list[dict]:
        """For each sentence: the most similar other sentences of the set, by cosine of the features."""
        tokenizer = tokenizer_of(self)
        texts = [tokenizer.decode(row) for row in ids]
        z = normalize(self.backbone(ids).float())
        sims = z @ z.t()
        sims.fill_diagonal_(float("-inf"))
        rows = []
        for i, text in enumerate(texts):
            values, order = sims[i].topk(min(k, len(texts) - 1)) if len(texts) > 1 else (sims[i][:0],) * 2
            top = [
                [texts[j], round(float(v), 3)] for v, j in zip(values.tolist(), order.tolist(), strict=True)
            ]
            rows.append({"kind": "neighbours", "word": text, "top": top})
        return rows

    @torch.no_grad()
    def preview(self, images: torch.Tensor, generator: torch.Generator) -> Preview:
        rows = self.similar_rows(images)
        preview = self.make_preview("prediction", {"input": images.float()})
        preview.meta = {**preview.meta, "text_rows": rows}
        return preview


SPEC = MethodSpec(
    name="simcse",
    title=_TITLE,
    family="contrastive",
    summary="Two passes of a sentence with different random dropout must agree; other sentences must not.",
    description=(
        "SimCSE learns sentence vectors with the simplest possible pair of views: the same sentence, read "
        "twice. The network switches off a random few of its own numbers on each reading (dropout), so the "
        "two readings differ a little, and it learns to give both nearly the same vector while keeping "
        "them far from the vectors of the other sentences in the batch. It needs a backbone with dropout "
        "above 0. The preview shows, for a few held-out sentences, which of the others the network finds "
        "most similar and how similar (cosine, 1 = the same direction)."
    ),
    params=params(
        Param(
            "temperature",
            0.05,
            "Softmax temperature of the InfoNCE loss over cosine similarities (SimCSE: 0.05); lower values "
            "push hardest on the most similar other sentences.",
            low=0.01,
            high=1.0,
            log_scale=True,
            label="Temperature",
        ),
        Param(
            "projection",
            True,
            "Train through a small dense + tanh layer on top of the sentence vector (as SimCSE does), "
            "which is left out of the features used afterwards.",
            label="Projection layer while training",
        ),
    ),
    factory=SimCSE,
    optim=TEXT_OPTIM,
    preview_kind="prediction",
    paper="Gao, Yao & Chen, SimCSE: Simple Contrastive Learning of Sentence Embeddings, EMNLP 2021",
    modalities=("text",),
    preferred_backbone={"text": "text_transformer"},
    backbone_requirement=backbone_requirement,
)
SimCSE.spec = SPEC
