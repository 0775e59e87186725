"""Hyperparameter descriptions: default, range and help text, so forms can be built from them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ssl_core.errors import UserError


@dataclass(frozen=True)
class Param:
    """One tunable value of a method (or backbone), with what a form needs to show it."""

    name: str
    default: Any
    help: str
    low: float | None = None
    high: float | None = None
    choices: tuple[Any, ...] = ()
    log_scale: bool = False
    label: str = ""

    @property
    def kind(self) -> str:
        if self.choices:
            return "choice"
        if isinstance(self.default, bool):
            return "bool"
        if isinstance(self.default, int):
            return "int"
        if isinstance(self.default, float):
            return "float"
        return "str"

    @property
    def title(self) -> str:
        return self.label or self.name.replace("_", " ").capitalize()

    def coerce(self, value: Any, owner: str = "") -> Any:
        """Convert and check one value; raise UserError naming the field and its range."""
        where = f"{owner}.{self.name}" if owner else self.name
        kind = self.kind
        try:
            if kind == "bool":
                if isinstance(value, str):
                    low = value.strip().lower()
                    if low not in ("true", "false", "1", "0", "yes", "no"):
                        raise ValueError(value)
                    value = low in ("true", "1", "yes")
                else:
                    value = bool(value)
            elif kind == "int":
                if isinstance(value, float) and not value.is_integer():
                    raise ValueError(value)
                if isinstance(value, bool):
                    raise ValueError(value)
                value = int(value)
            elif kind == "float":
                if isinstance(value, bool):
                    raise ValueError(value)
                value = float(value)
            elif kind == "choice":
                matches = [c for c in self.choices if str(c) == str(value)]
                if not matches:
                    raise UserError(
                        f"{where} must be one of {', '.join(map(str, self.choices))}; got {value!r}.",
                        field=where,
                    )
                value = matches[0]
            else:
                value = str(value)
        except (TypeError, ValueError):
            raise UserError(f"{where} must be a {kind} value; got {value!r}.", field=where) from None
        if kind in ("int", "float"):
            if value != value:  # NaN
                raise UserError(f"{where} must be a number; got NaN.", field=where)
            if (self.low is not None and value < self.low) or (self.high is not None and value > self.high):
                raise UserError(
                    f"{where} = {value} is out of range; use a value from {self.low} to {self.high}.",
                    field=where,
                )
        return value

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "title": self.title,
            "kind": self.kind,
            "default": self.default,
            "low": self.low,
            "high": self.high,
            "choices": list(self.choices),
            "log_scale": self.log_scale,
            "help": self.help,
        }


@dataclass(frozen=True)
class ParamSet:
    """An ordered collection of Params that resolves user overrides into a complete, checked dict."""

    params: tuple[Param, ...] = field(default_factory=tuple)

    def __iter__(self):
        return iter(self.params)

    def names(self) -> list[str]:
        return [p.name for p in self.params]

    def defaults(self) -> dict[str, Any]:
        return {p.name: p.default for p in self.params}

    def resolve(self, overrides: Mapping[str, Any] | None, owner: str = "") -> dict[str, Any]:
        overrides = dict(overrides or {})
        by_name = {p.name: p for p in self.params}
        unknown = sorted(set(overrides) - set(by_name))
        if unknown:
            known = ", ".join(by_name) or "(none)"
            where = f"{owner}." if owner else ""
            raise UserError(
                f"Unknown setting {where}{unknown[0]}; known settings are: {known}.",
                field=f"{where}{unknown[0]}",
            )
        return {
            name: (p.coerce(overrides[name], owner) if name in overrides else p.default)
            for name, p in by_name.items()
        }


def params(*items: Param) -> ParamSet:
    return ParamSet(tuple(items))


def as_param_set(items: Sequence[Param] | ParamSet) -> ParamSet:
    return items if isinstance(items, ParamSet) else ParamSet(tuple(items))
