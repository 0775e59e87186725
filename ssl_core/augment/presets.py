"""Paper view recipes for the joint-embedding methods, as (view 1, view 2) pairs.

Values are those of the papers' ImageNet pipelines (at 224 px); `ViewRecipe.scaled_for` adapts them to
small images when the views are built (see `make_view_pair`).
"""

from __future__ import annotations

from collections.abc import Callable

from ssl_core.augment.recipe import ViewRecipe
from ssl_core.registry import Registry

ViewPair = tuple[ViewRecipe, ViewRecipe]

VIEW_PRESETS: Registry[Callable[[], ViewPair]] = Registry("augmentation preset")


@VIEW_PRESETS.decorator("simclr")
def simclr_views() -> ViewPair:
    """SimCLR (Chen et al. 2020): colour distortion of strength 1, blur p=0.5, crops down to 8%."""
    view = ViewRecipe(
        crop_scale=(0.08, 1.0),
        jitter_p=0.8,
        brightness=0.8,
        contrast=0.8,
        saturation=0.8,
        hue=0.2,
        grayscale_p=0.2,
        blur_p=0.5,
        solarize_p=0.0,
    )
    return view, view


def _byol_pair() -> ViewPair:
    # BYOL (Grill et al. 2020), table 6: the views differ only in blur and solarisation.
    base = ViewRecipe(
        crop_scale=(0.08, 1.0),
        jitter_p=0.8,
        brightness=0.4,
        contrast=0.4,
        saturation=0.2,
        hue=0.1,
        grayscale_p=0.2,
    )
    return base.replace(blur_p=1.0, solarize_p=0.0), base.replace(blur_p=0.1, solarize_p=0.2)


@VIEW_PRESETS.decorator("byol")
def byol_views() -> ViewPair:
    """BYOL: asymmetric; view 1 always blurred, view 2 rarely blurred and sometimes solarised."""
    return _byol_pair()


@VIEW_PRESETS.decorator("barlow")
def barlow_views() -> ViewPair:
    """Barlow Twins (Zbontar et al. 2021) uses BYOL's asymmetric views."""
    return _byol_pair()


@VIEW_PRESETS.decorator("vicreg")
def vicreg_views() -> ViewPair:
    """VICReg (Bardes et al. 2022): the official code (facebookresearch/vicreg) uses BYOL's views."""
    return _byol_pair()


def _moco_v2_view() -> ViewRecipe:
    # MoCo v2 (Chen et al. 2020) "aug+": crops from 20%, jitter (0.4, 0.4, 0.4, 0.1) p=0.8, blur p=0.5.
    return ViewRecipe(
        crop_scale=(0.2, 1.0),
        jitter_p=0.8,
        brightness=0.4,
        contrast=0.4,
        saturation=0.4,
        hue=0.1,
        grayscale_p=0.2,
        blur_p=0.5,
        solarize_p=0.0,
    )


@VIEW_PRESETS.decorator("moco_v2")
def moco_v2_views() -> ViewPair:
    """MoCo v2: two views from the same symmetric recipe."""
    view = _moco_v2_view()
    return view, view


@VIEW_PRESETS.decorator("simsiam")
def simsiam_views() -> ViewPair:
    """SimSiam (Chen & He 2021) uses MoCo v2's recipe for both views."""
    view = _moco_v2_view()
    return view, view


def preset_views(name: str) -> ViewPair:
    """The (view 1, view 2) recipes registered under `name` (e.g. "byol")."""
    return VIEW_PRESETS.get(name)()
