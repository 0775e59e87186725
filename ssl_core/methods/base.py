"""The contract every SSL method follows, and the metadata the registry keeps about it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from ssl_core.data.base import DataInfo
from ssl_core.methods.setup_check import (
    SetupCheck,
    SetupFacts,
    SetupProblem,
    data_as_trained,
    settings_with,
    value_problems,
)
from ssl_core.params import ParamSet


@dataclass
class StepOutput:
    """What a training step returns: the loss to minimise and its named parts (detached, for plots)."""

    loss: torch.Tensor
    parts: dict[str, torch.Tensor] = field(default_factory=dict)


@dataclass
class StepContext:
    """Per-step information a method may need."""

    step: int  # global step, 0-based, of the step being taken
    total_steps: int
    epoch: int
    generator: torch.Generator  # on the training device; all augmentation randomness comes from here
    # True when several processes train together (torch.distributed): losses gather over the global batch
    # (`gather=ctx.gather`), queues enqueue every process's keys, batch statistics are all-reduced.
    gather: bool = False

    @property
    def progress(self) -> float:
        return min(1.0, self.step / max(1, self.total_steps))


@dataclass
class Preview:
    """A typed payload the GUI can draw: named arrays of samples plus text captions.

    kind is what the preview shows: "views" (joint-embedding), "reconstruction" (generative),
    "prediction" (pretext tasks) or "forecast" (next-step prediction).
    payload is how to draw it, one GUI renderer per type (ssl_core.modalities.PreviewPayload):
    "image_grid" arrays are (n, C, H, W) float in [0, 1]; "signal" arrays are (n, C, T) float, with NaN
    where a curve has no value (e.g. before a forecast starts); "table_rows" arrays are (n, F) float in the
    table's own units (categorical columns as codes, NaN where a value is missing or hidden).
    meta is what the renderer needs besides the arrays, from the data's modality (`preview_meta`): for
    tables {"columns": [names], "kinds": [...], "categories": {name: [...]}}; {} for images and series.
    """

    kind: str
    images: dict[str, torch.Tensor]  # named arrays, one row per sample ("images" for historical reasons)
    captions: dict[str, list[str]] = field(default_factory=dict)
    payload: str = "image_grid"
    meta: dict = field(default_factory=dict)


# Preview.meta key: names of rows that are ordered strips (an interpolation from 0% to 100%); a view showing
# fewer columns than the row has keeps its ends and evenly spaced steps between them, not the first few.
STRIP_ROWS_KEY = "strip_rows"


@dataclass
class OptimizerPart:
    """One of several parts of a method trained by their own optimizer and schedule (a GAN's
    discriminator and generator): its parameters, and its learning rate as a multiple of the run's."""

    params: list[nn.Parameter]
    lr_scale: float = 1.0


@dataclass(frozen=True)
class OptimDefaults:
    optimizer: str = "adamw"  # "adamw" or "sgd"
    lr: float = 1e-3  # base learning rate for batch size 256; scaled linearly with batch size
    weight_decay: float = 1e-4
    warmup_epochs: float = 1.0
    batch_size: int = 256
    betas: tuple[float, float] = (0.9, 0.999)  # AdamW's moment decay rates (GANs use beta1 = 0.5)
    # "warmup_cosine": linear warm-up, then cosine decay to 1% (ssl_core.train.schedule); "constant": the
    # same warm-up, then the base rate to the end (GANs, whose two players must keep pace with each other).
    schedule: str = "warmup_cosine"


# Methods made for series train on small sets (BasicMotions: 80 series, GunPoint: 200): batches of 64 at an
# lr of 1e-3 (4e-3 per 256, scaled by the batch size).
SMALL_SERIES_OPTIM = OptimDefaults(
    optimizer="adamw", lr=4e-3, weight_decay=1e-4, warmup_epochs=2.0, batch_size=64
)


