"""NT-Xent, the normalised temperature-scaled cross-entropy of SimCLR (Chen et al., 2020)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ssl_core.losses._precision import check_pair, float32_loss, normalize


@float32_loss
def nt_xent(z1: torch.Tensor, z2: torch.Tensor, temperature: float = 0.5) -> torch.Tensor:
    """Mean NT-Xent over all 2N anchors.

    z1[i] and z2[i] are projections of two views of image i. Each of the 2N embeddings is an anchor
    whose positive is the other view of the same image; the other 2N - 2 embeddings are negatives.
    """
    check_pair(z1, z2)
    n = z1.shape[0]
    z = normalize(torch.cat([z1, z2], dim=0))
    logits = z @ z.t() / temperature
    # An embedding is never its own negative: mask self-similarity out of the softmax.
    logits = logits.masked_fill(torch.eye(2 * n, dtype=torch.bool, device=z.device), float("-inf"))
    targets = torch.cat([torch.arange(n, 2 * n), torch.arange(0, n)]).to(z.device)
    return F.cross_entropy(logits, targets)
