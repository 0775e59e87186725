"""Batched image ops with explicit per-sample parameters; no randomness lives here.

Every op takes `x` of shape (B, C, H, W), float in [0, 1], plus per-sample parameters as 1-D tensors of
length B, and returns a new tensor of the same shape and dtype. Keeping the maths apart from the random
draws (see `sampling.py`) lets tests compare each op with torchvision's per-image functions.

Channel convention: the first 3 channels are colour when C >= 3, else the first channel is gray. Any
further channel (alpha, or a 4th band) is spatial data: crops, flips and blur move it along with the
image, but colour ops (jitter, grayscale, solarize, noise) leave it untouched.
"""

from __future__ import annotations

import math

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
# A Gaussian kernel reaches this many sigmas each side of its centre (kernel size 2 * ceil(3 sigma) + 1):
# the taps it drops hold 0.27% of the weight. SimCLR's 10%-of-the-image kernel is 23 px at 224 px, about
# 5.5 sigma at its largest sigma (2); a fixed fraction is only 3 px at 32 px, where a sigma-2 blur then
# kept 10-11% of white noise's variance. Sized from sigma it keeps 1.9%, as PIL's GaussianBlur(2) does.
BLUR_TRUNCATE = 3.0
# Up to this image side each blur pass is one batched matrix product with a per-sample (L, L) band matrix;
# above it, a depthwise (grouped) convolution with per-sample kernels is cheaper (measured on a 2-core CPU,
# one thread: 32 px x 256 images 2.8 ms vs 4.1 ms; 64 px x 128 images 9.7 ms vs 6.3 ms).
MATMUL_BLUR_MAX_SIDE = 48


def blur_radius(sigma: float, truncate: float = BLUR_TRUNCATE) -> int:
    """Taps each side of the centre for one sigma: ceil(truncate * sigma), at least 1."""
    return max(1, math.ceil(truncate * sigma))


def gaussian_kernels(sigma: Tensor, size: int, truncate: float | None = None) -> Tensor:
    """(B,) sigmas -> (B, size) normalised 1-D Gaussian kernels on taps -(size // 2) .. size // 2.

    truncate=None: every kernel spans all `size` taps (torchvision's taps). Otherwise sample b keeps only
    the taps within blur_radius(sigma[b], truncate) of the centre (the rest are 0), so its weights are
    exactly those of a kernel of size 2 * ceil(truncate * sigma[b]) + 1 (or `size`, if that is smaller).
    Computed in float64 so that ceil() agrees with the same sum done in Python floats.
    """
    s = sigma.to(torch.float64).view(-1, 1)
    half = size // 2
    taps = torch.arange(-half, half + 1, device=sigma.device, dtype=torch.float64).view(1, -1)
    kernel = torch.exp(-0.5 * (taps / s).pow(2))
    if truncate is not None:
        radius = torch.ceil(truncate * s).clamp_(min=1.0)
        kernel = torch.where(taps.abs() <= radius, kernel, torch.zeros_like(kernel))
    return (kernel / kernel.sum(dim=1, keepdim=True)).to(torch.float32)