@dataclass(frozen=True)
class MethodSpec:
    """Registry entry: everything the CLI and GUI need to list, describe and configure a method."""

    name: str
    title: str
    family: str  # "contrastive", "self-distillation", "redundancy reduction", "generative", "pretext"
    summary: str  # one line
    description: str  # a plain-language paragraph for newcomers
    params: ParamSet
    factory: Callable[..., SSLMethod]
    optim: OptimDefaults = OptimDefaults()
    preview_kind: str = "views"
    requires_color: bool = False
    paper: str = ""
    # The kinds of data the method runs on (keys of ssl_core.modalities.MODALITIES).
    modalities: tuple[str, ...] = ("image",)
    # modality -> the backbone that `method.backbone = "auto"` picks for this method (else the modality's).
    preferred_backbone: dict[str, str] = field(default_factory=dict)
    # Backbones the method cannot use, with the reason shown in the CLI and the GUI.
    backbone_requirement: Callable[[Any], str | None] | None = None
    # The rules that tie settings to each other and to the data (ssl_core.methods.setup_check); the
    # constructor raises what it finds, Setup shows it beside the field before Start.
    setup_check: SetupCheck | None = None

    def setup_problems(
        self, overrides: dict[str, Any] | None, info: DataInfo | None = None, image_size: int | None = None
    ) -> list[SetupProblem]:
        """What would stop a run with these settings, in words, each tied to its field; [] when none.

        Cheap (nothing is built): values out of range, then the method's own rules on the data as the run
        sees it (`image_size`: the run's data.image_size). Without data only single values are checked."""
        overrides = dict(overrides or {})
        problems = value_problems(self.params, overrides)
        if info is None or self.setup_check is None or self.unavailable_reason(info):
            return problems
        flagged = {p.field for p in problems}
        found = self.setup_check(
            settings_with(self.params, overrides), SetupFacts(data_as_trained(info, image_size))
        )
        return problems + [p for p in found if p.field not in flagged]

    def backbone_for(self, info: DataInfo, requested: str = "auto") -> str:
        """The backbone name a run uses: `requested`, or for "auto" this method's or the data's default."""
        from ssl_core.modalities import modality_of

        if str(requested).lower() != "auto":
            return str(requested).lower()
        return self.preferred_backbone.get(info.modality) or modality_of(info).default_backbone

    def backbone_reason(self, backbone_name: str, info: DataInfo | None = None) -> str | None:
        """Why `backbone_name` cannot serve this method on this data, or None when it can."""
        from ssl_core.models.backbones import BACKBONES

        if backbone_name not in BACKBONES:
            return None  # the registry lookup reports unknown names with the list of known ones
        bspec = BACKBONES.get(backbone_name)
        if info is not None and info.modality not in bspec.modalities:
            from ssl_core.modalities import modality_of

            options = ", ".join(modality_of(info).backbones())
            return (
                f"The {bspec.title} backbone works on {' or '.join(bspec.modalities)} data, but {info.name} is "
                f"{info.modality} data; use one of: {options} (or auto)."
            )
        if self.backbone_requirement is not None:
            return self.backbone_requirement(bspec)
        return None

    def unavailable_reason(self, info: DataInfo | None) -> str | None:
        """Why this method cannot run on the given data, or None when it can."""
        if info is not None and info.modality not in self.modalities:
            kinds = " or ".join(self.modalities)
            return (
                f"{self.title} works on {kinds} data, but {info.name} is {info.modality} data; "
                "choose another method."
            )
        if info is not None and self.requires_color and info.channels < 3:
            return (
                f"{self.title} needs colour images, but {info.name} has {info.channels} channel(s); "
                "choose colour data or another method."
            )
        return None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "title": self.title,
            "family": self.family,
            "summary": self.summary,
            "description": self.description,
            "params": [p.to_dict() for p in self.params],
            "optim": self.optim.__dict__,
            "preview_kind": self.preview_kind,
            "requires_color": self.requires_color,
            "paper": self.paper,
            "modalities": list(self.modalities),
            "preferred_backbone": dict(self.preferred_backbone),
        }


class SSLMethod(nn.Module):
    """Backbone + heads + loss. Subclasses implement `training_step`.

    Input arrives as float tensors from `prepare` (images (B, C, H, W) in [0, 1]; series (B, C, T)
    standardised per channel), on the training device; the method makes its own views or corruptions
    from them using `ctx.generator`, asking the data's modality (`self.modality`) for them.
    Method state that must survive a resume (queues, momentum encoders) lives in buffers and
    submodules so that `state_dict()` carries it.
    """

    spec: MethodSpec

    def __init__(self, backbone: nn.Module, hparams: dict[str, Any], info: DataInfo):
        super().__init__()
        from ssl_core.modalities import modality_of

        self.backbone = backbone
        self.hparams = dict(hparams)
        self.info = info
        self.modality = modality_of(info)
        # Stored batch -> float model input (uint8 -> [0, 1] for images, standardisation for series);
        # set by build_method. A submodule, so the statistics it holds are saved in checkpoints.
        self.input_adapter: nn.Module | None = None
        # Advice about this method on this data (e.g. a queue larger than the dataset); shown by the
        # trainer as warnings in the CLI and the GUI's log.
        self.setup_warnings: list[str] = []

    @property
    def feature_dim(self) -> int:
        return int(self.backbone.feature_dim)

    def prepare(self, batch: torch.Tensor) -> torch.Tensor:
        """A batch as the data source stores it -> the float input `training_step`/`encode` expect."""
        if self.input_adapter is not None:
            return self.input_adapter(batch)
        return batch.float().div(255.0) if not batch.is_floating_point() else batch

    def make_preview(self, kind: str, arrays: dict[str, torch.Tensor], **captions: list[str]) -> Preview:
        """A Preview of this method's data in its modality's payload type, with the modality's meta."""
        return Preview(
            kind,
            arrays,
            dict(captions),
            payload=self.modality.preview_payload,
            meta=self.modality.preview_meta(self.info),
        )

    def training_step(self, images: torch.Tensor, ctx: StepContext) -> StepOutput:
        """The loss of one step on `images`. Methods with `optimizer_parts` also take `part` (a name of
        theirs) and return the loss of that part's update."""
        raise NotImplementedError

    def optimizer_parts(self) -> dict[str, OptimizerPart]:
        """Named parts of the method, each trained by its own optimizer and learning-rate schedule; {}
        (the default) trains every parameter with one optimizer.

        With parts, every step updates them in turn, in this order: the trainer calls
        `training_step(images, ctx, part=name)` for each and steps that part's optimizer on the loss it
        returns, while the other parts' parameters stay frozen (a GAN's discriminator, then its generator).
        Every trainable parameter must belong to exactly one part. The step's loss is the sum of the
        parts' losses; each part's loss is recorded under its name, so the plots show them apart."""
        return {}

    def after_optimizer_step(self, ctx: StepContext) -> None:
        """Hook for momentum-encoder updates and similar; runs after each optimizer step."""

    @torch.no_grad()
    def preview(self, images: torch.Tensor, generator: torch.Generator) -> Preview:
        raise NotImplementedError

    def encode(self, images: torch.Tensor) -> torch.Tensor:
        """Representation used for evaluation: backbone features."""
        return self.backbone(images)
