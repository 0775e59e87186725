"""InfoNCE with in-batch negatives (CPC's loss): hand-computed values, accuracy, gradients, precision."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from ssl_core.losses import info_nce_in_batch


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def test_matches_explicit_loop():
    g = torch.Generator().manual_seed(0)
    q, k = torch.randn(5, 3, generator=g), torch.randn(5, 3, generator=g)
    qn, kn = _unit(q.double().numpy()), _unit(k.double().numpy())
    for t in (0.1, 0.5, 1.0):
        expected = 0.0
        for i in range(5):
            scores = [math.exp(qn[i] @ kn[j] / t) for j in range(5)]
            expected += -math.log(scores[i] / sum(scores))
        loss, _ = info_nce_in_batch(q, k, t)
        assert loss.item() == pytest.approx(expected / 5, rel=1e-5)


def test_two_orthogonal_pairs_by_hand():
    # Each query matches its key exactly (cos 1) and is orthogonal to the other (cos 0); temperature 1.
    q = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    loss, accuracy = info_nce_in_batch(q, 3.0 * q, 1.0)  # scale does not matter: cosine similarity
    assert loss.item() == pytest.approx(-math.log(math.e / (math.e + 1.0)), rel=1e-6)
    assert accuracy.item() == 1.0


def test_accuracy_counts_queries_whose_own_key_scores_highest():
    k = torch.tensor([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0], [0.0, -1.0]])  # four directions
    q = torch.tensor([[1.0, 0.1], [0.1, 1.0], [0.0, -1.0], [0.1, -1.0]])  # query 2 points at key 3
    _, accuracy = info_nce_in_batch(q, k, 0.1)
    assert accuracy.item() == pytest.approx(0.75)
    assert not accuracy.requires_grad


def test_matching_pairs_score_lower_than_shuffled_ones():
    g = torch.Generator().manual_seed(1)
    q = torch.randn(64, 16, generator=g)
    k = q + 0.1 * torch.randn(64, 16, generator=g)
    matched, acc = info_nce_in_batch(q, k, 0.1)
    shuffled, acc_shuffled = info_nce_in_batch(q, k[torch.randperm(64, generator=g)], 0.1)
    assert matched < shuffled - 2.0
    assert acc.item() == 1.0 and acc_shuffled.item() < 0.2


def test_gradients_reach_queries_and_keys():
    q = torch.randn(4, 3, requires_grad=True)
    k = torch.randn(4, 3, requires_grad=True)
    loss, _ = info_nce_in_batch(q, k, 0.2)
    loss.backward()
    assert q.grad is not None and q.grad.abs().sum() > 0
    assert k.grad is not None and k.grad.abs().sum() > 0


def test_half_precision_inputs_give_a_float32_loss():
    g = torch.Generator().manual_seed(2)
    q, k = torch.randn(8, 4, generator=g), torch.randn(8, 4, generator=g)
    loss, _ = info_nce_in_batch(q.half(), k.half(), 0.05)
    assert loss.dtype == torch.float32 and torch.isfinite(loss)
    assert loss.item() == pytest.approx(info_nce_in_batch(q, k, 0.05)[0].item(), rel=1e-2)


def test_bad_shapes_and_temperature_are_refused():
    with pytest.raises(ValueError, match="queries, keys"):
        info_nce_in_batch(torch.randn(4, 3), torch.randn(5, 3))
    with pytest.raises(ValueError, match="temperature"):
        info_nce_in_batch(torch.randn(4, 3), torch.randn(4, 3), 0.0)
