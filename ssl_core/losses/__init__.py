"""Self-supervised losses: small pure functions, float32 inside even under autocast."""

from ssl_core.losses.barlow_twins import barlow_twins_loss
from ssl_core.losses.cosine import byol_loss, negative_cosine
from ssl_core.losses.dino import dino_loss, teacher_temperature, updated_center
from ssl_core.losses.info_nce import info_nce_queue
from ssl_core.losses.info_nce_batch import info_nce_in_batch
from ssl_core.losses.nnclr import nnclr_loss
from ssl_core.losses.nt_xent import nt_xent
from ssl_core.losses.swav import sinkhorn_knopp, swav_loss
from ssl_core.losses.vicreg import vicreg_loss

__all__ = [
    "nnclr_loss",
    "barlow_twins_loss",
    "byol_loss",
    "dino_loss",
    "info_nce_in_batch",
    "info_nce_queue",
    "negative_cosine",
    "nt_xent",
    "sinkhorn_knopp",
    "swav_loss",
    "teacher_temperature",
    "updated_center",
    "vicreg_loss",
]
