"""Encoders for table rows: (B, F) floats in column space -> (B, feature_dim).

A row arrives as the table modality's adapter leaves it: numeric and boolean columns standardised (NaN
where a value is missing), categorical columns as category codes 0..K-1 (NaN where missing or unseen).
`TableFeaturizer` turns that into a dense, NaN-free vector the network can read; `TableMLP` is an MLP on
top of it (Linear + BatchNorm + ReLU + dropout blocks, as in SCARF's and VIME's encoders).

This module is a leaf, like models/series.py: the backbone registry (backbones.py) imports
`TABLE_BACKBONES` from here; the column schema is read by the table modality (ssl_core/modalities/table.py)
only when a network is built.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ssl_core.params import Param, ParamSet

DEFAULT_BACKBONE = "mlp"  # the table modality's default backbone

# Categorical columns with at most this many categories are one-hot encoded; larger ones get a learned
# embedding (one row per category plus one for "missing or unknown").
ONE_HOT_MAX = 16
EMBEDDING_MAX_DIM = 16
# Standardised values beyond this many standard deviations are clipped before the network sees them (a
# typo of 1e30 in a file must not blow up the first layer); losses still compare the unclipped values.
VALUE_CLIP = 20.0
STANDARDISED_KINDS = ("numeric", "boolean")


def embedding_dim(categories: int) -> int:
    """Width of a high-cardinality column's embedding: fastai's 1.6 * K^0.56, at most 16."""
    return int(min(EMBEDDING_MAX_DIM, max(4, round(1.6 * categories**0.56))))


def valid_codes(codes: torch.Tensor, categories: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(codes as int64 with invalid ones set to 0, mask of valid codes) for float codes of one column.

    NaN, infinite, negative and too-large codes (a category unseen when the schema was made) are invalid.
    """
    finite = torch.isfinite(codes)
    rounded = torch.where(finite, codes, torch.zeros_like(codes)).round()
    valid = finite & (rounded >= 0) & (rounded < categories)
    return torch.where(valid, rounded, torch.zeros_like(rounded)).long(), valid


