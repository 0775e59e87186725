"""NT-Xent, the normalised temperature-scaled cross-entropy of SimCLR (Chen et al., 2020)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ssl_core.distributed import gather_with_offset, world_size
from ssl_core.losses._precision import check_pair, float32_loss, normalize


@float32_loss
def nt_xent(
    z1: torch.Tensor, z2: torch.Tensor, temperature: float = 0.5, gather: bool = False
) -> torch.Tensor:
    """Mean NT-Xent over all 2N anchors.

    z1[i] and z2[i] are projections of two views of image i. Each of the 2N embeddings is an anchor
    whose positive is the other view of the same image; the other 2N - 2 embeddings are negatives.

    gather=True, in a process group of W > 1 ranks: every rank's embeddings are gathered (gradients flow
    back), so this rank's 2N anchors see all 2M = 2 * sum of the ranks' N as candidates, as in the paper.
    The rank's loss is the sum of its anchors' cross-entropies times W / (2M): the mean over ranks, which
    is what DDP's gradient averaging optimises, is then exactly the single-process loss on the
    concatenated batch. With one process gather=True is the plain path.
    """
    check_pair(z1, z2)
    if gather and world_size() > 1:
        return _nt_xent_global(z1, z2, temperature)
    n = z1.shape[0]
    z = normalize(torch.cat([z1, z2], dim=0))
    logits = z @ z.t() / temperature
    # An embedding is never its own negative: mask self-similarity out of the softmax.
    logits = logits.masked_fill(torch.eye(2 * n, dtype=torch.bool, device=z.device), float("-inf"))
    targets = torch.cat([torch.arange(n, 2 * n), torch.arange(0, n)]).to(z.device)
    return F.cross_entropy(logits, targets)


def _nt_xent_global(z1: torch.Tensor, z2: torch.Tensor, temperature: float) -> torch.Tensor:
    n, d = z1.shape
    # One gather for both views: (M, 2D), this rank's rows start at `offset`.
    both, offset = gather_with_offset(torch.cat([z1, z2], dim=1))
    m = both.shape[0]
    # Candidates in the single-process order: every view-1 embedding, then every view-2 embedding.
    candidates = normalize(torch.cat([both[:, :d], both[:, d:]], dim=0))
    mine = torch.arange(offset, offset + n, device=z1.device)
    rows = torch.cat([mine, mine + m])  # this rank's anchors, as rows of `candidates`
    logits = candidates[rows] @ candidates.t() / temperature
    logits[torch.arange(2 * n, device=z1.device), rows] = float("-inf")
    targets = torch.cat([mine + m, mine])
    loss_sum = F.cross_entropy(logits, targets, reduction="sum")
    return loss_sum * (world_size() / (2 * m))
