"""Table corruptions and views: rates, per-row randomness, determinism under a seed, replacement values
drawn from the column's own values in other rows, and missing values handled."""

from __future__ import annotations

import pytest
import torch

from ssl_core.augment import table as T
from ssl_core.errors import UserError
from ssl_core.modalities import modality_of
from ssl_core.modalities.table import numeric_columns
from tests.modalities.test_table_modality import table_info

B, F = 512, 10


def batch(b: int = B, f: int = F) -> torch.Tensor:
    """Rows whose every value is unique and tells its row and column: value = row * 100 + column."""
    return (torch.arange(b).view(b, 1) * 100 + torch.arange(f).view(1, f)).float()


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def source_row(values: torch.Tensor) -> torch.Tensor:
    return torch.div(values, 100, rounding_mode="floor").long()


# ---- marginal (VIME's mask-and-replace, SCARF's corruption) ---------------------------------------------
@pytest.mark.parametrize("p", [0.1, 0.3, 0.6])
def test_marginal_replaces_about_a_share_p_with_the_columns_values_from_other_rows(p):
    x = batch()
    out, mask = T.marginal(x, p, gen())
    assert out.shape == x.shape and mask.shape == x.shape and mask.dtype == torch.bool
    assert abs(mask.float().mean().item() - p) < 0.02
    assert torch.equal(out[~mask], x[~mask])
    rows = torch.arange(B).view(B, 1).expand(B, F)
    donor = source_row(out)
    assert torch.equal(out % 100, x % 100)  # every value stays in its own column
    assert (donor[mask] != rows[mask]).all()  # ... and comes from another row
    # Each replaced cell draws its own row: a row's replacements come from many different rows.
    assert len(set(donor[mask].tolist())) > B // 2


def test_marginal_exact_replaces_the_same_count_in_every_row_and_rows_differ():
    out, mask = T.marginal(batch(), 0.6, gen(), exact=True)
    assert (mask.sum(dim=1) == 6).all()
    assert len({tuple(row.tolist()) for row in mask}) > 150  # per-row randomness: 210 possible masks


def test_corruptions_repeat_under_a_seed_and_change_with_it():
    x = batch()
    for corrupt in (T.marginal, T.swap, T.missing):
        a, ma = corrupt(x, 0.3, gen(1))
        b, mb = corrupt(x, 0.3, gen(1))
        c, mc = corrupt(x, 0.3, gen(2))
        assert torch.equal(ma, mb) and torch.equal(a.nan_to_num(-1), b.nan_to_num(-1))
        assert not torch.equal(ma, mc)


def test_missing_values_are_copied_as_missing_and_never_appear_from_nowhere():
    x = batch()
    x[::2, 3] = float("nan")  # half of column 3 is missing
    out, mask = T.marginal(x, 0.5, gen())
    assert torch.isnan(out[:, [0, 1, 2, 4, 5, 6, 7, 8, 9]]).sum() == 0
    copied = torch.isnan(out[:, 3]) & mask[:, 3] & ~torch.isnan(x[:, 3])
    assert 0.3 < copied.sum().item() / (~torch.isnan(x[:, 3]) & mask[:, 3]).sum().item() < 0.7
    assert torch.equal(torch.isnan(out[:, 3]) & ~mask[:, 3], torch.isnan(x[:, 3]) & ~mask[:, 3])


def test_a_single_row_has_no_other_row_to_draw_from_and_stays_as_it_is():
    x = batch(1)
    for corrupt in (T.marginal, T.swap):
        out, mask = corrupt(x, 0.9, gen())
        assert torch.equal(out, x) and not mask.any()
    out, mask = T.marginal(batch(2), 1.0, gen())
    assert torch.equal(out, batch(2).flip(0))  # two rows: each takes every value from the other


# ---- swap, missing, gaussian --------------------------------------------------------------------------
def test_swap_takes_a_share_of_each_rows_columns_from_one_other_row():
    x = batch()
    out, mask = T.swap(x, 0.4, gen())
    assert abs(mask.float().mean().item() - 0.4) < 0.02
    assert torch.equal(out[~mask], x[~mask]) and torch.equal(out % 100, x % 100)
    donor = source_row(out)
    for i in range(B):
        donors = set(donor[i][mask[i]].tolist())
        assert len(donors) <= 1 and i not in donors


def test_missing_blanks_a_share_of_the_cells():
    x = batch()
    out, mask = T.missing(x, 0.25, gen())
    assert torch.equal(torch.isnan(out), mask)
    assert abs(mask.float().mean().item() - 0.25) < 0.02
    assert torch.equal(out[~mask], x[~mask])


