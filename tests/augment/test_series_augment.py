"""Series augmentation: each op's maths, the augmenter's contracts, presets, corruptions, numpy reference."""

import math

import numpy as np
import pytest
import torch
from scipy.interpolate import CubicSpline

from ssl_core.augment import series_corrupt
from ssl_core.augment import series_ops as ops
from ssl_core.augment.series import (
    ALL_OFF,
    SERIES_VIEW_PRESETS,
    SeriesAugment,
    SeriesViewRecipe,
    preset_series_views,
    series_view_pair,
)
from ssl_core.augment.series_reference import NumpySeriesAugment, NumpySeriesPairs
from ssl_core.errors import UserError

# Every op off; tests switch on the ones they look at.
NONE = ALL_OFF
# Every op always on, so one call exercises the whole chain.
ALL_ON = SeriesViewRecipe(
    crop_p=1.0,
    time_warp_p=1.0,
    permute_p=1.0,
    magnitude_warp_p=1.0,
    scale_p=1.0,
    rotate_p=1.0,
    jitter_p=1.0,
    channel_drop_p=0.3,
)


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def noise(n: int = 8, c: int = 6, t: int = 100, seed: int = 0) -> torch.Tensor:
    return torch.randn(n, c, t, generator=gen(seed))


def signal(n: int = 64, c: int = 6, t: int = 100, seed: int = 0) -> torch.Tensor:
    """Real-ish standardised sensor data: 0.5-1.5 cycles of a wave and its harmonic per channel, light noise."""
    g = gen(seed)
    steps = torch.arange(t) / t
    freq = 0.5 + torch.rand(n, c, 1, generator=g)
    phase = 2 * math.pi * torch.rand(n, c, 2, generator=g)
    x = torch.sin(2 * math.pi * freq * steps + phase[..., :1])
    x = x + 0.3 * torch.sin(4 * math.pi * freq * steps + phase[..., 1:])
    x = x + 0.05 * torch.randn(n, c, t, generator=g)
    return (x - x.mean((0, 2), keepdim=True)) / x.std((0, 2), keepdim=True)


