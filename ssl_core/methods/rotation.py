"""Rotation prediction (RotNet): turn each image by 0, 90, 180 or 270 degrees and guess which."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ssl_core.data.base import DataInfo
from ssl_core.methods.base import MethodSpec, OptimDefaults, Preview, SSLMethod, StepContext, StepOutput
from ssl_core.models.decoders import eval_mode, to_preview
from ssl_core.models.heads import mlp
from ssl_core.params import Param, params

ANGLES = (0, 90, 180, 270)


def square(images: torch.Tensor) -> torch.Tensor:
    """Centre-crop to a square, so the four rotations share one shape."""
    h, w = images.shape[-2:]
    side = min(h, w)
    top, left = (h - side) // 2, (w - side) // 2
    return images[..., top : top + side, left : left + side]


def rotate(images: torch.Tensor, quarter_turns: torch.Tensor) -> torch.Tensor:
    """Rotate each image counter-clockwise by its own number of quarter turns (B,), exactly (no resampling)."""
    images = square(images)
    out = images
    for k in range(1, 4):
        pick = (quarter_turns == k).view(-1, 1, 1, 1)
        out = torch.where(pick, torch.rot90(images, k, dims=(-2, -1)), out)
    return out


def classifier_head(in_dim: int, hidden: int, classes: int) -> nn.Module:
    return mlp(in_dim, hidden, classes, num_layers=2) if hidden else nn.Linear(in_dim, classes)


class RotationPrediction(SSLMethod):
    def __init__(self, backbone: nn.Module, hparams: dict[str, Any], info: DataInfo):
        super().__init__(backbone, hparams, info)
        self.head = classifier_head(self.feature_dim, int(hparams["head_hidden"]), len(ANGLES))

    def training_step(self, images: torch.Tensor, ctx: StepContext) -> StepOutput:
        b = images.shape[0]
        if self.hparams["all_rotations"]:
            # The paper's choice: all four rotations of every image in the same batch.
            turns = torch.arange(len(ANGLES), device=images.device).repeat_interleave(b)
            inputs = rotate(images.repeat(len(ANGLES), 1, 1, 1), turns)
        else:
            turns = torch.randint(len(ANGLES), (b,), generator=ctx.generator, device=ctx.generator.device)
            turns = turns.to(images.device)
            inputs = rotate(images, turns)
        logits = self.head(self.backbone(inputs)).float()
        loss = F.cross_entropy(logits, turns)
        accuracy = (logits.argmax(dim=1) == turns).float().mean()
        return StepOutput(loss, {"accuracy": accuracy.detach()})

    @torch.no_grad()
    def predict(self, images: torch.Tensor) -> torch.Tensor:
        """Predicted quarter turns (B,) for already-rotated images."""
        with eval_mode(self):
            return self.head(self.backbone(square(images))).argmax(dim=1)

    @torch.no_grad()
    def preview(self, images: torch.Tensor, generator: torch.Generator) -> Preview:
        turns = torch.randint(len(ANGLES), (images.shape[0],), generator=generator, device=generator.device)
        turns = turns.to(images.device)
        rotated = rotate(images, turns)
        predicted = self.predict(rotated)
        captions = [
            f"pred {ANGLES[p]}° / true {ANGLES[t]}°" + (" ✓" if p == t else " ✗")
            for p, t in zip(predicted.tolist(), turns.tolist(), strict=True)
        ]
        return Preview("prediction", {"rotated": to_preview(rotated)}, {"rotated": captions})


SPEC = MethodSpec(
    name="rotation",
    title="Rotation prediction",
    family="pretext",
    summary="Turn each image by 0, 90, 180 or 270 degrees and learn to tell which way is up.",
    description=(
        "Rotation prediction turns every image a quarter, half or three-quarter turn (or leaves it) and "
        "asks the network which of the four it was. Telling which way is up is easy for us only because "
        "we know what things look like: a face has eyes above the mouth, a seven has its bar on top. So to "
        "solve this simple puzzle the backbone has to learn shapes and objects. Beware data that looks the "
        "same upside down (some digits, textures), where the puzzle cannot be solved."
    ),
    params=params(
        Param(
            "all_rotations",
            True,
            "Show all four rotations of every image in the same batch (as in the paper; 4x the compute "
            "per step) instead of one random rotation per image.",
            label="All four rotations per image",
        ),
        Param(
            "head_hidden",
            256,
            "Hidden units of the classifier on top of the backbone features; 0 uses a single linear layer "
            "(the paper classifies with the network's own last blocks; a small head leaves the backbone "
            "whole for the features used afterwards).",
            low=0,
            high=4096,
            label="Classifier width",
            zero_label="Single linear layer",
        ),
    ),
    factory=RotationPrediction,
    # The paper: SGD, lr 0.1, momentum 0.9, weight decay 5e-4, batch 128 (x4 rotations). AdamW is the
    # safer default for short runs with small backbones.
    optim=OptimDefaults(optimizer="adamw", lr=1e-3, weight_decay=5e-4, warmup_epochs=1.0, batch_size=128),
    preview_kind="prediction",
    paper="Gidaris, Singh & Komodakis, Unsupervised Representation Learning by Predicting Image Rotations, ICLR 2018",
)
RotationPrediction.spec = SPEC