class TableFeaturizer(nn.Module):
    """Column-space rows (B, F) -> dense features (B, out_dim), NaN-free.

    Per column, in this order: the standardised numeric and boolean values (missing -> 0, the column's
    mean, clipped to +-VALUE_CLIP); a missing flag (1.0 where missing) for each numeric or boolean column
    that can be missing; a one-hot vector for each categorical column with at most `one_hot_max`
    categories (all zeros where missing or unknown); a learned embedding for each larger one (its own
    "missing or unknown" row).
    """

    def __init__(
        self,
        kinds: Sequence[str],
        cardinalities: Sequence[int],
        can_miss: Sequence[bool],
        one_hot_max: int = ONE_HOT_MAX,
    ):
        super().__init__()
        if not (len(kinds) == len(cardinalities) == len(can_miss)) or not kinds:
            raise ValueError("kinds, cardinalities and can_miss must describe the same, non-empty columns")
        self.num_columns = len(kinds)
        numeric = [j for j, k in enumerate(kinds) if k in STANDARDISED_KINDS]
        flagged = [j for j in numeric if can_miss[j]]
        one_hot = [j for j, k in enumerate(kinds) if k == "categorical" and cardinalities[j] <= one_hot_max]
        embedded = [j for j, k in enumerate(kinds) if k == "categorical" and cardinalities[j] > one_hot_max]
        self.register_buffer("numeric_idx", torch.tensor(numeric, dtype=torch.long), persistent=False)
        self.register_buffer("flag_idx", torch.tensor(flagged, dtype=torch.long), persistent=False)
        self.one_hot = [(j, max(1, int(cardinalities[j]))) for j in one_hot]
        self.embedded = [(j, int(cardinalities[j])) for j in embedded]
        self.embeddings = nn.ModuleList(
            nn.Embedding(k + 1, embedding_dim(k))
            for _, k in self.embedded  # row k: missing or unknown
        )
        self.out_dim = (
            len(numeric)
            + len(flagged)
            + sum(k for _, k in self.one_hot)
            + sum(e.embedding_dim for e in self.embeddings)
        )

    @classmethod
    def from_columns(cls, columns: Sequence[Any], one_hot_max: int = ONE_HOT_MAX) -> TableFeaturizer:
        """From column descriptions with `kind`, `cardinality` and `can_miss` (the table modality's)."""
        return cls(
            [c.kind for c in columns],
            [c.cardinality for c in columns],
            [c.can_miss for c in columns],
            one_hot_max,
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 2 or x.shape[1] != self.num_columns:
            raise ValueError(f"expected rows (B, {self.num_columns}); got {tuple(x.shape)}")
        x = x.float()
        parts: list[torch.Tensor] = []
        if len(self.numeric_idx):
            values = x.index_select(1, self.numeric_idx)
            finite = torch.isfinite(values)
            parts.append(torch.where(finite, values, torch.zeros_like(values)).clamp(-VALUE_CLIP, VALUE_CLIP))
        if len(self.flag_idx):
            parts.append((~torch.isfinite(x.index_select(1, self.flag_idx))).float())
        for j, k in self.one_hot:
            codes, valid = valid_codes(x[:, j], k)
            parts.append(F.one_hot(codes, k).float() * valid.unsqueeze(1).float())
        for (j, k), embedding in zip(self.embedded, self.embeddings, strict=True):
            codes, valid = valid_codes(x[:, j], k)
            parts.append(embedding(torch.where(valid, codes, torch.full_like(codes, k))))
        return torch.cat(parts, dim=1)


class RowBatchNorm(nn.BatchNorm1d):
    """BatchNorm1d that also takes a single row in training mode (plain BatchNorm raises there): a batch
    of one is normalised with the running statistics, which it leaves unchanged."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training and x.shape[0] == 1:
            return F.batch_norm(
                x, self.running_mean, self.running_var, self.weight, self.bias, False, 0.0, self.eps
            )
        return super().forward(x)


class TableMLP(nn.Module):
    """TableFeaturizer, then `depth` blocks of Linear (no bias) -> BatchNorm -> ReLU, with dropout between
    blocks (not after the last, whose output is the feature vector); `width` features.

    SCARF's encoder is 4 such layers of 256 units and VIME's a single one; 3 x 256 sits between and trains
    in seconds on a CPU for tables of thousands of rows.
    """

    def __init__(self, featurizer: TableFeaturizer, width: int = 256, depth: int = 3, dropout: float = 0.1):
        super().__init__()
        if width < 1 or depth < 1 or not 0.0 <= dropout < 1.0:
            raise ValueError(
                f"width and depth must be >= 1 and dropout in [0, 1); got {width}, {depth}, {dropout}"
            )
        self.featurizer = featurizer
        layers: list[nn.Module] = []
        dim = featurizer.out_dim
        for i in range(depth):
            layers += [nn.Linear(dim, width, bias=False), RowBatchNorm(width), nn.ReLU(inplace=True)]
            if dropout > 0 and i < depth - 1:
                layers.append(nn.Dropout(dropout))
            dim = width
        self.layers = nn.Sequential(*layers)
        self.width, self.depth, self.dropout = int(width), int(depth), float(dropout)
        self.feature_dim = int(width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(self.featurizer(x))

    def extra_repr(self) -> str:
        return f"in_dim={self.featurizer.out_dim}, width={self.width}, depth={self.depth}, dropout={self.dropout}"


def table_mlp(info: Any, width: int = 256, depth: int = 3, dropout: float = 0.1) -> TableMLP:
    """A TableMLP for the table `info` describes (its column schema, read by the table modality)."""
    from ssl_core.modalities.table import table_columns  # the modality owns the schema; imported late

    return TableMLP(TableFeaturizer.from_columns(table_columns(info)), width, depth, dropout)


def mlp_params(width: int, depth: int, dropout: float = 0.1) -> ParamSet:
    """The settings of an MLP backbone (`method.backbone_params`), with these defaults."""
    return ParamSet(
        (
            Param(
                "width",
                width,
                "Units in each fully connected layer, and so the number of features the network gives. Wider "
                "learns more and trains slower; SCARF uses 256.",
                low=16,
                high=4096,
                label="Layer width",
            ),
            Param(
                "depth",
                depth,
                "How many fully connected layers (each with batch normalisation and ReLU) the row passes through.",
                low=1,
                high=8,
                label="Number of layers",
            ),
            Param(
                "dropout",
                dropout,
                "Share of units dropped at random between layers while training (0: none); more of it resists "
                "memorising a small table.",
                low=0.0,
                high=0.9,
                label="Dropout share",
            ),
        )
    )


def _mlp_factory(settings: ParamSet) -> Callable[..., nn.Module]:
    """`factory(in_channels, size, info, **settings)`: a table MLP; unset settings take their defaults."""

    def factory(in_channels: int, size: int, info: Any, **overrides: Any) -> TableMLP:
        return table_mlp(info, **{**settings.defaults(), **overrides})

    return factory


@dataclass(frozen=True)
class TableBackbone:
    """What backbones.py needs to register a table network: `factory(in_channels, size, info, **params)`,
    with `params` its settings (the resolved values arrive as keyword arguments)."""

    name: str
    title: str
    description: str
    factory: Callable[..., nn.Module]
    params: ParamSet = field(default_factory=ParamSet)


_MLP_PARAMS = mlp_params(width=256, depth=3)
_MLP_SMALL_PARAMS = mlp_params(width=128, depth=2)

TABLE_BACKBONES: tuple[TableBackbone, ...] = (
    TableBackbone(
        "mlp",
        "MLP (table rows)",
        "Reads each row as a list of numbers (numeric columns standardised, missing values flagged, "
        "categories one-hot or embedded) and passes it through fully connected layers with batch "
        "normalisation and dropout; by default three layers of 256 units, so 256 features (width, depth "
        "and dropout are settings). The standard network for tables, as in SCARF and VIME, and fast on a CPU.",
        _mlp_factory(_MLP_PARAMS),
        _MLP_PARAMS,
    ),
    TableBackbone(
        "mlp_small",
        "Small MLP (table rows)",
        "The same as the MLP with two layers of 128 units by default; 128 features. For small tables (a few "
        "hundred rows), where the larger network would mostly memorise.",
        _mlp_factory(_MLP_SMALL_PARAMS),
        _MLP_SMALL_PARAMS,
    ),
)