def pearson(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """(N, M) correlations between the flattened samples of a (N, ...) and b (M, ...)."""
    a, b = a.flatten(1).double(), b.flatten(1).double()
    a, b = a - a.mean(1, keepdim=True), b - b.mean(1, keepdim=True)
    return (a / a.norm(dim=1, keepdim=True)) @ (b / b.norm(dim=1, keepdim=True)).T


# ---- ops ------------------------------------------------------------------------------------------------------
def test_jitter_and_scaling_are_identity_at_sigma_0_and_factor_1():
    x = noise()
    assert torch.equal(ops.jitter(x, torch.randn_like(x), torch.zeros(8)), x)
    assert torch.equal(ops.scale(x, torch.ones(8, 6)), x)
    shifted = ops.jitter(x, torch.ones_like(x), torch.arange(8.0))
    torch.testing.assert_close(shifted - x, torch.arange(8.0).view(8, 1, 1).expand_as(x))
    factors = torch.rand(8, 6, generator=gen(1))
    torch.testing.assert_close(ops.scale(x, factors), x * factors.unsqueeze(-1))


def test_resample_is_exact_at_integer_positions_and_linear_between():
    ramp = torch.arange(10.0).repeat(2, 3, 1)  # value == position
    positions = torch.tensor([[0.0, 2.5, 9.0, -3.0], [7.25, 1.0, 12.0, 4.75]])
    out = ops.resample(ramp, positions)
    assert out.shape == (2, 3, 4)
    torch.testing.assert_close(out[:, 0], positions.clamp(0, 9))  # edge values outside the series


def test_crop_of_full_length_and_identity_time_warp_are_identity():
    x = noise(t=150)
    full = ops.crop_resize(x, torch.zeros(8), torch.full((8,), 150.0))
    torch.testing.assert_close(full, x, atol=1e-5, rtol=0)
    identity = ops.warp_positions(torch.full((8, 150), 1.7))
    torch.testing.assert_close(identity, torch.arange(150.0).expand(8, 150), atol=1e-4, rtol=0)
    torch.testing.assert_close(ops.time_warp(x, identity), x, atol=1e-5, rtol=0)


def test_crop_stretches_the_window_over_the_whole_length():
    ramp = torch.arange(100.0).repeat(1, 1, 1)
    out = ops.crop_resize(ramp, torch.tensor([20.0]), torch.tensor([50.0]))
    expected = 20.0 + (torch.arange(100.0) + 0.5) * 0.5 - 0.5  # cell centres of [20, 70)
    torch.testing.assert_close(out[0, 0], expected)
    assert 19.5 < out.min() < 20.0 and 69.0 < out.max() < 70.0


def test_warp_positions_are_monotone_from_first_to_last_step():
    speed = 0.2 + torch.rand(5, 80, generator=gen())
    pos = ops.warp_positions(speed)
    assert (pos.diff(dim=1) > 0).all()
    torch.testing.assert_close(pos[:, 0], torch.zeros(5))
    torch.testing.assert_close(pos[:, -1], torch.full((5,), 79.0))
    fast_then_slow = ops.warp_positions(torch.cat([torch.full((1, 40), 3.0), torch.ones(1, 40)], 1))
    assert fast_then_slow[0, 39] > 50  # the first half of the output plays most of the original


@pytest.mark.parametrize("mode", ["cubic", "linear"])
@pytest.mark.parametrize(("knots", "length"), [(6, 100), (3, 8), (2, 5), (5, 150)])
def test_smooth_curve_matches_scipy_natural_spline_and_np_interp(mode, knots, length):
    values = np.random.default_rng(knots * length).normal(1.0, 0.3, size=(2, 3, knots))
    steps, t = np.linspace(0, length - 1, knots), np.arange(length)
    if mode == "cubic":
        expected = CubicSpline(steps, values, axis=-1, bc_type="natural")(t)
    else:
        expected = np.stack([np.interp(t, steps, v) for v in values.reshape(-1, knots)]).reshape(2, 3, -1)
    curve = ops.smooth_curve(torch.tensor(values, dtype=torch.float32), length, mode)
    torch.testing.assert_close(curve, torch.tensor(expected, dtype=torch.float32), atol=1e-5, rtol=1e-5)


def test_magnitude_warp_with_unit_knots_is_identity_and_shared_knots_warp_all_channels_alike():
    x = noise()
    torch.testing.assert_close(ops.magnitude_warp(x, torch.ones(8, 6, 6)), x, atol=1e-6, rtol=1e-6)
    knots = 1 + 0.3 * torch.randn(8, 1, 6, generator=gen(2))
    ones = torch.ones(8, 6, 100)
    warped = ops.magnitude_warp(ones, knots, "cubic")
    torch.testing.assert_close(warped, warped[:, :1].expand_as(warped))
    torch.testing.assert_close(warped[:, 0, [0, -1]], knots[:, 0, [0, -1]])  # passes through end knots
    with pytest.raises(ValueError):
        ops.magnitude_warp(x, torch.ones(8, 2, 4))


def test_permute_segments_follows_the_ranks_and_keeps_values():
    x = torch.arange(5.0).view(1, 1, 5)
    out = ops.permute_segments(x, torch.tensor([[0, 0, 1, 1, 1]]), torch.tensor([[1, 0]]))
    assert out.flatten().tolist() == [2.0, 3.0, 4.0, 0.0, 1.0]
    # Random segments through the augmenter keep each channel's multiset of values.
    x = noise(n=16, t=100)
    for mode in ("random", "equal"):
        recipe = NONE.replace(permute_p=1.0, permute_max_segments=8, permute_mode=mode)
        view = SeriesAugment(recipe, 6)(x, gen())
        assert torch.equal(view.sort(dim=-1).values, x.sort(dim=-1).values)
        # A uniform order of 2-8 segments keeps the original one with odds 1/k! (about 1 in 10 here).
        assert (view != x).any(dim=(1, 2)).sum() >= 12
        index = x.argsort(-1).gather(-1, view.argsort(-1).argsort(-1))  # where each output step came from
        assert (index == index[:, :1]).all()  # every channel of a sample is reordered the same way


def test_rotation_preserves_triple_norms_and_is_identity_at_angle_0():
    x = noise(n=16, c=6)
    axis = torch.randn(16, 3, generator=gen(3))
    angle = torch.rand(16, generator=gen(4)) * math.pi
    matrices = ops.rotation_matrices(axis, angle)
    torch.testing.assert_close(
        matrices @ matrices.transpose(1, 2), torch.eye(3).expand(16, 3, 3), atol=1e-5, rtol=0
    )
    torch.testing.assert_close(torch.linalg.det(matrices), torch.ones(16))
    out = ops.rotate(x, matrices)
    norms = x.view(16, 2, 3, 100).norm(dim=2)
    torch.testing.assert_close(out.view(16, 2, 3, 100).norm(dim=2), norms, atol=1e-5, rtol=1e-5)
    assert not torch.allclose(out, x)
    torch.testing.assert_close(ops.rotate(x, ops.rotation_matrices(axis, torch.zeros(16))), x)
    quarter_z = ops.rotation_matrices(torch.tensor([[0.0, 0.0, 1.0]]), torch.tensor([math.pi / 2]))
    torch.testing.assert_close(quarter_z[0] @ torch.tensor([1.0, 0.0, 0.0]), torch.tensor([0.0, 1.0, 0.0]))
    four = noise(c=4)
    assert torch.equal(ops.rotate(four, matrices[:8]), four)  # not triples: unchanged


def test_channel_dropout_zeroes_whole_channels_and_keeps_one_per_sample():
    x = noise(n=64, c=6) + 5.0  # no value is 0 before dropout
    assert torch.equal(ops.channel_dropout(x, torch.ones(64, 6, dtype=torch.bool)), x)
    view = SeriesAugment(NONE.replace(channel_drop_p=0.6), 6)(x, gen())
    dropped = (view == 0).all(dim=-1)
    kept = (view == x).all(dim=-1)
    assert torch.equal(dropped, ~kept)  # each channel either intact or all zero
    assert kept.any(dim=1).all()
    assert abs(dropped.float().mean().item() - 0.6) < 0.1


# ---- the augmenter ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("channels", [1, 3, 4, 6])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.bfloat16])
def test_shape_and_dtype_are_kept_for_every_channel_count(channels, dtype):
    x = noise(c=channels).to(dtype)
    out = SeriesAugment(ALL_ON, channels)(x, gen())
    assert out.shape == x.shape and out.dtype == dtype
    assert torch.isfinite(out.float()).all() and not torch.equal(out, x)
    if dtype == torch.float64:  # parameters are drawn in float32: the same view up to rounding
        reference = SeriesAugment(ALL_ON, channels)(x.float(), gen())
        torch.testing.assert_close(out.float(), reference, atol=1e-5, rtol=1e-5)


def test_returns_a_new_tensor_and_leaves_the_input_alone():
    x = noise()
    before = x.clone()
    out = SeriesAugment(NONE, 6)(x, gen())
    assert torch.equal(out, x) and out.data_ptr() != x.data_ptr()
    SeriesAugment(ALL_ON, 6)(x, gen())
    assert torch.equal(x, before)
    with pytest.raises(ValueError):
        SeriesAugment(ALL_ON, 6)(noise(c=3), gen())


def test_same_seed_same_views_other_seed_other_views():
    x = noise()
    aug = SeriesAugment(ALL_ON, 6)
    assert torch.equal(aug(x, gen(7)), aug(x, gen(7)))
    assert not torch.allclose(aug(x, gen(7)), aug(x, gen(8)))


def test_views_do_not_depend_on_autocast():
    x = noise()
    aug = SeriesAugment(ALL_ON, 6)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        under = aug(x, gen())
    assert under.dtype == torch.float32
    assert torch.equal(under, aug(x, gen()))


@pytest.mark.parametrize(
    "recipe",
    [ALL_ON, NONE.replace(crop_p=1.0), NONE.replace(time_warp_p=1.0), NONE.replace(jitter_p=1.0)],
    ids=["all_on", "crop", "time_warp", "jitter"],
)
def test_equal_samples_get_different_views(recipe):
    x = noise(n=1).expand(16, -1, -1).contiguous()
    view = SeriesAugment(recipe, 6)(x, gen())
    flat = view.flatten(1)
    distances = torch.cdist(flat, flat)
    assert (distances + torch.eye(16) * 1e9).min() > 1e-3


def test_probabilities_pick_that_share_of_samples():
    x = noise(n=400, c=3)
    view = SeriesAugment(NONE.replace(scale_p=0.3, scale_sigma=0.5), 3)(x, gen())
    changed = (view != x).any(dim=(1, 2)).float().mean().item()
    assert abs(changed - 0.3) < 0.07


# ---- recipe -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("crop_p", 1.5),
        ("crop_scale", (0.9, 0.5)),
        ("crop_scale", (0.5,)),
        ("jitter_sigma", (-0.1, 0.1)),
        ("time_warp_knots", 2.5),
        ("permute_max_segments", 1),
        ("permute_mode", "shuffle"),
        ("warp_mode", "quadratic"),
        ("rotate_max_degrees", float("nan")),
        ("channel_drop_p", 1.0),
    ],
)
def test_bad_recipe_values_raise_user_error_naming_the_field(field, value):
    with pytest.raises(UserError, match=f"augment.{field}") as err:
        SeriesViewRecipe(**{field: value})
    assert err.value.field == f"augment.{field}"


