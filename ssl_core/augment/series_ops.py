"""Batched time-series ops with explicit per-sample parameters; no randomness lives here.

Every op takes `x` of shape (B, C, T), float, standardised per channel (mean 0, std 1), plus per-sample
parameters, and returns a new tensor of the same shape and dtype. The random draws live in
`ssl_core.augment.series` (`SeriesAugment`), so each op can be checked on hand-made parameters.

Time positions are fractional sample indices: 0 is the first step, T - 1 the last. Resampling is linear
between neighbouring steps, computed with two gathers and a lerp (so a whole batch, each sample with its
own positions, is one call), and positions outside [0, T - 1] take the edge value. Positions and warp
curves are computed in float32 whatever the series dtype, so half-precision series keep exact steps.
"""

from __future__ import annotations

import functools

import torch
from torch import Tensor

WARP_MODES = ("cubic", "linear")


def _per_sample(values: Tensor, like: Tensor) -> Tensor:
    """Reshape a (B,) parameter so it broadcasts over (B, C, T)."""
    return values.to(device=like.device, dtype=like.dtype).view(-1, 1, 1)


def select(mask: Tensor, new: Tensor, old: Tensor) -> Tensor:
    """Per-sample choice: `new` where mask[b] is True, else `old` (no host sync, unlike indexing)."""
    return torch.where(mask.to(old.device).view(-1, 1, 1), new, old)


# ---- amplitude ---------------------------------------------------------------------------------------------
def jitter(x: Tensor, noise: Tensor, sigma: Tensor) -> Tensor:
    """x + sigma[b] * noise: additive Gaussian noise (Um et al. 2017) given standard normal `noise`."""
    return x + _per_sample(sigma, x) * noise.to(device=x.device, dtype=x.dtype)


def scale(x: Tensor, factors: Tensor) -> Tensor:
    """Multiply each channel of each sample by its own factor; factors are (B, C)."""
    return x * factors.to(device=x.device, dtype=x.dtype).unsqueeze(-1)


@functools.lru_cache(maxsize=64)
def _basis_cpu(knots: int, length: int, mode: str) -> Tensor:
    """(length, knots) float64 weights: curve[t] = sum_k basis[t, k] * values[k]."""
    if mode not in WARP_MODES:
        raise ValueError(f"mode must be one of {WARP_MODES}; got {mode!r}")
    if knots < 2:
        raise ValueError(f"a warp curve needs at least 2 knots; got {knots}")
    basis = torch.zeros(length, knots, dtype=torch.float64)
    if length == 1:  # all knots sit on the one step; take the first
        basis[0, 0] = 1.0
        return basis
    h = (length - 1) / (knots - 1)  # knots evenly spaced, the first on step 0, the last on step T - 1
    t = torch.arange(length, dtype=torch.float64)
    seg = (t / h).floor().long().clamp(max=knots - 2)
    u = t - seg.double() * h  # distance from the segment's left knot
    rows = torch.arange(length)
    if mode == "linear":
        basis[rows, seg] = 1.0 - u / h
        basis[rows, seg + 1] += u / h
        return basis
    # Natural cubic spline (second derivative 0 at both ends), the bc_type="natural" of scipy's
    # CubicSpline. The spline is linear in the knot values, so solving for the identity gives weights.
    # With uniform spacing the interior second derivatives M solve
    #   M[i-1] + 4 M[i] + M[i+1] = 6 / h^2 (y[i-1] - 2 y[i] + y[i+1]).
    eye = torch.eye(knots, dtype=torch.float64)
    second = torch.zeros(knots, knots, dtype=torch.float64)  # M for y = each unit vector, as columns
    if knots > 2:
        n = knots - 2
        a = 4.0 * torch.eye(n, dtype=torch.float64)
        a += torch.diag(torch.ones(n - 1, dtype=torch.float64), 1)
        a += torch.diag(torch.ones(n - 1, dtype=torch.float64), -1)
        rhs = (eye[:-2] - 2.0 * eye[1:-1] + eye[2:]) * (6.0 / (h * h))
        second[1:-1] = torch.linalg.solve(a, rhs)
    left, right = (h - u).unsqueeze(1), u.unsqueeze(1)
    m_l, m_r = second[seg], second[seg + 1]
    y_l, y_r = eye[seg], eye[seg + 1]
    return (
        m_l * left**3 / (6 * h)
        + m_r * right**3 / (6 * h)
        + (y_l / h - m_l * h / 6) * left
        + (y_r / h - m_r * h / 6) * right
    )


