"""Corruptions and views of table rows, batched, with per-sample randomness from the step's generator.

Rows are (B, F) floats in the table modality's column space: numeric and boolean columns standardised,
categorical columns as codes, NaN where a value is missing. Corruptions work column by column across the
batch, so a corrupted value is always one the column really takes:
- `marginal` (VIME's mask-and-replace, SCARF's corruption): each cell, with probability p (or exactly
  round(p * F) cells per row), takes the same column's value from another random row of the batch, a draw
  from the column's empirical marginal;
- `swap` (CutMix for tables, as in SAINT): each row takes a share p of its columns from one other row;
- `missing`: a share p of the cells become NaN (missing);
- `gaussian_noise`: N(0, std^2) added to the numeric columns only (booleans and codes keep their values).
Masks are (B, F) bool, True where a cell was replaced. Missing values stay NaN or are copied as NaN: the
network's featurizer reads them as missing.

`TableViewRecipe` / `TableAugment` / `table_view_pair(name, numeric)` give the joint-embedding methods
SCARF-style views under the shared preset names (simclr, moco_v2, byol, simsiam, barlow, vicreg).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from ssl_core.augment import sampling
from ssl_core.augment.checks import check_fraction, check_number
from ssl_core.augment.pipeline import ViewAugment
from ssl_core.registry import Registry


def _check_rows(x: Tensor) -> None:
    if x.dim() != 2 or not x.is_floating_point():
        raise ValueError(f"expected float rows (B, F); got {x.dtype} of shape {tuple(x.shape)}")


def _uniform(shape: tuple[int, ...], generator: torch.Generator, device: torch.device) -> Tensor:
    return torch.rand(shape, generator=generator, device=generator.device).to(device)


def cell_mask(
    b: int, f: int, p: float, generator: torch.Generator, device: torch.device, exact: bool = False
) -> Tensor:
    """(b, f) bool: each cell True with probability p, or (exact) exactly round(p * f) cells per row."""
    scores = _uniform((b, f), generator, device)
    if not exact:
        return scores < p
    k = round(p * f)
    return scores.argsort(dim=1).argsort(dim=1) < k


def other_rows(b: int, shape: tuple[int, ...], generator: torch.Generator, device: torch.device) -> Tensor:
    """Row indices of `shape` (first axis = the row it is for), each a uniform draw among the other b - 1
    rows of the batch (the row itself when b == 1)."""
    if b == 1:
        return torch.zeros(shape, dtype=torch.long, device=device)
    offset = 1 + (_uniform(shape, generator, device) * (b - 1)).floor().long().clamp(max=b - 2)
    own = torch.arange(b, device=device).view(b, *(1,) * (len(shape) - 1))
    return (own + offset) % b


def marginal(x: Tensor, p: float, generator: torch.Generator, exact: bool = False) -> tuple[Tensor, Tensor]:
    """Replace each cell with probability p (exactly round(p * F) per row with `exact`) by the same
    column's value in another random row of the batch; every cell draws its own row.

    Returns (corrupted rows, mask (B, F) True where a cell was replaced). The replacement may equal the
    original (a common category) or be NaN (a missing value: the marginal includes missingness); a batch
    of one row has no other rows, so nothing is replaced.
    """
    _check_rows(x)
    check_fraction("p", p)
    b, f = x.shape
    mask = cell_mask(b, f, p, generator, x.device, exact)
    donors = other_rows(b, (b, f), generator, x.device)
    if b == 1:
        mask = torch.zeros_like(mask)
    replacement = torch.gather(x, 0, donors)
    return torch.where(mask, replacement, x), mask


def swap(x: Tensor, p: float, generator: torch.Generator) -> tuple[Tensor, Tensor]:
    """Each row takes a random share p of its columns (each column with probability p) from one other
    random row of the batch, keeping the combinations that row's values come in. Returns (rows, mask)."""
    _check_rows(x)
    check_fraction("p", p)
    b, f = x.shape
    mask = cell_mask(b, f, p, generator, x.device)
    donor = other_rows(b, (b,), generator, x.device)
    if b == 1:
        mask = torch.zeros_like(mask)
    return torch.where(mask, x[donor], x), mask


def missing(x: Tensor, p: float, generator: torch.Generator) -> tuple[Tensor, Tensor]:
    """Each cell becomes missing (NaN) with probability p. Returns (rows, mask True where blanked)."""
    _check_rows(x)
    check_fraction("p", p)
    mask = cell_mask(*x.shape, p, generator, x.device)
    return x.masked_fill(mask, float("nan")), mask


