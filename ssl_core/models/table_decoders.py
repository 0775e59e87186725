"""Rebuilding table rows from a feature vector, for the reconstruction methods (autoencoder, denoising,
VIME) on tables.

Rows are compared in the adapter's units: numeric and boolean columns standardised (squared or absolute
error), categorical columns as categories (cross-entropy of the predicted logits against the code). A
value missing from the target (NaN, an unknown category) is left out of the loss and the error, so a
table with gaps trains on what it has.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ssl_core.errors import UserError
from ssl_core.modalities.base import ReconstructionHead
from ssl_core.models.table import STANDARDISED_KINDS, valid_codes


class TableDecoder(nn.Module):
    """Feature vector (B, D) -> (B, n_numeric + sum of K): a value per numeric or boolean column, then
    each categorical column's K logits, through one hidden layer (Linear -> ReLU -> Linear)."""

    def __init__(self, feature_dim: int, kinds: Sequence[str], cardinalities: Sequence[int], hidden: int):
        super().__init__()
        self.numeric = [j for j, k in enumerate(kinds) if k in STANDARDISED_KINDS]
        self.categorical = [(j, int(cardinalities[j])) for j, k in enumerate(kinds) if k == "categorical"]
        self.num_columns = len(kinds)
        self.out_dim = len(self.numeric) + sum(k for _, k in self.categorical)
        self.net = nn.Sequential(
            nn.Linear(feature_dim, hidden), nn.ReLU(inplace=True), nn.Linear(hidden, self.out_dim)
        )

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.net(features)

    def split(self, outputs: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """(numeric values (B, n_numeric), one (B, K) logits tensor per categorical column)."""
        n = len(self.numeric)
        logits, start = [], n
        for _, k in self.categorical:
            logits.append(outputs[:, start : start + k])
            start += k
        return outputs[:, :n], logits


class TableReconstruction(ReconstructionHead):
    """TableDecoder with the loss and per-row error of mixed columns, ignoring missing targets.

    `loss(outputs, target, mask)` averages the per-cell losses over the observed cells of the target
    (times `mask`, a (B, F) weight, when given); `error` is each row's mean per-cell error with squared
    error for numeric cells (the anomaly score); `to_sample` gives rows in column space (standardised
    values, categorical codes from the most likely category).
    """

    def __init__(self, feature_dim: int, columns: Sequence[Any], width: int, loss: str = "mse"):
        super().__init__()
        if loss not in ("mse", "l1"):
            raise UserError(
                f"loss = {loss!r} compares values in [0, 1] and suits images; table columns are "
                "standardised (and categories scored by cross-entropy), so use loss = mse (or l1).",
                field="method.params.loss",
            )
        self.loss_kind = loss
        kinds = [c.kind for c in columns]
        self.net = TableDecoder(feature_dim, kinds, [c.cardinality for c in columns], hidden=2 * int(width))

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.net(features)

    def to_sample(self, outputs: torch.Tensor) -> torch.Tensor:
        values, logits = self.net.split(outputs.float())
        rows = outputs.new_zeros((outputs.shape[0], self.net.num_columns), dtype=torch.float32)
        if self.net.numeric:
            rows[:, self.net.numeric] = values
        for (j, _), column_logits in zip(self.net.categorical, logits, strict=True):
            rows[:, j] = column_logits.argmax(dim=1).float()
        return rows

    def cell_losses(
        self, outputs: torch.Tensor, target: torch.Tensor, kind: str
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(per-cell loss (B, F), observed (B, F) bool), finite everywhere: missing cells hold 0."""
        values, logits = self.net.split(outputs.float())
        target = target.float()
        losses = torch.zeros_like(target)
        observed = torch.zeros_like(target, dtype=torch.bool)
        if self.net.numeric:
            wanted = target[:, self.net.numeric]
            seen = torch.isfinite(wanted)
            diff = values - torch.where(seen, wanted, values.detach())  # 0 where missing, no NaN gradient
            per = diff.abs() if kind == "l1" else diff.pow(2)
            losses[:, self.net.numeric] = per
            observed[:, self.net.numeric] = seen
        for (j, k), column_logits in zip(self.net.categorical, logits, strict=True):
            codes, valid = valid_codes(target[:, j], k)
            ce = F.cross_entropy(column_logits, codes, reduction="none")
            losses[:, j] = torch.where(valid, ce, torch.zeros_like(ce))
            observed[:, j] = valid
        return losses, observed

    def loss(self, outputs, target, mask=None):
        losses, observed = self.cell_losses(outputs, target, self.loss_kind)
        weight = observed.float()
        if mask is not None:
            weight = weight * mask.float().expand_as(weight)
        return (losses * weight).sum() / weight.sum().clamp_min(1e-8)

    def error(self, outputs, target):
        losses, observed = self.cell_losses(outputs, target, "mse")
        weight = observed.float()
        return (losses * weight).sum(dim=1) / weight.sum(dim=1).clamp_min(1.0)
