"""Masked autoencoder (MAE): hide most patches of an image and predict their pixels from the rest."""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from ssl_core.data.base import DataInfo
from ssl_core.methods.base import MethodSpec, OptimDefaults, Preview, SSLMethod, StepContext, StepOutput
from ssl_core.methods.setup_check import SetupFacts, SetupProblem, raise_first, spoken_list
from ssl_core.models.decoders import eval_mode, to_preview
from ssl_core.models.vit import MAEDecoder, ViTEncoder, patchify, random_masking, unpatchify
from ssl_core.params import Param, params

log = logging.getLogger(__name__)

_ANOMALY_SEED = 1234  # fixed masks, so an image's anomaly score does not change between calls
_PATCH_FIELD = "method.params(mae).patch_size"


def default_patch_size(image_size: int) -> int:
    """Patch side that gives a 4x4 to 16x16 token grid: 2 px under 16, 4 up to 63, 8 up to 127, else 16."""
    if image_size < 16:
        return 2
    if image_size < 64:
        return 4
    if image_size < 128:
        return 8
    return 16


def patch_choices(height: int, width: int, largest: int = 32) -> list[int]:
    """The patch sizes (2 px or more, at most `largest`) that divide both sides of the image."""
    side = math.gcd(height, width)
    return [p for p in range(2, min(side, largest) + 1) if side % p == 0]


def auto_patch_size(height: int, width: int) -> int | None:
    """The patch size 0 picks: the default for the size, else the largest smaller divisor (30 px -> 3),
    never 1-pixel patches; None when no patch of 2 px or more fits."""
    preferred = default_patch_size(min(height, width))
    return next((p for p in range(preferred, 1, -1) if height % p == 0 and width % p == 0), None)


