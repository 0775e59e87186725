"""Encoders for text: int64 token ids (B, L), right-padded with PAD = 0, -> (B, feature_dim).

The text modality's adapter turns stored UTF-8 bytes into ids ([CLS] tokens [SEP] then PAD), so every network
here starts from an input table `embedding` (nn.Embedding(vocab_size, D), PAD's row kept at zero; language
model heads may tie their output layer to it) and offers
- `forward_sequence(ids) -> (B, L, sequence_dim)`: one state per token;
- `forward(ids) -> (B, feature_dim)`: the sentence vector, the mean of the non-PAD token states;
- `causal` (state t depends on tokens <= t only: text_gpt, text_gru, text_lstm), `downsample = 1`,
  `vocab_size` (the configured size: the embedding's rows) and `max_tokens` (positions it was built for).
`vocab_size` and `max_tokens` come from the data's `DataInfo.extra["text"]`, which the text sources write.

This module is a leaf, like models/series.py and models/table.py: the backbone registry (backbones.py)
imports `TEXT_BACKBONES` from here and registers them.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from ssl_core.errors import UserError
from ssl_core.params import Param, ParamSet

PAD_ID = 0  # the padding id (ssl_core.data.tokenizer.PAD_ID; repeated here so this module stays a leaf)
DEFAULT_BACKBONE = "text_transformer"  # the text modality's default backbone
PARAMS_FIELD = "method.backbone_params"


def text_settings(info: Any) -> tuple[int, int]:
    """(vocab_size, max_tokens) of text data, from `info.extra["text"]` (written by the text sources)."""
    text = (getattr(info, "extra", None) or {}).get("text") or {}
    try:
        vocab, tokens = int(text["vocab_size"]), int(text["max_tokens"])
    except (KeyError, TypeError, ValueError):
        raise UserError(
            f"{getattr(info, 'name', 'The data')} has no text settings (vocabulary size, maximum tokens); "
            "open it again as text.",
            field="data.spec",
        ) from None
    if vocab < 8 or tokens < 2:
        raise UserError(
            f"Text with a vocabulary of {vocab} and {tokens} tokens per sample is too small for a network; "
            "use data.vocab_size >= 8 and data.length >= 2.",
            field="data.length" if tokens < 2 else "data.vocab_size",
        )
    return vocab, tokens


def pad_mask(ids: torch.Tensor) -> torch.Tensor:
    """(B, L) bool, True at padding. A row that is all padding keeps its first position (attention over no
    keys at all would give NaN)."""
    pad = ids == PAD_ID
    return pad & ~pad.all(dim=1, keepdim=True)


def mean_of_tokens(states: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
    """The mean of the non-PAD token states (B, L, D) -> (B, D); a row of padding only gives zeros."""
    keep = (ids != PAD_ID).unsqueeze(-1).to(states.dtype)
    return (states * keep).sum(dim=1) / keep.sum(dim=1).clamp_min(1.0)


def _check_ids(ids: torch.Tensor, limit: int | None, name: str) -> None:
    if ids.dim() != 2 or ids.is_floating_point():
        raise ValueError(f"{name} expects token ids (B, L) as integers; got {ids.dtype} {tuple(ids.shape)}")
    if limit is not None and ids.shape[1] > limit:
        raise ValueError(f"{name} was built for at most {limit} tokens per sample; got {ids.shape[1]}")


def sinusoidal_positions(length: int, width: int) -> torch.Tensor:
    """(length, width) fixed sine/cosine position codes (Vaswani et al., 2017)."""
    position = torch.arange(length, dtype=torch.float32).unsqueeze(1)
    rate = torch.exp(torch.arange(0, width, 2, dtype=torch.float32) * (-math.log(10000.0) / width))
    codes = torch.zeros(length, width)
    codes[:, 0::2] = torch.sin(position * rate)
    codes[:, 1::2] = torch.cos(position * rate)[:, : width // 2]
    return codes


class TextNet(nn.Module):
    """What every text network shares: the input table, the sentence vector and the sequence attributes."""

    causal = False
    downsample = 1

    def __init__(self, vocab_size: int, max_tokens: int, width: int):
        super().__init__()
        self.vocab_size = int(vocab_size)
        self.max_tokens = int(max_tokens)
        self.embedding = nn.Embedding(self.vocab_size, width, padding_idx=PAD_ID)
        self.feature_dim = self.sequence_dim = int(width)

    def forward_sequence(self, ids: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return mean_of_tokens(self.forward_sequence(ids), ids)

    def extra_repr(self) -> str:
        return f"vocab_size={self.vocab_size}, max_tokens={self.max_tokens}, width={self.feature_dim}"


class TextTransformer(TextNet):
    """A pre-norm Transformer over token embeddings plus learned or sinusoidal positions, with a final
    LayerNorm; padding is masked out of attention. `causal=True` makes it a GPT-style decoder (each token
    attends to itself and earlier tokens only)."""

    def __init__(
        self,
        vocab_size: int,
        max_tokens: int,
        layers: int = 2,
        width: int = 64,
        heads: int = 4,
        positions: str = "learned",
        dropout: float = 0.1,
        causal: bool = False,
    ):
        super().__init__(vocab_size, max_tokens, width)
        if width % heads:
            raise UserError(
                f"The Transformer's width ({width}) must be a multiple of its heads ({heads}); change "
                f"{PARAMS_FIELD}.width or .heads.",
                field=f"{PARAMS_FIELD}.heads",
            )
        self.causal = bool(causal)
        self.positions = positions
        nn.init.normal_(self.embedding.weight, std=0.02)
        with torch.no_grad():
            self.embedding.weight[PAD_ID].zero_()
        if positions == "learned":
            self.position = nn.Parameter(torch.randn(max_tokens, width) * 0.02)
        else:
            self.register_buffer("position", sinusoidal_positions(max_tokens, width), persistent=False)
        self.dropout = nn.Dropout(dropout)
        layer = nn.TransformerEncoderLayer(
            width, heads, 4 * width, dropout, activation="gelu", batch_first=True, norm_first=True
        )
        self.blocks = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(width)

    def forward_sequence(self, ids: torch.Tensor) -> torch.Tensor:
        _check_ids(ids, self.max_tokens, type(self).__name__)
        length = ids.shape[1]
        x = self.dropout(self.embedding(ids) + self.position[:length].to(ids.device))
        mask = None
        if self.causal:  # True above the diagonal: a token may not look ahead
            mask = torch.ones(length, length, dtype=torch.bool, device=ids.device).triu(1)
        x = self.blocks(x, mask=mask, src_key_padding_mask=pad_mask(ids), is_causal=self.causal)
        return self.norm(x)


class TextRecurrent(TextNet):
    """A GRU or LSTM language-model encoder over token embeddings: causal, one state per token. Padding
    comes after the text, so it never reaches a text token's state."""

    causal = True

    def __init__(
        self,
        vocab_size: int,
        max_tokens: int,
        cell: str = "gru",
        layers: int = 1,
        width: int = 128,
        dropout: float = 0.1,
    ):
        super().__init__(vocab_size, max_tokens, width)
        rnn = nn.GRU if cell == "gru" else nn.LSTM
        self.cell = cell
        self.dropout = nn.Dropout(dropout)
        self.rnn = rnn(width, width, layers, batch_first=True, dropout=dropout if layers > 1 else 0.0)

    def forward_sequence(self, ids: torch.Tensor) -> torch.Tensor:
        _check_ids(ids, None, type(self).__name__)
        if ids.is_cuda:  # after a deepcopy (momentum encoders) the weights may no longer be one cuDNN block
            self.rnn.flatten_parameters()
        out, _ = self.rnn(self.dropout(self.embedding(ids)))
        return out


