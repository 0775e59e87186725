"""Corruptions for generative methods: requested fractions, per-sample randomness, mask semantics."""

import pytest
import torch

from ssl_core.augment import corrupt


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def images(n: int = 16, c: int = 3, size: int = 32) -> torch.Tensor:
    return 0.2 + 0.6 * torch.rand(n, c, size, size, generator=gen(99))  # no pixel is exactly 0 or 1


def test_gaussian_noise_has_the_requested_std_and_stays_in_range():
    x = images()
    out = corrupt.gaussian_noise(x, 0.05, gen())
    assert out.shape == x.shape and out.dtype == x.dtype
    assert abs((out - x).std().item() - 0.05) < 0.003
    assert (
        corrupt.gaussian_noise(x, 2.0, gen()).min() >= 0 and corrupt.gaussian_noise(x, 2.0, gen()).max() <= 1
    )


def test_salt_and_pepper_hits_the_requested_fraction_half_white_half_black():
    x = images()
    out = corrupt.salt_and_pepper(x, 0.2, gen())
    changed = (out != x).any(dim=1)
    assert abs(changed.float().mean().item() - 0.2) < 0.01
    white = (out == 1).all(dim=1)
    black = (out == 0).all(dim=1)
    assert torch.equal(changed, white | black)  # a hit sets every channel of the pixel
    assert abs(white.float().sum() / changed.float().sum() - 0.5) < 0.05


@pytest.mark.parametrize("ratio", [0.25, 0.75])
def test_random_mask_hides_exactly_the_ratio_of_patches_per_sample(ratio):
    x = images()
    out, mask = corrupt.random_mask(x, ratio, patch=4, generator=gen())
    assert mask.shape == (16, 1, 32, 32) and mask.dtype == torch.bool
    per_sample = mask.float().mean(dim=(1, 2, 3))
    torch.testing.assert_close(per_sample, torch.full((16,), ratio))
    # Hidden pixels are filled, visible ones untouched; masks follow the 4 x 4 patch grid.
    assert torch.all(out.masked_select(mask.expand_as(x)) == 0)
    assert torch.equal(out.masked_select(~mask.expand_as(x)), x.masked_select(~mask.expand_as(x)))
    blocks = mask.float().unfold(2, 4, 4).unfold(3, 4, 4).flatten(-2)
    assert torch.all(blocks.min(-1).values == blocks.max(-1).values)
    assert not torch.equal(mask[0], mask[1])  # each sample draws its own patches


def test_random_mask_handles_partial_patches_and_extreme_ratios():
    x = images(n=4, c=1, size=10)
    _, mask = corrupt.random_mask(x, 0.5, patch=4, generator=gen())  # a 3 x 3 grid with partial edges
    assert mask.shape == (4, 1, 10, 10)
    _, none = corrupt.random_mask(x, 0.0, patch=4, generator=gen())
    assert not none.any()
    _, tiny = corrupt.random_mask(x, 0.01, patch=4, generator=gen())
    assert (tiny.flatten(1).any(dim=1)).all()  # at least one patch hidden per sample
    _, almost = corrupt.random_mask(x, 0.99, patch=4, generator=gen())
    assert (~almost).flatten(1).any(dim=1).all()  # at least one patch left visible


def test_random_region_hides_one_rectangle_of_about_the_fraction():
    x = images(n=64)
    out, mask = corrupt.random_region(x, 0.25, gen(), fill=0.0)
    per_sample = mask.float().mean(dim=(1, 2, 3))
    assert torch.all((per_sample - 0.25).abs() < 0.06)
    for m in mask[:, 0]:
        rows, cols = m.any(dim=1).nonzero(), m.any(dim=0).nonzero()
        box = m[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1]
        assert box.all()  # the hidden pixels form one filled rectangle
    tops = torch.stack([m[0].any(dim=1).nonzero().min() for m in mask])
    assert tops.unique().numel() > 5  # positions vary between samples
    assert torch.all(out.masked_select(mask.expand_as(x)) == 0)
    assert torch.equal(out.masked_select(~mask.expand_as(x)), x.masked_select(~mask.expand_as(x)))


def test_corruptions_are_reproducible_under_a_seed():
    x = images(n=4)
    for fn, arg in ((corrupt.gaussian_noise, 0.1), (corrupt.salt_and_pepper, 0.1)):
        assert torch.equal(fn(x, arg, gen(5)), fn(x, arg, gen(5)))
        assert not torch.equal(fn(x, arg, gen(5)), fn(x, arg, gen(6)))
    a, b = corrupt.random_region(x, 0.3, gen(5))[1], corrupt.random_region(x, 0.3, gen(5))[1]
    assert torch.equal(a, b)


def test_bad_arguments_are_rejected():
    with pytest.raises(ValueError, match="ratio"):
        corrupt.random_mask(images(n=1), 1.5, 4, gen())
    with pytest.raises(ValueError, match="float images"):
        corrupt.salt_and_pepper(torch.zeros(1, 1, 4, 4, dtype=torch.uint8), 0.1, gen())