def patch_problems(requested: int, height: int, width: int) -> list[SetupProblem]:
    """Whether the image size divides into patches of `requested` px (0: automatic), in words."""
    sizes = f"{height}" if height == width else f"{height}x{width}"
    if requested:
        if not (height % requested or width % requested):
            return []
        fits = patch_choices(height, width)
        fix = (
            f"pick a patch size that divides {sizes} ({spoken_list(fits)})" if fits else "set the image size"
        )
        return [
            SetupProblem(
                "patch_size",
                f"The image size {sizes} is not a multiple of the patch size {requested}: {fix}, or Automatic.",
                detail=(
                    f"MAE cuts images into square patches, but data.image_size = {sizes} is not divisible by "
                    f"{_PATCH_FIELD} = {requested}. Choose a patch size that divides {sizes}, set patch_size "
                    "to 0 (automatic), or set data.image_size to a multiple of it."
                ),
            )
        ]
    if auto_patch_size(height, width) is not None:
        return []
    preferred = default_patch_size(min(height, width))
    example = max(preferred, (min(height, width) // preferred) * preferred)
    return [
        SetupProblem(
            "data.image_size",
            f"Images of {height}x{width} px cannot be cut into equal patches of 2 px or more: choose an "
            f"image size that is a multiple of {preferred}, e.g. {example}.",
            detail=(
                f"MAE cannot cut {height}x{width} images into equal patches of 2 px or more (data.image_size "
                f"has no small divisor). Set data.image_size to a multiple of {preferred}, e.g. {example}."
            ),
        )
    ]


def width_problems(hparams: Mapping[str, Any]) -> list[SetupProblem]:
    """Transformer widths must split evenly over their attention heads (and into 4 for the positions)."""
    problems = []
    dim, heads = int(hparams["embed_dim"]), int(hparams["num_heads"])
    if dim % heads or dim % 4:
        problems.append(
            SetupProblem(
                "embed_dim",
                f"The encoder width {dim} must be a multiple of 4 and of the number of encoder attention "
                f"heads ({heads}): e.g. 192 with 3 heads, or 256 with 4.",
                detail=(
                    f"method.params(mae).embed_dim = {dim} must be a multiple of 4 and of num_heads = {heads}; "
                    "e.g. 192 with 3 heads, or 256 with 4."
                ),
            )
        )
    dim, heads = int(hparams["decoder_dim"]), int(hparams["decoder_heads"])
    if dim % 4 or dim % heads:
        problems.append(
            SetupProblem(
                "decoder_dim",
                f"The decoder width {dim} must be a multiple of 4 and of the number of decoder attention "
                f"heads ({heads}): e.g. 128 with 4 heads.",
                detail=(
                    f"method.params(mae).decoder_dim = {dim} must be a multiple of 4 and of "
                    f"decoder_heads = {heads}."
                ),
            )
        )
    return problems


def setup_check(hparams: Mapping[str, Any], facts: SetupFacts) -> list[SetupProblem]:
    """MAE's rules: patches tile the image, and widths split over the heads."""
    info = facts.info
    return patch_problems(int(hparams["patch_size"]), info.height, info.width) + width_problems(hparams)


def resolve_patch_size(requested: int, height: int, width: int) -> int:
    """The patch size to use; 0 picks one. Raise UserError when the image size does not divide into it."""
    raise_first(patch_problems(requested, height, width), "mae")
    return requested or int(auto_patch_size(height, width))


def _stats(backbone: nn.Module | None, name: str, channels: int) -> list[float] | None:
    """The run's input normalisation, taken from the backbone it built (an Encoder keeps mean/std)."""
    value = getattr(backbone, name, None)
    if isinstance(value, torch.Tensor) and value.numel() == channels:
        return value.detach().flatten().tolist()
    return None


class MAE(SSLMethod):
    """ViT encoder on the visible patches, light ViT decoder on all tokens, loss on hidden patches.

    The `backbone` the trainer passes in is not used: it is replaced by the ViT encoder (keeping its
    input normalisation statistics), so `self.backbone` - what evaluation encodes with and what weight
    export saves - is the ViT. Its features are the mean of the patch tokens.
    """

    def __init__(self, backbone: nn.Module, hparams: dict[str, Any], info: DataInfo):
        raise_first(setup_check(hparams, SetupFacts(info)), "mae")  # the rules Setup shows beside the fields
        patch = resolve_patch_size(int(hparams["patch_size"]), info.height, info.width)
        dim, heads = int(hparams["embed_dim"]), int(hparams["num_heads"])
        mean = _stats(backbone, "mean", info.channels)
        encoder = ViTEncoder(
            info.channels,
            (info.height, info.width),
            patch,
            dim=dim,
            depth=int(hparams["depth"]),
            heads=heads,
            mean=mean,
            std=_stats(backbone, "std", info.channels),
        )
        super().__init__(encoder, {**hparams, "patch_size": patch}, info)
        if backbone is not None and not isinstance(backbone, ViTEncoder):
            log.info(
                "MAE uses its own ViT encoder (patch %d px); the %s backbone is not used.",
                patch,
                getattr(backbone, "name", type(backbone).__name__),
            )
        self.patch = patch
        self.decoder = MAEDecoder(
            dim,
            encoder.grid,
            patch * patch * info.channels,
            dim=int(hparams["decoder_dim"]),
            depth=int(hparams["decoder_depth"]),
            heads=int(hparams["decoder_heads"]),
            # Start predictions at the data's mean pixel (normalised targets have mean 0 already).
            out_bias=None if hparams["norm_pix_loss"] or mean is None else mean,
        )

    # ---- core --------------------------------------------------------------------------------------
    def _targets(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Pixel targets per patch (normalised per patch when norm_pix_loss), plus their mean and std."""
        target = patchify(images.float(), self.patch)
        if not self.hparams["norm_pix_loss"]:
            return target, torch.zeros_like(target[..., :1]), torch.ones_like(target[..., :1])
        mean = target.mean(dim=-1, keepdim=True)
        std = (target.var(dim=-1, keepdim=True) + 1e-6).sqrt()
        return (target - mean) / std, mean, std

    def _predict(
        self, images: torch.Tensor, ids_keep: torch.Tensor, ids_restore: torch.Tensor
    ) -> torch.Tensor:
        latent = self.backbone.tokens(images, ids_keep)
        return self.decoder(latent, ids_restore).float()

    def training_step(self, images: torch.Tensor, ctx: StepContext) -> StepOutput:
        b = images.shape[0]
        ids_keep, ids_restore, mask = random_masking(
            b, self.backbone.num_patches, float(self.hparams["mask_ratio"]), ctx.generator, images.device
        )
        pred = self._predict(images, ids_keep, ids_restore)
        target, _, _ = self._targets(images)
        per_patch = (pred - target).pow(2).mean(dim=-1)
        loss = (per_patch * mask).sum() / mask.sum()
        return StepOutput(loss)

    def _pixels(self, pred: torch.Tensor, images: torch.Tensor) -> torch.Tensor:
        """Predicted patches back to pixel values in image layout (undoing per-patch normalisation).

        With norm_pix_loss the prediction is in units of each patch's own mean/std; as in MAE's
        visualisation, the original patch statistics are used to display it.
        """
        _, mean, std = self._targets(images)
        return unpatchify(pred * std + mean, self.patch, self.info.channels, self.backbone.grid)

    @torch.no_grad()
    def reconstruct(
        self, images: torch.Tensor, generator: torch.Generator
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Hide patches at random (drawn from `generator`) and predict them, in eval mode.

        Returns the predicted image (B, C, H, W) in pixel units (every patch predicted; only the hidden
        ones were trained) and the pixel mask (B, 1, H, W), bool, True where a patch was hidden.
        """
        ids_keep, ids_restore, mask = random_masking(
            images.shape[0],
            self.backbone.num_patches,
            float(self.hparams["mask_ratio"]),
            generator,
            images.device,
        )
        with eval_mode(self):
            predicted = self._pixels(self._predict(images, ids_keep, ids_restore), images)
        per_pixel = mask[..., None].expand(-1, -1, self.patch * self.patch)
        return predicted, unpatchify(per_pixel, self.patch, 1, self.backbone.grid).bool()

    @torch.no_grad()
    def preview(self, images: torch.Tensor, generator: torch.Generator) -> Preview:
        predicted, hidden = self.reconstruct(images, generator)
        masked = images.masked_fill(hidden, 0.5)  # hidden patches shown in mid grey
        pasted = torch.where(hidden, predicted.to(images.dtype), images)  # visible patches are the originals
        return Preview(
            "reconstruction",
            {"input": to_preview(images), "masked": to_preview(masked), "reconstruction": to_preview(pasted)},
        )

    @torch.no_grad()
    def anomaly_scores(self, images: torch.Tensor) -> torch.Tensor:
        """Mean squared error of predicted hidden pixels (B,), in [0, 1] pixel units.

        The patches are split (with a fixed seed) into groups of about the visible fraction; each pass
        shows one group and predicts the rest, so every patch is predicted several times, deterministically.
        """
        b, length = images.shape[0], self.backbone.num_patches
        keep = min(length - 1, max(1, round(length * (1.0 - float(self.hparams["mask_ratio"])))))
        generator = torch.Generator(device=images.device).manual_seed(_ANOMALY_SEED)
        order = torch.randperm(length, generator=generator, device=images.device)
        target = patchify(images.float(), self.patch)
        err_sum = torch.zeros(b, device=images.device)
        count = torch.zeros(b, device=images.device)
        with eval_mode(self):
            for start in range(0, length, keep):
                visible = order[start : start + keep]
                if len(visible) < keep:  # last group: top up so every pass shows the same amount
                    visible = order[-keep:]
                hidden = torch.ones(length, device=images.device)
                hidden[visible] = 0
                ids_shuffle = torch.cat([visible, order[hidden[order].bool()]])
                ids_restore = ids_shuffle.argsort()
                pred = self._predict(images, ids_shuffle[:keep].expand(b, -1), ids_restore.expand(b, -1))
                pixels = patchify(self._pixels(pred, images), self.patch)
                err = (pixels - target).pow(2).mean(dim=-1)  # (B, L)
                err_sum += (err * hidden).sum(dim=1)
                count += hidden.sum()
        return err_sum / count


SPEC = MethodSpec(
    name="mae",
    title="Masked autoencoder (MAE)",
    family="generative",
    summary="Hide three quarters of each image's patches and paint them back from the rest.",
    description=(
        "A masked autoencoder cuts each image into small square patches, hides most of them (75% by "
        "default), and learns to paint the hidden patches back from the few it can still see. Guessing "
        "so much from so little forces it to learn how objects are put together rather than copying "
        "nearby pixels. MAE uses its own small Vision Transformer as the encoder, so the backbone chosen "
        "for the run is not used: the ViT is what gets evaluated and exported, and its features are the "
        "average of its patch tokens. The previews show the input, the masked input and the repaint."
    ),
    params=params(
        Param(
            "patch_size",
            0,
            "Side of each square patch in pixels; the image size must be divisible by it. 0 picks one: "
            "2 px for 8-15 px images, 4 px up to 63 px, 8 px up to 127 px, 16 px beyond.",
            low=0,
            high=32,
            label="Patch size",
            zero_label="Automatic",
        ),
        Param(
            "mask_ratio",
            0.75,
            "Fraction of patches hidden from the encoder (the paper found 75% works best).",
            low=0.1,
            high=0.95,
            label="Share of patches hidden",
        ),
        Param(
            "norm_pix_loss",
            False,
            "Predict each hidden patch's pixels after normalising them by that patch's own mean and "
            "spread. The paper found this helps with its 16 px patches; with the tiny 2-4 px patches used "
            "for small images it makes targets noisy, so it is off by default.",
            label="Normalise each patch",
        ),
        Param(
            "embed_dim",
            192,
            "Width of the ViT encoder's tokens (ViT-Tiny uses 192).",
            low=32,
            high=1024,
            label="Encoder width",
        ),
        Param(
            "depth",
            6,
            "Number of transformer blocks in the encoder (ViT-Tiny has 12; 6 suits small images).",
            low=1,
            high=24,
            label="Encoder blocks",
        ),
        Param(
            "num_heads",
            3,
            "Attention heads in each encoder block; must divide embed_dim.",
            low=1,
            high=16,
            label="Encoder attention heads",
        ),
        Param(
            "decoder_dim",
            128,
            "Width of the lightweight decoder's tokens (the paper's decoder is 512 wide for 224 px images).",
            low=32,
            high=1024,
            label="Decoder width",
        ),
        Param(
            "decoder_depth",
            2,
            "Transformer blocks in the decoder; the decoder is thrown away after training, so it stays small.",
            low=1,
            high=12,
            label="Decoder blocks",
        ),
        Param(
            "decoder_heads",
            4,
            "Attention heads in each decoder block; must divide decoder_dim.",
            low=1,
            high=16,
            label="Decoder attention heads",
        ),
    ),
    factory=MAE,
    setup_check=setup_check,
    # The paper: AdamW (betas 0.9, 0.95), base lr 1.5e-4 per 256 images, weight decay 0.05, 40 warm-up
    # epochs of 800. Betas here are AdamW's default (0.9, 0.999): measured on digits (10 epochs, probe with
    # 10% of the labels, 3 seeds), the paper's 0.95 gives 0.759±0.012 against 0.763±0.006, no better.
    # Runs here are far shorter and on far smaller data, so the base lr is higher and warm-up shorter.
    optim=OptimDefaults(optimizer="adamw", lr=1e-3, weight_decay=0.05, warmup_epochs=2.0, batch_size=256),
    preview_kind="reconstruction",
    paper="He et al., Masked Autoencoders Are Scalable Vision Learners, CVPR 2022",
)
MAE.spec = SPEC
