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


def format_seconds(seconds: float) -> str:
    """A time limit in words: "45 s", "1 min", "2 min 30 s"."""
    minutes, rest = divmod(int(round(seconds)), 60)
    if not minutes:
        return f"{rest} s"
    return f"{minutes} min" + (f" {rest} s" if rest else "")


__all__ = ["format_seconds", "spoken_list"]
