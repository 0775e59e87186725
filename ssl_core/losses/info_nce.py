"""InfoNCE against a queue of past keys, as in MoCo (He et al., 2020; Chen et al., 2020 for v2)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ssl_core.losses._precision import check_pair, float32_loss, normalize


@float32_loss
def info_nce_queue(
    q: torch.Tensor, k: torch.Tensor, queue: torch.Tensor, temperature: float = 0.2
) -> torch.Tensor:
    """Mean InfoNCE of queries q (N, D) with positives k (N, D) and negatives queue (K, D).

    The queue holds one key per row (not MoCo's (D, K) layout). All inputs are L2-normalised here,
    and k and queue are detached: gradients flow only through the queries, as in MoCo.
    """
    check_pair(q, k, "q, k")
    if queue.dim() != 2 or queue.shape[1] != q.shape[1]:
        raise ValueError(f"queue must be (K, {q.shape[1]}); got {tuple(queue.shape)}")
    q = normalize(q)
    k = normalize(k.detach())
    queue = normalize(queue.detach())
    positive = (q * k).sum(dim=1, keepdim=True)
    negatives = q @ queue.t()
    logits = torch.cat([positive, negatives], dim=1) / temperature
    # The positive key is column 0 for every query.
    return F.cross_entropy(logits, torch.zeros(q.shape[0], dtype=torch.long, device=q.device))