@functools.lru_cache(maxsize=64)
def spline_basis(
    knots: int, length: int, mode: str, device: torch.device, dtype: torch.dtype = torch.float32
) -> Tensor:
    """(length, knots) weights of a curve through `knots` evenly spaced values (see `smooth_curve`).

    Cached per device, so after the first call no weights cross from the host to the GPU.
    """
    return _basis_cpu(knots, length, mode).to(device=device, dtype=dtype)


def smooth_curve(values: Tensor, length: int, mode: str = "cubic") -> Tensor:
    """Curves through per-sample knot values: (..., K) -> (..., length), in float32.

    The K knots sit evenly spaced on steps 0 .. length - 1 (both ends included), as the warps of
    Um et al. (2017) do; "cubic" is a natural cubic spline, "linear" joins the knots with straight lines.
    """
    basis = spline_basis(values.shape[-1], length, mode, values.device)
    return values.float() @ basis.T


def magnitude_warp(x: Tensor, knots: Tensor, mode: str = "cubic") -> Tensor:
    """Multiply x by a smooth curve through knot values (B, C or 1, K); with 1 all channels share it."""
    if knots.dim() != 3 or knots.shape[0] != x.shape[0] or knots.shape[1] not in (1, x.shape[1]):
        raise ValueError(
            f"knots must be (B, C or 1, K) for x of shape {tuple(x.shape)}; got {tuple(knots.shape)}"
        )
    curve = smooth_curve(knots.to(x.device), x.shape[-1], mode)
    return x * curve.to(x.dtype)


# ---- time --------------------------------------------------------------------------------------------------
def resample(x: Tensor, positions: Tensor) -> Tensor:
    """x read at fractional time `positions` (B, T_out) with linear interpolation: (B, C, T_out).

    Positions are clamped to [0, T - 1]; an integer position returns that step exactly.
    """
    b, c, t = x.shape
    if positions.dim() != 2 or positions.shape[0] != b:
        raise ValueError(f"positions must be (B, T_out) with B = {b}; got {tuple(positions.shape)}")
    pos = positions.to(device=x.device, dtype=torch.float32).clamp(0.0, float(t - 1))
    lo = pos.floor()
    frac = (pos - lo).to(x.dtype).unsqueeze(1)
    lo = lo.long()
    hi = (lo + 1).clamp(max=t - 1)
    size = (b, c, pos.shape[1])
    left = x.gather(2, lo.unsqueeze(1).expand(size))
    right = x.gather(2, hi.unsqueeze(1).expand(size))
    return torch.lerp(left, right, frac)  # weight 0 gives `left` exactly


def crop_positions(start: Tensor, length: Tensor, size: int) -> Tensor:
    """(B, size) positions that stretch the window [start, start + length) (in steps) over `size` steps.

    Steps are treated as cells, like pixels in a resized crop (align_corners=False): output step j reads
    the centre of its share of the window, so start 0 and length T give positions 0, 1, ..., T - 1.
    """
    j = torch.arange(size, device=start.device, dtype=torch.float32) + 0.5
    start, length = start.float().unsqueeze(1), length.float().unsqueeze(1)
    return start + j * (length / size) - 0.5


def crop_resize(x: Tensor, start: Tensor, length: Tensor) -> Tensor:
    """Each sample's window [start, start + length) steps, resized back to T (linear interpolation).

    start and length are (B,) floats; TS2Vec and Iwana & Uchida's window slicing crop the same way.
    """
    return resample(x, crop_positions(start.to(x.device), length.to(x.device), x.shape[-1]))


