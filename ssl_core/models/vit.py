"""A small Vision Transformer for 8-256 px images, plus the pieces a masked autoencoder needs.

Following MAE (He et al., 2022): pre-norm transformer blocks, fixed 2-D sine-cosine position
embeddings, xavier-initialised linear layers, and a patch embedding initialised like a linear layer.
There is no class token: the image representation is the mean of the encoder's patch tokens.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn


def sincos_pos_embed_2d(dim: int, grid_h: int, grid_w: int) -> torch.Tensor:
    """Fixed (grid_h * grid_w, dim) position embedding: half the channels encode rows, half columns."""
    if dim % 4:
        raise ValueError(f"position embedding needs a dimension divisible by 4, got {dim}")
    quarter = dim // 4
    omega = 1.0 / 10000 ** (torch.arange(quarter, dtype=torch.float64) / quarter)
    ys, xs = torch.meshgrid(
        torch.arange(grid_h, dtype=torch.float64), torch.arange(grid_w, dtype=torch.float64), indexing="ij"
    )

    def encode(pos: torch.Tensor) -> torch.Tensor:
        angles = pos.reshape(-1, 1) * omega[None]
        return torch.cat([angles.sin(), angles.cos()], dim=1)

    return torch.cat([encode(ys), encode(xs)], dim=1).float()


def patchify(images: torch.Tensor, patch: int) -> torch.Tensor:
    """(B, C, H, W) -> (B, L, patch*patch*C), patches in row-major order, pixels (p, q, c) inside."""
    b, c, h, w = images.shape
    gh, gw = h // patch, w // patch
    x = images.reshape(b, c, gh, patch, gw, patch)
    return x.permute(0, 2, 4, 3, 5, 1).reshape(b, gh * gw, patch * patch * c)


def unpatchify(patches: torch.Tensor, patch: int, channels: int, grid: tuple[int, int]) -> torch.Tensor:
    """Inverse of `patchify`: (B, L, patch*patch*C) -> (B, C, H, W)."""
    b = patches.shape[0]
    gh, gw = grid
    x = patches.reshape(b, gh, gw, patch, patch, channels)
    return x.permute(0, 5, 1, 3, 2, 4).reshape(b, channels, gh * patch, gw * patch)


def random_masking(
    batch: int, length: int, ratio: float, generator: torch.Generator, device: torch.device | str
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per-sample random patch masking by sorting noise, as in MAE.

    Returns ids_keep (B, K) of visible patches, ids_restore (B, L) to undo the shuffle, and
    mask (B, L) float with 1 for hidden patches. At least one patch stays visible and one is hidden.
    """
    keep = min(length - 1, max(1, round(length * (1.0 - ratio))))
    noise = torch.rand(batch, length, generator=generator, device=generator.device).to(device)
    ids_shuffle = noise.argsort(dim=1)
    ids_restore = ids_shuffle.argsort(dim=1)
    mask = torch.ones(batch, length, device=device)
    mask[:, :keep] = 0
    mask = mask.gather(1, ids_restore)
    return ids_shuffle[:, :keep], ids_restore, mask


class Attention(nn.Module):
    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, dim * 3)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, d = x.shape
        qkv = self.qkv(x).reshape(b, n, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        if x.device.type == "cpu":
            # For the short sequences here (16-64 tokens) PyTorch's fused CPU kernel is 3-5x slower
            # than two matrix products under bf16 autocast, backward included (bench/RESULTS.md).
            # The softmax runs in float32, as the fused kernels do internally.
            scores = (q @ k.transpose(-2, -1)).float().mul_(q.shape[-1] ** -0.5)
            out = scores.softmax(dim=-1).to(v.dtype) @ v
        else:  # fused flash / memory-efficient kernels on GPUs
            out = F.scaled_dot_product_attention(q, k, v)
        return self.proj(out.transpose(1, 2).reshape(b, n, d))


class Block(nn.Module):
    """Pre-norm transformer block: x + Attn(LN(x)), then x + MLP(LN(x))."""

    def __init__(self, dim: int, heads: int, mlp_ratio: float = 4.0):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = Attention(dim, heads)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        hidden = int(dim * mlp_ratio)
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


def _init_weights(module: nn.Module) -> None:
    if isinstance(module, nn.Linear):
        nn.init.xavier_uniform_(module.weight)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.LayerNorm):
        nn.init.ones_(module.weight)
        nn.init.zeros_(module.bias)