def test_recipe_round_trips_through_a_dict_and_scales_idempotently():
    recipe = SeriesViewRecipe(crop_scale=[0.6, 1.0])  # a config file gives lists
    assert recipe.crop_scale == (0.6, 1.0)
    assert SeriesViewRecipe(**recipe.to_dict()) == recipe
    short = recipe.replace(permute_max_segments=6).scaled_for(1, 8)
    assert short.crop_scale == (0.8, 1.0) and short.permute_max_segments == 2
    assert short.time_warp_knots == 0 and short.rotate_p == 0 and short.channel_drop_p == 0
    assert short.scaled_for(1, 8) == short
    assert recipe.scaled_for(6, 150) == recipe  # long sensor series keep the recipe
    with pytest.raises(UserError):
        recipe.scaled_for(0, 100)


# ---- presets ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["simclr", "moco_v2", "byol", "simsiam", "barlow", "vicreg"])
@pytest.mark.parametrize("channels", [1, 6])
@pytest.mark.parametrize("length", [8, 100, 150])
def test_presets_build_and_run_for_short_and_long_series(name, channels, length):
    first, second = series_view_pair(name, channels, length)
    x = noise(n=4, c=channels, t=length)
    for aug in (first, second):
        out = aug(x, gen())
        assert out.shape == x.shape and torch.isfinite(out).all()
        assert aug.recipe.rotate_p == 0 or channels % 3 == 0
        assert aug.recipe.channel_drop_p == 0 or channels > 1


