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


def format_seconds(seconds: float | None) -> str:
    """A duration in words: "4.2 s", "45 s", "1 min", "3 min 5 s", "1 h 12 min"; "unknown" for None."""
    if seconds is None:
        return "unknown"
    seconds = max(0.0, float(seconds))
    if seconds < 60:
        return f"{seconds:.1f} s" if seconds < 10 else f"{seconds:.0f} s"
    minutes, rest = divmod(int(round(seconds)), 60)
    if minutes < 60:
        return f"{minutes} min" + (f" {rest} s" if rest else "")
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h" + (f" {minutes} min" if minutes else "")


__all__ = ["format_seconds", "spoken_list"]
