"""Tables: one row of F feature columns per sample, float32 (F,) in column space.

Numeric columns hold raw values, boolean ones 0/1, categorical ones category codes 0..K-1 (all NaN where
missing); the column schema is in `DataInfo.extra["table"]` (written by the table sources, read here by
`table_columns`). The adapter standardises numeric and boolean columns with NaN-aware statistics of the
training split; views and corruptions work column-wise across the batch (SCARF, VIME); the MLP backbones
featurise rows (models/table.py); previews show rows in the file's units ("table_rows").
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ssl_core.data.base import DataInfo, DataSource
from ssl_core.data.table_schema import FEATURE_KINDS as KINDS
from ssl_core.data.table_schema import TableColumn
from ssl_core.errors import UserError
from ssl_core.modalities.base import Modality, PreviewPayload, ReconstructionHead, sample_indices

STANDARDISED = ("numeric", "boolean")  # columns the adapter standardises; categorical codes pass through
_MIN_STD = 1e-6
# The raw-input baseline one-hot encodes categorical columns with at most this many categories; larger
# ones enter as their code scaled to [0, 1].
RAW_ONE_HOT_MAX = 64
_SCHEMA_FIELD = "data.table_schema"


def table_columns(info: DataInfo) -> list[TableColumn]:
    """The F feature columns of a table, from `info.extra["table"]["columns"]`.

    Data without a schema (arrays opened as a table) get F numeric columns named "column 1" .. "column F",
    each of which may be missing.
    """
    count = int(info.sample_shape[-1])
    schema = (info.extra or {}).get("table")
    if not schema:
        return [TableColumn(f"column {j + 1}", "numeric", (), 1) for j in range(count)]
    entries = schema.get("columns") if isinstance(schema, dict) else None
    if not isinstance(entries, list) or len(entries) != count:
        found = len(entries) if isinstance(entries, list) else "no"
        raise UserError(
            f"{info.name}: the table schema lists {found} feature column(s) but each row has {count} "
            "value(s); open the data again.",
            field=_SCHEMA_FIELD,
        )
    return [TableColumn.from_dict(entry) for entry in entries]


def column_statistics(values: torch.Tensor, columns: list[TableColumn]) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-column (mean, std) of (N, F) rows over their finite values, in float64 for accuracy.

    Categorical columns get 0 / 1 (their codes pass through); a column with fewer than two finite values
    or no spread gets std 1 (and mean 0 when it has no finite value at all).
    """
    x = values.double()
    finite = torch.isfinite(x)
    count = finite.sum(dim=0)
    zeros = torch.zeros_like(x)
    mean = torch.where(finite, x, zeros).sum(dim=0) / count.clamp_min(1)
    spread = torch.where(finite, x - mean, zeros).pow(2).sum(dim=0) / (count - 1).clamp_min(1)
    std = spread.sqrt()
    std = torch.where((count > 1) & (std > _MIN_STD), std, torch.ones_like(std))
    standardised = torch.tensor([c.kind in STANDARDISED for c in columns])
    mean = torch.where(standardised, mean, torch.zeros_like(mean))
    std = torch.where(standardised, std, torch.ones_like(std))
    return mean.float(), std.float()


class TableStandardise(nn.Module):
    """(x - mean) / std per column with training-split statistics kept as buffers (saved with the run).

    Categorical columns have mean 0 and std 1, so their codes pass through; NaN stays NaN. `columns`
    (the schema, rebuilt from the data whenever the run is loaded) lets the modality read rows back.
    """

    def __init__(self, mean: torch.Tensor, std: torch.Tensor, columns: list[TableColumn]):
        super().__init__()
        if mean.numel() != len(columns) or std.numel() != len(columns):
            raise ValueError(f"statistics for {mean.numel()} columns, schema for {len(columns)}")
        self.columns = list(columns)
        self.register_buffer("mean", mean.float().view(1, -1))
        self.register_buffer("std", std.float().clamp_min(_MIN_STD).view(1, -1))

    @classmethod
    def fit(cls, values: torch.Tensor, columns: list[TableColumn]) -> TableStandardise:
        mean, std = column_statistics(values, columns)
        return cls(mean, std, columns)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x.float() - self.mean) / self.std

    def inverse(self, x: torch.Tensor) -> torch.Tensor:
        """Standardised rows back in the file's units, on x's device (a preview may be on the CPU)."""
        return x.float() * self.std.to(x.device) + self.mean.to(x.device)

    def extra_repr(self) -> str:
        return f"columns={len(self.columns)}"


def table_adapter(adapter: object) -> TableStandardise | None:
    """The TableStandardise behind `adapter`: itself, or a method's whose `prepare` was passed."""
    if isinstance(adapter, TableStandardise):
        return adapter
    found = getattr(getattr(adapter, "__self__", None), "input_adapter", None)
    return found if isinstance(found, TableStandardise) else None