def gaussian_noise(x: Tensor, std: float, numeric: Tensor, generator: torch.Generator) -> Tensor:
    """x plus N(0, std^2) noise on the numeric columns (`numeric`: (F,) bool), in units of each column's
    standard deviation; other columns and missing values are unchanged."""
    _check_rows(x)
    if std < 0:
        raise ValueError(f"std must be >= 0; got {std}")
    if numeric.shape != (x.shape[1],):
        raise ValueError(f"numeric must be ({x.shape[1]},) bool; got {tuple(numeric.shape)}")
    noise = sampling.normal(tuple(x.shape), generator, x.device, torch.float32)
    noise = noise * numeric.to(x.device).view(1, -1).float()
    return x + (std * noise).to(x.dtype)


# ---- views ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class TableViewRecipe:
    """One view of a row: marginal corruption (SCARF) of a share of the cells, then a little noise on
    the numeric columns. `exact` corrupts exactly round(marginal_p * F) cells per row, as SCARF does."""

    marginal_p: float = 0.4
    exact: bool = True
    noise_std: float = 0.1

    def __post_init__(self) -> None:
        check_number("marginal_p", self.marginal_p, 0.0, 1.0)
        check_number("noise_std", self.noise_std, 0.0, 2.0)

    def replace(self, **changes) -> TableViewRecipe:
        return dataclasses.replace(self, **changes)


class TableAugment(ViewAugment):
    """Applies a TableViewRecipe to (B, F) rows with independent draws per row, all from `generator`.
    `numeric` ((F,) bool) says which columns the noise acts on. No parameters."""

    layout = "rows (B, C)"
    dims = 2

    def __init__(self, recipe: TableViewRecipe, numeric: Tensor):
        super().__init__(recipe, int(numeric.numel()))
        self.register_buffer("numeric", numeric.bool().clone(), persistent=False)

    def _view(self, x: Tensor, generator: torch.Generator) -> Tensor:
        x = x if x.is_floating_point() else x.float()
        r = self.recipe
        if r.marginal_p > 0:
            x, _ = marginal(x, r.marginal_p, generator, exact=r.exact)
        else:
            x = x.clone()
        if r.noise_std > 0 and bool(self.numeric.any()):
            x = gaussian_noise(x, r.noise_std, self.numeric, generator)
        return x


TableViewPair = tuple[TableViewRecipe, TableViewRecipe]
TABLE_VIEW_PRESETS: Registry[Callable[[], TableViewPair]] = Registry("table augmentation preset")

# SCARF corrupts 60% of the features of one view and leaves the anchor clean; two views each corrupted at
# 40% differ in about the same share of cells (1 - 0.6^2 = 64%) and both stay informative.
_STRONG = TableViewRecipe(marginal_p=0.4, noise_std=0.1)
_MODERATE = TableViewRecipe(marginal_p=0.3, noise_std=0.05)
_WEAK = TableViewRecipe(marginal_p=0.2, noise_std=0.05)
_STRONGER = TableViewRecipe(marginal_p=0.5, noise_std=0.1)


@TABLE_VIEW_PRESETS.decorator("simclr")
def simclr_table_views() -> TableViewPair:
    """SimCLR: two strong views, 40% of each row's cells from other rows plus noise 0.1 on numerics."""
    return _STRONG, _STRONG


@TABLE_VIEW_PRESETS.decorator("moco_v2")
def moco_v2_table_views() -> TableViewPair:
    """MoCo v2 (and SimSiam): milder, 30% of the cells and noise 0.05, as its image views are milder."""
    return _MODERATE, _MODERATE


@TABLE_VIEW_PRESETS.decorator("simsiam")
def simsiam_table_views() -> TableViewPair:
    return moco_v2_table_views()


@TABLE_VIEW_PRESETS.decorator("byol")
def byol_table_views() -> TableViewPair:
    """BYOL, Barlow Twins and VICReg: asymmetric views, 20% and 50% of the cells replaced."""
    return _WEAK, _STRONGER


@TABLE_VIEW_PRESETS.decorator("barlow")
def barlow_table_views() -> TableViewPair:
    return byol_table_views()


@TABLE_VIEW_PRESETS.decorator("vicreg")
def vicreg_table_views() -> TableViewPair:
    return byol_table_views()


def table_view_pair(name: str, numeric: Tensor) -> tuple[TableAugment, TableAugment]:
    """Two TableAugments for preset `name`; `numeric` ((F,) bool) marks the numeric columns."""
    first, second = (TableAugment(recipe, numeric) for recipe in TABLE_VIEW_PRESETS.get(name)())
    return first, second