def test_asymmetric_presets_pair_a_weak_with_a_strong_view():
    assert set(SERIES_VIEW_PRESETS.names()) == {"simclr", "moco_v2", "byol", "simsiam", "barlow", "vicreg"}
    for name in ("simclr", "moco_v2", "simsiam"):
        first, second = preset_series_views(name)
        assert first == second
    for name in ("byol", "barlow", "vicreg"):
        weak, strong = preset_series_views(name)
        assert weak.crop_scale[0] > strong.crop_scale[0] and weak.permute_p == 0 < strong.permute_p
    with pytest.raises(UserError):
        series_view_pair("swav", 6, 100)


@pytest.mark.parametrize("name", ["simclr", "moco_v2", "byol"])
def test_views_of_a_signal_differ_from_it_but_stay_closest_to_their_own_source(name):
    x = signal()
    first, second = series_view_pair(name, 6, 100)
    g = gen()
    for view in (first(x, g), second(x, g)):
        assert (view - x).abs().mean() > 0.1
        corr = pearson(view, x)
        own = corr.diagonal()
        others = corr[~torch.eye(len(x), dtype=torch.bool)]
        assert own.mean() > 0.3 and own.mean() > others.abs().mean() + 0.15


# ---- corruptions --------------------------------------------------------------------------------------------
def test_gaussian_noise_has_the_requested_std():
    x = noise(n=32)
    out = series_corrupt.gaussian_noise(x, 0.3, gen())
    assert out.shape == x.shape and out.dtype == x.dtype
    assert abs((out - x).std().item() - 0.3) < 0.01


@pytest.mark.parametrize("ratio", [0.25, 0.5, 0.75])
def test_time_mask_hides_exactly_the_ratio_of_patches_per_sample(ratio):
    x = noise(n=16, t=100) + 5.0
    out, mask = series_corrupt.time_mask(x, ratio, patch=5, generator=gen())
    assert mask.shape == (16, 1, 100) and mask.dtype == torch.bool
    torch.testing.assert_close(mask.float().mean(dim=(1, 2)), torch.full((16,), ratio))
    full = mask.expand_as(x)
    assert torch.all(out[full] == 0) and torch.equal(out[~full], x[~full])
    blocks = mask.float().view(16, 20, 5)  # whole 5-step patches
    assert torch.equal(blocks.min(-1).values, blocks.max(-1).values)
    assert not torch.equal(mask[0], mask[1])


def test_time_mask_keeps_one_patch_hidden_and_one_visible_and_handles_partial_patches():
    x = noise(n=8, t=23)
    _, tiny = series_corrupt.time_mask(x, 0.01, patch=5, generator=gen())
    assert (tiny.flatten(1).sum(1) >= 1).all()
    _, most = series_corrupt.time_mask(x, 0.99, patch=5, generator=gen())
    assert (~most).flatten(1).any(dim=1).all()
    _, none = series_corrupt.time_mask(x, 0.0, patch=5, generator=gen())
    assert not none.any()


