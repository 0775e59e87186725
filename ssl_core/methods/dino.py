"""DINO: a student network learns to give the same output distribution as a slowly moving teacher."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ssl_core.augment.multicrop import default_local_size
from ssl_core.data.base import DataInfo
from ssl_core.losses import dino_loss, teacher_temperature, updated_center
from ssl_core.losses.dino import teacher_entropy
from ssl_core.methods._momentum import cosine_momentum, ema_update, momentum_copy
from ssl_core.methods._multicrop import MULTI_CROP_WORDS, MultiCropMethod, local_size_param, n_local_param
from ssl_core.methods.base import MethodSpec, OptimDefaults, StepContext, StepOutput
from ssl_core.methods.setup_check import SetupFacts, SetupProblem, raise_first
from ssl_core.models.vit import ViTEncoder
from ssl_core.params import Param, params

log = logging.getLogger(__name__)

# The small ViT DINO builds when method.params(dino).encoder = "vit": ViT-Tiny's width and heads (192, 3),
# half its depth (6 blocks, as MAE here uses for small images).
VIT_DIM, VIT_DEPTH, VIT_HEADS = 192, 6, 3


class DINOHead(nn.Module):
    """DINO's projection head: a 3-layer MLP (GELU; BatchNorm in the hidden layers with `batch_norm`, DINO's
    `use_bn_in_head`) to a bottleneck, L2-normalised, then a weight-normalised linear layer without bias to
    `out_dim` logits.

    The last layer's weight is used row-normalised (weight norm with its gain fixed at 1, DINO's
    `norm_last_layer=True`), so logits are cosine similarities between the bottleneck and out_dim unit
    vectors. `forward(x, freeze_last=True)` keeps gradients away from that layer (DINO freezes it during
    the first epoch, when it would otherwise move fastest and destabilise training).
    """

    def __init__(
        self,
        in_dim: int,
        hidden_dim: int,
        bottleneck_dim: int,
        out_dim: int,
        norm_last: bool = True,
        batch_norm: bool = False,
    ):
        super().__init__()
        self.norm_last = norm_last

        def norm() -> nn.Module:
            return nn.BatchNorm1d(hidden_dim) if batch_norm else nn.Identity()

        self.mlp = nn.Sequential(
            nn.Linear(in_dim, hidden_dim),
            norm(),
            nn.GELU(),
            nn.Linear(hidden_dim, hidden_dim),
            norm(),
            nn.GELU(),
            nn.Linear(hidden_dim, bottleneck_dim),
        )
        for layer in self.mlp:
            if isinstance(layer, nn.Linear):  # as DINO's _init_weights
                nn.init.trunc_normal_(layer.weight, std=0.02)
                nn.init.zeros_(layer.bias)
        self.last = nn.Parameter(torch.empty(out_dim, bottleneck_dim))
        nn.init.trunc_normal_(self.last, std=0.02)

    def forward(self, x: torch.Tensor, freeze_last: bool = False) -> torch.Tensor:
        z = F.normalize(self.mlp(x), dim=-1, eps=1e-6)
        weight = self.last.detach() if freeze_last else self.last
        if self.norm_last:
            weight = F.normalize(weight, dim=-1, eps=1e-6)
        return z @ weight.to(z.dtype).t()


def vit_patch_size(height: int, width: int) -> int | None:
    """The ViT's patch side: 2 px under 16 px, 4 px under 64, 8 px under 128, else 16 (as MAE's automatic
    choice), or a smaller divisor of both sides; None when no patch of 2 px or more divides them."""
    side = min(height, width)
    preferred = 2 if side < 16 else 4 if side < 64 else 8 if side < 128 else 16
    return next((p for p in range(preferred, 1, -1) if height % p == 0 and width % p == 0), None)


def vit_local_size(image_size: int, patch: int) -> int:
    """The paper's local crop side (`default_local_size`) rounded down to a whole number of patches."""
    return max(patch, default_local_size(image_size) // patch * patch)


def setup_check(hparams: Mapping[str, Any], facts: SetupFacts) -> list[SetupProblem]:
    """DINO's rules: the ViT encoder needs images that split into patches, and local crops as well."""
    info = facts.info
    if hparams["encoder"] != "vit":
        return []
    patch = vit_patch_size(info.height, info.width)
    if patch is None:
        return [
            SetupProblem(
                "data.image_size",
                f"DINO's ViT cannot cut {info.height}x{info.width} px images into equal patches of 2 px or "
                "more: choose an even image size (e.g. 8, 16 or 32), or the run's backbone as encoder.",
            )
        ]
    local = int(hparams["local_size"])
    if local and local % patch:
        return [
            SetupProblem(
                "local_size",
                f"With the ViT encoder the small crops must be a whole number of {patch} px patches; "
                f"{local} px is not. Choose a multiple of {patch}, or Automatic.",
            )
        ]
    return []


def _stats(backbone: nn.Module | None, name: str, channels: int) -> list[float] | None:
    """The run's input normalisation from the backbone it built (an Encoder keeps mean/std)."""
    value = getattr(backbone, name, None)
    if isinstance(value, torch.Tensor) and value.numel() == channels:
        return value.detach().flatten().tolist()
    return None


class DINO(MultiCropMethod):
    """Student (backbone + head) and teacher (a momentum copy of both) on multi-crop views.

    The teacher sees the two global crops only; the student sees every crop and must match the teacher's
    centred, sharpened distribution for each *other* crop. The centre (a buffer) and the teacher are saved
    in checkpoints. With `encoder = "vit"` the run's backbone is replaced by a small ViT with a class token
    (keeping the run's input normalisation), whose attention maps are shown in the preview.
    """

    def __init__(self, backbone: nn.Module, hparams: dict[str, Any], info: DataInfo):
        raise_first(setup_check(hparams, SetupFacts(info)), "dino")
        local_size = None
        if hparams["encoder"] == "vit":
            patch = int(vit_patch_size(info.height, info.width) or 2)
            if backbone is not None:
                log.info(
                    "DINO uses its own ViT encoder (patch %d px); the run's backbone is not used.", patch
                )
            backbone = ViTEncoder(
                info.channels,
                (info.height, info.width),
                patch,
                dim=VIT_DIM,
                depth=VIT_DEPTH,
                heads=VIT_HEADS,
                mean=_stats(backbone, "mean", info.channels),
                std=_stats(backbone, "std", info.channels),
                cls_token=True,
            )
            local_size = vit_local_size(info.height, patch)
        super().__init__(backbone, hparams, info, "dino", local_size=local_size)
        out_dim = int(hparams["out_dim"])
        self.head = DINOHead(
            self.feature_dim,
            int(hparams["proj_hidden_dim"]),
            int(hparams["bottleneck_dim"]),
            out_dim,
            norm_last=bool(hparams["norm_last_layer"]),
            batch_norm=bool(hparams["head_batch_norm"]),
        )
        self.teacher_backbone = momentum_copy(self.backbone)
        self.teacher_head = momentum_copy(self.head)
        self.register_buffer("center", torch.zeros(1, out_dim))
        self.momentum = float(hparams["base_momentum"])

    def temperatures(self, ctx: StepContext) -> tuple[float, float]:
        """(student, teacher) temperatures at this step; the teacher's warms up linearly."""
        h = self.hparams
        warmup = round(float(h["teacher_temp_warmup"]) * ctx.total_steps)
        return float(h["student_temp"]), teacher_temperature(
            ctx.step, warmup, float(h["teacher_temp"]), float(h["teacher_temp_final"])
        )

    def training_step(self, images: torch.Tensor, ctx: StepContext) -> StepOutput:
        crops = self.make_crops(images, ctx.generator)
        frozen = ctx.step < round(float(self.hparams["freeze_last_layer"]) * ctx.total_steps)
        features = self.embed_crops(self.backbone, crops)
        student = self.head(torch.cat(features), freeze_last=frozen).chunk(len(crops))
        with torch.no_grad():
            teacher = self.teacher_head(self.teacher_backbone(torch.cat(crops[:2]))).chunk(2)
        student_temp, teacher_temp = self.temperatures(ctx)
        loss = dino_loss(list(student), list(teacher), self.center, student_temp, teacher_temp)
        # The loss is the teacher's entropy (which centring raises and sharpening lowers) plus how far the
        # student is from the teacher; the plots show both, since only the second is the student's to lower.
        entropy = teacher_entropy(teacher, self.center, teacher_temp)
        # Several processes: the centre is the global batch's mean (all-reduced), the same on every process.
        momentum = float(self.hparams["center_momentum"])
        self.center.copy_(updated_center(self.center, teacher, momentum, gather=ctx.gather))
        return StepOutput(loss, {"teacher_entropy": entropy, "kl": loss.detach() - entropy})

    @torch.no_grad()
    def after_optimizer_step(self, ctx: StepContext) -> None:
        self.momentum = cosine_momentum(self.hparams["base_momentum"], ctx.step, ctx.total_steps)
        ema_update(self.teacher_backbone, self.backbone, self.momentum)
        ema_update(self.teacher_head, self.head, self.momentum)

    def extra_preview(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        """With the ViT: the teacher's last-block attention of its class token over the patches, averaged
        over the heads, one map per image scaled to [0, 1] and enlarged to the image's size."""
        if not isinstance(self.teacher_backbone, ViTEncoder):
            return {}
        maps = self.teacher_backbone.attention_maps(images.float()).mean(dim=1, keepdim=True)
        low = maps.amin(dim=(2, 3), keepdim=True)
        high = maps.amax(dim=(2, 3), keepdim=True)
        maps = (maps - low) / (high - low).clamp_min(1e-12)
        return {"attention": F.interpolate(maps, size=images.shape[-2:], mode="nearest")}


SPEC = MethodSpec(
    name="dino",
    title="DINO",
    family="self-distillation",
    summary="A student network matches a slowly updated teacher's sharpened output on other crops.",
    description=(
        "DINO (self-distillation with no labels) trains a 'student' network to give the same answer as a "
        "'teacher' network, where the answer is a probability spread over many made-up categories. The "
        "teacher is not trained directly: its weights are a slowly moving average of the student's. The "
        "teacher only sees the large crops and the student must reproduce its answer from every other crop, "
        "small ones included. Two tricks keep the answers from becoming all the same: the teacher's outputs "
        "are centred (their running average is subtracted) and sharpened (a low temperature)."
        + MULTI_CROP_WORDS
        + " With the Vision Transformer encoder, the preview shows where the teacher looks in each image "
        "(its attention map), which in the paper outlines objects without ever being told what they are."
    ),
    paper="Caron et al., Emerging Properties in Self-Supervised Vision Transformers, ICCV 2021",
    params=params(
        Param(
            "encoder",
            "backbone",
            "The network DINO trains: the run's backbone, or a small Vision Transformer (6 blocks, 192 wide, "
            "with a class token) whose attention maps the preview shows. The ViT is slower on a CPU.",
            choices=("backbone", "vit"),
            choice_words=("The run's backbone", "Vision Transformer"),
            label="Encoder",
        ),
        n_local_param(8, 4),  # 4, not the paper's 8: half the cost of the small crops on a CPU
        local_size_param(),
        Param(
            "out_dim",
            1024,
            "Number of output dimensions (made-up categories) the teacher spreads its answer over "
            "(paper: 65536 for ImageNet; 1024 is plenty for small data sets and far cheaper).",
            low=16,
            high=65536,
            log_scale=True,
            label="Output dimensions",
        ),
        Param(
            "proj_hidden_dim",
            512,
            "Width of the head's two hidden layers (paper: 2048).",
            low=16,
            high=16384,
            label="Projection head width",
        ),
        Param(
            "bottleneck_dim",
            64,
            "Size of the head's L2-normalised bottleneck before the output layer (paper: 256).",
            low=8,
            high=4096,
            label="Bottleneck size",
        ),
        Param(
            "norm_last_layer",
            True,
            "Keep the rows of the head's output layer at unit length (paper: on; it steadies training). Off "
            "lets the outputs grow sharper, but in short runs on small images the teacher's answer then "
            "stays uniform: the loss sits at ln(output dimensions) and nothing is learned.",
            label="Normalise last layer",
        ),
        Param(
            "head_batch_norm",
            True,
            "BatchNorm in the head's hidden layers (DINO's use_bn_in_head, off in its code for ViTs and "
            "ResNet-50 alike). On here: without it, on digits the centred teacher turned uniform within 20 "
            "steps (the loss stuck at ln(output dimensions)) with the small CNN and with the ViT alike.",
            label="BatchNorm in head",
        ),
        Param(
            "student_temp",
            0.1,
            "Temperature of the student's softmax (paper: 0.1).",
            low=0.01,
            high=1.0,
            log_scale=True,
            label="Student temperature",
        ),
        Param(
            "teacher_temp",
            0.04,
            "Starting temperature of the teacher's softmax; lower is sharper (paper: 0.04).",
            low=0.01,
            high=1.0,
            log_scale=True,
            label="Teacher temperature (start)",
        ),
        Param(
            "teacher_temp_final",
            0.07,
            "Teacher temperature after the warm-up (paper: 0.07 for long runs; above ~0.08 training tends "
            "to collapse).",
            low=0.01,
            high=1.0,
            log_scale=True,
            label="Teacher temperature (end)",
        ),
        Param(
            "teacher_temp_warmup",
            0.3,
            "Fraction of training over which the teacher temperature rises linearly from its start to its "
            "end value (paper: 30 of 100-300 epochs).",
            low=0.0,
            high=1.0,
            label="Temperature warm-up",
        ),
        Param(
            "center_momentum",
            0.9,
            "Momentum of the running mean subtracted from the teacher's output (paper: 0.9).",
            low=0.0,
            high=0.999,
            label="Centre momentum",
        ),
        Param(
            "base_momentum",
            0.99,
            "Starting momentum of the teacher; it rises along a cosine to 1.0 by the end of training "
            "(paper: 0.996 for 100+ ImageNet epochs). Short runs need a teacher that keeps up: 0.99.",
            low=0.9,
            high=1.0,
            label="Teacher momentum",
        ),
        Param(
            "freeze_last_layer",
            0.02,
            "Fraction of training during which the head's last layer is not updated (paper: the first "
            "epoch of 100-800, which steadies the start; short runs here freeze 2%).",
            low=0.0,
            high=0.5,
            label="Freeze last layer",
        ),
    ),
    factory=DINO,
    setup_check=setup_check,
    # The paper: AdamW, lr 5e-4 per 256 images after 10 warm-up epochs, weight decay 0.04 rising to 0.4.
    # The weight-decay schedule is not modelled; 0.04 is its start, and short runs warm up for one epoch.
    optim=OptimDefaults(optimizer="adamw", lr=5e-4, weight_decay=0.04, warmup_epochs=1.0, batch_size=256),
    preview_kind="views",
    modalities=("image",),
)
DINO.spec = SPEC
