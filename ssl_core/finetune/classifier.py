"""The network a fine-tune trains: the run's input adapter and backbone (optionally followed by the first
layers of the method's projection head, the "neck") with a new linear head.

`Classifier.forward` takes samples as the data source stores them (uint8 images, standardised-ready
series, token ids) and returns class logits, so an exported classifier needs nothing else of the
project to run. Training works on model input (`logits`), after the views have been applied.
"""

from __future__ import annotations

import copy

import torch
from torch import nn


class Classifier(nn.Module):
    def __init__(
        self,
        backbone: nn.Module,
        feature_dim: int,
        num_classes: int,
        adapter: nn.Module | None,
        neck: nn.Module | None = None,
    ):
        """feature_dim: the width of what the head sees (the neck's output when there is a neck)."""
        super().__init__()
        self.input_adapter = adapter if adapter is not None else nn.Identity()
        self.backbone = backbone
        # The projection head's first block(s) (`projector_trunk`), fine-tuned with the backbone, or nothing.
        self.neck = neck if neck is not None else nn.Identity()
        # Features are standardised before the head with statistics fixed at the start (`start_from_probe`),
        # as the linear probe standardises them: the head then starts from the probe's solution.
        self.register_buffer("feature_mean", torch.zeros(int(feature_dim)))
        self.register_buffer("feature_std", torch.ones(int(feature_dim)))
        self.head = nn.Linear(int(feature_dim), int(num_classes))

    @property
    def num_classes(self) -> int:
        return int(self.head.out_features)

    def prepare(self, batch: torch.Tensor) -> torch.Tensor:
        """Stored samples -> model input (what views act on and `logits` takes)."""
        return self.input_adapter(batch)

    @property
    def neck_layers(self) -> int:
        """How many Linear layers of the method's projection head the network keeps (0: none)."""
        return sum(isinstance(m, nn.Linear) for m in self.neck.modules())

    def raw_features(self, x: torch.Tensor) -> torch.Tensor:
        """What the head reads, before standardisation: backbone features, through the neck if any."""
        return self.neck(self.backbone(x))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Standardised features of model input."""
        return (self.raw_features(x) - self.feature_mean) / self.feature_std

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))

    @torch.no_grad()
    def start_from_probe(self, feats: torch.Tensor, targets: torch.Tensor, cancel=None) -> None:
        """LP-FT (Kumar et al., ICLR 2022): standardise with the labelled samples' features and set the head
        to the linear probe's solution on them, so fine-tuning starts where the probe ends instead of
        letting a random head's gradients wreck pretrained features. `feats`: `raw_features`."""
        from ssl_core.eval.probe import DEFAULT_C, DEFAULT_MAX_ITER, fit_softmax_regression

        feats = feats.float()
        mean, std = feats.mean(0), feats.std(0, unbiased=False)
        std = torch.where(std < 1e-8, torch.ones_like(std), std)
        self.feature_mean.copy_(mean)
        self.feature_std.copy_(std)
        x = ((feats - mean) / std).cpu().numpy()
        y = targets.cpu().numpy()
        if len(set(y.tolist())) < 2:
            return  # one class: nothing to separate; the head keeps its initialisation
        with torch.enable_grad():
            weight, bias, _ = fit_softmax_regression(
                x, y, self.num_classes, DEFAULT_C, DEFAULT_MAX_ITER, torch.device("cpu"), cancel
            )
        self.head.weight.copy_(weight.T.to(self.head.weight))
        self.head.bias.copy_(bias.to(self.head.bias))

    def forward(self, batch: torch.Tensor) -> torch.Tensor:
        return self.logits(self.prepare(batch))

    def parameter_groups(self, lr: float, backbone_lr_ratio: float) -> list[dict]:
        """AdamW groups: the head at `lr`, the backbone (and anything learnable in the adapter) slower.
        A ratio of 0 freezes the backbone (its parameters are left out)."""
        head = list(self.head.parameters())
        rest = [p for n, p in self.named_parameters() if not n.startswith("head.") and p.requires_grad]
        groups = [{"params": head, "lr": lr, "name": "head"}]
        if backbone_lr_ratio > 0 and rest:
            groups.append({"params": rest, "lr": lr * backbone_lr_ratio, "name": "backbone"})
        return groups


def projector_trunk(method: nn.Module, layers: int) -> tuple[nn.Sequential, int] | None:
    """Deep copies of the first `layers` blocks (Linear[-BatchNorm]-activation) of the method's projection
    head and their output width, or None when the method has no such head (an `nn.Sequential` named
    `projector` with a nonlinearity after its first `layers` Linear layers) or `layers` is 0.

    SimCLRv2 (Chen et al., NeurIPS 2020, "Big Self-Supervised Models are Strong Semi-Supervised Learners",
    section 2) fine-tunes from the middle of the projection head rather than from the backbone's output, and
    found it matters most with 1% of the labels."""
    projector = getattr(method, "projector", None)
    if layers <= 0 or not isinstance(projector, nn.Sequential):
        return None
    kept: list[nn.Module] = []
    seen, width = 0, None
    for module in projector:
        if seen == layers and not isinstance(module, _NORMS):
            if not isinstance(module, _ACTIVATIONS):
                return None  # the block does not end with a nonlinearity: not a Linear-[Norm]-activation head
            kept.append(module)
            return nn.Sequential(*copy.deepcopy(kept)), int(width)
        if isinstance(module, nn.Linear):
            seen += 1
            width = module.out_features
        elif not isinstance(module, _NORMS + _ACTIVATIONS):
            return None  # something else (dropout, a custom layer): leave such a head alone
        kept.append(module)
    return None  # the head is shorter than `layers` blocks (its last Linear is the projection itself)


_NORMS = (nn.modules.batchnorm._BatchNorm, nn.LayerNorm)
_ACTIVATIONS = (nn.ReLU, nn.GELU, nn.SiLU, nn.LeakyReLU, nn.ELU, nn.Tanh)


def classifier_from_method(
    method: nn.Module, num_classes: int, seed: int, projector_layers: int = 0
) -> Classifier:
    """A Classifier around a deep copy of an SSL method's backbone and input adapter (and the first
    `projector_layers` blocks of its projection head where it has one: `projector_trunk`); the head is drawn
    from `seed` (small uniform weights as nn.Linear draws them, zero bias) without touching global RNG."""
    backbone = copy.deepcopy(method.backbone)
    adapter = copy.deepcopy(getattr(method, "input_adapter", None))
    trunk = projector_trunk(method, projector_layers)
    neck, width = trunk if trunk is not None else (None, int(method.feature_dim))
    model = Classifier(backbone, width, num_classes, adapter, neck)
    g = torch.Generator().manual_seed(int(seed))
    bound = 1.0 / max(1, model.head.in_features) ** 0.5
    with torch.no_grad():
        model.head.weight.copy_(torch.rand(model.head.weight.shape, generator=g) * 2 * bound - bound)
        model.head.bias.zero_()
    return model
