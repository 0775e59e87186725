"""ViewRecipe: the parameters and per-sample probabilities of one augmented view."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from ssl_core.augment.checks import check_number as _check
from ssl_core.augment.checks import check_range as _check_range
from ssl_core.augment.functional import BLUR_TRUNCATE, blur_radius
from ssl_core.errors import UserError

# --- adapting a recipe to small images (see ViewRecipe.scaled_for) ----------------------------------------
# A crop keeps at least this many pixels of area (about 5.7 x 5.7). Below that an upscaled crop of a
# tiny image is a few blurry blobs and the two views of a digit rarely share anything recognisable.
# Measured on digits (SimCLR, 15 epochs, 10% labels): a minimum of 0.6-0.8 at 8 px probes ~1 point better
# than 0.5 (0.948 vs 0.938).
MIN_CROP_PIXELS = 40.0
# ...but the raised minimum never exceeds 0.6 of the image, so crops still vary in scale (8 px: 0.6).
MAX_RAISED_MIN_SCALE = 0.6
# The largest blur sigma is 1/16 of the image side: 8 px -> 0.5, 16 px -> 1.0, >= 32 px -> the paper's
# 2.0. A sigma of 2 px wipes out an 8 px digit, while at 224 px it is a mild softening.
BLUR_SIGMA_PER_PIXEL = 1.0 / 16.0
# The blur kernel reaches blur_truncate sigmas each side (functional.BLUR_TRUNCATE = 3): 13 taps at the
# largest sigma, 2 px. SimCLR sizes it as 10% of the image (23 px at 224, ~5.5 sigma), which at 32 px is a
# 3 px kernel that cuts a sigma-2 Gaussian off at half a sigma, so every sigma above ~1 looked the same.


@dataclass(frozen=True)
class ViewRecipe:
    """How to make one view. Each op is applied to each sample independently with its own probability.

    Ranges are (low, high) and per-sample values are drawn uniformly from them. Colour-jitter strengths
    follow torchvision's ColorJitter: brightness b draws a factor from [1-b, 1+b], hue h a shift from
    [-h, h] (turns of the colour wheel). The defaults are the common BYOL/MoCo-v2 settings.
    """

    crop_p: float = 1.0
    crop_scale: tuple[float, float] = (0.2, 1.0)  # fraction of the image area kept
    crop_ratio: tuple[float, float] = (3 / 4, 4 / 3)  # width / height of the crop box
    hflip_p: float = 0.5
    jitter_p: float = 0.8
    brightness: float = 0.4
    contrast: float = 0.4
    saturation: float = 0.2
    hue: float = 0.1
    grayscale_p: float = 0.2
    blur_p: float = 0.5
    blur_sigma: tuple[float, float] = (0.1, 2.0)  # pixels of the image as the network sees it
    blur_truncate: float = BLUR_TRUNCATE  # kernel radius in sigmas: 2 * ceil(3 sigma) + 1 taps per sample
    solarize_p: float = 0.0
    solarize_threshold: float = 0.5
    noise_p: float = 0.0
    noise_std: float = 0.05

    def __post_init__(self) -> None:
        # Config files give lists; keep tuples so recipes stay hashable and compare equal.
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if isinstance(value, list):
                object.__setattr__(self, f.name, tuple(value))
        self._validate()

    # ---- checks ------------------------------------------------------------------------------------------
    def _validate(self) -> None:
        for name in ("crop_p", "hflip_p", "jitter_p", "grayscale_p", "blur_p", "solarize_p", "noise_p"):
            _check(name, getattr(self, name), 0.0, 1.0)
        _check_range("crop_scale", self.crop_scale, 1e-4, 1.0)
        _check_range("crop_ratio", self.crop_ratio, 1e-2, 100.0)
        for name in ("brightness", "contrast", "saturation"):
            _check(name, getattr(self, name), 0.0, 10.0)
        _check("hue", self.hue, 0.0, 0.5)
        _check_range("blur_sigma", self.blur_sigma, 1e-3, 100.0)
        _check("blur_truncate", self.blur_truncate, 1.0, 8.0)
        _check("solarize_threshold", self.solarize_threshold, 0.0, 1.0)
        _check("noise_std", self.noise_std, 0.0, 1.0)

    # ---- derived recipes -----------------------------------------------------------------------------------
    def replace(self, **changes: Any) -> ViewRecipe:
        return dataclasses.replace(self, **changes)

    def scaled_for(self, image_size: int) -> ViewRecipe:
        """The recipe adapted to images of `image_size` pixels per side; large images are unchanged.

        The paper recipes were tuned at 224 px. On tiny images (8 px digits) their smallest crops and
        strongest blurs leave too little signal, so the minimum crop scale is raised (at least
        MIN_CROP_PIXELS of area, at most 0.6 of the image) and the blur sigma is capped at image_size/16.
        The result is idempotent: scaling twice for the same size changes nothing more.
        """
        if image_size < 1:
            raise UserError(
                f"image size must be at least 1 pixel; got {image_size}.", field="data.image_size"
            )
        lo, hi = self.crop_scale
        raised = min(MAX_RAISED_MIN_SCALE, MIN_CROP_PIXELS / float(image_size * image_size))
        crop_lo = min(max(lo, raised), hi)

        sigma_cap = image_size * BLUR_SIGMA_PER_PIXEL
        s_lo, s_hi = self.blur_sigma
        s_hi = min(s_hi, sigma_cap)
        s_lo = min(s_lo, s_hi)
        return self.replace(crop_scale=(crop_lo, hi), blur_sigma=(s_lo, s_hi))

    def blur_kernel_size(self, size: int) -> int:
        """Odd kernel length for the largest sigma on an image side of `size` px:
        2 * ceil(truncate * sigma) + 1, at most 2 * size - 1 (reflect padding's limit). Each sample's own
        kernel is sized from its own sigma (see functional.gaussian_blur); this is the batch's widest,
        known without reading the sigmas."""
        radius = min(blur_radius(self.blur_sigma[1], self.blur_truncate), max(size - 1, 0))
        return 2 * radius + 1

    def to_dict(self) -> dict[str, Any]:
        return {
            f.name: (list(v) if isinstance(v := getattr(self, f.name), tuple) else v)
            for f in dataclasses.fields(self)
        }
