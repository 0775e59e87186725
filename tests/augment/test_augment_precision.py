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


def test_cpu_computes_only_selected_samples_with_the_same_result(monkeypatch):
    """On a CPU, jitter and blur run on the selected samples only; the views equal the all-samples way."""
    from ssl_core.augment import byol_views, pipeline
    from ssl_core.augment import functional as AF

    images = torch.randint(0, 256, (64, 3, 32, 32), dtype=torch.uint8)
    pairs = [*make_view_pair(simclr_views(), 32, 3), *make_view_pair(byol_views(), 32, 3)]
    subset = [aug(images, torch.Generator().manual_seed(7)) for aug in pairs]
    computed: list[int] = []

    def everywhere(mask, x, op):  # the GPU path: every sample computed, then torch.where
        computed.append(len(x))
        return AF.select(mask, op(x, slice(None)), x)

    monkeypatch.setattr(pipeline, "_apply_where", everywhere)
    full = [aug(images, torch.Generator().manual_seed(7)) for aug in pairs]
    assert computed and all(n == 64 for n in computed)
    for a, b in zip(subset, full, strict=True):
        assert torch.allclose(a, b, atol=1e-6)
