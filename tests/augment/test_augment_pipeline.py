"""BatchAugment: contracts (shape, dtype, range), per-sample randomness, determinism, each op's effect."""

import pytest
import torch

from ssl_core.augment import BatchAugment, ViewRecipe, make_view_pair, simclr_views

# Every op always on, so one call exercises the whole chain.
ALL_ON = ViewRecipe(
    crop_p=1.0,
    hflip_p=1.0,
    jitter_p=1.0,
    grayscale_p=1.0,
    blur_p=1.0,
    solarize_p=1.0,
    noise_p=1.0,
    noise_std=0.1,
)
# Every op off; tests switch on the one they look at.
NONE = ViewRecipe(crop_p=0.0, hflip_p=0.0, jitter_p=0.0, grayscale_p=0.0, blur_p=0.0)


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def images(n: int = 8, c: int = 3, size: int = 16, seed: int = 0) -> torch.Tensor:
    return torch.rand(n, c, size, size, generator=gen(seed))


@pytest.mark.parametrize("channels", [1, 2, 3, 4])
@pytest.mark.parametrize("recipe", [ALL_ON, simclr_views()[0]], ids=["all_on", "simclr"])
def test_shape_dtype_and_range_for_every_channel_count(channels, recipe):
    x = images(c=channels)
    out = BatchAugment(recipe, channels)(x, gen())
    assert out.shape == x.shape and out.dtype == torch.float32
    assert out.min() >= 0.0 and out.max() <= 1.0
    assert not torch.equal(out, x)


def test_uint8_input_is_scaled_to_unit_range():
    x = torch.randint(0, 256, (4, 3, 8, 8), dtype=torch.uint8, generator=gen())
    out = BatchAugment(NONE, 3)(x, gen())
    assert out.dtype == torch.float32
    torch.testing.assert_close(out, x.float() / 255)


def test_float64_input_keeps_its_dtype():
    out = BatchAugment(ALL_ON, 3)(images().double(), gen())
    assert out.dtype == torch.float64


def test_module_has_no_parameters_and_does_not_modify_its_input():
    aug = BatchAugment(ALL_ON, 3)
    assert list(aug.parameters()) == []
    x = images()
    before = x.clone()
    aug(x, gen())
    assert torch.equal(x, before)


def test_identical_images_get_different_views():
    x = images(n=1).expand(16, -1, -1, -1).contiguous()
    out = BatchAugment(simclr_views()[0], 3)(x, gen())
    flat = out.flatten(1)
    distinct = torch.cdist(flat, flat) > 1e-3
    assert distinct.sum() == 16 * 15  # every pair of samples differs


def test_same_seed_same_views_other_seed_other_views():
    aug = BatchAugment(ALL_ON, 3)
    x = images()
    a, b, c = aug(x, gen(7)), aug(x, gen(7)), aug(x, gen(8))
    assert torch.equal(a, b)
    assert not torch.allclose(a, c)


def test_generator_state_advances_between_calls():
    aug, g, x = BatchAugment(ALL_ON, 3), gen(3), images()
    assert not torch.allclose(aug(x, g), aug(x, g))


def test_crop_zooms_into_a_known_pattern():
    # A horizontal ramp (value = column / W) cropped to a quarter of the area (half the side) and
    # resized back has half the slope, and its first column starts inside the image, not at 0.
    size = 32
    ramp = (torch.arange(size, dtype=torch.float32) / size).expand(64, 1, size, size).contiguous()
    recipe = NONE.replace(crop_p=1.0, crop_scale=(0.25, 0.25), crop_ratio=(1.0, 1.0))
    out = BatchAugment(recipe, 1)(ramp, gen())
    # Interior columns only: a crop touching the edge clamps its outermost half-pixel sample.
    slope = (out[:, 0, :, 2:-1] - out[:, 0, :, 1:-2]).mean(dim=(1, 2))
    torch.testing.assert_close(slope, torch.full((64,), 0.5 / size), atol=1e-3 / size, rtol=0)
    starts = out[:, 0, 0, 0]
    assert starts.min() >= 0.0 and starts.max() <= 0.5 + 1e-5
    assert starts.std() > 0.05  # positions differ between samples


