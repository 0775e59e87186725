"""Batched, device-side augmentation with per-sample randomness from a torch.Generator.

- `ViewRecipe`: parameters and probabilities of one view; `.scaled_for(image_size)` adapts it to tiny images.
- `BatchAugment(recipe, channels)(x, generator)`: one view of a whole batch.
- Paper presets (`simclr_views()`, `byol_views()`, ...) and `make_view_pair(recipes, image_size, channels)`.
- Multi-crop (DINO, SwAV, any method): `MultiCrop(global_recipes, local_recipe, n_local, global_size,
  local_size, channels)(x, generator)` -> [2 global crops, N local crops], and `multi_crop(preset, ...)`.
- `ssl_core.augment.corrupt`: noise, salt and pepper, patch masks and region masks for generative methods.
- Series (B, C, T): `SeriesViewRecipe`, `SeriesAugment`, presets and `series_view_pair(name, channels,
  length)` in `series.py`, the ops in `series_ops.py`, corruptions in `series_corrupt.py`.
"""

from ssl_core.augment import corrupt, functional
from ssl_core.augment.multicrop import MultiCrop, multi_crop
from ssl_core.augment.pipeline import BatchAugment, make_view_pair
from ssl_core.augment.presets import (
    VIEW_PRESETS,
    ViewPair,
    barlow_views,
    byol_views,
    moco_v2_views,
    preset_views,
    simclr_views,
    simsiam_views,
    vicreg_views,
)
from ssl_core.augment.recipe import ViewRecipe
from ssl_core.augment.series import SeriesAugment, SeriesViewRecipe, series_view_pair

__all__ = [
    "VIEW_PRESETS",
    "BatchAugment",
    "MultiCrop",
    "ViewPair",
    "SeriesAugment",
    "SeriesViewRecipe",
    "ViewRecipe",
    "barlow_views",
    "byol_views",
    "corrupt",
    "functional",
    "make_view_pair",
    "moco_v2_views",
    "multi_crop",
    "preset_views",
    "series_view_pair",
    "simclr_views",
    "simsiam_views",
    "vicreg_views",
]