class WordVectors(TextNet):
    """word2vec's input table: one vector per token; a sentence is the mean of its word vectors. Each
    state sees its own token only, so it is no language model (`causal` stays False)."""

    def __init__(self, vocab_size: int, max_tokens: int, dim: int = 64):
        super().__init__(vocab_size, max_tokens, dim)
        nn.init.uniform_(self.embedding.weight, -0.5 / dim, 0.5 / dim)  # as word2vec initialises it
        with torch.no_grad():
            self.embedding.weight[PAD_ID].zero_()

    def forward_sequence(self, ids: torch.Tensor) -> torch.Tensor:
        _check_ids(ids, None, type(self).__name__)
        return self.embedding(ids)


# ---- settings and registry entries -------------------------------------------------------------------------
def _layers(default: int) -> Param:
    return Param(
        "layers",
        default,
        "How many layers the tokens pass through; more layers relate words in more elaborate ways and train "
        "slower.",
        low=1,
        high=12,
        label="Number of layers",
    )


def _width(default: int, name: str = "width", label: str = "Width") -> Param:
    return Param(
        name,
        default,
        "Numbers per token (and so the sentence features the network gives). Wider learns more and "
        "trains slower.",
        low=8,
        high=1024,
        label=label,
    )


def _dropout(default: float) -> Param:
    return Param(
        "dropout",
        default,
        "Share of values dropped at random while training (0: none); resists memorising a small corpus.",
        low=0.0,
        high=0.9,
        label="Dropout share",
    )


