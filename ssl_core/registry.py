"""A tiny name -> entry registry, used for methods, backbones and data sources."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

from ssl_core.errors import UserError

T = TypeVar("T")


class Registry(Generic[T]):
    def __init__(self, kind: str):
        self.kind = kind
        self._entries: dict[str, T] = {}

    def register(self, name: str, entry: T) -> T:
        key = name.lower()
        if key in self._entries:
            raise ValueError(f"{self.kind} {name!r} is registered twice")
        self._entries[key] = entry
        return entry

    def decorator(self, name: str) -> Callable[[T], T]:
        def wrap(entry: T) -> T:
            return self.register(name, entry)

        return wrap

    def get(self, name: str) -> T:
        key = str(name).lower()
        if key not in self._entries:
            known = ", ".join(self._entries)
            raise UserError(f"Unknown {self.kind} {name!r}; choose one of: {known}.", field=self.kind)
        return self._entries[key]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._entries

    def names(self) -> list[str]:
        return list(self._entries)

    def items(self) -> Iterator[tuple[str, T]]:
        return iter(self._entries.items())

    def __len__(self) -> int:
        return len(self._entries)
