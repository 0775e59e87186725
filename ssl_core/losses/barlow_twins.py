"""Barlow Twins redundancy-reduction loss (Zbontar et al., 2021)."""

from __future__ import annotations

import torch

from ssl_core.distributed import all_gather_with_grad, world_size
from ssl_core.losses._precision import EPS, check_pair, float32_loss


def _standardize(z: torch.Tensor) -> torch.Tensor:
    # As BatchNorm1d(affine=False) in training mode (biased variance over the batch), but with eps = EPS =
    # 1e-4, not BatchNorm's 1e-5 (which Barlow Twins' released code and lightly use); the two differ only for
    # nearly collapsed dimensions (docs/method_defaults.md).
    return (z - z.mean(dim=0)) / torch.sqrt(z.var(dim=0, unbiased=False) + EPS)


@float32_loss
def barlow_twins_loss(
    z1: torch.Tensor, z2: torch.Tensor, lambd: float = 0.005, gather: bool = False
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Push the cross-correlation matrix of the two views' standardised embeddings towards identity.

    Returns (loss, parts) with parts "on_diagonal" = sum_i (1 - C_ii)^2 (invariance) and
    "off_diagonal" = lambd * sum_{i != j} C_ij^2 (redundancy reduction); parts are detached and sum
    to the loss.

    gather=True, in a process group of W > 1 ranks: the standardisation (batch mean and variance) and the
    cross-correlation are taken over the global batch, every rank's embeddings gathered with gradients, so
    each rank returns the single-process loss of the concatenated batch. The gather's summed backward
    makes each rank's embedding gradient W times that loss's, and DDP's 1/W averaging of the parameter
    gradients gives exactly the single-process ones. With one process gather=True is the plain path.
    """
    check_pair(z1, z2)
    if gather and world_size() > 1:
        d = z1.shape[1]
        both = all_gather_with_grad(torch.cat([z1, z2], dim=1))
        z1, z2 = both[:, :d], both[:, d:]
    n = z1.shape[0]
    c = _standardize(z1).t() @ _standardize(z2) / n
    diag = torch.diagonal(c)
    on_diag = (diag - 1.0).pow(2).sum()
    off_diag = lambd * (c.pow(2).sum() - diag.pow(2).sum())
    loss = on_diag + off_diag
    return loss, {"on_diagonal": on_diag.detach(), "off_diagonal": off_diag.detach()}