TRANSFORMER_PARAMS = ParamSet(
    (
        _layers(2),
        _width(64),
        Param(
            "heads",
            4,
            "Attention heads per layer: each looks for its own kind of relation between words. The width "
            "must be a multiple of it.",
            low=1,
            high=16,
            label="Attention heads",
        ),
        Param(
            "positions",
            "learned",
            "How the network knows word order: a learned vector per position, or fixed sine waves.",
            choices=("learned", "sinusoidal"),
            choice_words=("Learned", "Sine waves (fixed)"),
            label="Positions",
        ),
        _dropout(0.1),
    )
)
RECURRENT_PARAMS = ParamSet((_layers(1), _width(128), _dropout(0.1)))
WORD2VEC_PARAMS = ParamSet((_width(64, "dim", "Vector size"),))


def _factory(build: Callable[..., TextNet], settings: ParamSet) -> Callable[..., TextNet]:
    """`factory(in_channels, size, info, **settings)`; unset settings take their defaults."""

    def factory(in_channels: int, size: int, info: Any, **overrides: Any) -> TextNet:
        vocab, tokens = text_settings(info)
        return build(vocab, tokens, **{**settings.defaults(), **overrides})

    return factory


@dataclass(frozen=True)
class TextBackbone:
    """What backbones.py needs to register a text network: `factory(in_channels, size, info, **params)`."""

    name: str
    title: str
    description: str
    factory: Callable[..., nn.Module]
    params: ParamSet = field(default_factory=ParamSet)


TEXT_BACKBONES: tuple[TextBackbone, ...] = (
    TextBackbone(
        "text_transformer",
        "Transformer encoder",
        "A small BERT-style Transformer (2 pre-norm layers, width 64, 4 heads): every word looks at every "
        "other word in the sentence, both ways. The sentence features are the mean of the word states. "
        "The natural choice for masked-token modelling and for sentence embeddings.",
        _factory(TextTransformer, TRANSFORMER_PARAMS),
        TRANSFORMER_PARAMS,
    ),
    TextBackbone(
        "text_gpt",
        "Transformer decoder (GPT-style)",
        "The same small Transformer with a causal mask: each word sees only the words before it, so it can "
        "learn to predict the next word (next-token prediction). Sentence features: the mean word state.",
        _factory(lambda *a, **k: TextTransformer(*a, causal=True, **k), TRANSFORMER_PARAMS),
        TRANSFORMER_PARAMS,
    ),
    TextBackbone(
        "text_gru",
        "GRU language model",
        "Reads the text word by word with a gated recurrent unit (width 128); causal, so it suits "
        "next-token prediction. Cheap on short texts.",
        _factory(lambda *a, **k: TextRecurrent(*a, cell="gru", **k), RECURRENT_PARAMS),
        RECURRENT_PARAMS,
    ),
    TextBackbone(
        "text_lstm",
        "LSTM language model",
        "Like the GRU, with a long short-term memory cell (width 128), which holds on to information over "
        "longer stretches at a somewhat higher cost; causal.",
        _factory(lambda *a, **k: TextRecurrent(*a, cell="lstm", **k), RECURRENT_PARAMS),
        RECURRENT_PARAMS,
    ),
    TextBackbone(
        "word2vec",
        "Word vectors (word2vec)",
        "Just a table of word vectors (64 numbers per word), as word2vec learns them; a sentence is the mean "
        "of its word vectors, so word order is ignored.",
        _factory(WordVectors, WORD2VEC_PARAMS),
        WORD2VEC_PARAMS,
    ),
)
