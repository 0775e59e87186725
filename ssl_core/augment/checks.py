"""Value checks shared by the augmentation recipes (user errors naming `augment.<field>`) and the
corruption functions (programming errors)."""

from __future__ import annotations

import math

from ssl_core.errors import UserError


def check_number(name: str, value: float, low: float, high: float) -> None:
    if not isinstance(value, int | float) or isinstance(value, bool) or math.isnan(value):
        raise UserError(f"augment.{name} must be a number; got {value!r}.", field=f"augment.{name}")
    if not low <= value <= high:
        raise UserError(
            f"augment.{name} = {value} is out of range; use a value from {low} to {high}.",
            field=f"augment.{name}",
        )


def check_int(name: str, value: int, low: int, high: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool):
        raise UserError(f"augment.{name} must be a whole number; got {value!r}.", field=f"augment.{name}")
    check_number(name, value, low, high)


def check_choice(name: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise UserError(
            f"augment.{name} = {value!r} is not known; choose one of: {', '.join(choices)}.",
            field=f"augment.{name}",
        )


def check_range(name: str, value: tuple[float, float], low: float, high: float) -> None:
    if not (isinstance(value, tuple) and len(value) == 2):
        raise UserError(f"augment.{name} must be a pair (low, high); got {value!r}.", field=f"augment.{name}")
    for v in value:
        check_number(name, v, low, high)
    if value[0] > value[1]:
        raise UserError(
            f"augment.{name} = {value}: the first value must not exceed the second; swap them.",
            field=f"augment.{name}",
        )


def check_fraction(name: str, value: float) -> None:
    """A corruption's share (a programming error when out of range: recipes and params check users' values)."""
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must be in [0, 1]; got {value}")
