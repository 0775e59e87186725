"""Views do not depend on the training precision: autocast around the step must not change them."""

import torch

from ssl_core.augment import make_view_pair, simclr_views


def test_views_are_identical_under_cpu_bf16_autocast():
    images = torch.randint(0, 256, (16, 3, 32, 32), dtype=torch.uint8)
    first, _ = make_view_pair(simclr_views(), 32, 3)
    plain = first(images, torch.Generator().manual_seed(3))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        mixed = first(images, torch.Generator().manual_seed(3))
    # Without the guard, affine_grid runs in bf16 and crop coordinates move by up to ~0.1 px.
    assert mixed.dtype == torch.float32
    assert torch.equal(plain, mixed)
