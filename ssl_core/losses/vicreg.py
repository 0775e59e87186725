"""VICReg: variance-invariance-covariance regularisation (Bardes et al., 2022)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ssl_core.distributed import all_gather_with_grad, world_size
from ssl_core.losses._precision import EPS, check_pair, float32_loss


def _variance(z: torch.Tensor) -> torch.Tensor:
    # Hinge on the per-dimension standard deviation: only dimensions with std < 1 are penalised. The unbiased
    # variance and eps = 1e-4 are the paper's (and lightly's).
    std = torch.sqrt(z.var(dim=0) + EPS)
    return F.relu(1.0 - std).mean()


def _covariance(z: torch.Tensor) -> torch.Tensor:
    n, d = z.shape
    z = z - z.mean(dim=0)
    cov = z.t() @ z / (n - 1)
    return (cov.pow(2).sum() - torch.diagonal(cov).pow(2).sum()) / d


@float32_loss
def vicreg_loss(
    z1: torch.Tensor,
    z2: torch.Tensor,
    sim_w: float = 25.0,
    var_w: float = 25.0,
    cov_w: float = 1.0,
    gather: bool = False,
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """VICReg loss and its weighted parts "invariance", "variance", "covariance" (detached, they sum
    to the loss).

    invariance = MSE(z1, z2); variance = mean over dims of relu(1 - std), averaged over both branches;
    covariance = sum of squared off-diagonal covariances / D, summed over both branches.

    gather=True, in a process group of W > 1 ranks: every rank's embeddings are gathered with gradients
    and all three terms are taken over the global batch (the paper's variance and covariance are batch
    statistics), so each rank returns the single-process loss of the concatenated batch; as for Barlow
    Twins, DDP's gradient averaging then gives exactly the single-process parameter gradients. With one
    process gather=True is the plain path.
    """
    check_pair(z1, z2)
    if gather and world_size() > 1:
        d = z1.shape[1]
        both = all_gather_with_grad(torch.cat([z1, z2], dim=1))
        z1, z2 = both[:, :d], both[:, d:]
    if z1.shape[0] < 2:
        raise ValueError("vicreg_loss needs at least 2 samples to estimate variances")
    invariance = sim_w * F.mse_loss(z1, z2)
    variance = var_w * (_variance(z1) + _variance(z2)) / 2
    covariance = cov_w * (_covariance(z1) + _covariance(z2))
    loss = invariance + variance + covariance
    parts = {
        "invariance": invariance.detach(),
        "variance": variance.detach(),
        "covariance": covariance.detach(),
    }
    return loss, parts