def test_flip_probability_applies_per_sample():
    x = images(n=400, c=1, size=6)
    out = BatchAugment(NONE.replace(hflip_p=0.5), 1)(x, gen())
    flipped = (out == x.flip(-1)).flatten(1).all(dim=1)
    kept = (out == x).flatten(1).all(dim=1)
    assert torch.all(flipped ^ kept)  # each sample is exactly flipped or exactly untouched
    assert 0.4 < flipped.float().mean() < 0.6


def test_grayscale_makes_colour_channels_equal_and_is_noop_for_gray():
    out = BatchAugment(NONE.replace(grayscale_p=1.0), 3)(images(), gen())
    assert torch.allclose(out[:, 0], out[:, 1]) and torch.allclose(out[:, 1], out[:, 2])
    gray = images(c=1)
    assert torch.equal(BatchAugment(NONE.replace(grayscale_p=1.0), 1)(gray, gen()), gray)


def test_solarize_only_inverts_bright_values():
    x = images()
    out = BatchAugment(NONE.replace(solarize_p=1.0), 3)(x, gen())
    expected = torch.where(x >= 0.5, 1 - x, x)
    torch.testing.assert_close(out, expected)


def test_jitter_on_gray_images_changes_brightness_and_contrast_only():
    x = 0.3 + 0.3 * images(n=32, c=1)  # values in [0.3, 0.6]: brightness <= 1.5 never clips them
    recipe = NONE.replace(jitter_p=1.0, brightness=0.5, contrast=0.5, saturation=0.8, hue=0.4)
    out = BatchAugment(recipe, 1)(x, gen())
    assert out.shape == x.shape and not torch.allclose(out, x)
    # Brightness and contrast are affine per image, so the output stays perfectly correlated with the
    # input wherever the final clip did not bite.
    checked = 0
    for o, xi in zip(out, x, strict=True):
        inside = (o > 0) & (o < 1)
        if inside.sum() > 20:
            corr = torch.corrcoef(torch.stack([o[inside], xi[inside]]))[0, 1]
            assert corr > 0.9999
            checked += 1
    assert checked >= 24


def test_blur_smooths_noise_and_keeps_the_mean():
    x = images(n=8, c=3, size=32)
    recipe = NONE.replace(blur_p=1.0, blur_sigma=(1.0, 2.0))
    out = BatchAugment(recipe, 3)(x, gen())
    neighbour_diff = (out[..., 1:] - out[..., :-1]).abs().mean()
    assert neighbour_diff < 0.5 * (x[..., 1:] - x[..., :-1]).abs().mean()
    torch.testing.assert_close(out.mean(dim=(2, 3)), x.mean(dim=(2, 3)), atol=0.02, rtol=0)


def test_noise_has_the_requested_std():
    x = torch.full((4, 3, 32, 32), 0.5)
    out = BatchAugment(NONE.replace(noise_p=1.0, noise_std=0.05), 3)(x, gen())
    assert abs((out - x).std().item() - 0.05) < 0.005


def test_photometric_ops_leave_the_alpha_channel_alone():
    x = images(c=4)
    recipe = ALL_ON.replace(crop_p=0.0, hflip_p=0.0, blur_p=0.0)
    out = BatchAugment(recipe, 4)(x, gen())
    assert torch.equal(out[:, 3], x[:, 3])
    assert not torch.allclose(out[:, :3], x[:, :3])


def test_wrong_channel_count_is_reported():
    with pytest.raises(ValueError, match=r"\(B, 3, H, W\)"):
        BatchAugment(ALL_ON, 3)(images(c=1), gen())


def test_make_view_pair_scales_recipes_for_the_image_size():
    first, second = make_view_pair(simclr_views(), image_size=8, channels=1)
    assert first.recipe == simclr_views()[0].scaled_for(8)
    assert second.channels == 1
    out = first(images(c=1, size=8), gen())
    assert out.shape == (8, 1, 8, 8)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_runs_on_cuda_with_a_cuda_generator():
    x = images().cuda()
    g = torch.Generator(device="cuda").manual_seed(0)
    out = BatchAugment(ALL_ON, 3)(x, g)
    assert out.device == x.device and out.min() >= 0 and out.max() <= 1