def test_span_mask_hides_one_contiguous_span_of_the_fraction():
    x = noise(n=32, t=100)
    out, mask = series_corrupt.span_mask(x, 0.3, gen(), fill=-1.0)
    assert mask.shape == (32, 1, 100)
    assert (mask.sum(dim=(1, 2)) == 30).all()
    edges = mask[:, 0].int().diff(dim=1).abs().sum(dim=1) + mask[:, 0, 0].int() + mask[:, 0, -1].int()
    assert (edges == 2).all()  # exactly one run of hidden steps
    assert torch.all(out[mask.expand_as(x)] == -1.0)
    assert len({tuple(m.nonzero()[0].tolist()) for m in mask[:, 0]}) > 5  # starts vary per sample


# ---- numpy reference ----------------------------------------------------------------------------------------
def _reference_views(recipe: SeriesViewRecipe, x: torch.Tensor, seed: int = 0) -> torch.Tensor:
    aug, rng = NumpySeriesAugment(recipe, x.shape[1]), np.random.default_rng(seed)
    return torch.from_numpy(np.stack([aug(sample, rng) for sample in x.numpy()]))


def test_reference_jitter_and_scaling_have_the_engines_statistics():
    x = noise(n=256, c=3, t=200)
    jitter = NONE.replace(jitter_p=1.0, jitter_sigma=(0.1, 0.3))
    engine = SeriesAugment(jitter, 3)(x, gen()) - x
    reference = _reference_views(jitter, x) - x
    for residual in (engine, reference):
        stds = residual.std(dim=(1, 2))  # per-sample sigmas ~ U(0.1, 0.3): mean 0.2, spread 0.058
        assert abs(stds.mean().item() - 0.2) < 0.01 and abs(stds.std().item() - 0.2 / 12**0.5) < 0.01
        assert stds.min() > 0.09 and stds.max() < 0.32
    ones = torch.ones(512, 3, 20)
    scaling = NONE.replace(scale_p=1.0, scale_sigma=0.2)
    for out in (SeriesAugment(scaling, 3)(ones, gen()), _reference_views(scaling, ones)):
        factors = out[..., 0]
        assert abs(factors.mean().item() - 1.0) < 0.02 and abs(factors.std().item() - 0.2) < 0.015


@pytest.mark.parametrize("name", ["simclr", "byol"])
def test_reference_views_match_the_engines_in_shape_and_distribution(name):
    x = signal(n=200, c=6, t=100)
    for recipe in preset_series_views(name):
        recipe = recipe.scaled_for(6, 100)
        engine = SeriesAugment(recipe, 6)(x, gen())
        reference = _reference_views(recipe, x)
        assert reference.shape == engine.shape and reference.dtype == engine.dtype
        change_e, change_r = (engine - x).abs().mean().item(), (reference - x).abs().mean().item()
        assert abs(change_e - change_r) < 0.1 * change_e
        corr_e, corr_r = pearson(engine, x).diagonal().mean(), pearson(reference, x).diagonal().mean()
        assert abs(corr_e - corr_r) < 0.08


def test_reference_ops_keep_their_properties():
    x = noise(n=4, c=6, t=60)
    rotated = _reference_views(NONE.replace(rotate_p=1.0, rotate_max_degrees=90.0), x)
    torch.testing.assert_close(
        rotated.view(4, 2, 3, 60).norm(dim=2), x.view(4, 2, 3, 60).norm(dim=2), atol=1e-5, rtol=1e-5
    )
    permuted = _reference_views(NONE.replace(permute_p=1.0), x)
    assert torch.equal(permuted.sort(-1).values, x.sort(-1).values)
    full = _reference_views(NONE.replace(crop_p=1.0, crop_scale=(1.0, 1.0)), x)
    torch.testing.assert_close(full, x, atol=1e-5, rtol=0)
    pairs = NumpySeriesPairs(x.numpy(), preset_series_views("byol"), seed=0)
    first, second = pairs[1]
    assert len(pairs) == 4 and first.shape == second.shape == (6, 60) and first.dtype == torch.float32


# ---- accelerator ----------------------------------------------------------------------------------------------
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_views_are_deterministic_and_never_wait_for_the_device():
    x = signal(n=32).cuda()
    aug = SeriesAugment(ALL_ON, 6)
    g = torch.Generator(device="cuda")
    aug(x, g.manual_seed(0))  # the first call caches the warp weights on the device
    torch.cuda.set_sync_debug_mode("error")
    try:
        first = aug(x, g.manual_seed(0))
        series_corrupt.time_mask(x, 0.5, 10, g)
        series_corrupt.span_mask(x, 0.3, g)
    finally:
        torch.cuda.set_sync_debug_mode("default")
    assert first.device.type == "cuda" and first.shape == x.shape
    assert torch.equal(first, aug(x, g.manual_seed(0)))
