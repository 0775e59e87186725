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
    label: str = ""  # the form's label in plain words; default: the name, capitalised
    # A plain word for each choice ("Mean squared error" for "mse"); forms show it, configs keep the token.
    choice_words: tuple[str, ...] = ()
    # What 0 means for an int setting where 0 is not a size but "choose for me" ("Automatic").
    zero_label: str = ""

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

    def choice_word(self, choice: Any) -> str:
        """The plain word for one choice (the token itself where none is given)."""
        words = dict(zip(self.choices, self.choice_words, strict=False))
        return words.get(choice) or str(choice)

    def choice_text(self, choice: Any) -> str:
        """A choice as a person reads it, with the config's token after it: "Mean squared error (mse)"."""
        word = self.choice_word(choice)
        return word if word == str(choice) else f"{word} ({choice})"

    def value_words(self, value: Any) -> str:
        """A value as a form shows it: the plain word of a choice, the zero label at 0."""
        if self.kind == "choice":
            return self.choice_word(value)
        if self.zero_label and self.kind == "int" and value == 0:
            return self.zero_label
        return f"{value:.6g}" if isinstance(value, float) else str(value)

    def problem(self, value: Any) -> str | None:
        """What is wrong with one value, in words for the form beside it (None when it is fine)."""
        try:
            value = self.coerce(value)
        except UserError:
            kind = self.kind
            if kind == "choice":
                return "Choose one of: " + ", ".join(self.choice_word(c) for c in self.choices) + "."
            if kind in ("int", "float") and (self.low is not None or self.high is not None):
                noun = "a whole number" if kind == "int" else "a number"
                return f"{self.title} must be {noun} from {_num(self.low)} to {_num(self.high)}."
            return f"{self.title} must be {'a whole number' if kind == 'int' else 'a ' + kind + ' value'}."
        return None

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
            "choice_words": list(self.choice_words),
            "zero_label": self.zero_label,
        }


def _num(value: float | None) -> str:
    if value is None:
        return "any"
    return f"{value:g}" if isinstance(value, float) else str(value)


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
