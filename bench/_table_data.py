"""The table of bench_table_throughput.py, and the reference pipeline's per-row Dataset.

`synthetic_table` makes the seeded customer-like table both pipelines read (as CSV); `fit_recipe` and
`PandasRows` are the reference's preprocessing: training statistics and category maps fitted with pandas,
then one `df.iloc[i]` row at a time turned into a float32 tensor, as tabular PyTorch code usually does.
Only NumPy and pandas are imported here (torch when a PandasRows is made), so that the IsolationForest
baseline's scoring process holds no more than a practitioner's would.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

NUMERIC = (
    "age",
    "income",
    "balance",
    "tenure_months",
    "visits",
    "spend_30d",
    "spend_90d",
    "discount_rate",
    "latency_ms",
    "score_a",
    "score_b",
    "temperature",
)
GAPPY = ("income", "visits", "latency_ms", "score_b")  # ~2% missing each
CATEGORICAL = {"plan": 5, "region": 12, "product": 40}
BOOLEAN = "newsletter"
ID_COLUMN = "customer_id"
TRUE_WORDS = ("1", "1.0", "true", "yes", "y", "t")
FALSE_WORDS = ("0", "0.0", "false", "no", "n", "f")


# ---- the table ----------------------------------------------------------------------------------------
def _category_column(k: int, prefix: str, driver: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Text categories prefix00..prefix{k-1}: the driver's quantile bin, moved by one now and then."""
    ranks = np.argsort(np.argsort(driver)) / max(1, len(driver))
    idx = np.clip((ranks * k).astype(np.int64) + rng.integers(-1, 2, len(driver)), 0, k - 1)
    return np.array([f"{prefix}{i:02d}" for i in range(k)], dtype=object)[idx]


def synthetic_table(n: int, seed: int) -> pd.DataFrame:
    """A customer-like mixed table of n rows (seeded): id, 12 numeric, 3 categorical, 1 yes/no column.

    Three latent factors drive everything (numeric columns are noisy linear mixtures, some made positive
    and skewed with exp or rounded to counts; categories are quantile bins of a factor), so the columns
    are related as in real data. Columns in GAPPY miss ~2% of values, `product` and `newsletter` ~1%.
    """
    rng = np.random.default_rng(seed)
    shape = np.random.default_rng(12345)  # the table's fixed structure, the same for every seed
    mix = shape.normal(0.0, 1.0, (3, len(NUMERIC)))
    scale = shape.uniform(0.5, 50.0, len(NUMERIC))
    offset = shape.uniform(-20.0, 200.0, len(NUMERIC))
    z = rng.standard_normal((n, 3))
    base = z @ mix + 0.5 * rng.standard_normal((n, len(NUMERIC)))
    columns: dict[str, np.ndarray] = {ID_COLUMN: 100_000 + 7 * np.arange(n, dtype=np.int64)}
    for j, name in enumerate(NUMERIC):
        values = base[:, j] * scale[j] + offset[j]
        if name in ("income", "spend_30d", "spend_90d"):
            values = np.exp(0.5 * base[:, j]) * scale[j]
        elif name in ("tenure_months", "visits"):
            values = np.round(np.abs(values))
        if name in GAPPY:
            values = values.astype(np.float64)
            values[rng.random(n) < 0.02] = np.nan
        columns[name] = values
    drivers = {
        "plan": z[:, 0] + 0.3 * rng.standard_normal(n),
        "region": rng.standard_normal(n) + 0.5 * z[:, 1],
        "product": z[:, 2] + 0.5 * rng.standard_normal(n),
    }
    prefixes = {"plan": "plan_", "region": "R", "product": "P"}
    for name, k in CATEGORICAL.items():
        columns[name] = _category_column(k, prefixes[name], drivers[name], rng)
    columns["product"][rng.random(n) < 0.01] = None
    flag = np.where(z[:, 0] + rng.standard_normal(n) > 0, "yes", "no").astype(object)
    flag[rng.random(n) < 0.01] = None
    columns[BOOLEAN] = flag
    return pd.DataFrame(columns)


def write_csv(frame: pd.DataFrame, path: Path) -> str:
    frame.to_csv(path, index=False, float_format="%.6g")
    return f"csv:{path}"


