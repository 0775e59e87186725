"""Self-supervised losses: small pure functions, float32 inside even under autocast."""

from ssl_core.losses.barlow_twins import barlow_twins_loss
from ssl_core.losses.cosine import byol_loss, negative_cosine
from ssl_core.losses.info_nce import info_nce_queue
from ssl_core.losses.info_nce_batch import info_nce_in_batch
from ssl_core.losses.nt_xent import nt_xent
from ssl_core.losses.vicreg import vicreg_loss

__all__ = [
    "barlow_twins_loss",
    "byol_loss",
    "info_nce_in_batch",
    "info_nce_queue",
    "negative_cosine",
    "nt_xent",
    "vicreg_loss",
]