def warp_positions(speed: Tensor) -> Tensor:
    """(B, T) positive speeds -> monotone positions from 0 to T - 1: the integral of the speed, rescaled.

    Where the speed is above average the warped series plays the original faster. A constant speed gives
    the identity 0, 1, ..., T - 1.
    """
    b, t = speed.shape
    speed = speed.float()
    if t == 1:
        return torch.zeros_like(speed)
    steps = 0.5 * (speed[:, 1:] + speed[:, :-1])  # trapezoid rule between neighbouring steps
    # positions[t] = (T - 1) * sum(steps[:t]) / sum(steps) = t + sum(steps[:t] / mean - 1): only the
    # deviation from the identity is accumulated, so float32 rounding does not grow with T and a constant
    # speed gives 0, 1, ..., T - 1 exactly. The last term removes what rounding left at the end.
    drift = torch.cat(
        [torch.zeros_like(speed[:, :1]), (steps / steps.mean(1, keepdim=True) - 1).cumsum(1)], 1
    )
    identity = torch.arange(t, device=speed.device, dtype=torch.float32)
    return identity + (drift - drift[:, -1:] * (identity / (t - 1)))


def time_warp(x: Tensor, positions: Tensor) -> Tensor:
    """Resample each sample along its own monotone time warp `positions` (B, T) (see `warp_positions`)."""
    if positions.shape != (x.shape[0], x.shape[-1]):
        raise ValueError(
            f"positions must be (B, T) = {(x.shape[0], x.shape[-1])}; got {tuple(positions.shape)}"
        )
    return resample(x, positions)


def gather_time(x: Tensor, index: Tensor) -> Tensor:
    """out[b, c, t] = x[b, c, index[b, t]]: the same reordering of time steps for every channel."""
    return x.gather(2, index.to(x.device).unsqueeze(1).expand(x.shape[0], x.shape[1], index.shape[1]))


def segment_permutation_index(segment_id: Tensor, segment_rank: Tensor) -> Tensor:
    """(B, T) gather index that puts segments in the order given by their ranks.

    segment_id (B, T) long: the segment of each step, non-decreasing along time, starting at 0.
    segment_rank (B, S) long: the new place of each segment (a permutation of 0 .. S - 1; S at least
    the number of segments). Steps keep their order within a segment.
    """
    t = segment_id.shape[1]
    key = segment_rank.gather(1, segment_id) * t + torch.arange(t, device=segment_id.device)
    return key.argsort(dim=1)  # keys are unique, so no stable sort is needed


def permute_segments(x: Tensor, segment_id: Tensor, segment_rank: Tensor) -> Tensor:
    """Split each sample into its segments and concatenate them in a new order (Um et al. 2017, TS-TCC)."""
    return gather_time(x, segment_permutation_index(segment_id.to(x.device), segment_rank.to(x.device)))


# ---- channels ----------------------------------------------------------------------------------------------
def channel_dropout(x: Tensor, keep: Tensor) -> Tensor:
    """Set the channels where keep (B, C) is False to 0, the channel mean after standardisation."""
    return torch.where(keep.to(x.device).unsqueeze(-1), x, torch.zeros((), dtype=x.dtype, device=x.device))


def rotation_matrices(axis: Tensor, angle: Tensor) -> Tensor:
    """(B, 3, 3) rotations by `angle` (B,) radians about `axis` (B, 3) (Rodrigues' formula).

    Axes need not be unit length; a zero axis gives the identity.
    """
    norm = axis.norm(dim=1, keepdim=True)
    k = torch.where(norm > 0, axis / norm.clamp(min=1e-12), torch.zeros_like(axis))
    zero = torch.zeros_like(k[:, 0])
    cross = torch.stack(
        [zero, -k[:, 2], k[:, 1], k[:, 2], zero, -k[:, 0], -k[:, 1], k[:, 0], zero], dim=1
    ).view(-1, 3, 3)
    sin, cos = angle.sin().view(-1, 1, 1), angle.cos().view(-1, 1, 1)
    eye = torch.eye(3, device=axis.device, dtype=axis.dtype).expand_as(cross)
    return eye + sin * cross + (1.0 - cos) * (cross @ cross)


def rotate(x: Tensor, matrices: Tensor) -> Tensor:
    """Rotate each consecutive channel triple (x, y, z of an accelerometer, gyroscope, ...) of a sample.

    All triples of a sample share its (3, 3) matrix, as the sensors of one device turn together. When C
    is not a multiple of 3 the channels are not triples and x is returned unchanged (as a copy).
    """
    b, c, t = x.shape
    if c % 3:
        return x.clone()
    triples = x.reshape(b, c // 3, 3, t)
    rotated = torch.einsum("bij,bgjt->bgit", matrices.to(device=x.device, dtype=x.dtype), triples)
    return rotated.reshape(b, c, t)
