"""DINO and SwAV losses against values worked out by hand on tiny tensors, and their known properties."""

from __future__ import annotations

import math

import pytest
import torch

from ssl_core.losses import (
    dino_loss,
    sinkhorn_knopp,
    swav_loss,
    teacher_temperature,
    updated_center,
)

LN3 = math.log(3.0)


def _row(*values: float) -> torch.Tensor:
    return torch.tensor([list(values)])


# ---- DINO ----------------------------------------------------------------------------------------------
def test_dino_loss_by_hand_two_crops():
    # Teacher crop 0 pairs with student crop 1 and teacher crop 1 with student crop 0.
    # softmax([0, ln 3]) = [1/4, 3/4]; softmax([0, 0]) = [1/2, 1/2]. Temperatures 1, no centre:
    # pair (t0, s1): -(1/4 ln 1/4 + 3/4 ln 3/4) = 0.562335; pair (t1, s0): ln 2 = 0.693147.
    student = [_row(0.0, 0.0), _row(0.0, LN3)]
    teacher = [_row(0.0, LN3), _row(0.0, 0.0)]
    loss = dino_loss(student, teacher, torch.zeros(2), student_temperature=1.0, teacher_temperature=1.0)
    expected = (-(0.25 * math.log(0.25) + 0.75 * math.log(0.75)) + math.log(2.0)) / 2
    assert loss.item() == pytest.approx(expected, abs=1e-6)
    assert expected == pytest.approx(0.627741, abs=1e-6)


def test_dino_centering_and_sharpening_by_hand():
    student = [_row(0.0, 0.0), _row(0.0, LN3)]
    teacher = [_row(0.0, LN3), _row(0.0, LN3)]
    # Centre [0, ln 3] turns both teacher rows into [0, 0]: uniform targets, so every pair costs
    # -(1/2 ln p0 + 1/2 ln p1): s0 -> ln 2; s1 -> -(ln 1/4 + ln 3/4) / 2 = 0.836988.
    centred = dino_loss(student, teacher, torch.tensor([0.0, LN3]), 1.0, 1.0)
    assert centred.item() == pytest.approx(
        (-(math.log(0.25) + math.log(0.75)) / 2 + math.log(2)) / 2, abs=1e-6
    )
    # Sharpening: teacher temperature 1/2 doubles the logits, softmax([0, 2 ln 3]) = [1/10, 9/10].
    # Student temperature 1/2 on s0 = [0, 0] is still uniform (ln 2); on s1 it gives [1/10, 9/10] too.
    sharp = dino_loss(student, teacher, torch.zeros(2), student_temperature=0.5, teacher_temperature=0.5)
    h = -(0.1 * math.log(0.1) + 0.9 * math.log(0.9))  # t0 -> s1: the same distribution, its entropy
    assert sharp.item() == pytest.approx((h + math.log(2)) / 2, abs=1e-6)


def test_dino_loss_counts_every_pair_of_different_crops():
    # 2 teacher crops x 4 student crops: 8 pairs minus the 2 same-crop pairs = 6, each with a known value.
    uniform, skewed = _row(0.0, 0.0), _row(0.0, LN3)
    student = [uniform, skewed, skewed, uniform]
    teacher = [skewed, skewed]
    loss = dino_loss(student, teacher, torch.zeros(2), 1.0, 1.0)
    h = -(0.25 * math.log(0.25) + 0.75 * math.log(0.75))  # target [1/4, 3/4] vs prediction [1/4, 3/4]
    x = -(0.25 * math.log(0.5) + 0.75 * math.log(0.5))  # vs the uniform prediction: ln 2
    # t0 with s1, s2, s3 = h, h, x; t1 with s0, s2, s3 = x, h, x.
    assert loss.item() == pytest.approx((3 * h + 3 * x) / 6, abs=1e-6)


def test_dino_loss_gradient_reaches_the_student_only():
    student = [torch.randn(4, 5, requires_grad=True) for _ in range(3)]
    teacher = [torch.randn(4, 5, requires_grad=True) for _ in range(2)]
    dino_loss(student, teacher, torch.zeros(5)).backward()
    assert all(s.grad is not None and s.grad.abs().sum() > 0 for s in student)
    assert all(t.grad is None for t in teacher)


def test_dino_loss_is_float32_under_autocast():
    student = [torch.randn(4, 5).bfloat16() for _ in range(3)]
    teacher = [torch.randn(4, 5).bfloat16() for _ in range(2)]
    with torch.autocast("cpu", dtype=torch.bfloat16):
        loss = dino_loss(student, teacher, torch.zeros(5))
    assert loss.dtype == torch.float32 and math.isfinite(loss.item())


