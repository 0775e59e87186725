"""Small pieces of plain English shared by messages across the engine."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


def spoken_list(items: Iterable[Any], last: str = "or") -> str:
    """Items as a person lists them: "2, 4 or 8", "GRU and LSTM"; "" for none."""
    words = [str(i) for i in items]
    if len(words) <= 1:
        return "".join(words)
    return f"{', '.join(words[:-1])} {last} {words[-1]}"


__all__ = ["spoken_list"]
