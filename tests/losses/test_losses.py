"""Losses against hand-computed values (explicit loops / numpy) and their known properties."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from ssl_core.losses import (
    barlow_twins_loss,
    byol_loss,
    info_nce_queue,
    negative_cosine,
    nt_xent,
    vicreg_loss,
)


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def _nt_xent_loop(z1: np.ndarray, z2: np.ndarray, t: float) -> float:
    z = _unit(np.concatenate([z1, z2]).astype(np.float64))
    n2 = len(z)
    n = n2 // 2
    total = 0.0
    for i in range(n2):
        pos = (i + n) % n2
        denom = sum(math.exp(z[i] @ z[j] / t) for j in range(n2) if j != i)
        total += -math.log(math.exp(z[i] @ z[pos] / t) / denom)
    return total / n2


def test_nt_xent_matches_explicit_loop():
    g = torch.Generator().manual_seed(0)
    z1, z2 = torch.randn(5, 3, generator=g), torch.randn(5, 3, generator=g)
    for t in (0.1, 0.5, 1.0):
        expected = _nt_xent_loop(z1.numpy(), z2.numpy(), t)
        assert nt_xent(z1, z2, t).item() == pytest.approx(expected, rel=1e-5)


def test_nt_xent_two_samples_by_hand():
    # Orthogonal pair of images, views identical: each anchor sees cos 1 (positive), 0 and 0 (negatives).
    z1 = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    expected = -math.log(math.e / (math.e + 2.0))  # temperature 1
    assert nt_xent(z1, z1.clone(), 1.0).item() == pytest.approx(expected, rel=1e-6)


def test_nt_xent_lower_for_matching_views_than_shuffled():
    g = torch.Generator().manual_seed(1)
    z1 = torch.randn(32, 16, generator=g)
    z2 = z1 + 0.1 * torch.randn(32, 16, generator=g)
    matched = nt_xent(z1, z2, 0.5)
    shuffled = nt_xent(z1, z2[torch.randperm(32, generator=g)], 0.5)
    assert matched < shuffled - 1.0


def test_info_nce_queue_matches_explicit_loop():
    g = torch.Generator().manual_seed(2)
    q, k, queue = (
        torch.randn(4, 3, generator=g),
        torch.randn(4, 3, generator=g),
        torch.randn(6, 3, generator=g),
    )
    t = 0.2
    qn, kn, qun = _unit(q.double().numpy()), _unit(k.double().numpy()), _unit(queue.double().numpy())
    expected = 0.0
    for i in range(4):
        pos = math.exp(qn[i] @ kn[i] / t)
        neg = sum(math.exp(qn[i] @ qun[j] / t) for j in range(6))
        expected += -math.log(pos / (pos + neg))
    expected /= 4
    assert info_nce_queue(q, k, queue, t).item() == pytest.approx(expected, rel=1e-5)


def test_info_nce_queue_only_queries_get_gradients():
    q = torch.randn(4, 3, requires_grad=True)
    k = torch.randn(4, 3, requires_grad=True)
    info_nce_queue(q, k, torch.randn(8, 3), 0.2).backward()
    assert q.grad is not None and q.grad.abs().sum() > 0
    assert k.grad is None


def test_byol_loss_zero_for_same_direction_four_for_opposite():
    p = torch.randn(8, 5)
    assert byol_loss(p, 3.0 * p).item() == pytest.approx(0.0, abs=1e-6)
    assert byol_loss(p, -0.5 * p).item() == pytest.approx(4.0, abs=1e-6)
    # Orthogonal: 2 - 2 * 0 = 2.
    assert byol_loss(torch.tensor([[1.0, 0.0]]), torch.tensor([[0.0, 2.0]])).item() == pytest.approx(2.0)


def test_negative_cosine_values_and_stop_gradient():
    p = torch.tensor([[1.0, 0.0], [1.0, 1.0]], requires_grad=True)
    z = torch.tensor([[2.0, 0.0], [1.0, 0.0]], requires_grad=True)
    loss = negative_cosine(p, z)
    assert loss.item() == pytest.approx(-(1.0 + 1.0 / math.sqrt(2.0)) / 2, rel=1e-6)
    loss.backward()
    assert z.grad is None  # stop-gradient on z is inside the loss
    assert p.grad is not None


def _standardize_np(z: np.ndarray) -> np.ndarray:
    return (z - z.mean(0)) / np.sqrt(z.var(0) + 1e-4)


def test_barlow_twins_matches_numpy():
    g = torch.Generator().manual_seed(3)
    z1, z2 = torch.randn(10, 4, generator=g), torch.randn(10, 4, generator=g)
    a, b = _standardize_np(z1.double().numpy()), _standardize_np(z2.double().numpy())
    c = a.T @ b / 10
    on = sum((1 - c[i, i]) ** 2 for i in range(4))
    off = sum(c[i, j] ** 2 for i in range(4) for j in range(4) if i != j)
    loss, parts = barlow_twins_loss(z1, z2, lambd=0.05)
    assert loss.item() == pytest.approx(on + 0.05 * off, rel=1e-5)
    assert parts["on_diagonal"].item() == pytest.approx(on, rel=1e-5)
    assert parts["off_diagonal"].item() == pytest.approx(0.05 * off, rel=1e-5)


def test_barlow_twins_zero_for_decorrelated_identical_features():
    # Columns of a scaled Hadamard matrix: zero mean, unit variance, mutually uncorrelated.
    h = torch.tensor([[1.0, 1, 1, 1], [1, -1, 1, -1], [1, 1, -1, -1], [1, -1, -1, 1]])
    z = h[:, 1:].repeat(2, 1)  # 8 samples, 3 decorrelated standardised features
    loss, _ = barlow_twins_loss(z, z.clone(), lambd=0.005)
    assert loss.item() == pytest.approx(0.0, abs=1e-3)  # only the 1e-4 epsilon keeps it off exactly 0
    shuffled, _ = barlow_twins_loss(z, z[torch.tensor([1, 0, 3, 2, 5, 4, 7, 6])], lambd=0.005)
    assert shuffled.item() > 1.0


def test_vicreg_matches_numpy():
    g = torch.Generator().manual_seed(4)
    z1, z2 = torch.randn(6, 3, generator=g) * 0.5, torch.randn(6, 3, generator=g) * 2
    a, b = z1.double().numpy(), z2.double().numpy()
    inv = ((a - b) ** 2).mean()

    def var_term(z):
        return np.maximum(0.0, 1 - np.sqrt(z.var(0, ddof=1) + 1e-4)).mean()

    def cov_term(z):
        c = np.cov(z, rowvar=False)
        return (c**2).sum() - (np.diag(c) ** 2).sum()

    var = (var_term(a) + var_term(b)) / 2
    cov = (cov_term(a) + cov_term(b)) / 3
    loss, parts = vicreg_loss(z1, z2, 25.0, 25.0, 1.0)
    assert parts["invariance"].item() == pytest.approx(25 * inv, rel=1e-5)
    assert parts["variance"].item() == pytest.approx(25 * var, rel=1e-5)
    assert parts["covariance"].item() == pytest.approx(cov, rel=1e-5)
    assert loss.item() == pytest.approx(25 * inv + 25 * var + cov, rel=1e-5)


def test_vicreg_variance_zero_for_unit_std_and_positive_for_collapse():
    g = torch.Generator().manual_seed(5)
    z = torch.randn(64, 8, generator=g)
    z = (z - z.mean(0)) / z.std(0)  # exactly unit (unbiased) std per dimension
    _, parts = vicreg_loss(z, z.clone())
    assert parts["variance"].item() == 0.0
    assert parts["invariance"].item() == 0.0
    collapsed = torch.ones(64, 8)
    _, parts = vicreg_loss(collapsed, collapsed.clone())
    # std = sqrt(1e-4) = 0.01 in every dimension: hinge 0.99, times weight 25.
    assert parts["variance"].item() == pytest.approx(25 * 0.99, rel=1e-5)


def test_losses_compute_in_float32_and_stay_finite_for_half_inputs():
    # Large-magnitude half-precision embeddings would overflow a half-precision similarity matrix.
    z1 = (torch.randn(16, 8) * 200).half()
    z2 = (torch.randn(16, 8) * 200).half()
    losses = [
        nt_xent(z1, z2, 0.1),
        info_nce_queue(z1, z2, torch.randn(32, 8).half(), 0.1),
        byol_loss(z1, z2),
        negative_cosine(z1, z2),
        barlow_twins_loss(z1, z2)[0],
        vicreg_loss(z1, z2)[0],
        vicreg_loss(torch.zeros(16, 8).half(), torch.zeros(16, 8).half())[0],
    ]
    for value in losses:
        assert value.dtype == torch.float32
        assert torch.isfinite(value)


def test_losses_under_cpu_autocast_return_float32():
    z1, z2 = torch.randn(8, 4), torch.randn(8, 4)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert nt_xent(z1, z2, 0.5).dtype == torch.float32
        assert barlow_twins_loss(z1, z2)[0].dtype == torch.float32


def test_shape_mismatch_is_reported():
    with pytest.raises(ValueError, match="equal shapes"):
        nt_xent(torch.randn(4, 3), torch.randn(5, 3), 0.5)
