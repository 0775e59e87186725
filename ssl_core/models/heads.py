"""MLP projector and predictor heads, with the layer/BatchNorm layouts used in the papers."""

from __future__ import annotations

from torch import nn


def mlp(
    in_dim: int,
    hidden_dim: int,
    out_dim: int,
    num_layers: int = 2,
    hidden_bn: bool = True,
    last_bn: bool = False,
    last_bn_affine: bool = True,
) -> nn.Sequential:
    """Linear(-BN)-ReLU blocks followed by a final Linear (optionally followed by BN).

    num_layers counts Linear layers (>= 1). Linear layers followed by BN drop their bias (BN has one).
    """
    if num_layers < 1:
        raise ValueError("num_layers must be >= 1")
    layers: list[nn.Module] = []
    dim = in_dim
    for _ in range(num_layers - 1):
        layers.append(nn.Linear(dim, hidden_dim, bias=not hidden_bn))
        if hidden_bn:
            layers.append(nn.BatchNorm1d(hidden_dim))
        layers.append(nn.ReLU(inplace=True))
        dim = hidden_dim
    layers.append(nn.Linear(dim, out_dim, bias=not last_bn))
    if last_bn:
        layers.append(nn.BatchNorm1d(out_dim, affine=last_bn_affine))
    return nn.Sequential(*layers)


def simclr_projector(in_dim: int, hidden_dim: int, out_dim: int) -> nn.Sequential:
    """SimCLR (v1): Linear-BN-ReLU-Linear. Not SimCLR v2's 3-layer projector; SimCLR's reference code
    also puts BatchNorm (without centring) on the output, which this head leaves out (docs/method_defaults.md)."""
    return mlp(in_dim, hidden_dim, out_dim, num_layers=2, hidden_bn=True)


def moco_projector(in_dim: int, hidden_dim: int, out_dim: int) -> nn.Sequential:
    """MoCo v2: Linear-ReLU-Linear, no BatchNorm."""
    return mlp(in_dim, hidden_dim, out_dim, num_layers=2, hidden_bn=False)


def byol_mlp(in_dim: int, hidden_dim: int, out_dim: int) -> nn.Sequential:
    """BYOL projector and predictor: Linear-BN-ReLU-Linear."""
    return mlp(in_dim, hidden_dim, out_dim, num_layers=2, hidden_bn=True)


def simsiam_projector(in_dim: int, hidden_dim: int, out_dim: int) -> nn.Sequential:
    """SimSiam: three Linear layers, BN after each, the last BN without affine parameters."""
    return mlp(in_dim, hidden_dim, out_dim, num_layers=3, hidden_bn=True, last_bn=True, last_bn_affine=False)


def simsiam_predictor(dim: int, bottleneck_dim: int) -> nn.Sequential:
    """SimSiam: bottleneck Linear-BN-ReLU-Linear from dim to dim."""
    return mlp(dim, bottleneck_dim, dim, num_layers=2, hidden_bn=True)


def wide_projector(in_dim: int, hidden_dim: int, out_dim: int) -> nn.Sequential:
    """Barlow Twins / VICReg expander: (Linear-BN-ReLU) x 2 then Linear."""
    return mlp(in_dim, hidden_dim, out_dim, num_layers=3, hidden_bn=True)
