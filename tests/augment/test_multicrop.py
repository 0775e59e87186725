"""Multi-crop views: shapes, ranges, per-sample randomness, seeded determinism, crop scales, the modality hook."""

from __future__ import annotations

import pytest
import torch

from ssl_core.augment import ViewRecipe
from ssl_core.augment import functional as AF
from ssl_core.augment.multicrop import (
    MULTI_CROP_PRESETS,
    MultiCrop,
    SizedAugment,
    default_local_size,
    multi_crop,
    multi_crop_recipes,
)
from ssl_core.data.base import DataInfo
from ssl_core.errors import UserError
from ssl_core.modalities import modality_of

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tiny models: one thread is fastest

PLAIN = ViewRecipe(hflip_p=0.0, jitter_p=0.0, grayscale_p=0.0, blur_p=0.0)  # crops only


def _info(modality: str = "image", channels: int = 1, size: int = 8, mirror_safe: bool = True) -> DataInfo:
    return DataInfo(
        spec="t",
        name="t",
        size=10,
        channels=channels,
        height=size,
        width=size,
        has_labels=False,
        modality=modality,
        mirror_safe=mirror_safe,
    )


def _columns(batch: int, size: int) -> torch.Tensor:
    """Images whose value is the column position in [0, 1]: a crop's value span is its relative width."""
    ramp = torch.linspace(0, 1, size)
    return ramp.expand(batch, 1, size, size).contiguous()


def test_shapes_ranges_and_order():
    crops = multi_crop("dino", image_size=16, channels=3, n_local=5)
    x = torch.rand(6, 3, 16, 16)
    views = crops(x, torch.Generator().manual_seed(0))
    assert len(views) == crops.n_crops == 7
    assert [tuple(v.shape) for v in views[:2]] == [(6, 3, 16, 16)] * 2
    assert [tuple(v.shape) for v in views[2:]] == [(6, 3, 7, 7)] * 5  # round(16 * 96 / 224) = 7
    for v in views:
        assert v.dtype == torch.float32 and v.min() >= 0.0 and v.max() <= 1.0


def test_uint8_input_and_no_locals():
    crops = multi_crop("swav", image_size=8, channels=1, n_local=0)
    views = crops(torch.randint(0, 256, (4, 1, 8, 8), dtype=torch.uint8), torch.Generator().manual_seed(0))
    assert len(views) == 2 and all(v.is_floating_point() and v.max() <= 1.0 for v in views)


def test_seeded_determinism_and_per_sample_randomness():
    crops = multi_crop("swav", image_size=8, channels=1, n_local=3)
    x = torch.rand(1, 1, 8, 8).expand(8, 1, 8, 8).contiguous()  # the same image 8 times
    a = crops(x, torch.Generator().manual_seed(3))
    b = crops(x, torch.Generator().manual_seed(3))
    c = crops(x, torch.Generator().manual_seed(4))
    assert all(torch.equal(u, v) for u, v in zip(a, b, strict=True))
    assert not all(torch.equal(u, v) for u, v in zip(a, c, strict=True))
    for view in a:  # each sample of the batch gets its own crop and colour draw
        assert not torch.allclose(view[0], view[1])
    # The locals are independent crops of the same samples, not copies of one another.
    assert not torch.allclose(a[2], a[3]) and not torch.allclose(a[3], a[4])


def test_locals_cover_less_of_the_image_than_globals():
    # With crops only, a crop of the column ramp spans (box width / image width) of [0, 1] (up to the
    # half-pixel footprint): locals (16-40% of the area) must span clearly less than globals (60-100%).
    recipes = multi_crop_recipes("dino", 8, 4, mirror_safe=False)
    plain = {k: dict(jitter_p=0.0, grayscale_p=0.0, blur_p=0.0, solarize_p=0.0) for k in range(3)}
    g1, g2, local = (r.replace(**plain[i]) for i, r in enumerate((*recipes.globals, recipes.local)))
    crops = MultiCrop((g1, g2), local, n_local=4, global_size=8, local_size=4, channels=1)
    views = crops(_columns(256, 8), torch.Generator().manual_seed(0))

    def span(v: torch.Tensor) -> torch.Tensor:
        return v.amax(dim=(1, 2, 3)) - v.amin(dim=(1, 2, 3))

    global_span = torch.cat([span(v) for v in views[:2]]).mean().item()
    local_span = torch.cat([span(v) for v in views[2:]]).mean().item()
    assert 0.6 < global_span < 1.0
    assert local_span < 0.75 * global_span


