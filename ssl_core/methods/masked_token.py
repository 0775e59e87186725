"""Masked-token modelling (BERT): hide some of the words of a sentence and guess them from both sides."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ssl_core.data.base import DataInfo
from ssl_core.data.tokenizer import MASK_ID
from ssl_core.errors import UserError
from ssl_core.methods._text_lm import (
    CAUSAL_TEXT_BACKBONES,
    TEXT_OPTIM,
    LMHead,
    bert_corrupt,
    choose_positions,
    configured_vocab,
    input_table,
    limit_logits,
    real_vocab,
    text_backbone_reason,
    token_cross_entropy,
    token_word,
    tokenizer_of,
    top_words,
)
from ssl_core.methods.base import MethodSpec, Preview, SSLMethod, StepContext, StepOutput
from ssl_core.models.modes import eval_mode
from ssl_core.params import Param, params

_TITLE = "Masked-token modelling (BERT)"
PREVIEW_MASK_SEED = 7  # the preview hides the same words of the same sentences all run
PREVIEW_MAX_SLOTS = 3  # blanks per preview sentence, at most


def backbone_requirement(bspec: Any) -> str | None:
    reason = text_backbone_reason(_TITLE, bspec, ("text_transformer",))
    if reason:
        return reason
    if bspec.name in CAUSAL_TEXT_BACKBONES:
        return (
            f"{_TITLE} guesses a hidden word from the words on both sides, but {bspec.name} reads left to "
            "right only (it is made for next-token prediction); use text_transformer."
        )
    if bspec.name == "word2vec":
        return (
            f"{_TITLE} needs a network that reads the words around a blank; word2vec gives each word the same "
            "vector whatever its neighbours; use text_transformer."
        )
    return None


class MaskedToken(SSLMethod):
    """Encoder states of the corrupted ids -> the tied LM head -> cross-entropy at the chosen positions.

    Each step chooses `mask_share` of every sentence's real tokens (or whole spans of mean length `span`),
    replaces 80% of them with [MASK], 10% with a random token and keeps 10%, and asks for the original
    token at every chosen position. The representation is the encoder's mean token state.
    """

    def __init__(self, backbone: nn.Module, hparams: dict[str, Any], info: DataInfo):
        super().__init__(backbone, hparams, info)
        name = getattr(backbone, "name", type(backbone).__name__)
        if getattr(backbone, "causal", False) or not getattr(backbone, "sequence_dim", None):
            raise UserError(
                f"{_TITLE} needs a backbone that reads both sides of every word (text_transformer); "
                f"{name} does not.",
                field="method.backbone",
            )
        self.vocab = configured_vocab(info)
        table = input_table(backbone)
        self.head = LMHead(
            int(backbone.sequence_dim), table.embedding_dim, self.vocab, tied=bool(hparams["tie_weights"])
        )

    def token_logits(self, ids: torch.Tensor) -> torch.Tensor:
        """(B, L, V) logits of the token at every position of (possibly masked) ids."""
        return self.head(self.backbone.forward_sequence(ids), input_table(self.backbone))

    def training_step(self, images: torch.Tensor, ctx: StepContext) -> StepOutput:
        ids = images
        share, span = float(self.hparams["mask_share"]), float(self.hparams["span"])
        chosen = choose_positions(ids, share, ctx.generator, span)
        corrupted = bert_corrupt(ids, chosen, ctx.generator, real_vocab(self, self.vocab))
        logits = self.token_logits(corrupted)
        loss = token_cross_entropy(logits, ids, chosen)
        with torch.no_grad():
            hits = (logits[chosen].argmax(dim=-1) == ids[chosen]).float().mean()
        return StepOutput(loss, {"masked_acc": hits.detach()})

    # ---- guesses (previews and the Try-it box) ---------------------------------------------------------
    @torch.no_grad()
    def guess_rows(self, masked: torch.Tensor, truth: torch.Tensor | None = None, k: int = 5) -> list[dict]:
        """One "masked" text row per sentence: its text with [MASK] slots and the top-k guesses per slot."""
        tokenizer = tokenizer_of(self)
        with eval_mode(self):
            logits = self.token_logits(masked)
        probs = limit_logits(logits, real_vocab(self, self.vocab)).softmax(dim=-1)
        rows = []
        for i in range(masked.shape[0]):
            slots = []
            for p in (masked[i] == MASK_ID).nonzero().flatten().tolist():
                slot: dict[str, Any] = {}
                if truth is not None:
                    slot["truth"] = token_word(tokenizer, int(truth[i, p]))
                slot["top"] = top_words(tokenizer, probs[i, p], k)
                slots.append(slot)
            rows.append({"kind": "masked", "text": tokenizer.decode(masked[i]), "slots": slots})
        return rows

    def preview_blanks(self, ids: torch.Tensor) -> torch.Tensor:
        """The preview's blanks: the same positions of the same sentences every time (a fixed seed)."""
        g = torch.Generator().manual_seed(PREVIEW_MASK_SEED)
        chosen = choose_positions(ids.cpu(), float(self.hparams["mask_share"]), g).to(ids.device)
        keep = chosen.long().cumsum(dim=1) <= PREVIEW_MAX_SLOTS
        return chosen & keep

    @torch.no_grad()
    def preview(self, images: torch.Tensor, generator: torch.Generator) -> Preview:
        ids = images
        masked = ids.masked_fill(self.preview_blanks(ids), MASK_ID)
        rows = self.guess_rows(masked, truth=ids)
        captions = [
            f"{sum(s['top'][0][0] == s['truth'] for s in row['slots'] if s['top'])} of {len(row['slots'])} "
            "blanks guessed right"
            for row in rows
        ]
        preview = self.make_preview("prediction", {"masked": masked.float()}, masked=captions)
        preview.meta = {**preview.meta, "text_rows": rows}
        return preview