class ViTEncoder(nn.Module):
    """ViT encoder. `forward(images)` takes [0, 1] images and returns mean-pooled features (B, dim),
    so it can stand in for a backbone (it has `feature_dim` and normalises its input itself).
    `tokens(images, ids_keep)` returns the normalised tokens of only the kept patches (for MAE).
    """

    def __init__(
        self,
        in_channels: int,
        image_size: int | tuple[int, int],
        patch_size: int,
        dim: int = 192,
        depth: int = 6,
        heads: int = 3,
        mlp_ratio: float = 4.0,
        mean: Sequence[float] | None = None,
        std: Sequence[float] | None = None,
    ):
        super().__init__()
        h, w = (image_size, image_size) if isinstance(image_size, int) else image_size
        if h % patch_size or w % patch_size:
            raise ValueError(f"image size {h}x{w} is not divisible by patch size {patch_size}")
        if dim % heads:
            raise ValueError(f"embedding dimension {dim} is not divisible by {heads} heads")
        self.name = "vit"  # as an Encoder's `.name`: what exported weights belong to
        self.in_channels = in_channels
        self.image_size = (h, w)
        self.patch_size = patch_size
        self.grid = (h // patch_size, w // patch_size)
        self.num_patches = self.grid[0] * self.grid[1]
        self.feature_dim = dim
        mean_t = torch.tensor(list(mean) if mean is not None else [0.5] * in_channels, dtype=torch.float32)
        std_t = torch.tensor(list(std) if std is not None else [0.5] * in_channels, dtype=torch.float32)
        self.register_buffer("mean", mean_t.view(1, -1, 1, 1))
        self.register_buffer("std", std_t.view(1, -1, 1, 1))
        self.patch_embed = nn.Conv2d(in_channels, dim, kernel_size=patch_size, stride=patch_size)
        self.register_buffer("pos_embed", sincos_pos_embed_2d(dim, *self.grid)[None], persistent=False)
        self.blocks = nn.ModuleList(Block(dim, heads, mlp_ratio) for _ in range(depth))
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.apply(_init_weights)
        # MAE initialises the patch projection like a linear layer (xavier on the flattened kernel).
        nn.init.xavier_uniform_(self.patch_embed.weight.view(dim, -1))
        nn.init.zeros_(self.patch_embed.bias)

    def tokens(self, images: torch.Tensor, ids_keep: torch.Tensor | None = None) -> torch.Tensor:
        x = (images - self.mean) / self.std
        x = self.patch_embed(x).flatten(2).transpose(1, 2) + self.pos_embed.to(x.dtype)
        if ids_keep is not None:
            x = x.gather(1, ids_keep[..., None].expand(-1, -1, x.shape[-1]))
        for block in self.blocks:
            x = block(x)
        return self.norm(x)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.tokens(images).mean(dim=1)


class MAEDecoder(nn.Module):
    """Lightweight MAE decoder: visible tokens + mask tokens, back in place, -> pixels per patch.

    `out_bias` (one value per image channel) sets the starting prediction; pixels within a patch are
    laid out (row, column, channel) as in `patchify`, so it repeats once per pixel.
    """

    def __init__(
        self,
        encoder_dim: int,
        num_patches_grid: tuple[int, int],
        patch_pixels: int,
        dim: int = 128,
        depth: int = 2,
        heads: int = 4,
        mlp_ratio: float = 4.0,
        out_bias: Sequence[float] | None = None,
    ):
        super().__init__()
        if dim % heads:
            raise ValueError(f"decoder dimension {dim} is not divisible by {heads} heads")
        self.embed = nn.Linear(encoder_dim, dim)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.register_buffer("pos_embed", sincos_pos_embed_2d(dim, *num_patches_grid)[None], persistent=False)
        self.blocks = nn.ModuleList(Block(dim, heads, mlp_ratio) for _ in range(depth))
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.pred = nn.Linear(dim, patch_pixels)
        self.apply(_init_weights)
        nn.init.normal_(self.mask_token, std=0.02)
        # Small output weights: predictions start near the bias instead of with a spread of ~1.4,
        # which for raw [0, 1] pixel targets would cost the whole first epoch to undo.
        nn.init.trunc_normal_(self.pred.weight, std=0.02)
        if out_bias is not None:  # e.g. the mean pixel per channel, so early predictions are not far off
            bias = torch.as_tensor(list(out_bias), dtype=torch.float32)
            with torch.no_grad():
                self.pred.bias.copy_(bias.repeat(patch_pixels // len(bias)))

    def forward(self, latent: torch.Tensor, ids_restore: torch.Tensor) -> torch.Tensor:
        x = self.embed(latent)
        b, kept, d = x.shape
        length = ids_restore.shape[1]
        x = torch.cat([x, self.mask_token.to(x.dtype).expand(b, length - kept, d)], dim=1)
        x = x.gather(1, ids_restore[..., None].expand(-1, -1, d)) + self.pos_embed.to(x.dtype)
        for block in self.blocks:
            x = block(x)
        return self.pred(self.norm(x))
