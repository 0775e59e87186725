"""Cosine-based regression losses of BYOL (Grill et al., 2020) and SimSiam (Chen & He, 2021)."""

from __future__ import annotations

import torch

from ssl_core.losses._precision import check_pair, float32_loss, normalize


@float32_loss
def byol_loss(p: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    """Normalised MSE ||p/|p| - z/|z|||^2 = 2 - 2 cos(p, z), averaged over the batch (range 0..4).

    z is the target network's projection; it is detached here, so gradients reach only p.
    """
    check_pair(p, z, "p, z")
    return (2.0 - 2.0 * (normalize(p) * normalize(z.detach())).sum(dim=1)).mean()


@float32_loss
def negative_cosine(p: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    """SimSiam's D(p, z) = -cos(p, stopgrad(z)), averaged over the batch (range -1..1).

    The stop-gradient on z is applied here (it is what keeps SimSiam from collapsing), so callers
    pass the projections as they are.
    """
    check_pair(p, z, "p, z")
    return -(normalize(p) * normalize(z.detach())).sum(dim=1).mean()
