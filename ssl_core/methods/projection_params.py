"""The settings every method with a projection head (and a predictor) has, named, ranged and labelled once."""

from __future__ import annotations

from ssl_core.params import Param


def projection_params(
    hidden: int,
    out: int,
    hidden_help: str = "Width of the projector's hidden layer.",
    out_help: str = "Size of the projected embedding the loss compares.",
    *,
    out_low: int = 8,
    high: int = 16384,
) -> tuple[Param, Param]:
    """`proj_hidden_dim` and `proj_out_dim` with the method's defaults. Most methods pass help text naming
    the paper's values; docs/method_defaults.md sets every default beside the paper's and lightly's."""
    return (
        Param("proj_hidden_dim", hidden, hidden_help, low=16, high=high, label="Projection head width"),
        Param("proj_out_dim", out, out_help, low=out_low, high=high, label="Projection output size"),
    )


def predictor_param(
    hidden: int = 512, help: str = "Width of the predictor's hidden layer (paper: 4096).", *, low: int = 16
) -> Param:
    """`pred_hidden_dim`, the predictor's hidden width (BYOL, NNCLR, SimSiam); the default help gives BYOL's
    and NNCLR's 4096, and SimSiam passes its own (docs/method_defaults.md has every paper's value)."""
    return Param("pred_hidden_dim", hidden, help, low=low, high=16384, label="Predictor width")
