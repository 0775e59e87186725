"""NNCLR's contrastive loss with nearest-neighbour positives (Dwibedi et al., 2021)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ssl_core.losses._precision import check_pair, float32_loss, normalize


@float32_loss
def nnclr_loss(neighbours: torch.Tensor, predictions: torch.Tensor, temperature: float = 0.1) -> torch.Tensor:
    """Mean NT-Xent of nearest neighbours (N, D) against predictions (N, D) of the other view.

    neighbours[i] is the support-set entry closest to view 1 of sample i; its positive is predictions[i]
    (view 2 of the same sample) and the other N - 1 predictions of the batch are its negatives (the
    paper's equation 1, as solo-learn implements it). Both are L2-normalised here; the neighbours are
    detached (they come from the support set), so gradients flow only through the predictions.
    """
    check_pair(neighbours, predictions, "neighbours, predictions")
    neighbours = normalize(neighbours.detach())
    predictions = normalize(predictions)
    logits = neighbours @ predictions.t() / temperature
    # Sample i's positive is column i.
    return F.cross_entropy(logits, torch.arange(logits.shape[0], device=logits.device))