def gaussian_blur(
    x: Tensor,
    sigma: Tensor,
    kernel_size: int | tuple[int, int] | None = None,
    truncate: float | None = BLUR_TRUNCATE,
) -> Tensor:
    """Separable Gaussian blur with a per-sample sigma and reflect padding (all channels).

    sigma is in pixels of `x` as it is, i.e. at the image's own scale: the size the network sees, after
    the crop is resized, not pixels of a 224 px original. (The recipes' paper range, 0.1-2.0 px, is capped
    at image_size / 16 for small images by ViewRecipe.scaled_for: 8 px -> 0.5, 16 px -> 1.0, 32 px -> 2.0.)

    Each sample's kernel is sized from its own sigma: 2 * ceil(truncate * sigma) + 1 taps, i.e. exactly
    torchvision's gaussian_blur(img, kernel_size=that, sigma) for that image. `kernel_size` (an odd int or
    (height, width)) is the largest kernel of the batch; None derives it from sigma.max(), which reads the
    sigmas on the host (pass it, e.g. from ViewRecipe.blur_kernel_size, to avoid a device sync).
    truncate=None gives every sample the full `kernel_size` (torchvision's GaussianBlur(kernel_size)).
    A kernel never reaches further than the image's side minus one (reflect padding's limit): wider taps
    are dropped and the rest renormalised, so flat regions stay flat.
    """
    if x.shape[0] == 0:
        return x.clone()
    if kernel_size is None:
        if truncate is None:
            raise ValueError("gaussian_blur needs a kernel_size when truncate is None")
        kh = kw = 2 * blur_radius(float(sigma.max()), truncate) + 1
    else:
        kh, kw = (kernel_size, kernel_size) if isinstance(kernel_size, int) else kernel_size
    if kh % 2 == 0 or kw % 2 == 0 or kh < 1 or kw < 1:
        raise ValueError(f"blur kernel sizes must be odd and positive; got {(kh, kw)}")
    b, c, h, w = x.shape
    rh, rw = min(kh // 2, h - 1), min(kw // 2, w - 1)
    if rh == 0 and rw == 0:
        return x.clone()
    # Kernels on the clipped taps only: normalising them renormalises what the image's size cut off.
    k_w = gaussian_kernels(sigma, 2 * rw + 1, truncate).to(x.device, x.dtype)
    k_h = k_w if rh == rw else gaussian_kernels(sigma, 2 * rh + 1, truncate).to(x.device, x.dtype)
    if max(h, w) <= MATMUL_BLUR_MAX_SIDE:
        return _blur_matmul(x, k_h, k_w)
    return _blur_conv(x, k_h, k_w)


def _reflect_matrices(kernels: Tensor, length: int) -> Tensor:
    """(B, 2r + 1) kernels, r < length -> (B, length, length) matrices M with
    (M @ v)[i] = sum_j k[j] v[i + j - r], v reflected at both ends (torchvision's padding_mode="reflect")."""
    n, k = kernels.shape
    r = k // 2
    idx = torch.arange(length, device=kernels.device).view(-1, 1) + torch.arange(
        -r, r + 1, device=kernels.device
    )
    idx = idx.abs()  # reflect at the start: -1 -> 1
    idx = torch.where(idx >= length, 2 * (length - 1) - idx, idx)  # ... and at the end: L -> L - 2
    matrices = torch.zeros(n, length, length, device=kernels.device, dtype=kernels.dtype)
    return matrices.scatter_add_(2, idx.expand(n, length, k), kernels.view(n, 1, k).expand(n, length, k))


def _blur_matmul(x: Tensor, k_h: Tensor, k_w: Tensor) -> Tensor:
    """Small images: each pass is one batched product with a per-sample reflect-padded band matrix."""
    b, c, h, w = x.shape
    m_w = _reflect_matrices(k_w, w)
    m_h = m_w if k_h is k_w and h == w else _reflect_matrices(k_h, h)
    rows = torch.bmm(x.reshape(b, c * h, w), m_w.transpose(1, 2))  # blur along each row
    return torch.matmul(m_h.unsqueeze(1), rows.view(b, c, h, w))  # then along each column


def _blur_conv(x: Tensor, k_h: Tensor, k_w: Tensor) -> Tensor:
    """Larger images: a depthwise convolution over B * C channels, each with its sample's kernel."""
    b, c, h, w = x.shape
    rh, rw = k_h.shape[1] // 2, k_w.shape[1] // 2
    padded = F.pad(x, (rw, rw, rh, rh), mode="reflect").reshape(1, b * c, h + 2 * rh, w + 2 * rw)
    out = F.conv2d(padded, k_w.repeat_interleave(c, dim=0).view(b * c, 1, 1, -1), groups=b * c)
    out = F.conv2d(out, k_h.repeat_interleave(c, dim=0).view(b * c, 1, -1, 1), groups=b * c)
    return out.view(b, c, h, w)
