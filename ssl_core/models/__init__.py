"""Backbones (registry + normalising Encoder) and MLP heads."""

from ssl_core.models.backbones import BACKBONES, BackboneSpec, Encoder, build_backbone
from ssl_core.models.heads import mlp

__all__ = ["BACKBONES", "BackboneSpec", "Encoder", "build_backbone", "mlp"]
