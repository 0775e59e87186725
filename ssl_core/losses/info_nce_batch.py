"""InfoNCE with in-batch negatives: each query must pick its own key out of all the batch's keys.

The loss of Contrastive Predictive Coding (van den Oord et al., 2018): query i is a prediction, key i
the latent it predicts, and every other key (other times, other samples) is a negative.
"""

from __future__ import annotations

import torch
import torch.distributed as dist
import torch.nn.functional as F

from ssl_core.distributed import gather_with_offset, world_size
from ssl_core.losses._precision import check_pair, float32_loss, normalize


@float32_loss
def info_nce_in_batch(
    queries: torch.Tensor, keys: torch.Tensor, temperature: float = 0.1, gather: bool = False
) -> tuple[torch.Tensor, torch.Tensor]:
    """(mean InfoNCE, accuracy) of queries (N, D) against keys (N, D); keys[i] is query i's positive.

    Both are L2-normalised, so the scores are cosine similarities divided by `temperature`. Gradients
    flow through queries and keys alike (CPC trains the encoder through both). The accuracy is the
    detached fraction of queries whose highest score is their own key; chance is 1 / N.

    gather=True, in a process group of W > 1 ranks: this rank's queries pick their key out of every
    rank's keys (gathered with gradients; M keys in all). The rank's loss is its queries' summed
    cross-entropy times W / M, so the mean over ranks (what DDP optimises) is the single-process loss on
    the concatenated batch; the accuracy is the global one. With one process gather=True is the plain
    path.
    """
    check_pair(queries, keys, "queries, keys")
    if temperature <= 0:
        raise ValueError(f"temperature must be positive; got {temperature}")
    if gather and world_size() > 1:
        return _info_nce_global(queries, keys, temperature)
    logits = normalize(queries) @ normalize(keys).t() / temperature
    targets = torch.arange(queries.shape[0], device=queries.device)
    loss = F.cross_entropy(logits, targets)
    accuracy = (logits.detach().argmax(dim=1) == targets).float().mean()
    return loss, accuracy


def _info_nce_global(
    queries: torch.Tensor, keys: torch.Tensor, temperature: float
) -> tuple[torch.Tensor, torch.Tensor]:
    all_keys, offset = gather_with_offset(keys)
    m = all_keys.shape[0]
    logits = normalize(queries) @ normalize(all_keys).t() / temperature
    targets = torch.arange(offset, offset + queries.shape[0], device=queries.device)
    loss = F.cross_entropy(logits, targets, reduction="sum") * (world_size() / m)
    correct = (logits.detach().argmax(dim=1) == targets).float().sum()
    dist.all_reduce(correct, op=dist.ReduceOp.SUM)
    return loss, correct / m