def schema_columns(info) -> list[dict]:
    """The engine's feature columns (name, kind, categories) from a table's DataInfo."""
    return list(info.extra["table"]["columns"])


# ---- the reference's preprocessing ----------------------------------------------------------------------
@dataclass
class RowRecipe:
    """What `PandasRows.__getitem__` needs: column positions in the DataFrame, statistics, category maps."""

    width: int
    numeric_pos: np.ndarray  # positions in the DataFrame row
    numeric_out: np.ndarray  # positions in the output row
    mean: np.ndarray
    std: np.ndarray
    booleans: list[tuple[int, int, float, float]]  # (out, pos, mean, std)
    categoricals: list[tuple[int, int, dict]]  # (out, pos, value -> code)


def yes_no(value: object) -> float:
    """1.0 / 0.0 for yes/no words (any case; also true/false, 1/0, y/n, t/f), NaN for anything else."""
    text = str(value).strip().lower()
    return 1.0 if text in TRUE_WORDS else 0.0 if text in FALSE_WORDS else math.nan


def fit_recipe(frame: pd.DataFrame, columns: list[dict], stats_rows: np.ndarray) -> RowRecipe:
    """Training statistics (pandas, NaN-skipping, ddof=1) of `stats_rows`, categories sorted as text.

    The columns (names, kinds, order) are the engine's schema, as a person would list them by hand; the
    statistics come from the same training rows the engine's adapter uses, so both pipelines feed the
    model identical rows.
    """
    names = list(frame.columns)
    stats = frame.iloc[stats_rows]
    numeric = [(j, c["name"]) for j, c in enumerate(columns) if c["kind"] == "numeric"]
    mean = stats[[n for _, n in numeric]].mean().to_numpy(np.float64)
    std = stats[[n for _, n in numeric]].std().to_numpy(np.float64)
    std = np.where(np.isfinite(std) & (std > 1e-6), std, 1.0)
    mean = np.where(np.isfinite(mean), mean, 0.0)
    booleans, categoricals = [], []
    for j, c in enumerate(columns):
        if c["kind"] == "boolean":
            values = stats[c["name"]].map(yes_no).to_numpy(np.float64)
            m, sd = np.nanmean(values), np.nanstd(values, ddof=1)
            booleans.append((j, names.index(c["name"]), float(m), float(sd) if sd > 1e-6 else 1.0))
        elif c["kind"] == "categorical":
            seen = sorted({str(v).strip() for v in frame[c["name"]].dropna().tolist()})
            categoricals.append((j, names.index(c["name"]), {v: float(k) for k, v in enumerate(seen)}))
    return RowRecipe(
        width=len(columns),
        numeric_pos=np.array([names.index(n) for _, n in numeric], dtype=np.int64),
        numeric_out=np.array([j for j, _ in numeric], dtype=np.int64),
        mean=mean,
        std=std,
        booleans=booleans,
        categoricals=categoricals,
    )


class PandasRows:
    """One row at a time from a DataFrame: standardised numeric and yes/no values, category codes, float32.

    Missing cells stay NaN: the model's featurizer (shared by both pipelines) fills them and adds the
    missing flags, and the autoencoder leaves them out of its loss.
    """

    def __init__(self, frame: pd.DataFrame, recipe: RowRecipe):
        import torch  # here, so that the baseline's process (pandas + scikit-learn) never loads torch

        self.frame, self.recipe, self._tensor = frame, recipe, torch.from_numpy

    def __len__(self) -> int:
        return len(self.frame)

    def __getitem__(self, i: int):  # -> a float32 torch.Tensor (F,)
        r = self.recipe
        row = self.frame.iloc[i].to_numpy()
        out = np.empty(r.width, dtype=np.float32)
        out[r.numeric_out] = (row[r.numeric_pos].astype(np.float64) - r.mean) / r.std
        for j, pos, mean, std in r.booleans:
            out[j] = (yes_no(row[pos]) - mean) / std
        for j, pos, codes in r.categoricals:
            value = row[pos]
            out[j] = codes.get(value.strip() if isinstance(value, str) else value, math.nan)
        return self._tensor(out)
