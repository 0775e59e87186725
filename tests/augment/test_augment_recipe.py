"""ViewRecipe checks, small-image scaling, and the paper presets."""

import pytest

from ssl_core.augment import (
    VIEW_PRESETS,
    ViewRecipe,
    barlow_views,
    byol_views,
    moco_v2_views,
    preset_views,
    simclr_views,
    simsiam_views,
    vicreg_views,
)
from ssl_core.errors import UserError


def test_scaled_for_tiny_digits_uses_milder_crops_and_blur():
    r = simclr_views()[0].scaled_for(8)
    assert r.crop_scale == (0.6, 1.0)  # 40 px of area, capped at 0.6 of an 8 x 8 image
    assert r.blur_sigma == (0.1, 0.5)  # sigma capped at 8 / 16
    assert r.blur_kernel_size(8) == 5  # 2 * ceil(3 * 0.5) + 1: the kernel follows the largest sigma


def test_scaled_for_medium_images_interpolates():
    r = ViewRecipe(crop_scale=(0.08, 1.0)).scaled_for(16)
    assert r.crop_scale == pytest.approx((40 / 256, 1.0))
    assert r.blur_sigma == (0.1, 1.0)


def test_scaled_for_large_images_keeps_the_paper_values():
    base = simclr_views()[0]
    assert base.scaled_for(224) == base
    assert base.scaled_for(32).crop_scale == (0.08, 1.0)
    # The kernel reaches 3 sigma each side of the largest sigma (2 px) at every size: SimCLR's 10% of the
    # image (23 px at 224) was 3 px at 32 px, which cut a sigma-2 Gaussian off at half a sigma.
    assert base.blur_kernel_size(224) == base.blur_kernel_size(32) == 13
    assert base.blur_kernel_size(4) == 7  # never past reflect padding's reach (side - 1 each way)
    with pytest.raises(UserError, match="blur_truncate"):
        ViewRecipe(blur_truncate=0.5)


def test_scaled_for_is_idempotent_and_respects_a_stricter_recipe():
    r = simclr_views()[0].scaled_for(8)
    assert r.scaled_for(8) == r
    strict = ViewRecipe(crop_scale=(0.7, 0.9)).scaled_for(8)
    assert strict.crop_scale == (0.7, 0.9)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"blur_p": 1.5}, "augment.blur_p"),
        ({"crop_scale": (0.9, 0.2)}, "augment.crop_scale"),
        ({"crop_scale": (0.0, 1.0)}, "augment.crop_scale"),
        ({"hue": 0.7}, "augment.hue"),
        ({"noise_std": float("nan")}, "augment.noise_std"),
        ({"crop_ratio": (1.0,)}, "augment.crop_ratio"),
    ],
)
def test_bad_values_raise_user_errors_naming_the_field(changes, field):
    with pytest.raises(UserError) as info:
        ViewRecipe(**changes)
    assert info.value.field == field
    assert field in str(info.value)


def test_lists_from_config_files_become_tuples():
    r = ViewRecipe(crop_scale=[0.3, 0.9], blur_sigma=[0.2, 1.0])
    assert r.crop_scale == (0.3, 0.9) and isinstance(r.blur_sigma, tuple)
    assert ViewRecipe(**r.to_dict()) == r


def test_byol_family_views_are_asymmetric_as_in_the_paper():
    for pair in (byol_views(), barlow_views(), vicreg_views()):
        v1, v2 = pair
        assert (v1.blur_p, v1.solarize_p) == (1.0, 0.0)
        assert (v2.blur_p, v2.solarize_p) == (0.1, 0.2)
        assert (v1.brightness, v1.contrast, v1.saturation, v1.hue) == (0.4, 0.4, 0.2, 0.1)


def test_symmetric_presets():
    s1, s2 = simclr_views()
    assert s1 == s2 and (s1.brightness, s1.hue, s1.crop_scale) == (0.8, 0.2, (0.08, 1.0))
    m1, m2 = moco_v2_views()
    assert m1 == m2 and m1.crop_scale == (0.2, 1.0) and m1.blur_p == 0.5
    assert simsiam_views() == moco_v2_views()


def test_preset_registry_lists_every_preset_and_rejects_unknown_names():
    assert set(VIEW_PRESETS.names()) == {"simclr", "byol", "barlow", "vicreg", "moco_v2", "simsiam"}
    assert preset_views("BYOL") == byol_views()
    with pytest.raises(UserError, match="choose one of"):
        preset_views("nope")