def test_sized_crop_of_the_whole_image_is_a_plain_resize():
    # crop_scale (1, 1) with ratio 1 takes the whole image: the result is resized_crop with the full box.
    recipe = PLAIN.replace(crop_scale=(1.0, 1.0), crop_ratio=(1.0, 1.0))
    aug = SizedAugment(recipe, size=4, channels=1)
    x = torch.rand(3, 1, 8, 8)
    out = aug(x, torch.Generator().manual_seed(0))
    full = torch.tensor([[0.0, 0.0, 8.0, 8.0]]).expand(3, 4)
    torch.testing.assert_close(out, AF.resized_crop(x, full, (4, 4)))
    # ...which for a 2x downscale of an 8 px image is the mean of each 2 x 2 block (bilinear, no corners).
    torch.testing.assert_close(out, torch.nn.functional.avg_pool2d(x, 2))


def test_copies_are_ordered_copy_by_copy():
    aug = SizedAugment(PLAIN.replace(crop_scale=(0.3, 0.5)), size=4, channels=1)
    x = torch.stack([torch.full((1, 8, 8), float(i) / 10) for i in range(5)])  # sample i is the value i / 10
    out = aug(x, torch.Generator().manual_seed(0), copies=3)
    assert out.shape == (15, 1, 4, 4)
    expected = torch.arange(5).float().div(10).repeat(3)
    torch.testing.assert_close(out.mean(dim=(1, 2, 3)), expected)


def test_small_image_recipes():
    assert default_local_size(8) == 4 and default_local_size(224) == 96 and default_local_size(3) == 3
    dino = multi_crop_recipes("dino", image_size=8, local_size=4, mirror_safe=False)
    assert dino.local.crop_scale == (0.25, 0.4)  # at least 16 of the 64 pixels, still below the globals
    assert dino.global_1.crop_scale == (0.6, 1.0)  # as every view of an 8 px image (ViewRecipe.scaled_for)
    assert dino.local.blur_sigma[1] == pytest.approx(0.25)  # capped for the 4 px crop it blurs
    assert dino.global_1.hflip_p == dino.local.hflip_p == 0.0
    assert (dino.global_1.blur_p, dino.global_2.blur_p, dino.global_2.solarize_p) == (1.0, 0.1, 0.2)
    big = multi_crop_recipes("dino", image_size=224, local_size=96)
    assert big.local.crop_scale == (0.05, 0.4) and big.global_1.crop_scale == (0.4, 1.0)  # the paper's
    swav = multi_crop_recipes("swav", image_size=224, local_size=96)
    assert swav.local.crop_scale == (0.05, 0.14) and swav.n_local == 6
    assert set(MULTI_CROP_PRESETS.names()) >= {"dino", "swav"}


def test_modality_hook():
    info = _info(channels=3, size=16, mirror_safe=False)
    crops = modality_of(info).multi_crop("swav", info, n_local=2, local_size=6)
    assert isinstance(crops, MultiCrop) and crops.n_local == 2 and crops.local_size == 6
    assert crops.global_size == 16 and crops.local.recipe.hflip_p == 0.0
    series = _info("series")
    with pytest.raises(UserError, match="only available for images"):
        modality_of(series).multi_crop("dino", series)


def test_bad_settings():
    with pytest.raises(UserError, match="local_size must be at least 1"):
        multi_crop("dino", 8, 1, local_size=0)
    with pytest.raises(UserError, match="n_local"):
        multi_crop("dino", 8, 1, n_local=-1)
    with pytest.raises(UserError):
        multi_crop("nope", 8, 1)
    crops = multi_crop("dino", 8, 1)
    with pytest.raises(ValueError, match=r"expects images \(B, 1, H, W\)"):
        crops(torch.rand(2, 3, 8, 8), torch.Generator())
