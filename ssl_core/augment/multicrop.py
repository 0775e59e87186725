"""Multi-crop views (Caron et al., SwAV 2020; DINO 2021): two large "global" crops and N small "local" crops.

    crops = MultiCrop(global_recipes, local_recipe, n_local=4, global_size=8, local_size=4, channels=1)
    views = crops(images, generator)  # [global_1, global_2, local_1, ..., local_N]

Globals are (B, C, G, G), locals (B, C, L, L). Everything runs batched on the images' device with per-sample
randomness from `generator`: each crop is one `resized_crop` (a grid_sample straight to its output size, so
the source image is never copied N times), and the photometric ops of all N locals run as one batch of
N * B small images through a `BatchAugment` whose crop is switched off.

Paper recipes (`MULTI_CROP_PRESETS`, at 224 px) are adapted to small images by `multi_crop_recipes`:
the globals as every view is (`ViewRecipe.scaled_for`), the locals with their own floor on the crop area.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from ssl_core.augment import functional as AF
from ssl_core.augment import sampling
from ssl_core.augment.pipeline import BatchAugment
from ssl_core.augment.recipe import BLUR_SIGMA_PER_PIXEL, ViewRecipe
from ssl_core.errors import UserError
from ssl_core.registry import Registry

# DINO's crop sizes: 224 px globals, 96 px locals, so a local crop's side is 96/224 of a global's.
LOCAL_SIDE_FRACTION = 96 / 224
# The smallest local crop side in pixels: below 4 px a crop of an 8 px digit is a blob, and the small CNN's
# two stride-2 stages would leave less than one pixel.
MIN_LOCAL_SIZE = 4
# A local crop keeps at least this many pixels of the source's area (4 x 4): DINO's 5% of a 224 px image is
# 2,500 px, but 5% of an 8 px digit is 3 px, which holds nothing of the digit.
MIN_LOCAL_PIXELS = 16.0


@dataclass(frozen=True)
class MultiCropRecipes:
    """The recipes of one multi-crop preset: two globals (they may differ, as DINO's do) and the locals'."""

    global_1: ViewRecipe
    global_2: ViewRecipe
    local: ViewRecipe
    n_local: int  # the paper's number of local crops (a method may ask for fewer)

    @property
    def globals(self) -> tuple[ViewRecipe, ViewRecipe]:
        return self.global_1, self.global_2


MULTI_CROP_PRESETS: Registry[Callable[[], MultiCropRecipes]] = Registry("multi-crop preset")


def _colour_view(**changes) -> ViewRecipe:
    # BYOL's colour distortion (jitter 0.4/0.4/0.2/0.1 with p = 0.8, grayscale p = 0.2), which DINO reuses.
    base = ViewRecipe(jitter_p=0.8, brightness=0.4, contrast=0.4, saturation=0.2, hue=0.1, grayscale_p=0.2)
    return base.replace(**changes)


@MULTI_CROP_PRESETS.decorator("dino")
def dino_crops() -> MultiCropRecipes:
    """DINO (Caron et al. 2021, DataAugmentationDINO): globals from 40-100% of the image, the first always
    blurred, the second rarely blurred and sometimes solarised; 8 locals from 5-40%, blurred half the time."""
    return MultiCropRecipes(
        global_1=_colour_view(crop_scale=(0.4, 1.0), blur_p=1.0, solarize_p=0.0),
        global_2=_colour_view(crop_scale=(0.4, 1.0), blur_p=0.1, solarize_p=0.2),
        local=_colour_view(crop_scale=(0.05, 0.4), blur_p=0.5, solarize_p=0.0),
        n_local=8,
    )


@MULTI_CROP_PRESETS.decorator("swav")
def swav_crops() -> MultiCropRecipes:
    """SwAV (Caron et al. 2020, main_swav.py): 2 x 224 px from 14-100% and 6 x 96 px from 5-14% of the image,
    all with SimCLR's colour distortion of strength 1 and blur half the time."""
    view = ViewRecipe(
        jitter_p=0.8, brightness=0.8, contrast=0.8, saturation=0.8, hue=0.2, grayscale_p=0.2, blur_p=0.5
    )
    return MultiCropRecipes(
        global_1=view.replace(crop_scale=(0.14, 1.0)),
        global_2=view.replace(crop_scale=(0.14, 1.0)),
        local=view.replace(crop_scale=(0.05, 0.14)),
        n_local=6,
    )


def default_local_size(global_size: int) -> int:
    """A local crop's side for globals of `global_size` px: DINO's 96/224 of it, at least MIN_LOCAL_SIZE
    (and never larger than the globals): 8 -> 4, 32 -> 14, 224 -> 96."""
    return min(global_size, max(MIN_LOCAL_SIZE, round(global_size * LOCAL_SIDE_FRACTION)))


def _local_for_small(recipe: ViewRecipe, image_size: int, local_size: int) -> ViewRecipe:
    """The local recipe for images of `image_size` px cropped to `local_size` px.

    The crop area's lower end is raised to MIN_LOCAL_PIXELS of the source (never above the upper end, so
    locals stay smaller than globals); the blur sigma is capped for the crop's own size, where it is applied.
    """
    lo, hi = recipe.crop_scale
    raised = MIN_LOCAL_PIXELS / float(image_size * image_size)
    s_lo, s_hi = recipe.blur_sigma
    s_hi = min(s_hi, local_size * BLUR_SIGMA_PER_PIXEL)
    return recipe.replace(crop_scale=(min(max(lo, raised), hi), hi), blur_sigma=(min(s_lo, s_hi), s_hi))


def multi_crop_recipes(
    preset: str | MultiCropRecipes, image_size: int, local_size: int, mirror_safe: bool = True
) -> MultiCropRecipes:
    """A preset's recipes adapted to `image_size` px images and `local_size` px locals.

    Globals are adapted like every view (`ViewRecipe.scaled_for`); locals by `_local_for_small`.
    mirror_safe=False (digits) drops horizontal flips, as for two-view methods.
    """
    recipes = MULTI_CROP_PRESETS.get(preset)() if isinstance(preset, str) else preset
    g1, g2 = (r.scaled_for(image_size) for r in recipes.globals)
    local = _local_for_small(recipes.local, image_size, local_size)
    if not mirror_safe:
        g1, g2, local = (r.replace(hflip_p=0.0) for r in (g1, g2, local))
    return MultiCropRecipes(g1, g2, local, recipes.n_local)


def _check_size(name: str, value: int) -> int:
    if int(value) < 1:
        raise UserError(f"{name} must be at least 1 pixel; got {value}.", field=f"method.params.{name}")
    return int(value)


class SizedAugment(nn.Module):
    """A ViewRecipe applied to (B, C, H, W) images, with the crop resized to `size` x `size` pixels.

    The crop (always taken; where the recipe's crop_p skips it the whole image is resized instead) is one
    `resized_crop` to the output size; the remaining ops are those of a `BatchAugment` without its crop.
    `forward(x, generator, copies)` makes `copies` independent views of every sample in one batch, ordered
    copy by copy: (copies * B, C, size, size), rows [k * B, (k + 1) * B) being copy k.
    """

    def __init__(self, recipe: ViewRecipe, size: int, channels: int):
        super().__init__()
        self.recipe = recipe
        self.size = _check_size("size", size)
        self.channels = channels
        self.photometric = BatchAugment(recipe.replace(crop_p=0.0), channels)

    def extra_repr(self) -> str:
        return f"size={self.size}, channels={self.channels}"

    def forward(self, x: Tensor, generator: torch.Generator, copies: int = 1) -> Tensor:
        if x.dim() != 4 or x.shape[1] != self.channels:
            raise ValueError(f"SizedAugment expects images (B, {self.channels}, H, W); got {tuple(x.shape)}")
        with torch.autocast(x.device.type, enabled=False):  # crop boxes must not move with the precision
            x = x.float().div(255.0) if not x.is_floating_point() else x
            crops = self._crops(x, generator, copies)
            return self.photometric(crops, generator)

    def _crops(self, x: Tensor, generator: torch.Generator, copies: int) -> Tensor:
        r, n, dev = self.recipe, x.shape[0], x.device
        h, w = x.shape[-2:]
        boxes = sampling.crop_boxes(copies * n, h, w, r.crop_scale, r.crop_ratio, generator, dev)
        if r.crop_p < 1:
            whole = torch.tensor([0.0, 0.0, float(h), float(w)], device=dev).expand_as(boxes)
            keep = sampling.bernoulli(copies * n, r.crop_p, generator, dev)
            boxes = torch.where(keep[:, None], boxes, whole)
        size = (self.size, self.size)
        # One grid_sample per copy, each reading the same source: no (copies * B) copy of the images.
        return torch.cat([AF.resized_crop(x, part, size) for part in boxes.split(n)], dim=0)


class MultiCrop(nn.Module):
    """2 global + N local crops of a batch: `forward(x, generator) -> [global_1, global_2, local_1..local_N]`.

    `global_recipes` are the two globals' ViewRecipes, `local_recipe` the locals' (use them as given: adapt
    paper recipes with `multi_crop_recipes` or `ImageModality.multi_crop`). Globals are (B, C, G, G) with
    G = global_size, locals (B, C, L, L) with L = local_size; values float in [0, 1]. Input may be uint8 or
    float in [0, 1]. All randomness comes from `generator`, drawn per sample; the module has no parameters.
    """

    def __init__(
        self,
        global_recipes: Sequence[ViewRecipe],
        local_recipe: ViewRecipe,
        n_local: int,
        global_size: int,
        local_size: int,
        channels: int,
    ):
        super().__init__()
        if len(global_recipes) != 2:
            raise ValueError(f"MultiCrop needs two global recipes; got {len(global_recipes)}")
        if int(n_local) < 0:
            raise UserError(f"n_local must be 0 or more; got {n_local}.", field="method.params.n_local")
        self.n_local = int(n_local)
        self.global_size = _check_size("global_size", global_size)
        self.local_size = _check_size("local_size", local_size)
        self.channels = int(channels)
        self.globals = nn.ModuleList(SizedAugment(r, self.global_size, channels) for r in global_recipes)
        self.local = SizedAugment(local_recipe, self.local_size, channels)

    @property
    def n_crops(self) -> int:
        return 2 + self.n_local

    def extra_repr(self) -> str:
        return f"n_local={self.n_local}, global_size={self.global_size}, local_size={self.local_size}"

    def forward(self, x: Tensor, generator: torch.Generator) -> list[Tensor]:
        views = [aug(x, generator) for aug in self.globals]
        if self.n_local:
            views += list(self.local(x, generator, copies=self.n_local).split(x.shape[0]))
        return views


def multi_crop(
    preset: str | MultiCropRecipes,
    image_size: int,
    channels: int,
    n_local: int | None = None,
    local_size: int | None = None,
    mirror_safe: bool = True,
) -> MultiCrop:
    """A MultiCrop for `image_size` px images from a preset ("dino", "swav"), adapted to the size.

    n_local: the number of local crops (None: the paper's); local_size: their side (None: 96/224 of the
    image's, see `default_local_size`). Globals keep the image's size.
    """
    image_size = _check_size("image_size", image_size)
    local_size = (
        default_local_size(image_size) if local_size is None else _check_size("local_size", local_size)
    )
    recipes = multi_crop_recipes(preset, image_size, local_size, mirror_safe)
    count = recipes.n_local if n_local is None else n_local
    return MultiCrop(recipes.globals, recipes.local, count, image_size, local_size, channels)


__all__ = [
    "MULTI_CROP_PRESETS",
    "MultiCrop",
    "MultiCropRecipes",
    "SizedAugment",
    "default_local_size",
    "dino_crops",
    "multi_crop",
    "multi_crop_recipes",
    "swav_crops",
]
