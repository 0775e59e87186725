"""Next-token prediction (GPT-style): read a text left to right and guess every next token."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ssl_core.data.base import DataInfo
from ssl_core.data.tokenizer import CLS_ID, PAD_ID, SEP_ID
from ssl_core.errors import UserError
from ssl_core.methods._text_lm import (
    CAUSAL_TEXT_BACKBONES,
    FIRST_WORD_ID,
    TEXT_OPTIM,
    LMHead,
    configured_vocab,
    input_table,
    real_vocab,
    text_backbone_reason,
    token_cross_entropy,
    tokenizer_of,
)
from ssl_core.methods.base import MethodSpec, Preview, SSLMethod, StepContext, StepOutput
from ssl_core.models.modes import eval_mode
from ssl_core.params import Param, params
from ssl_core.wording import spoken_list

_TITLE = "Next-token prediction (GPT)"


def backbone_requirement(bspec: Any) -> str | None:
    reason = text_backbone_reason(_TITLE, bspec, CAUSAL_TEXT_BACKBONES)
    if reason or bspec.name in CAUSAL_TEXT_BACKBONES:
        return reason
    return (
        f"{_TITLE} needs a backbone that reads left to right without seeing what comes next "
        f"({spoken_list(CAUSAL_TEXT_BACKBONES, 'or')}); {bspec.name} "
        + ("sees the whole sentence at once." if bspec.name != "word2vec" else "does not read word order.")
    )


class NextToken(SSLMethod):
    """Causal states h_t (tokens <= t) -> the tied LM head -> cross-entropy against token t + 1, over every
    position whose next token is not padding ([SEP] included: the model learns where a text ends)."""

    def __init__(self, backbone: nn.Module, hparams: dict[str, Any], info: DataInfo):
        super().__init__(backbone, hparams, info)
        name = getattr(backbone, "name", type(backbone).__name__)
        if not getattr(backbone, "causal", False) or not getattr(backbone, "sequence_dim", None):
            raise UserError(
                f"{_TITLE} needs a causal backbone ({spoken_list(CAUSAL_TEXT_BACKBONES, 'or')}); {name} "
                "is not one.",
                field="method.backbone",
            )
        self.vocab = configured_vocab(info)
        table = input_table(backbone)
        self.head = LMHead(
            int(backbone.sequence_dim), table.embedding_dim, self.vocab, tied=bool(hparams["tie_weights"])
        )

    def next_logits(self, ids: torch.Tensor) -> torch.Tensor:
        """(B, L, V): at position t, the logits of the token at t + 1."""
        return self.head(self.backbone.forward_sequence(ids), input_table(self.backbone))

    def training_step(self, images: torch.Tensor, ctx: StepContext) -> StepOutput:
        ids = images
        logits = self.next_logits(ids)[:, :-1]
        targets = ids[:, 1:]
        where = targets != PAD_ID
        loss = token_cross_entropy(logits, targets, where)
        with torch.no_grad():
            hits = (logits[where].argmax(dim=-1) == targets[where]).float().mean()
        return StepOutput(loss, {"next_acc": hits.detach()})

    # ---- continuing a prompt -----------------------------------------------------------------------------
    @torch.no_grad()
    def continue_ids(
        self,
        prompts: list[torch.Tensor],
        temperature: float = 0.0,
        generator: torch.Generator | None = None,
        max_new: int | None = None,
    ) -> list[list[int]]:
        """The tokens each prompt ([CLS] + tokens, no [SEP]) is continued with, until [SEP] or the model's
        length; greedy at temperature 0, else sampled from softmax(logits / temperature)."""
        net = getattr(self.backbone, "net", self.backbone)
        length = int(getattr(net, "max_tokens", 0) or max(len(p) for p in prompts) + 16)
        device = next(self.parameters()).device
        n = len(prompts)
        buf = torch.full((n, length), PAD_ID, dtype=torch.long, device=device)
        lens = torch.zeros(n, dtype=torch.long, device=device)
        for i, p in enumerate(prompts):
            p = p[:length]
            buf[i, : len(p)] = p.to(device)
            lens[i] = len(p)
        vocab = real_vocab(self, self.vocab)
        made: list[list[int]] = [[] for _ in range(n)]
        open_rows = lens < length
        steps = length if max_new is None else int(max_new)
        rows = torch.arange(n, device=device)
        with eval_mode(self):
            for _ in range(steps):
                if not bool(open_rows.any()):
                    break
                logits = self.next_logits(buf)[rows, (lens - 1).clamp_min(0)].float()
                allowed = torch.full_like(logits, float("-inf"))
                allowed[:, FIRST_WORD_ID:vocab] = 0.0
                allowed[:, SEP_ID] = 0.0
                logits = logits + allowed
                if temperature > 0:
                    probs = (logits / temperature).softmax(dim=-1)
                    on = generator.device if generator is not None else probs.device
                    pick = torch.multinomial(probs.to(on), 1, generator=generator).flatten().to(device)
                else:
                    pick = logits.argmax(dim=-1)
                for i in open_rows.nonzero().flatten().tolist():
                    token = int(pick[i])
                    if token == SEP_ID:
                        open_rows[i] = False
                        continue
                    buf[i, lens[i]] = token
                    made[i].append(token)
                    lens[i] += 1
                    if int(lens[i]) >= length:
                        open_rows[i] = False
        return made

    @torch.no_grad()
    def continuation_rows(self, ids: torch.Tensor, temperature: float = 0.0) -> list[dict]:
        """For each text: its first half as the prompt, the model's continuation and the real rest."""
        tokenizer = tokenizer_of(self)
        prompts, rests = [], []
        for row in ids:
            words = row[(row != PAD_ID) & (row != CLS_ID) & (row != SEP_ID)]
            cut = max(1, len(words) // 2)
            prompts.append(torch.cat([row.new_tensor([CLS_ID]), words[:cut]]))
            rests.append(words[cut:])
        made = self.continue_ids(prompts, temperature)
        return [
            {
                "kind": "continuation",
                "prompt": tokenizer.decode(p),
                "text": tokenizer.decode(m),
                "truth": tokenizer.decode(r),
            }
            for p, m, r in zip(prompts, made, rests, strict=True)
        ]

    @torch.no_grad()
    def preview(self, images: torch.Tensor, generator: torch.Generator) -> Preview:
        ids = images
        rows = self.continuation_rows(ids)
        preview = self.make_preview("forecast", {"input": ids.float()})
        preview.meta = {**preview.meta, "text_rows": rows}
        return preview


SPEC = MethodSpec(
    name="next_token",
    title=_TITLE,
    family="predictive",
    summary="Read each text word by word and guess the next word, as GPT does.",
    description=(
        "Next-token prediction is how GPT learned language: the network reads a text from the start and, "
        "after every word, guesses the word that comes next. To guess well it has to follow grammar, "
        "remember what the text is about and know which words tend to follow which. The network may only "
        "look back, never ahead (a causal Transformer, a GRU or an LSTM). The preview gives the network "
        "the first half of a few held-out texts and lets it write the rest on its own, beside the real "
        "ending, so you can watch its writing improve as it trains."
    ),
    params=params(
        Param(
            "tie_weights",
            True,
            "Let the guessing layer share the word table the network reads with (as GPT does): fewer "
            "weights, and words that are used alike end up with similar vectors.",
            label="Share the word table with the guesser",
        ),
    ),
    factory=NextToken,
    optim=TEXT_OPTIM,
    preview_kind="forecast",
    paper=(
        "Radford et al., Improving Language Understanding by Generative Pre-Training, 2018; Bengio et al., "
        "A Neural Probabilistic Language Model, JMLR 2003"
    ),
    modalities=("text",),
    preferred_backbone={"text": "text_gpt"},
    backbone_requirement=backbone_requirement,
)
NextToken.spec = SPEC
