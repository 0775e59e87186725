"""NNCLR's contrastive loss with nearest-neighbour positives (Dwibedi et al., 2021)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ssl_core.distributed import gather_with_offset, world_size
from ssl_core.losses._precision import check_pair, float32_loss, normalize


@float32_loss
def nnclr_loss(
    neighbours: torch.Tensor, predictions: torch.Tensor, temperature: float = 0.1, gather: bool = False
) -> torch.Tensor:
    """Mean NT-Xent of nearest neighbours (N, D) against predictions (N, D) of the other view.

    neighbours[i] is the support-set entry closest to view 1 of sample i; its positive is predictions[i]
    (view 2 of the same sample) and the other N - 1 predictions of the batch are its negatives (the
    paper's equation 1, as solo-learn implements it). Both are L2-normalised here; the neighbours are
    detached (they come from the support set), so gradients flow only through the predictions.

    gather=True, in a process group of W > 1 ranks: this rank's neighbours are contrasted with every
    rank's predictions (gathered with gradients, M in all; solo-learn gathers them the same way). The
    rank's loss is its summed cross-entropy times W / M, so the mean over ranks (what DDP optimises) is the
    single-process loss on the concatenated batch. With one process gather=True is the plain path.
    """
    check_pair(neighbours, predictions, "neighbours, predictions")
    neighbours = normalize(neighbours.detach())
    if gather and world_size() > 1:
        everyone, offset = gather_with_offset(predictions)
        m = everyone.shape[0]
        logits = neighbours @ normalize(everyone).t() / temperature
        targets = torch.arange(offset, offset + neighbours.shape[0], device=logits.device)
        return F.cross_entropy(logits, targets, reduction="sum") * (world_size() / m)
    predictions = normalize(predictions)
    logits = neighbours @ predictions.t() / temperature
    # Sample i's positive is column i.
    return F.cross_entropy(logits, torch.arange(logits.shape[0], device=logits.device))
