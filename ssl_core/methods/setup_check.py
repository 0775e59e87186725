"""Setup checks: a method's rules that tie several settings together (image size and patch size, series
length and prediction horizon), as problems in words tied to the field they concern.

A method registers one check function (`MethodSpec.setup_check`); its constructor raises the first problem
the same function finds with the facts of the built network (`raise_first`), and Setup shows every problem
beside its field as the person types (`MethodSpec.setup_problems`), before anything is built. One rule,
two callers, so the form and the run never disagree.

    problems = METHODS.get("mae").setup_problems({"patch_size": 3}, info, image_size=8)
    problems[0].field, problems[0].words  # "patch_size", "The image size 8 is not a multiple of ..."

Checks build no tensors: they read the data's description and the settings only.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ssl_core.data.base import DataInfo
from ssl_core.errors import UserError
from ssl_core.params import ParamSet
from ssl_core.wording import spoken_list


@dataclass(frozen=True)
class SetupProblem:
    """One problem: `field` is a setting of the method ("patch_size") or a config key ("data.image_size");
    `words` is what a person reads beside it; `detail`, where given, is the message for config files and the
    CLI, naming config keys (else the words and the key)."""

    field: str
    words: str
    detail: str = ""

    def key(self, method: str) -> str:
        """The config key of the field: method.params(mae).patch_size, data.image_size."""
        return self.field if "." in self.field else f"method.params({method}).{self.field}"

    def error(self, method: str) -> UserError:
        key = self.key(method)
        return UserError(self.detail or f"{self.words} (setting {key})", field=key)


@dataclass(frozen=True)
class SetupFacts:
    """What a check knows: the data as the run sees it, and what the backbone offers where it is built.

    Before the backbone exists (Setup), `downsample` and `sequence_latents` are None and the checks assume
    what every backbone of the data's kind does: one latent per step, and per-step latents for series."""

    info: DataInfo
    downsample: int | None = None  # input steps per latent step of the backbone's sequence
    sequence_latents: bool | None = None  # whether the backbone gives one latent per (pooled) step

    @classmethod
    def of_backbone(cls, info: DataInfo, backbone: Any) -> SetupFacts:
        """The facts of a built backbone (what the constructors check against)."""
        return cls(
            info,
            downsample=int(getattr(backbone, "downsample", 1) or 1),
            sequence_latents=bool(getattr(backbone, "sequence_dim", None)),
        )

    @property
    def stride(self) -> int:
        return self.downsample or 1

    @property
    def has_sequence_latents(self) -> bool:
        if self.sequence_latents is not None:
            return self.sequence_latents
        return self.info.modality == "series"


SetupCheck = Callable[[Mapping[str, Any], SetupFacts], list[SetupProblem]]


def data_as_trained(info: DataInfo, image_size: int | None) -> DataInfo:
    """The data as a run with `data.image_size` sees it: images resized to a square of that side."""
    if not image_size or info.modality != "image":
        return info
    side = int(image_size)
    return dataclasses.replace(info, height=side, width=side, sample_shape=(info.channels, side, side))


def raise_first(problems: Iterable[SetupProblem], method: str) -> None:
    """Raise the first problem as a UserError naming its config key (what constructors do)."""
    for problem in problems:
        raise problem.error(method)


def value_problems(param_set: ParamSet, overrides: Mapping[str, Any]) -> list[SetupProblem]:
    """Problems of single values (out of range, not a number), in words; unknown names are skipped."""
    by_name = {p.name: p for p in param_set}
    problems = []
    for name, value in overrides.items():
        param = by_name.get(name)
        words = param.problem(value) if param is not None else None
        if words:
            problems.append(SetupProblem(name, words))
    return problems


def settings_with(param_set: ParamSet, overrides: Mapping[str, Any]) -> dict[str, Any]:
    """Every setting's value: the defaults, with the overrides that are valid on their own."""
    values = param_set.defaults()
    by_name = {p.name: p for p in param_set}
    for name, value in overrides.items():
        if name in by_name and by_name[name].problem(value) is None:
            values[name] = by_name[name].coerce(value)
    return values


__all__ = [
    "SetupCheck",
    "SetupFacts",
    "SetupProblem",
    "data_as_trained",
    "raise_first",
    "settings_with",
    "spoken_list",
    "value_problems",
]