def test_center_update_and_temperature_schedule():
    center = torch.tensor([1.0, 0.0])
    teacher = [torch.tensor([[0.0, 2.0], [2.0, 2.0]]), torch.tensor([[4.0, 0.0], [2.0, 0.0]])]
    # Batch mean over both crops: [2, 1]; 0.9 * [1, 0] + 0.1 * [2, 1] = [1.1, 0.1].
    torch.testing.assert_close(updated_center(center, teacher, 0.9), torch.tensor([[1.1, 0.1]]))
    assert teacher_temperature(0, 10, 0.04, 0.07) == pytest.approx(0.04)
    assert teacher_temperature(5, 10, 0.04, 0.07) == pytest.approx(0.055)
    assert teacher_temperature(10, 10, 0.04, 0.07) == teacher_temperature(99, 10, 0.04, 0.07) == 0.07
    assert teacher_temperature(0, 0, 0.04, 0.07) == 0.07  # no warm-up


# ---- SwAV ----------------------------------------------------------------------------------------------
def test_sinkhorn_one_iteration_by_hand():
    # exp(scores) = [[4, 1], [2, 1]] (samples x prototypes). Transposed and divided by its sum 8:
    # [[1/2, 1/4], [1/8, 1/8]]; prototype rows to 1/2 each: [[1/3, 1/6], [1/4, 1/4]]; sample columns to
    # 1/2 each: column 0 (7/12) -> [2/7, 3/14], column 1 (5/12) -> [1/5, 3/10]; times B = 2 and transposed:
    # sample 0 -> [4/7, 3/7], sample 1 -> [2/5, 3/5].
    scores = torch.log(torch.tensor([[4.0, 1.0], [2.0, 1.0]]))
    q = sinkhorn_knopp(scores, epsilon=1.0, iterations=1)
    torch.testing.assert_close(q, torch.tensor([[4 / 7, 3 / 7], [2 / 5, 3 / 5]]))


def test_sinkhorn_balances_prototypes_and_is_shift_invariant():
    g = torch.Generator().manual_seed(0)
    scores = torch.randn(64, 8, generator=g).clamp(-1, 1)
    q = sinkhorn_knopp(scores, epsilon=0.05, iterations=300)
    torch.testing.assert_close(q.sum(dim=1), torch.ones(64))  # each sample: a distribution
    torch.testing.assert_close(q.sum(dim=0), torch.full((8,), 64 / 8), atol=0.02, rtol=0)  # equal shares
    torch.testing.assert_close(sinkhorn_knopp(scores + 0.5, 0.05, 3), sinkhorn_knopp(scores, 0.05, 3))
    # A batch whose scores all prefer prototype 0 still spreads over every prototype after SwAV's 3
    # iterations (no collapse into one cluster): each gets close to its share of 8.
    biased = torch.zeros(64, 8)
    biased[:, 0] = 1.0
    biased += 0.01 * torch.randn(64, 8, generator=g)
    assert sinkhorn_knopp(biased, 0.05, 3).sum(dim=0).min() > 7.0
    assert torch.softmax(biased / 0.05, dim=1).sum(dim=0).min() < 0.1  # a plain softmax does collapse
    # Large scores / small epsilon: still finite (the sums are taken on logarithms).
    q = sinkhorn_knopp(torch.randn(16, 4, generator=g) * 10, 0.01, 3)
    assert torch.isfinite(q).all()
    torch.testing.assert_close(q.sum(dim=1), torch.ones(16))


def test_swav_loss_by_hand():
    # Codes for crop 0 = [1, 0] predicted from crop 1's scores [0, ln 3] -> ln 4; codes for crop 1 =
    # [1/2, 1/2] predicted from crop 0's scores [0, 0] -> ln 2. Mean: (ln 4 + ln 2) / 2.
    scores = [_row(0.0, 0.0), _row(0.0, LN3)]
    codes = [_row(1.0, 0.0), _row(0.5, 0.5)]
    loss = swav_loss(scores, codes, temperature=1.0)
    assert loss.item() == pytest.approx((math.log(4) + math.log(2)) / 2, abs=1e-6)
    # Temperature 1/2 on crop 1's scores: softmax([0, 2 ln 3]) = [1/10, 9/10] -> ln 10 for crop 0's codes.
    half = swav_loss(scores, codes, temperature=0.5)
    assert half.item() == pytest.approx((math.log(10) + math.log(2)) / 2, abs=1e-6)


def test_swav_loss_with_local_crops_by_hand():
    # Codes from crop 0 only; crops 1 and 2 predict them: mean of ln 4 (from [0, ln 3]) and ln 2 ([0, 0]).
    scores = [_row(5.0, -5.0), _row(0.0, LN3), _row(0.0, 0.0)]
    loss = swav_loss(scores, [_row(1.0, 0.0)], temperature=1.0)
    assert loss.item() == pytest.approx((math.log(4) + math.log(2)) / 2, abs=1e-6)


def test_swav_loss_gradients_and_checks():
    scores = [torch.randn(4, 3, requires_grad=True) for _ in range(3)]
    codes = [sinkhorn_knopp(s) for s in scores[:2]]
    swav_loss(scores, codes).backward()
    assert all(s.grad is not None and s.grad.abs().sum() > 0 for s in scores)
    with pytest.raises(ValueError):
        swav_loss(scores[:1], codes[:1])
