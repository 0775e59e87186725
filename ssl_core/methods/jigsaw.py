"""Jigsaw puzzles: cut each image into 3x3 tiles, shuffle them, and learn which shuffle was used."""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ssl_core.data.base import DataInfo
from ssl_core.methods.base import MethodSpec, OptimDefaults, Preview, SSLMethod, StepContext, StepOutput
from ssl_core.methods.setup_check import SetupFacts, SetupProblem, raise_first
from ssl_core.models.decoders import eval_mode, to_preview
from ssl_core.models.heads import mlp
from ssl_core.params import Param, params

GRID = 3
TILES = GRID * GRID
MIN_CELL_PX = 10  # smaller images are upsampled so that each grid cell is at least this wide
MIN_TILE_PX = 4  # a tile narrower than this shows too little to place it
PERMUTATION_SEED = 2016  # fixed, so the permutation set (and so the class labels) is always the same


@functools.lru_cache(maxsize=8)
def _hamming_permutations(count: int, seed: int) -> tuple[tuple[int, ...], ...]:
    n = math.factorial(TILES)
    flat = itertools.chain.from_iterable(itertools.permutations(range(TILES)))
    all_perms = np.fromiter(flat, dtype=np.int8, count=n * TILES).reshape(n, TILES)
    columns = np.ascontiguousarray(all_perms.T)  # one contiguous row per position: fast comparisons

    def distances(perm: np.ndarray) -> np.ndarray:
        same = np.zeros(n, dtype=np.uint8)
        for position in range(TILES):
            same += columns[position] == perm[position]
        return TILES - same

    rng = np.random.default_rng(seed)
    chosen = [int(rng.integers(n))]
    min_dist = distances(all_perms[chosen[0]])
    for _ in range(count - 1):
        best = np.flatnonzero(min_dist == min_dist.max())
        j = int(rng.choice(best))
        chosen.append(j)
        np.minimum(min_dist, distances(all_perms[j]), out=min_dist)
    return tuple(tuple(int(v) for v in all_perms[j]) for j in chosen)


def hamming_permutations(count: int, seed: int = PERMUTATION_SEED) -> torch.Tensor:
    """`count` permutations of the 9 tiles (count, 9), spread as far apart as possible.

    Greedy selection after Noroozi & Favaro's Algorithm 1: start from a random permutation, then
    repeatedly add the one whose smallest Hamming distance to those already chosen is largest (the
    paper maximises the summed distance; maximising the minimum guarantees that no two classes are
    near-duplicates). Ties are broken by a seeded generator, so the set is the same on every run.
    """
    if not 2 <= count <= math.factorial(TILES):
        raise ValueError(f"count must be between 2 and 9!; got {count}")
    return torch.tensor(_hamming_permutations(count, seed), dtype=torch.long)


def cell_size(image_size: int, requested: int = 0) -> int:
    """Side in px of one grid cell after resizing: `requested`, or image_size / 3 but at least 10 px."""
    return requested or max(math.ceil(image_size / GRID), MIN_CELL_PX)


def tile_problems(hparams: Mapping[str, Any], facts: SetupFacts) -> list[SetupProblem]:
    """Tiles must stay at least MIN_TILE_PX wide once the gap around them is cut away."""
    cell = cell_size(min(facts.info.height, facts.info.width), int(hparams["cell_px"]))
    tile = cell - round(float(hparams["gap_fraction"]) * cell)
    if tile >= MIN_TILE_PX:
        return []
    return [
        SetupProblem(
            "cell_px",
            f"The puzzle tiles would be {tile} px wide, too small to see: make the grid cells larger than "
            f"{cell} px, or the gap between tiles smaller, so that tiles are at least {MIN_TILE_PX} px.",
            detail=(
                f"Jigsaw tiles would be {tile} px wide; raise method.params(jigsaw).cell_px (now "
                f"{cell}) or lower gap_fraction so that tiles are at least {MIN_TILE_PX} px."
            ),
        )
    ]


