"""InfoNCE with in-batch negatives: each query must pick its own key out of all the batch's keys.

The loss of Contrastive Predictive Coding (van den Oord et al., 2018): query i is a prediction, key i
the latent it predicts, and every other key (other times, other samples) is a negative.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ssl_core.losses._precision import check_pair, float32_loss, normalize


@float32_loss
def info_nce_in_batch(
    queries: torch.Tensor, keys: torch.Tensor, temperature: float = 0.1
) -> tuple[torch.Tensor, torch.Tensor]:
    """(mean InfoNCE, accuracy) of queries (N, D) against keys (N, D); keys[i] is query i's positive.

    Both are L2-normalised, so the scores are cosine similarities divided by `temperature`. Gradients
    flow through queries and keys alike (CPC trains the encoder through both). The accuracy is the
    detached fraction of queries whose highest score is their own key; chance is 1 / N.
    """
    check_pair(queries, keys, "queries, keys")
    if temperature <= 0:
        raise ValueError(f"temperature must be positive; got {temperature}")
    logits = normalize(queries) @ normalize(keys).t() / temperature
    targets = torch.arange(queries.shape[0], device=queries.device)
    loss = F.cross_entropy(logits, targets)
    accuracy = (logits.detach().argmax(dim=1) == targets).float().mean()
    return loss, accuracy
