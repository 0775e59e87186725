"""DINO's self-distillation loss (Caron et al., Emerging Properties in Self-Supervised Vision Transformers, 2021).

The teacher's outputs for the global crops, centred (minus a running mean of the teacher's outputs) and
sharpened (a low temperature), are the targets; the student's outputs for every crop, at a higher
temperature, are the predictions; the loss is their cross-entropy, averaged over every (teacher crop,
student crop) pair of different crops. Centring alone would make the teacher uniform and sharpening alone
would make it one-hot: together they keep it from collapsing either way.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from ssl_core.distributed import world_size
from ssl_core.distributed.context import all_reduce_sum
from ssl_core.losses._precision import float32_loss


def _f32(tensors: Sequence[torch.Tensor]) -> list[torch.Tensor]:
    return [t.float() for t in tensors]


def teacher_probabilities(
    teacher_logits: torch.Tensor, center: torch.Tensor, temperature: float
) -> torch.Tensor:
    """softmax((teacher_logits - center) / temperature) over the last axis, in float32 (no gradient)."""
    return torch.softmax((teacher_logits.detach().float() - center.float()) / temperature, dim=-1)


@float32_loss
def dino_loss(
    student_logits: Sequence[torch.Tensor],
    teacher_logits: Sequence[torch.Tensor],
    center: torch.Tensor,
    student_temperature: float = 0.1,
    teacher_temperature: float = 0.04,
) -> torch.Tensor:
    """Mean over pairs (teacher crop t, student crop s, s != t) of the batch-mean of
    -sum_k P_t[k] log P_s[k], with P_t = softmax((teacher_t - center) / teacher_temperature) and
    P_s = softmax(student_s / student_temperature).

    student_logits: one (B, K) tensor per crop, the globals first, in the teacher's order; teacher_logits:
    one (B, K) tensor per global crop (usually 2); center: (K,) or (1, K). No gradient reaches the teacher.
    """
    if len(teacher_logits) < 1 or len(student_logits) < 2:
        raise ValueError("dino_loss needs at least one teacher crop and two student crops")
    if len(teacher_logits) > len(student_logits):
        raise ValueError("the teacher sees the global crops only: at most as many crops as the student")
    log_p = [torch.log_softmax(s / student_temperature, dim=-1) for s in _f32(student_logits)]
    targets = [teacher_probabilities(t, center, teacher_temperature) for t in teacher_logits]
    total, pairs = student_logits[0].new_zeros((), dtype=torch.float32), 0
    for t, target in enumerate(targets):
        for s, prediction in enumerate(log_p):
            if s == t:  # the same crop: nothing to predict
                continue
            total = total + (-(target * prediction).sum(dim=-1)).mean()
            pairs += 1
    return total / pairs


@torch.no_grad()
def updated_center(
    center: torch.Tensor, teacher_logits: Sequence[torch.Tensor], momentum: float, gather: bool = False
) -> torch.Tensor:
    """DINO's centre update: momentum * center + (1 - momentum) * the teacher's mean output over the batch
    and all its crops. Returns a new (1, K) float32 tensor.

    gather=True, in a process group of W > 1 ranks: the mean is over the global batch (the rows' sum and
    count all-reduced, as DINO's update_center does), so every rank computes the same centre; ranks may
    hold different numbers of rows. With one process gather=True is the plain path.
    """
    outputs = torch.cat(_f32([t.detach() for t in teacher_logits]))
    if gather and world_size() > 1:
        count = outputs.new_tensor([outputs.shape[0]])
        totals = all_reduce_sum(torch.cat([outputs.sum(dim=0), count]))
        batch_mean = (totals[:-1] / totals[-1]).view(1, -1)
    else:
        batch_mean = outputs.mean(dim=0, keepdim=True)
    return center.float().view(1, -1) * momentum + batch_mean * (1.0 - momentum)


def teacher_temperature(step: int, warmup_steps: int, start: float, end: float) -> float:
    """The teacher's temperature at `step`: linear from `start` to `end` over `warmup_steps`, then `end`.

    DINO warms it up from 0.04 to 0.07 over the first 30 epochs: a too-sharp teacher early on makes
    training unstable, a too-soft one later lets the outputs collapse to uniform."""
    if warmup_steps <= 0 or step >= warmup_steps:
        return float(end)
    return float(start + (end - start) * max(0, step) / warmup_steps)


@torch.no_grad()
def teacher_entropy(
    teacher_logits: Sequence[torch.Tensor], center: torch.Tensor, temperature: float
) -> torch.Tensor:
    """The mean entropy of the teacher's targets (nats): the part of `dino_loss` the student cannot remove.

    dino_loss = teacher_entropy + (the mean KL divergence of the student's predictions from the targets),
    because every teacher crop is paired with the same number of student crops. ln(K) means the teacher is
    uniform (collapsed by centring), 0 that it is one-hot (collapsed by sharpening)."""
    ps = [teacher_probabilities(t, center, temperature) for t in teacher_logits]
    return torch.stack([-(p * torch.log(p.clamp_min(1e-30))).sum(dim=-1).mean() for p in ps]).mean()