class Jigsaw(SSLMethod):
    """Shared backbone on each of the 9 shuffled tiles -> concatenated features -> permutation classifier.

    Images are resized to a square 3x3 grid of `cell` px cells (8 px digits are upsampled to 30 px, so each
    tile is 8 px rather than 2-3 px). Each tile is a random crop of its cell that leaves a gap of about
    `gap_fraction` of the cell, so neighbouring tiles do not share edges the network could match instead
    of understanding content. The backbone pools globally, so it accepts tiles of any size.
    """

    def __init__(self, backbone: nn.Module, hparams: dict[str, Any], info: DataInfo):
        super().__init__(backbone, hparams, info)
        raise_first(tile_problems(hparams, SetupFacts(info)), "jigsaw")  # what Setup shows beside cell_px
        self.cell = cell_size(min(info.height, info.width), int(hparams["cell_px"]))
        self.gap = round(float(hparams["gap_fraction"]) * self.cell)
        self.tile = self.cell - self.gap
        count = int(hparams["num_permutations"])
        self.register_buffer("permutations", hamming_permutations(count))
        self.head = mlp(TILES * self.feature_dim, int(hparams["head_hidden"]), count, num_layers=2)

    # ---- puzzle making ---------------------------------------------------------------------------
    def cut_tiles(self, images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """(B, C, H, W) -> (B, 9, C, tile, tile), tiles in row-major grid order, each jittered in its cell."""
        b, c = images.shape[:2]
        side = GRID * self.cell
        shrink = side < min(images.shape[-2:])
        x = F.interpolate(images, size=(side, side), mode="bilinear", align_corners=False, antialias=shrink)
        offsets = torch.randint(self.gap + 1, (b, TILES, 2), generator=generator, device=generator.device)
        offsets = offsets.to(images.device)
        cells = torch.arange(TILES, device=images.device)
        top = (cells // GRID) * self.cell + offsets[..., 0]  # (B, 9)
        left = (cells % GRID) * self.cell + offsets[..., 1]
        span = torch.arange(self.tile, device=images.device)
        rows = (top[..., None] + span)[..., :, None]  # (B, 9, t, 1)
        cols = (left[..., None] + span)[..., None, :]  # (B, 9, 1, t)
        batch = torch.arange(b, device=images.device).view(b, 1, 1, 1)
        tiles = x.permute(0, 2, 3, 1)[batch, rows, cols]  # (B, 9, t, t, C)
        return tiles.permute(0, 1, 4, 2, 3).clamp(0.0, 1.0)

    def shuffle(self, tiles: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Place tile permutations[label][i] at grid position i."""
        order = self.permutations[labels]  # (B, 9)
        return tiles.gather(1, order.view(*order.shape, 1, 1, 1).expand_as(tiles))

    def logits(self, shuffled: torch.Tensor) -> torch.Tensor:
        b = shuffled.shape[0]
        features = self.backbone(shuffled.flatten(0, 1))  # the 9 tiles share one backbone
        return self.head(features.reshape(b, -1)).float()

    def _puzzle(self, images: torch.Tensor, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        labels = torch.randint(
            len(self.permutations), (images.shape[0],), generator=generator, device=generator.device
        )
        labels = labels.to(images.device)
        return self.shuffle(self.cut_tiles(images, generator), labels), labels

    def training_step(self, images: torch.Tensor, ctx: StepContext) -> StepOutput:
        shuffled, labels = self._puzzle(images, ctx.generator)
        logits = self.logits(shuffled)
        loss = F.cross_entropy(logits, labels)
        accuracy = (logits.argmax(dim=1) == labels).float().mean()
        return StepOutput(loss, {"accuracy": accuracy.detach()})

    @staticmethod
    def assemble(tiles: torch.Tensor, border: int = 1) -> torch.Tensor:
        """(B, 9, C, t, t) -> (B, C, S, S) grid image with white lines between the tiles."""
        b, _, c, t, _ = tiles.shape
        side = GRID * t + (GRID - 1) * border
        canvas = torch.ones(b, c, side, side, dtype=tiles.dtype, device=tiles.device)
        for i in range(TILES):
            r, q = divmod(i, GRID)
            y, x = r * (t + border), q * (t + border)
            canvas[:, :, y : y + t, x : x + t] = tiles[:, i]
        return canvas

    @torch.no_grad()
    def preview(self, images: torch.Tensor, generator: torch.Generator) -> Preview:
        shuffled, labels = self._puzzle(images, generator)
        with eval_mode(self):
            predicted = self.logits(shuffled).argmax(dim=1)
        captions = [
            f"pred #{p} / true #{t}" + (" ✓" if p == t else " ✗")
            for p, t in zip(predicted.tolist(), labels.tolist(), strict=True)
        ]
        return Preview("prediction", {"tiles": to_preview(self.assemble(shuffled))}, {"tiles": captions})


SPEC = MethodSpec(
    name="jigsaw",
    title="Jigsaw puzzles",
    family="pretext",
    summary="Cut each image into 3x3 tiles, shuffle them, and learn to recognise the shuffle.",
    description=(
        "Jigsaw cuts each image into a 3x3 grid of tiles, shuffles them in one of a fixed list of ways, "
        "and asks the network which shuffle it was, like solving a small jigsaw puzzle. The backbone looks "
        "at each tile on its own, so to put the pieces in order it must recognise parts of objects: "
        "this is a wheel, that is the top of a digit. Small images are enlarged first so tiles are not "
        "just a few pixels, and tiles are cut with small gaps so edges alone cannot give the answer."
    ),
    params=params(
        Param(
            "num_permutations",
            100,
            "How many different shuffles the network must tell apart (the paper used 1000, and found "
            "100 nearly as good). More is harder; they are chosen to differ as much as possible.",
            low=2,
            high=1000,
            label="Shuffles to tell apart",
        ),
        Param(
            "cell_px",
            0,
            "Side of one grid cell in pixels after resizing the image to 3x3 cells. 0 picks the image "
            "size / 3, but at least 10 px (8 px digits become 30 px, 224 px images 225 px as in the paper).",
            low=0,
            high=256,
            label="Grid cell size (px)",
            zero_label="Automatic",
        ),
        Param(
            "gap_fraction",
            0.15,
            "Part of each cell cut away around its tile (the paper cut 64 px tiles from 75 px cells), so "
            "the network cannot solve the puzzle by lining up edges.",
            low=0.0,
            high=0.5,
            label="Gap between tiles",
        ),
        Param(
            "head_hidden",
            512,
            "Hidden units of the classifier that reads the nine tiles' features together (paper: 4096, "
            "after a 512-unit layer per tile; 512 suits the small backbones here).",
            low=16,
            high=8192,
            label="Classifier width",
        ),
    ),
    factory=Jigsaw,
    setup_check=tile_problems,
    # The paper used SGD (lr 0.01) for 350k steps; AdamW is the safer default for short runs.
    optim=OptimDefaults(optimizer="adamw", lr=1e-3, weight_decay=5e-4, warmup_epochs=1.0, batch_size=128),
    preview_kind="prediction",
    paper="Noroozi & Favaro, Unsupervised Learning of Visual Representations by Solving Jigsaw Puzzles, ECCV 2016",
)
Jigsaw.spec = SPEC