SPEC = MethodSpec(
    name="masked_token",
    title=_TITLE,
    family="predictive",
    summary="Hide some words of each sentence and learn to guess them from the words around them.",
    description=(
        "Masked-token modelling is how BERT learned language: it blanks out about one word in seven "
        "and asks the network to fill in the gaps, like a cloze test at school. To guess well it must "
        "understand the words on both sides of a gap: grammar, which words go together, what the "
        "sentence is about. Most blanks show as [MASK]; a few are swapped for a random word or left as "
        "they are, so the network never learns to trust what it reads blindly. The preview shows a few "
        "held-out sentences with blanks and the network's top guesses, which get better as it trains. "
        "It needs a network that reads both directions (the Transformer encoder)."
    ),
    params=params(
        Param(
            "mask_share",
            0.15,
            "Share of each sentence's tokens to hide and predict (BERT: 15%). More gives more to learn "
            "per sentence but leaves less context to guess from.",
            low=0.05,
            high=0.5,
            label="Share of words hidden",
        ),
        Param(
            "span",
            0.0,
            "Hide whole runs of neighbouring tokens instead of single ones: the mean length of a run "
            "(SpanBERT's average is 3.8). 0 hides single tokens, as BERT does.",
            low=0.0,
            high=10.0,
            label="Hidden run length (0: single words)",
        ),
        Param(
            "tie_weights",
            True,
            "Let the guessing layer share the word table the network reads with (as BERT does): fewer "
            "weights, and words that are used alike end up with similar vectors.",
            label="Share the word table with the guesser",
        ),
    ),
    factory=MaskedToken,
    optim=TEXT_OPTIM,
    preview_kind="prediction",
    paper=(
        "Devlin et al., BERT: Pre-training of Deep Bidirectional Transformers for Language Understanding, "
        "NAACL 2019; Joshi et al., SpanBERT, TACL 2020"
    ),
    modalities=("text",),
    preferred_backbone={"text": "text_transformer"},
    backbone_requirement=backbone_requirement,
)
MaskedToken.spec = SPEC
