"""Shared pieces of the text methods: which tokens may be hidden, BERT's masking rule (15% of the tokens,
80/10/10 mask/random/keep, or whole spans), the language-model head tied to the input embedding, unigram
counts, and the backbone facts the text methods check (causal or not, dropout).

Token ids follow ssl_core.data.tokenizer: PAD = 0, UNK, CLS, SEP, MASK = 1..4; real tokens start at
FIRST_WORD_ID. Masking never touches a special token, so PAD, [CLS] and [SEP] stay where they are.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ssl_core.data.tokenizer import MASK_ID, PAD_ID, SPECIAL_TOKENS
from ssl_core.errors import UserError
from ssl_core.methods.base import OptimDefaults
from ssl_core.wording import spoken_list

FIRST_WORD_ID = len(SPECIAL_TOKENS)  # ids below this are [PAD], [UNK], [CLS], [SEP], [MASK]
MAX_SPAN = 10  # span masking clips span lengths here (SpanBERT)
CAUSAL_TEXT_BACKBONES = ("text_gpt", "text_gru", "text_lstm")
BIDIRECTIONAL_TEXT_BACKBONES = ("text_transformer",)


# ---- the data's vocabulary -------------------------------------------------------------------------------
def configured_vocab(info: Any) -> int:
    """Rows of every embedding table: the configured vocabulary size in DataInfo.extra["text"]."""
    text = (getattr(info, "extra", None) or {}).get("text") or {}
    return int(text.get("vocab_size") or 0)


def real_vocab(method: nn.Module, fallback: int) -> int:
    """The trained tokenizer's real vocabulary size (<= the configured one), or `fallback`."""
    adapter = getattr(method, "input_adapter", None)
    tokenizer = getattr(adapter, "tokenizer", None)
    size = getattr(tokenizer, "vocab_size", None)
    return min(int(size), fallback) if size else fallback


def word_tokens(ids: torch.Tensor) -> torch.Tensor:
    """Bool mask of the real tokens (not PAD, [UNK], [CLS], [SEP] or [MASK])."""
    return ids >= FIRST_WORD_ID


def input_table(backbone: nn.Module) -> nn.Embedding:
    """The backbone's input embedding (nn.Embedding(vocab, D)), behind the Encoder wrapper."""
    for owner in (backbone, getattr(backbone, "net", None)):
        table = getattr(owner, "embedding", None)
        if isinstance(table, nn.Embedding):
            return table
    raise TypeError(f"{type(backbone).__name__} has no input embedding table")


def backbone_dropout(backbone: nn.Module) -> float:
    """The largest dropout probability anywhere in the backbone (0.0 when it has none)."""
    rates = [0.0]
    for module in backbone.modules():
        if isinstance(module, nn.Dropout):
            rates.append(float(module.p))
        elif (
            isinstance(module, nn.MultiheadAttention)
            or isinstance(module, nn.RNNBase)
            and module.num_layers > 1
        ):
            rates.append(float(module.dropout))
    return max(rates)


# ---- masking ---------------------------------------------------------------------------------------------
def _rand(shape: tuple[int, ...], generator: torch.Generator, device: torch.device) -> torch.Tensor:
    return torch.rand(shape, generator=generator, device=generator.device).to(device)


def choose_positions(
    ids: torch.Tensor, share: float, generator: torch.Generator, span: float = 0.0
) -> torch.Tensor:
    """Bool (B, L): the positions to predict, about `share` of each row's real tokens, at least one per row
    that has any. `span` > 1 hides whole spans (lengths geometric with that mean, at most MAX_SPAN) instead
    of single tokens; special tokens are never chosen."""
    words = word_tokens(ids)
    noise = _rand(tuple(ids.shape), generator, ids.device)
    if span and span > 1.0:
        starts = words & (noise < share / span)
        # Geometric lengths with mean `span`: 1 + floor(log(u) / log(1 - 1/span)).
        u = _rand(tuple(ids.shape), generator, ids.device).clamp_min(1e-12)
        lengths = (1 + torch.floor(torch.log(u) / torch.log(torch.tensor(1.0 - 1.0 / span)))).clamp(
            1, MAX_SPAN
        )
        chosen = torch.zeros_like(words)
        for k in range(MAX_SPAN):  # position s + k is covered by a start s whose span is longer than k
            reach = starts & (lengths > k)
            chosen[:, k:] |= reach[:, : ids.shape[1] - k]
        chosen &= words
    else:
        chosen = words & (noise < share)
    # A row with real tokens but nothing chosen gets its noisiest-lowest real token, so every row teaches.
    empty = words.any(dim=1) & ~chosen.any(dim=1)  # (no host sync: rows without need get nothing)
    pick = noise.masked_fill(~words, 2.0).argmin(dim=1)
    rescue = torch.zeros_like(chosen)
    rescue[torch.arange(ids.shape[0], device=ids.device), pick] = empty
    return chosen | rescue


def bert_corrupt(
    ids: torch.Tensor,
    chosen: torch.Tensor,
    generator: torch.Generator,
    vocab: int,
    mask_share: float = 0.8,
    random_share: float = 0.1,
) -> torch.Tensor:
    """ids with the chosen positions corrupted BERT's way: 80% [MASK], 10% a random real token, 10% kept."""
    r = _rand(tuple(ids.shape), generator, ids.device)
    out = ids.clone()
    out[chosen & (r < mask_share)] = MASK_ID
    swap = chosen & (r >= mask_share) & (r < mask_share + random_share)
    if vocab > FIRST_WORD_ID:
        draws = torch.randint(
            FIRST_WORD_ID, vocab, tuple(ids.shape), generator=generator, device=generator.device
        ).to(ids.device)
        out[swap] = draws[swap]
    return out


