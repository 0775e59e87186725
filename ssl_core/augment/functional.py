"""Batched image ops with explicit per-sample parameters; no randomness lives here.

Every op takes `x` of shape (B, C, H, W), float in [0, 1], plus per-sample parameters as 1-D tensors of
length B, and returns a new tensor of the same shape and dtype. Keeping the maths apart from the random
draws (see `sampling.py`) lets tests compare each op with torchvision's per-image functions.

Channel convention: the first 3 channels are colour when C >= 3, else the first channel is gray. Any
further channel (alpha, or a 4th band) is spatial data: crops, flips and blur move it along with the
image, but colour ops (jitter, grayscale, solarize, noise) leave it untouched.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

# ITU-R 601-2 luma weights, the same as torchvision's rgb_to_grayscale.
GRAY_WEIGHTS = (0.2989, 0.587, 0.114)


def colour_channels(channels: int) -> int:
    """How many leading channels are colour (3 for RGB/RGBA, 1 for gray/gray+alpha)."""
    return 3 if channels >= 3 else 1


def split_colour(x: Tensor) -> tuple[Tensor, Tensor | None]:
    """Split (B, C, H, W) into its colour channels and the extra channels (or None)."""
    k = colour_channels(x.shape[1])
    return x[:, :k], (x[:, k:] if x.shape[1] > k else None)


def join_colour(colour: Tensor, extra: Tensor | None) -> Tensor:
    return colour if extra is None else torch.cat([colour, extra], dim=1)


def per_sample(values: Tensor, like: Tensor) -> Tensor:
    """Reshape a (B,) parameter so it broadcasts over (B, C, H, W)."""
    return values.to(device=like.device, dtype=like.dtype).view(-1, 1, 1, 1)


def select(mask: Tensor, new: Tensor, old: Tensor) -> Tensor:
    """Per-sample choice: `new` where mask[b] is True, else `old` (no host sync, unlike indexing)."""
    return torch.where(mask.to(old.device).view(-1, 1, 1, 1), new, old)


def _blend(a: Tensor, b: Tensor, ratio: Tensor) -> Tensor:
    # Same formula as torchvision's _blend, so results match it to float rounding.
    return (ratio * a + (1.0 - ratio) * b).clamp_(0.0, 1.0)


# ---- geometry ------------------------------------------------------------------------------------------
def resized_crop(x: Tensor, boxes: Tensor, size: tuple[int, int] | None = None) -> Tensor:
    """Crop each sample to its own box and resize it (bilinear) to `size` (default: the input H, W).

    boxes: (B, 4) float (top, left, height, width) in pixel-edge coordinates, so (0, 0, H, W) is the
    whole image. Boxes may be fractional; one affine_grid + grid_sample call handles the whole batch.
    """
    b, c, h, w = x.shape
    out_h, out_w = size or (h, w)
    top, left, bh, bw = boxes.to(device=x.device, dtype=torch.float32).unbind(dim=1)
    # Normalised coords (align_corners=False): u = -1 is the left edge of pixel 0, u = 1 the right edge
    # of the last one; mapping [-1, 1] of the output onto [left, left + bw] of the input gives this theta.
    theta = torch.zeros(b, 2, 3, device=x.device, dtype=torch.float32)
    theta[:, 0, 0] = bw / w
    theta[:, 0, 2] = (2.0 * left + bw) / w - 1.0
    theta[:, 1, 1] = bh / h
    theta[:, 1, 2] = (2.0 * top + bh) / h - 1.0
    grid = F.affine_grid(theta, [b, c, out_h, out_w], align_corners=False).to(x.dtype)
    # "border" only matters for samples whose half-pixel footprint touches the image edge.
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)


def hflip(x: Tensor, mask: Tensor) -> Tensor:
    """Mirror left-right the samples where mask is True (exact; no resampling)."""
    return select(mask, x.flip(-1), x)


# ---- colour ----------------------------------------------------------------------------------------------
def grayscale_of(colour: Tensor) -> Tensor:
    """(B, 3, H, W) RGB -> (B, 1, H, W) luma; a 1-channel input is returned as is."""
    if colour.shape[1] == 1:
        return colour
    r, g, b = colour.unbind(dim=1)
    return (GRAY_WEIGHTS[0] * r + GRAY_WEIGHTS[1] * g + GRAY_WEIGHTS[2] * b).unsqueeze(1)


def adjust_brightness(x: Tensor, factor: Tensor) -> Tensor:
    colour, extra = split_colour(x)
    return join_colour((colour * per_sample(factor, x)).clamp_(0.0, 1.0), extra)


def adjust_contrast(x: Tensor, factor: Tensor) -> Tensor:
    """Blend each image with its own mean gray level (as torchvision does)."""
    colour, extra = split_colour(x)
    mean = grayscale_of(colour).mean(dim=(1, 2, 3), keepdim=True)
    return join_colour(_blend(colour, mean, per_sample(factor, x)), extra)


def adjust_saturation(x: Tensor, factor: Tensor) -> Tensor:
    """Blend each image with its grayscale version; a no-op for gray images."""
    colour, extra = split_colour(x)
    if colour.shape[1] == 1:
        return x
    return join_colour(_blend(colour, grayscale_of(colour), per_sample(factor, x)), extra)


def _hue_sextants(rgb: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """(hue in sixths of a turn, in [-1, 5), max channel, max - min), each (B, 1, H, W).

    Hue is left unwrapped; callers reduce it modulo 6. Where max == min the hue is arbitrary (0 here)
    and has no effect, because every channel then equals max.
    """
    r, g, b = rgb[:, 0:1], rgb[:, 1:2], rgb[:, 2:3]
    maxc = rgb.amax(dim=1, keepdim=True)
    delta = maxc - rgb.amin(dim=1, keepdim=True)
    inv = 1.0 / torch.where(delta == 0, torch.ones_like(delta), delta)
    # Ties resolve red first, then green, as in torchvision and Pillow.
    h6 = torch.where(
        maxc == r,
        (g - b) * inv,
        torch.where(maxc == g, (b - r) * inv + 2.0, (r - g) * inv + 4.0),
    )
    return h6, maxc, delta


def _from_hue_sextants(h6: Tensor, maxc: Tensor, delta: Tensor) -> Tensor:
    """Inverse of _hue_sextants: channel = max - (max - min) * clamp(min(k, 4 - k), 0, 1), k = (n + h6) mod 6."""
    # 5, 3, 1 built on the device: a host tensor would mean a copy to the GPU on every call.
    offsets = (5.0 - 2.0 * torch.arange(3, device=h6.device, dtype=h6.dtype)).view(1, 3, 1, 1)
    k = (offsets + h6).remainder_(6.0)
    ramp = torch.minimum(k, 4.0 - k).clamp_(0.0, 1.0)
    return (maxc - delta * ramp).clamp_(0.0, 1.0)


def rgb_to_hsv(rgb: Tensor) -> Tensor:
    """(B, 3, H, W) RGB in [0, 1] -> HSV with all three in [0, 1] (hue as a fraction of a turn)."""
    h6, maxc, delta = _hue_sextants(rgb)
    hue = torch.where(delta == 0, torch.zeros_like(h6), h6 / 6.0).remainder(1.0)
    sat = delta / torch.where(maxc == 0, torch.ones_like(maxc), maxc)
    return torch.cat([hue, sat, maxc], dim=1)


def hsv_to_rgb(hsv: Tensor) -> Tensor:
    h, s, v = hsv[:, 0:1], hsv[:, 1:2], hsv[:, 2:3]
    return _from_hue_sextants(6.0 * h, v, v * s)


def adjust_hue(x: Tensor, shift: Tensor) -> Tensor:
    """Rotate hue by `shift` turns (in [-0.5, 0.5]) per sample; a no-op for gray images.

    Same result as an HSV round trip (torchvision's adjust_hue), but saturation and value are never
    formed: a hue rotation keeps each pixel's max and min channel, so only the hue is computed.
    """
    colour, extra = split_colour(x)
    if colour.shape[1] == 1:
        return x
    h6, maxc, delta = _hue_sextants(colour)
    return join_colour(_from_hue_sextants(h6 + 6.0 * per_sample(shift, x), maxc, delta), extra)


def to_grayscale(x: Tensor, mask: Tensor) -> Tensor:
    """Replace the colour channels by their luma where mask is True; a no-op for gray images."""
    colour, extra = split_colour(x)
    if colour.shape[1] == 1:
        return x
    gray = grayscale_of(colour).expand_as(colour)
    return join_colour(select(mask, gray, colour), extra)


def solarize(x: Tensor, mask: Tensor, threshold: float = 0.5) -> Tensor:
    """Invert (v -> 1 - v) colour values at or above `threshold` in the samples where mask is True."""
    colour, extra = split_colour(x)
    # A per-sample threshold (above any value for unselected samples) needs one comparison, not two.
    limit = torch.where(mask.to(x.device), threshold, 2.0).to(x.dtype).view(-1, 1, 1, 1)
    return join_colour(torch.where(colour >= limit, 1.0 - colour, colour), extra)


def add_noise(x: Tensor, noise: Tensor, std: Tensor) -> Tensor:
    """Add `std[b] * noise` to the colour channels and clip to [0, 1]; std = 0 leaves a sample as is."""
    colour, extra = split_colour(x)
    return join_colour((colour + per_sample(std, x) * noise).clamp_(0.0, 1.0), extra)


# ---- blur ------------------------------------------------------------------------------------------------
def gaussian_kernels(sigma: Tensor, size: int) -> Tensor:
    """(B,) sigmas -> (B, size) normalised 1-D Gaussian kernels (the same taps torchvision uses)."""
    half = (size - 1) * 0.5
    taps = torch.linspace(-half, half, size, device=sigma.device, dtype=torch.float32)
    kernel = torch.exp(-0.5 * (taps / sigma.to(torch.float32).view(-1, 1)).pow(2))
    return kernel / kernel.sum(dim=1, keepdim=True)


def gaussian_blur(x: Tensor, sigma: Tensor, kernel_size: int | tuple[int, int]) -> Tensor:
    """Separable Gaussian blur with a per-sample sigma and reflect padding (all channels).

    kernel_size is an odd int or (height, width). Each pass is a sum of k shifted slices weighted per
    sample, which batches any mix of sigmas without building a grouped convolution.
    """
    kh, kw = (kernel_size, kernel_size) if isinstance(kernel_size, int) else kernel_size
    if kh % 2 == 0 or kw % 2 == 0 or kh < 1 or kw < 1:
        raise ValueError(f"blur kernel sizes must be odd and positive; got {(kh, kw)}")
    h, w = x.shape[-2:]
    out = x
    if kw > 1:
        out = _blur_pass(out, gaussian_kernels(sigma, kw).to(x.device, x.dtype), dim=-1, length=w)
    if kh > 1:
        out = _blur_pass(out, gaussian_kernels(sigma, kh).to(x.device, x.dtype), dim=-2, length=h)
    return out


def _blur_pass(x: Tensor, kernels: Tensor, dim: int, length: int) -> Tensor:
    k = kernels.shape[1]
    pad = k // 2
    # Reflect padding needs pad < length; wider kernels than that are clipped to the image.
    pad_eff = min(pad, length - 1)
    padding = (pad_eff, pad_eff, 0, 0) if dim == -1 else (0, 0, pad_eff, pad_eff)
    padded = F.pad(x, padding, mode="reflect") if pad_eff > 0 else x
    out = torch.zeros_like(x)
    for i in range(pad - pad_eff, k - (pad - pad_eff)):
        start = i - (pad - pad_eff)
        out += kernels[:, i].view(-1, 1, 1, 1) * padded.narrow(dim, start, length)
    if pad_eff < pad:  # renormalise the clipped taps so flat regions stay flat
        kept = kernels[:, pad - pad_eff : k - (pad - pad_eff)].sum(dim=1)
        out /= kept.view(-1, 1, 1, 1)
    return out
