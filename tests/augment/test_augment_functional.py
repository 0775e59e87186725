"""The batched ops against hand-computed values and torchvision's per-image functions."""

import pytest
import torch
import torchvision.transforms.v2.functional as TF

from ssl_core.augment import functional as AF


def _rgb(n: int = 4, size: int = 12, seed: int = 0) -> torch.Tensor:
    return torch.rand(n, 3, size, size, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize(
    ("ours", "theirs", "factors"),
    [
        (AF.adjust_brightness, TF.adjust_brightness, [0.3, 1.0, 1.4, 1.8]),
        (AF.adjust_contrast, TF.adjust_contrast, [0.2, 1.0, 1.3, 1.8]),
        (AF.adjust_saturation, TF.adjust_saturation, [0.0, 0.6, 1.0, 1.8]),
        (AF.adjust_hue, TF.adjust_hue, [-0.45, -0.1, 0.0, 0.3]),
    ],
)
def test_colour_ops_match_torchvision_per_sample(ours, theirs, factors):
    x = _rgb()
    out = ours(x, torch.tensor(factors))
    for i, f in enumerate(factors):
        torch.testing.assert_close(out[i], theirs(x[i], f), atol=2e-5, rtol=0)


def test_hsv_round_trip_and_gray_pixels():
    x = _rgb(n=3, size=9)
    x[0] = 0.5  # a flat gray image has zero saturation and hue
    hsv = AF.rgb_to_hsv(x)
    assert torch.all(hsv[0, :2] == 0)
    torch.testing.assert_close(AF.hsv_to_rgb(hsv), x, atol=1e-6, rtol=0)


def test_contrast_on_gray_image_uses_its_own_mean():
    x = torch.tensor([[[[0.0, 1.0], [0.5, 0.5]]]])  # mean 0.5
    out = AF.adjust_contrast(x, torch.tensor([0.5]))
    expected = torch.tensor([[[[0.25, 0.75], [0.5, 0.5]]]])
    torch.testing.assert_close(out, expected)


def test_saturation_and_hue_leave_gray_images_alone():
    x = torch.rand(2, 1, 6, 6)
    assert torch.equal(AF.adjust_saturation(x, torch.tensor([0.0, 2.0])), x)
    assert torch.equal(AF.adjust_hue(x, torch.tensor([0.3, -0.3])), x)


def test_gaussian_blur_matches_torchvision_per_sample():
    x = _rgb(n=3, size=16)
    sigmas = [0.3, 1.0, 2.0]
    out = AF.gaussian_blur(x, torch.tensor(sigmas), 5)
    for i, s in enumerate(sigmas):
        torch.testing.assert_close(out[i], TF.gaussian_blur(x[i], [5, 5], [s, s]), atol=1e-5, rtol=0)


def test_blur_kernel_wider_than_image_keeps_flat_image_flat():
    x = torch.full((2, 1, 3, 3), 0.7)
    out = AF.gaussian_blur(x, torch.tensor([1.0, 5.0]), 9)
    torch.testing.assert_close(out, x)


def test_blur_rejects_even_kernel():
    with pytest.raises(ValueError, match="odd"):
        AF.gaussian_blur(torch.rand(1, 1, 8, 8), torch.tensor([1.0]), 4)


def test_resized_crop_of_a_ramp_is_hand_computable():
    # Pixel value = column index. Bilinear sampling of a linear ramp is exact, so output column j of a
    # crop starting at `left` with width `bw` must read left + (j + 0.5) * bw / W - 0.5.
    w = 16
    ramp = torch.arange(w, dtype=torch.float32).expand(2, 1, w, w).clone()
    boxes = torch.tensor([[0.0, 4.0, 16.0, 8.0], [2.0, 0.0, 8.0, 16.0]])
    out = AF.resized_crop(ramp, boxes)
    j = torch.arange(w, dtype=torch.float32)
    torch.testing.assert_close(out[0, 0, 5], 4.0 + (j + 0.5) * 0.5 - 0.5)
    torch.testing.assert_close(out[1, 0, 5], j)  # full width: columns unchanged, rows only rescaled
    # Transposed ramp checks the vertical direction of the second box (top 2, height 8).
    out_t = AF.resized_crop(ramp.transpose(-1, -2).contiguous(), boxes)
    torch.testing.assert_close(out_t[1, 0, :, 3], 2.0 + (j + 0.5) * 0.5 - 0.5)


def test_resized_crop_of_whole_image_is_identity_and_output_size_is_honoured():
    x = _rgb(n=2, size=8)
    whole = torch.tensor([[0.0, 0.0, 8.0, 8.0]] * 2)
    torch.testing.assert_close(AF.resized_crop(x, whole), x, atol=1e-6, rtol=0)
    assert AF.resized_crop(x, whole, size=(5, 7)).shape == (2, 3, 5, 7)


def test_hflip_flips_exactly_the_selected_samples():
    x = _rgb(n=3)
    out = AF.hflip(x, torch.tensor([True, False, True]))
    assert torch.equal(out[0], x[0].flip(-1))
    assert torch.equal(out[1], x[1])
    assert torch.equal(out[2], x[2].flip(-1))


def test_grayscale_makes_channels_equal_with_luma_weights_and_keeps_alpha():
    x = torch.rand(2, 4, 5, 5)
    out = AF.to_grayscale(x, torch.tensor([True, False]))
    expected = 0.2989 * x[0, 0] + 0.587 * x[0, 1] + 0.114 * x[0, 2]
    for c in range(3):
        torch.testing.assert_close(out[0, c], expected)
    assert torch.equal(out[0, 3], x[0, 3])
    assert torch.equal(out[1], x[1])


def test_solarize_inverts_values_at_or_above_threshold():
    x = torch.tensor([0.1, 0.49, 0.5, 0.8, 1.0]).view(1, 1, 1, 5).repeat(2, 1, 1, 1)
    out = AF.solarize(x, torch.tensor([True, False]), threshold=0.5)
    torch.testing.assert_close(out[0].flatten(), torch.tensor([0.1, 0.49, 0.5, 0.2, 0.0]))
    assert torch.equal(out[1], x[1])


def test_noise_skips_samples_with_zero_std_and_stays_in_range():
    x = torch.full((2, 3, 8, 8), 0.5)
    noise = torch.randn(2, 3, 8, 8, generator=torch.Generator().manual_seed(1)) * 10
    out = AF.add_noise(x, noise, torch.tensor([0.0, 0.2]))
    assert torch.equal(out[0], x[0])
    assert out[1].min() == 0.0 and out[1].max() == 1.0
