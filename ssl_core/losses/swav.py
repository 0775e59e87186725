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
import torch.distributed as dist

from ssl_core.distributed import world_size
from ssl_core.distributed.context import all_reduce_max, all_reduce_sum
from ssl_core.losses._precision import float32_loss


@torch.no_grad()
def sinkhorn_knopp(
    scores: torch.Tensor,
    epsilon: float = 0.05,
    iterations: int = 3,
    gather: bool = False,
    shared: int = 0,
) -> torch.Tensor:
    """Soft assignments (B, K) of B samples to K prototypes with equal shares, from scores (B, K).

    Q = exp(scores / epsilon), then alternately rescaled so each prototype's total is B / K and each
    sample's total is 1 (SwAV's `distributed_sinkhorn`, on one device). Rows of the result sum to 1 after
    the last step; columns sum to about B / K (exactly, as iterations grow). Computed on logarithms in
    float32 (the same values): exp(scores / epsilon) itself under- or overflows for a small epsilon.

    gather=True, in a process group of W > 1 ranks: the prototypes' totals are taken over every rank's
    samples (all-reduced, as SwAV's distributed_sinkhorn does) and B is the global count, so each rank gets
    its rows of the single-process assignments of the concatenated batch. The first `shared` rows of
    `scores` are the same on every rank (a queue kept identical across ranks) and count once: they stand
    before rank 0's rows in that concatenation. With one process gather=True is the plain path and
    `shared` changes nothing.
    """
    if gather and world_size() > 1:
        return _sinkhorn_global(scores, epsilon, iterations, shared)
    log_q = (scores.detach().float() / epsilon).t()  # (K, B)
    k, b = log_q.shape
    log_q = log_q - torch.logsumexp(log_q.flatten(), dim=0)
    for _ in range(iterations):
        log_q = log_q - torch.logsumexp(log_q, dim=1, keepdim=True) - math.log(k)  # each prototype: 1 / K
        log_q = log_q - torch.logsumexp(log_q, dim=0, keepdim=True) - math.log(b)  # each sample: 1 / B
    return torch.exp(log_q + math.log(b)).t()


def _global_logsumexp(x: torch.Tensor, dim: int) -> torch.Tensor:
    """logsumexp of x along `dim` over every rank's x (keepdim), through an all-reduced max and sum."""
    peak = all_reduce_max(x.amax(dim=dim, keepdim=True))
    total = all_reduce_sum(torch.exp(x - peak).sum(dim=dim, keepdim=True))
    return peak + torch.log(total)


@torch.no_grad()
def _sinkhorn_global(scores: torch.Tensor, epsilon: float, iterations: int, shared: int) -> torch.Tensor:
    if not 0 <= shared < scores.shape[0]:
        raise ValueError(f"shared must leave at least one own row of the {scores.shape[0]}; got {shared}")
    log_q = (scores.detach().float() / epsilon).t()  # (K, B) with this rank's samples as columns
    k = log_q.shape[0]
    first = shared if dist.get_rank() > 0 else 0  # the shared columns count on rank 0 only
    b = int(all_reduce_sum(torch.tensor([log_q.shape[1] - first], device=log_q.device)).item())
    log_q = log_q - _global_logsumexp(log_q[:, first:].reshape(1, -1), dim=1)
    for _ in range(iterations):
        log_q = log_q - _global_logsumexp(log_q[:, first:], dim=1) - math.log(k)  # each prototype: 1 / K
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
