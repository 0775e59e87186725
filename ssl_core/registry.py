"""A tiny name -> entry registry, used for methods, backbones and data sources."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

from ssl_core.errors import UserError
from ssl_core.wording import spoken_list

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
            raise UserError(
                f"Unknown {self.kind} {name!r}{self.did_you_mean(name)}; choose one of: {known}.",
                field=self.kind,
            )
        return self._entries[key]

    def suggestions(self, name: str, n: int = 3) -> list[str]:
        """Registered names close to a mistyped one ("simclr" for "simclear"), closest first."""
        key = str(name).lower()
        close = difflib.get_close_matches(key, list(self._entries), n=n, cutoff=0.6)
        return close or [k for k in self._entries if key and (k.startswith(key) or key.startswith(k))][:n]

    def did_you_mean(self, name: str) -> str:
        """ " (did you mean 'simclr'?)" for a typo, "" when nothing registered is close."""
        close = self.suggestions(name)
        if not close:
            return ""
        return f" (did you mean {spoken_list(repr(c) for c in close)}?)"

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._entries

    def names(self) -> list[str]:
        return list(self._entries)

    def items(self) -> Iterator[tuple[str, T]]:
        return iter(self._entries.items())

    def __len__(self) -> int:
        return len(self._entries)
