"""A small Vision Transformer for 8-256 px images, plus the pieces a masked autoencoder needs.

Following MAE (He et al., 2022): pre-norm transformer blocks, fixed 2-D sine-cosine position
embeddings, xavier-initialised linear layers, and a patch embedding initialised like a linear layer.
By default there is no class token: the image representation is the mean of the encoder's patch tokens.
With `cls_token=True` (DINO) a learned class token is prepended and its output is the representation;
its attention to the patches in the last block is what DINO's attention maps show (`attention_maps`).
Images of another size than the encoder was built for (DINO's small local crops) get the position
embedding resized to their patch grid, as DINO's `interpolate_pos_encoding` does.
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


def take_tokens(x: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
    """Per sample, the tokens at `ids`: x (B, L, D), ids (B, K) -> (B, K, D), as x.gather along dim 1.

    Whole rows are copied with one index_select over the flattened batch: on a CPU `gather` with an
    index expanded over D moves one element at a time and its backward is a scatter_add (the
    decoder's unshuffle, forward + backward: 3.5x faster). index_select's backward is index_add.
    """
    b, length, d = x.shape
    rows = ids + torch.arange(b, device=ids.device)[:, None] * length
    return x.reshape(b * length, d).index_select(0, rows.reshape(-1)).view(b, ids.shape[1], d)


def attention_matmul(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """softmax(q k^T / sqrt(d)) v as two matrix products, for (..., tokens, d) inputs.

    On bf16 scores the softmax kernel accumulates in float32 and rounds once, so it gives bit for bit
    the float32 softmax rounded to bf16, with no casts of the scores to float32 and back (which
    took a third of the decoder's attention time). Only the 1/sqrt(d) scaling now rounds in bf16.
    """
    scores = (q @ k.transpose(-2, -1)).mul_(q.shape[-1] ** -0.5)
    return scores.softmax(dim=-1) @ v


class Attention(nn.Module):
    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, dim * 3)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, d = x.shape
        # unbind, not qkv[0..2]: indexing's backward builds a zero-filled copy of the whole qkv tensor
        # per index and adds the three; unbind's backward stacks the gradients straight into the
        # qkv layout (the decoder's attention, forward + backward: 1.4x faster in bf16).
        qkv = self.qkv(x).reshape(b, n, 3, self.heads, d // self.heads)
        q, k, v = (t.transpose(1, 2) for t in qkv.unbind(2))
        if x.device.type == "cpu" and q.dtype in (torch.bfloat16, torch.float16):
            # For the short sequences here (16-64 tokens) PyTorch's fused CPU kernel is 3-9x slower
            # in bf16 than two matrix products, backward included (bench/RESULTS.md); in float32 it
            # is as fast at 16 tokens and ~15% faster at 64, so float32 keeps it.
            out = attention_matmul(q, k, v)
        else:  # fused kernels: flash / memory-efficient on GPUs, the CPU one in float32
            out = F.scaled_dot_product_attention(q, k, v)
        return self.proj(out.transpose(1, 2).reshape(b, n, d))

    def weights(self, x: torch.Tensor) -> torch.Tensor:
        """The attention weights softmax(q k^T / sqrt(d)) per head, (B, heads, N, N), rows summing to 1."""
        b, n, d = x.shape
        qkv = self.qkv(x).reshape(b, n, 3, self.heads, d // self.heads)
        q, k, _ = (t.transpose(1, 2) for t in qkv.unbind(2))
        return ((q @ k.transpose(-2, -1)) * q.shape[-1] ** -0.5).float().softmax(dim=-1)


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

    def attention_weights(self, x: torch.Tensor) -> torch.Tensor:
        """The block's attention weights for its input x, (B, heads, N, N)."""
        return self.attn.weights(self.norm1(x))


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
    With `cls_token=True` a learned class token comes first in `tokens` and `forward` returns its output.
    Images of another size (divisible by the patch size) are accepted: the position embedding is resized
    to their grid (`pos_embed_for`).
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
        cls_token: bool = False,
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
        # Only when asked for, so MAE checkpoints keep their keys.
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim)) if cls_token else None
        self.apply(_init_weights)
        if self.cls_token is not None:
            nn.init.trunc_normal_(self.cls_token, std=0.02)  # as in DINO's vision_transformer.py
        # MAE initialises the patch projection like a linear layer (xavier on the flattened kernel).
        nn.init.xavier_uniform_(self.patch_embed.weight.view(dim, -1))
        nn.init.zeros_(self.patch_embed.bias)

    def embed(self, images: torch.Tensor, ids_keep: torch.Tensor | None = None) -> torch.Tensor:
        """Patch embeddings plus positions, (B, L, dim), or (B, K, dim) for only the patches in ids_keep.

        The patch projection (a convolution with stride = kernel = patch) is applied as the same linear
        map to the pixel vectors of the kept patches alone: masked patches never reach the encoder, so
        embedding all of them and gathering afterwards (the usual order) computed and back-propagated
        4x the rows, and the gather's backward scattered a (B, L, dim) gradient. Same values (the
        patch order and the conv's weights are unchanged); forward + backward 4-5x faster.
        """
        pos = self.pos_embed_for(images.shape[-2], images.shape[-1])  # checks the size first
        x = patchify((images - self.mean) / self.std, self.patch_size)  # (B, L, p*p*C), pixels (p, q, c)
        if ids_keep is not None:  # the images need no gradient: this gather has no backward to pay for
            x = take_tokens(x, ids_keep)
            pos = pos[0][ids_keep]
        # The conv kernel (dim, C, p, p) as a matrix over patchify's (p, q, c) pixel order.
        weight = self.patch_embed.weight.permute(0, 2, 3, 1).reshape(self.feature_dim, -1)
        # The positions are added in the input's precision (float32 under autocast), as before: the
        # residual stream of the encoder stays float32; only the matrix products run in bf16.
        return F.linear(x, weight, self.patch_embed.bias) + pos.to(x.dtype)

    def pos_embed_for(self, height: int, width: int) -> torch.Tensor:
        """The position embedding (1, L, dim) for images of height x width px.

        The encoder's own grid gives its buffer; another grid (a local crop) gives the buffer resized
        bicubically to it, as DINO does, so a small crop is embedded as a whole image seen at a lower
        resolution. Raises ValueError when the size is not a multiple of the patch size."""
        p = self.patch_size
        if height % p or width % p:
            raise ValueError(f"image size {height}x{width} is not divisible by patch size {p}")
        grid = (height // p, width // p)
        if grid == self.grid:
            return self.pos_embed
        gh, gw = self.grid
        table = self.pos_embed.reshape(1, gh, gw, -1).permute(0, 3, 1, 2)
        resized = F.interpolate(table, size=grid, mode="bicubic", align_corners=False)
        return resized.permute(0, 2, 3, 1).reshape(1, grid[0] * grid[1], -1)

    def _sequence(self, images: torch.Tensor, ids_keep: torch.Tensor | None = None) -> torch.Tensor:
        """The blocks' input: the embedded (kept) patches, after the class token when there is one."""
        x = self.embed(images, ids_keep)
        if self.cls_token is not None:
            x = torch.cat([self.cls_token.to(x.dtype).expand(x.shape[0], -1, -1), x], dim=1)
        return x

    def tokens(self, images: torch.Tensor, ids_keep: torch.Tensor | None = None) -> torch.Tensor:
        x = self._sequence(images, ids_keep)
        for block in self.blocks:
            x = block(x)
        return self.norm(x)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = self.tokens(images)
        return x[:, 0] if self.cls_token is not None else x.mean(dim=1)

    @torch.no_grad()
    def attention_maps(self, images: torch.Tensor) -> torch.Tensor:
        """What the last block attends to, per head and patch: (B, heads, grid_h, grid_w), each map
        summing to 1 over the patches.

        With a class token, its attention to each patch (DINO's figure 1); without one, the attention each
        patch receives, averaged over all the patches asking (queries), renormalised."""
        x = self._sequence(images)
        for block in self.blocks[:-1]:
            x = block(x)
        weights = self.blocks[-1].attention_weights(x)  # (B, heads, N, N)
        if self.cls_token is not None:
            maps = weights[:, :, 0, 1:]
        else:
            maps = weights.mean(dim=2)
        maps = maps / maps.sum(dim=-1, keepdim=True)
        gh, gw = images.shape[-2] // self.patch_size, images.shape[-1] // self.patch_size
        return maps.reshape(images.shape[0], -1, gh, gw)


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
        x = take_tokens(x, ids_restore) + self.pos_embed.to(x.dtype)  # tokens back in image order
        for block in self.blocks:
            x = block(x)
        return self.pred(self.norm(x))