# ---- heads and losses ------------------------------------------------------------------------------------
class LMHead(nn.Module):
    """Token state (.., D) -> logits over the vocabulary (.., V): a dense + GELU + LayerNorm transform, then
    either the input embedding's matrix (tied, as in BERT and GPT: one table for reading and writing words)
    or its own output matrix."""

    def __init__(self, width: int, embed_dim: int, vocab: int, tied: bool, transform: bool = True):
        super().__init__()
        self.tied = bool(tied)
        self.transform = (
            nn.Sequential(nn.Linear(width, embed_dim), nn.GELU(), nn.LayerNorm(embed_dim))
            if transform or width != embed_dim
            else nn.Identity()
        )
        self.bias = nn.Parameter(torch.zeros(vocab))
        self.out = None if self.tied else nn.Linear(embed_dim, vocab, bias=False)

    def forward(self, states: torch.Tensor, table: nn.Embedding) -> torch.Tensor:
        h = self.transform(states)
        weight = table.weight if self.tied else self.out.weight
        return F.linear(h, weight.to(h.dtype), self.bias.to(h.dtype))


def limit_logits(logits: torch.Tensor, vocab: int) -> torch.Tensor:
    """Logits with the special tokens and the unused rows above the tokenizer's vocabulary ruled out."""
    out = logits.float().clone()
    out[..., :FIRST_WORD_ID] = float("-inf")
    out[..., vocab:] = float("-inf")
    return out


def token_cross_entropy(logits: torch.Tensor, targets: torch.Tensor, where: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy of logits (B, L, V) against targets (B, L) over the positions `where` (B, L)."""
    picked = logits[where].float()
    if picked.numel() == 0:
        return logits.sum() * 0.0
    return F.cross_entropy(picked, targets[where])


# ---- unigram counts --------------------------------------------------------------------------------------
def count_tokens(ids: torch.Tensor, vocab: int) -> torch.Tensor:
    """How often each id occurs among the real tokens of `ids` (float32, (vocab,), on the ids' device)."""
    flat = ids[word_tokens(ids) & (ids < vocab)].reshape(-1)
    return torch.bincount(flat, minlength=vocab).to(torch.float32)[:vocab]


class UnigramCounts(nn.Module):
    """Token counts in a buffer (saved with the run), updated from training batches as they come.

    float32 (Apple's MPS has no float64): exact up to 16.7 million of one token, and past that the
    rounding only nudges the noise distribution, which is all the counts are used for."""

    def __init__(self, vocab: int):
        super().__init__()
        self.register_buffer("counts", torch.zeros(vocab, dtype=torch.float32))

    @torch.no_grad()
    def update(self, ids: torch.Tensor) -> None:
        self.counts += count_tokens(ids, self.counts.numel()).to(self.counts.device, torch.float32)

    def noise(self, power: float = 0.75) -> torch.Tensor:
        """word2vec's negative-sampling distribution: counts ** power, normalised (uniform over the real
        tokens while nothing is counted); computed on the device without a host sync."""
        c = self.counts.float().clamp_min(0)
        real = torch.ones_like(c)
        real[:FIRST_WORD_ID] = 0
        c = torch.where(c.sum() > 0, c * real, real)
        p = c.pow(power)
        return p / p.sum()


def pad_free(ids: torch.Tensor) -> torch.Tensor:
    """Bool mask of the positions that are not padding."""
    return ids != PAD_ID


# ---- what the methods share besides the loss ----------------------------------------------------------
# Small Transformers and recurrent LMs from scratch: batches of 64 at an lr of 2.5e-3 (1e-2 per 256, scaled by
# the batch size), AdamW with BERT's weight decay of 0.01.
TEXT_OPTIM = OptimDefaults(optimizer="adamw", lr=1e-2, weight_decay=0.01, warmup_epochs=1.0, batch_size=64)


def tokenizer_of(method: nn.Module) -> Any:
    """The trained TextTokenizer behind a method (its input adapter's); a clear error when there is none."""
    tokenizer = getattr(getattr(method, "input_adapter", None), "tokenizer", None)
    if tokenizer is None:
        raise UserError(
            "This model has no tokenizer (its text adapter is missing); open the run again.",
            field="method.name",
        )
    return tokenizer


def token_word(tokenizer: Any, token_id: int) -> str:
    """One token as a person reads it ("cat", "##s")."""
    words = tokenizer.token_strings([int(token_id)])
    return words[0] if words else ""


def top_words(tokenizer: Any, probs: torch.Tensor, k: int) -> list[list]:
    """[[word, probability], ...]: the k most likely tokens of one distribution (V,)."""
    values, ids = probs.float().topk(min(int(k), probs.numel()))
    return [
        [token_word(tokenizer, i), round(float(p), 4)]
        for p, i in zip(values.tolist(), ids.tolist(), strict=True)
    ]


def text_backbone_reason(title: str, bspec: Any, wanted: tuple[str, ...]) -> str | None:
    """Why a non-text backbone cannot serve a text method (None for a text backbone)."""
    if "text" in bspec.modalities:
        return None
    return (
        f"{title} needs a text backbone ({spoken_list(wanted, 'or')}); {bspec.name} works on "
        f"{' or '.join(bspec.modalities)} data."
    )