def test_gaussian_noise_touches_numeric_columns_only_and_keeps_missing_values():
    x = torch.zeros(B, 4)
    x[:5, 0] = float("nan")
    numeric = torch.tensor([True, True, False, False])
    out = T.gaussian_noise(x, 0.5, numeric, gen())
    assert torch.isnan(out[:5, 0]).all() and not torch.isnan(out[5:]).any()
    assert torch.equal(out[:, 2:], x[:, 2:])
    assert abs(out[5:, 0].std().item() - 0.5) < 0.05 and abs(out[:, 1].std().item() - 0.5) < 0.05
    assert torch.equal(out.nan_to_num(), T.gaussian_noise(x, 0.5, numeric, gen()).nan_to_num())  # seeded
    with pytest.raises(ValueError, match="numeric must be"):
        T.gaussian_noise(x, 0.5, numeric[:3], gen())


def test_corruptions_check_their_input():
    with pytest.raises(ValueError, match="expected float rows"):
        T.marginal(torch.zeros(4, 3, 2), 0.3, gen())
    with pytest.raises(ValueError, match="p must be in"):
        T.missing(torch.zeros(4, 3), 1.5, gen())


# ---- through the modality -----------------------------------------------------------------------------
def test_the_modality_offers_the_table_corruptions_by_name():
    table, info = modality_of("table"), table_info(8)
    assert table.corruptions() == ("gaussian", "mask", "marginal", "swap", "missing")
    x = torch.randn(64, 6)
    x[:, 3:5] = torch.randint(0, 4, (64, 2)).float()
    noisy, none = table.corrupt("gaussian", x, gen(), info=info, std=0.3)
    assert none is None and torch.equal(noisy[:, 2:5], x[:, 2:5]) and not torch.equal(noisy[:, 0], x[:, 0])
    assert numeric_columns(info).tolist() == [True, True, False, False, False, True]
    masked, mask = table.corrupt("mask", x, gen(), ratio=0.5)
    marginal, mask2 = table.corrupt("marginal", x, gen(), ratio=0.5)
    assert torch.equal(masked, marginal) and torch.equal(mask, mask2)
    _, exact = table.corrupt("marginal", x, gen(), ratio=0.5, exact=True)
    assert (exact.sum(1) == 3).all()
    with pytest.raises(UserError, match="salt_and_pepper.*not available for rows"):
        table.corrupt("salt_and_pepper", x, gen())


# ---- views --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("preset", ["simclr", "moco_v2", "byol", "simsiam", "barlow", "vicreg"])
def test_every_joint_embedding_preset_has_table_views(preset):
    info = table_info(8)
    first, second = modality_of("table").view_pair(preset, info)
    x = torch.randn(128, 6)
    x[:, 3] = torch.randint(0, 4, (128,)).float()
    x[:, 4] = torch.randint(0, 30, (128,)).float()
    x[::7, 1] = float("nan")
    v1, v2 = first(x, gen()), second(x, gen(1))
    assert v1.shape == x.shape == v2.shape and not torch.equal(v1.nan_to_num(), v2.nan_to_num())
    for view in (v1, v2):
        codes = view[:, 3:5]
        assert torch.equal(codes, codes.round())  # categories stay categories (no noise on codes)
        assert set(view[:, 3].tolist()) <= set(x[:, 3].tolist())
        assert not torch.equal(view[:, 0], x[:, 0])  # noise on the numeric columns
        # Column 2 (boolean: no noise) changes only where another row's value came in: 20-50% of cells.
        assert 0.1 < (view[:, 2] != x[:, 2]).float().mean().item() < 0.6
    assert torch.equal(first(x, gen(5)).nan_to_num(), first(x, gen(5)).nan_to_num())
    with pytest.raises(ValueError, match="TableAugment expects rows"):
        first(torch.zeros(4, 5), gen())


def test_simclr_table_views_replace_forty_percent_of_each_row_plus_noise():
    recipe = T.TABLE_VIEW_PRESETS.get("simclr")()[0]
    assert (recipe.marginal_p, recipe.exact, recipe.noise_std) == (0.4, True, 0.1)
    with pytest.raises(UserError, match="augment.marginal_p"):
        T.TableViewRecipe(marginal_p=1.5)
    view = T.TableAugment(recipe.replace(noise_std=0.0), torch.ones(F, dtype=torch.bool))
    out = view(batch(), gen())
    assert ((out != batch()).sum(1) == 4).all()
