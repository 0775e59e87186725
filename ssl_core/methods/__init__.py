"""The method registry. Every module in this package that defines `SPEC` (a MethodSpec) is registered.

Adding a method means adding one module (plus its test); nothing else changes.
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import Any

from ssl_core.data.base import DataInfo
from ssl_core.methods.base import MethodSpec, Preview, SSLMethod, StepContext, StepOutput
from ssl_core.registry import Registry

METHODS: Registry[MethodSpec] = Registry("method")

FAMILY_ORDER = [
    "contrastive",
    "self-distillation",
    "redundancy reduction",
    "generative",
    "predictive",
    "pretext",
]
_NOT_METHODS = {"base"}


def _discover() -> None:
    found = []
    for info in pkgutil.iter_modules(__path__):
        if info.name in _NOT_METHODS or info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        spec = getattr(module, "SPEC", None)
        if isinstance(spec, MethodSpec):
            found.append(spec)
    rank = {f: i for i, f in enumerate(FAMILY_ORDER)}
    for spec in sorted(found, key=lambda s: (rank.get(s.family, len(rank)), s.name)):
        METHODS.register(spec.name, spec)


def build_method(
    name: str, backbone, overrides: dict[str, Any] | None, info: DataInfo, input_adapter=None
) -> SSLMethod:
    """Create a method around a backbone, with its hyperparameters checked against the registry.

    `input_adapter` (from the data's modality) turns stored batches into model input; see SSLMethod.prepare.
    """
    spec = METHODS.get(name)
    reason = spec.unavailable_reason(info)
    if reason:
        from ssl_core.errors import UserError

        raise UserError(reason, field="method.name")
    hparams = spec.params.resolve(overrides, owner=f"method.params({spec.name})")
    method = spec.factory(backbone=backbone, hparams=hparams, info=info)
    if input_adapter is not None:
        method.input_adapter = input_adapter
    return method


_discover()

__all__ = ["METHODS", "MethodSpec", "Preview", "SSLMethod", "StepContext", "StepOutput", "build_method"]