def encode_rows(
    x: torch.Tensor, columns: list[TableColumn], one_hot_max: int = RAW_ONE_HOT_MAX
) -> torch.Tensor:
    """Standardised rows (n, F) -> fixed numeric features (n, D): standardised values (missing -> 0), missing
    flags of columns that can be missing, categorical columns one-hot (code / (K - 1) above one_hot_max)."""
    from ssl_core.models.table import valid_codes

    x = x.float()
    finite = torch.isfinite(x)
    values, flags, categories = [], [], []
    for j, column in enumerate(columns):
        if column.kind in STANDARDISED:
            values.append(torch.where(finite[:, j], x[:, j], torch.zeros_like(x[:, j])).unsqueeze(1))
            if column.can_miss:
                flags.append((~finite[:, j]).float().unsqueeze(1))
            continue
        codes, valid = valid_codes(x[:, j], column.cardinality)
        if column.cardinality <= one_hot_max:
            onehot = torch.nn.functional.one_hot(codes, column.cardinality).float()
            categories.append(onehot * valid.unsqueeze(1).float())
        else:
            scaled = codes.float() / max(1, column.cardinality - 1)
            categories.append(torch.where(valid, scaled, torch.zeros_like(scaled)).unsqueeze(1))
    parts = values + flags + categories
    return torch.cat(parts, dim=1) if parts else x.new_zeros((x.shape[0], 0))


class TableModality(Modality):
    name = "table"
    title = "Tables"
    noun = "row"
    plural = "rows"
    default_backbone = "mlp"
    preview_payload = PreviewPayload.TABLE_ROWS
    size_setting = "data.ignore_columns"
    hidden_shown_as = float("nan")  # an empty cell
    raw_title = "raw columns"

    def describe(self, info: DataInfo) -> str:
        columns = table_columns(info)
        counts = {kind: sum(c.kind == kind for c in columns) for kind in KINDS}
        kinds = ", ".join(f"{n} {kind}" for kind, n in counts.items() if n)
        return f"{len(columns)} column{'s' if len(columns) != 1 else ''} ({kinds})"

    def sample_dims(self) -> int:
        return 1

    def input_adapter(self, source: DataSource, train_idx: torch.Tensor, seed: int) -> nn.Module:
        values, _ = source.read(sample_indices(train_idx, seed))
        return TableStandardise.fit(values, table_columns(source.info))

    def encoder_stats(self, source, train_idx, seed, adapter):
        count = int(source.info.sample_shape[-1])
        return [0.0] * count, [1.0] * count  # the adapter standardised the input; codes stay codes

    def view_pair(self, preset: str, info: DataInfo):
        from ssl_core.augment.table import table_view_pair

        return table_view_pair(preset, numeric_columns(info))

    def corruptions(self) -> tuple[str, ...]:
        return ("gaussian", "mask", "marginal", "swap", "missing")

    def corruption_reason(self, name: str, info: DataInfo) -> str | None:
        if name == "gaussian" and not bool(numeric_columns(info).any()):
            return (
                f"{info.name} has no numeric column for gaussian noise to act on; use mask, swap or missing."
            )
        return None

    def corrupt(self, name, x, generator, *, info=None, **options):
        from ssl_core.augment import table as table_corrupt

        ratio = float(options.get("ratio", 0.3))
        if name == "gaussian":
            if info is None:
                raise ValueError("gaussian noise on a table needs its DataInfo (info=...)")
            std = float(options.get("std", 0.3))
            return table_corrupt.gaussian_noise(x, std, numeric_columns(info), generator), None
        if name in ("mask", "marginal"):
            return table_corrupt.marginal(x, ratio, generator, exact=bool(options.get("exact", False)))
        if name == "swap":
            return table_corrupt.swap(x, ratio, generator)
        if name == "missing":
            return table_corrupt.missing(x, ratio, generator)
        return super().corrupt(name, x, generator, info=info, **options)

    def reconstruction_head(
        self, feature_dim, info, backbone, width, loss: str = "mse"
    ) -> ReconstructionHead:
        from ssl_core.models.table_decoders import TableReconstruction

        return TableReconstruction(feature_dim, table_columns(info), width, loss)

    def raw_features(self, batch: torch.Tensor, adapter: nn.Module) -> np.ndarray:
        x = adapter(batch).float()
        found = table_adapter(adapter)
        columns = (
            found.columns
            if found is not None
            else [TableColumn(f"{j}", "numeric", (), 1) for j in range(x.shape[1])]
        )
        return np.ascontiguousarray(encode_rows(x, columns).cpu().numpy(), dtype=np.float32)

    def preview_values(self, x: torch.Tensor, adapter: nn.Module | None) -> torch.Tensor:
        found = table_adapter(adapter)
        return found.inverse(x.detach()) if found is not None else x

    def preview_meta(self, info: DataInfo) -> dict:
        columns = table_columns(info)
        return {
            "columns": [c.name for c in columns],
            "kinds": [c.kind for c in columns],
            "categories": {c.name: list(c.categories) for c in columns if c.kind == "categorical"},
        }


def numeric_columns(info: DataInfo) -> torch.Tensor:
    """(F,) bool: the numeric columns (noise acts on these; booleans and categories keep their values)."""
    return torch.tensor([c.kind == "numeric" for c in table_columns(info)], dtype=torch.bool)
