"""word2vec: learn one vector per word from the words it appears next to (skip-gram or CBOW, with
negative sampling)."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ssl_core.data.base import DataInfo
from ssl_core.errors import UserError
from ssl_core.methods._text_lm import (
    UnigramCounts,
    configured_vocab,
    input_table,
    text_backbone_reason,
    word_tokens,
)
from ssl_core.methods.base import MethodSpec, OptimDefaults, Preview, SSLMethod, StepContext, StepOutput
from ssl_core.params import Param, params

_TITLE = "word2vec"
# word2vec trains a plain table: a large step (0.025 at batches of 64, word2vec's own starting rate; 0.1 per
# 256, scaled by the batch size) and no weight decay, which would pull rare words' vectors to zero.
WORD2VEC_OPTIM = OptimDefaults(optimizer="adamw", lr=0.1, weight_decay=0.0, warmup_epochs=0.5, batch_size=64)
PREVIEW_WORDS = 6  # frequent words whose neighbours the preview lists
NEIGHBOURS = 5


def backbone_requirement(bspec: Any) -> str | None:
    reason = text_backbone_reason(_TITLE, bspec, ("word2vec",))
    if reason or bspec.name == "word2vec":
        return reason
    return (
        f"{_TITLE} learns a plain table of word vectors; {bspec.name} is a whole network that reads "
        "sentences. Use the word2vec backbone (or masked-token or next-token prediction for this one)."
    )


def context_pairs(ids: torch.Tensor, window: int, reach: torch.Tensor) -> list[tuple[int, torch.Tensor]]:
    """For every offset k in [-window, window] \\ {0}: (k, valid (B, L)) where position t and t + k are both
    real tokens and |k| is within the centre word's drawn reach (word2vec's shrunk window)."""
    words = word_tokens(ids)
    length = ids.shape[1]
    out = []
    for k in range(-window, window + 1):
        if k == 0 or abs(k) >= length:
            continue
        valid = torch.zeros_like(words)
        if k > 0:
            valid[:, :-k] = words[:, :-k] & words[:, k:]
        else:
            valid[:, -k:] = words[:, -k:] & words[:, :k]
        out.append((k, valid & (reach >= abs(k))))
    return out


def shifted(x: torch.Tensor, k: int) -> torch.Tensor:
    """ids (B, L) or vectors (B, L, D) moved so that position t holds what was at t + k (PAD / zeros where
    that is outside the text)."""
    out = torch.zeros_like(x)
    if k > 0:
        out[:, :-k] = x[:, k:]
    else:
        out[:, -k:] = x[:, :k]
    return out


def negative_sampling_loss(
    centre: torch.Tensor, positive: torch.Tensor, negatives: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """(loss, accuracy) of vectors centre (P, D) against their true context vectors (P, D) and K noise
    vectors each (P, K, D): -log sigmoid(u.v) - sum log sigmoid(-u_neg.v), averaged over the pairs. The
    accuracy is the share of pairs whose true context scores above all its noise words."""
    pos = (centre * positive).sum(dim=-1)
    neg = torch.einsum("pd,pkd->pk", centre, negatives)
    loss = -(F.logsigmoid(pos) + F.logsigmoid(-neg).sum(dim=-1)).mean()
    accuracy = (pos.detach().unsqueeze(1) > neg.detach()).all(dim=1).float().mean()
    return loss, accuracy


class Word2Vec(SSLMethod):
    """Input vectors (the backbone's table) and output vectors (this method's own table): skip-gram scores
    a centre word's input vector against each context word's output vector; CBOW scores the mean input
    vector of the context against the centre word's output vector. `negatives` noise words per pair come
    from the unigram distribution ** 0.75 of the tokens trained on so far (counts kept in a buffer)."""

    def __init__(self, backbone: nn.Module, hparams: dict[str, Any], info: DataInfo):
        super().__init__(backbone, hparams, info)
        try:
            table = input_table(backbone)
        except TypeError:
            raise UserError(
                f"{_TITLE} needs the word2vec backbone (a table of word vectors).", field="method.backbone"
            ) from None
        self.vocab = configured_vocab(info) or table.num_embeddings
        self.output = nn.Embedding(self.vocab, table.embedding_dim)
        nn.init.zeros_(self.output.weight)  # as word2vec starts its output vectors
        self.counts = UnigramCounts(self.vocab)

    def training_step(self, images: torch.Tensor, ctx: StepContext) -> StepOutput:
        ids = images
        self.counts.update(ids)
        window, k_neg = int(self.hparams["window"]), int(self.hparams["negatives"])
        g = ctx.generator
        reach = torch.randint(1, window + 1, tuple(ids.shape), generator=g, device=g.device).to(ids.device)
        vectors = input_table(self.backbone)(ids)  # (B, L, D)
        pairs = context_pairs(ids, window, reach)
        if self.hparams["variant"] == "cbow":
            total = torch.zeros_like(vectors)
            n = torch.zeros(ids.shape, device=ids.device, dtype=vectors.dtype)
            for k, valid in pairs:
                total = total + shifted(vectors, k) * valid.unsqueeze(-1)
                n = n + valid
            where = n > 0
            centre = (total / n.clamp_min(1).unsqueeze(-1))[where]
            target = ids[where]
        else:
            centre = torch.cat([vectors[valid] for _, valid in pairs])
            target = torch.cat([shifted(ids, k)[valid] for k, valid in pairs])
        if centre.shape[0] == 0:
            zero = vectors.sum() * 0.0
            return StepOutput(zero, {"w2v_acc": zero.detach()})
        noise = self.counts.noise().to(g.device)
        drawn = torch.multinomial(noise.float(), centre.shape[0] * k_neg, replacement=True, generator=g)
        negatives = self.output(drawn.to(ids.device).view(-1, k_neg))
        loss, accuracy = negative_sampling_loss(centre, self.output(target), negatives)
        return StepOutput(loss, {"w2v_acc": accuracy})

    # ---- preview ---------------------------------------------------------------------------------------
    @torch.no_grad()
    def preview(self, images: torch.Tensor, generator: torch.Generator) -> Preview:
        from ssl_core.eval.language import frequent_word_ids, neighbour_rows

        counts = self.counts.counts.detach().cpu()
        seen = counts > 0
        if not bool(seen.any()):  # before any training: the preview texts' own words
            counts = torch.bincount(images[word_tokens(images)].cpu(), minlength=self.vocab).double()
        words = frequent_word_ids(self, counts, PREVIEW_WORDS)
        rows = neighbour_rows(self, words, k=NEIGHBOURS, among=seen if seen.any() else None)
        preview = self.make_preview("prediction", {"input": images.float()})
        preview.meta = {**preview.meta, "text_rows": rows}
        return preview


SPEC = MethodSpec(
    name="word2vec",
    title=_TITLE,
    family="predictive",
    summary="Learn a vector per word from the words it appears next to (skip-gram or CBOW).",
    description=(
        "word2vec learns one list of numbers per word so that words used in the same places get similar "
        "numbers: 'tea' and 'coffee' both follow 'a cup of', so they end up close together. Skip-gram "
        "takes each word and learns to tell its real neighbours (a few words to each side) from random "
        "words; CBOW does the reverse and guesses a word from its neighbours. It only learns words, not "
        "sentences (a sentence is the average of its word vectors), and it is fast. The preview lists the "
        "nearest words of a few frequent words, which start random and become meaningful as it trains."
    ),
    params=params(
        Param(
            "variant",
            "skipgram",
            "Skip-gram predicts the neighbours of each word (better for rare words); CBOW predicts a word "
            "from the average of its neighbours (faster, smoother for frequent words).",
            choices=("skipgram", "cbow"),
            choice_words=("Skip-gram (word -> neighbours)", "CBOW (neighbours -> word)"),
            label="Variant",
        ),
        # word2vec's own default, 5. Measured on text:fortunes (probe of the categories with 10% of the
        # labels, 3 seeds): 0.285±0.006 against 0.270±0.006 at 3, which it had been; 3 for 14 epochs, about
        # window 5's time for 10, reached 0.275±0.002 (2 seeds).
        Param(
            "window",
            5,
            "How many words to each side count as neighbours (each word draws its own reach up to this, "
            "so close neighbours count more; word2vec: 5). Small windows find words that can replace each "
            "other; large ones find words about the same topic.",
            low=1,
            high=10,
            label="Neighbours each side",
        ),
        Param(
            "negatives",
            5,
            "Random words each real neighbour is told apart from, drawn more often for frequent words "
            "(counts to the power 0.75, as in word2vec, whose paper advises 5-20 for small data sets).",
            low=1,
            high=20,
            label="Random words per neighbour",
        ),
    ),
    factory=Word2Vec,
    optim=WORD2VEC_OPTIM,
    preview_kind="prediction",
    paper=(
        "Mikolov et al., Efficient Estimation of Word Representations in Vector Space, 2013; Mikolov et "
        "al., Distributed Representations of Words and Phrases and their Compositionality, NeurIPS 2013"
    ),
    modalities=("text",),
    preferred_backbone={"text": "word2vec"},
    backbone_requirement=backbone_requirement,
)
Word2Vec.spec = SPEC
