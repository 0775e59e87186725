"""SwAV's swapped-prediction loss and its Sinkhorn-Knopp assignments (Caron et al., Unsupervised Learning of
Visual Features by Contrasting Cluster Assignments, NeurIPS 2020).

Every crop's embedding is scored against K prototypes (unit vectors). For each global crop, Sinkhorn-Knopp
turns the batch's scores into soft cluster assignments ("codes") in which every prototype gets an equal
share of the batch, which rules out the trivial solution of one cluster for everything. Each other crop
of the same image must then predict those codes from its own scores: the prediction is swapped.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from ssl_core.losses._precision import float32_loss


@torch.no_grad()
def sinkhorn_knopp(scores: torch.Tensor, epsilon: float = 0.05, iterations: int = 3) -> torch.Tensor:
    """Soft assignments (B, K) of B samples to K prototypes with equal shares, from scores (B, K).

    Q = exp(scores / epsilon), then alternately rescaled so each prototype's total is B / K and each
    sample's total is 1 (SwAV's `distributed_sinkhorn`, on one device). Rows of the result sum to 1 after
    the last step; columns sum to about B / K (exactly, as iterations grow). Computed on logarithms in
    float32 (the same values): exp(scores / epsilon) itself under- or overflows for a small epsilon.
    """
    log_q = (scores.detach().float() / epsilon).t()  # (K, B)
    k, b = log_q.shape
    log_q = log_q - torch.logsumexp(log_q.flatten(), dim=0)
    for _ in range(iterations):
        log_q = log_q - torch.logsumexp(log_q, dim=1, keepdim=True) - math.log(k)  # each prototype: 1 / K
        log_q = log_q - torch.logsumexp(log_q, dim=0, keepdim=True) - math.log(b)  # each sample: 1 / B
    return torch.exp(log_q + math.log(b)).t()


@float32_loss
def swav_loss(
    scores: Sequence[torch.Tensor], codes: Sequence[torch.Tensor], temperature: float = 0.1
) -> torch.Tensor:
    """Swapped prediction: mean over code crops j and other crops i != j of the batch-mean of
    -sum_k codes_j[k] log softmax(scores_i / temperature)[k].

    scores: one (B, K) tensor per crop (prototype scores, the globals first); codes: one (B, K) tensor per
    crop that assignments were computed for (the first len(codes) crops, usually the two globals).
    """
    if len(scores) < 2 or not 1 <= len(codes) <= len(scores):
        raise ValueError("swav_loss needs two or more crops and codes for 1 to all of them")
    log_p = [torch.log_softmax(s.float() / temperature, dim=-1) for s in scores]
    total = scores[0].new_zeros((), dtype=torch.float32)
    for j, q in enumerate(codes):
        q = q.detach().float()
        others = [-(q * lp).sum(dim=-1).mean() for i, lp in enumerate(log_p) if i != j]
        total = total + torch.stack(others).mean()
    return total / len(codes)
