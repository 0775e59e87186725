"""Progress reports and cancellation for long jobs: opening data, evaluation, embedding, projection.

One callback type for all of them: `progress(fraction, message)` with `fraction` in [0, 1] and a short
message for a person ("Scanning 120/4000", "Linear probe on pretrained features"). Counted work reports
through `report_count`, stages through `report`, and a sub-job maps its own 0..1 onto part of its
parent's range with `sub_progress`. No threads are started here: callbacks run on the job's thread.

A `cancel` object is anything with `is_set() -> bool` (a `threading.Event`, or `RunControl`-like
adapters); long jobs poll it between stages and inside their loops and raise `Cancelled`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

ProgressFn = Callable[[float, str], None]


class CancelToken(Protocol):
    def is_set(self) -> bool: ...


class Cancelled(Exception):
    """Raised when a caller's cancel event was set; the job left nothing half-written behind."""


def check_cancel(cancel: CancelToken | None) -> None:
    if cancel is not None and cancel.is_set():
        raise Cancelled("cancelled")


def _clamp(fraction: float) -> float:
    return min(1.0, max(0.0, float(fraction)))


def report(progress: ProgressFn | None, fraction: float, message: str) -> None:
    if progress is not None:
        progress(_clamp(fraction), message)


def report_count(progress: ProgressFn | None, phase: str, done: int, total: int) -> None:
    """`done` of `total` items of a phase ("scanning", "decoding", ...): "Scanning 5/10" at 0.5."""
    report(progress, done / max(1, total), f"{phase.capitalize()} {done}/{total}")


def sub_progress(progress: ProgressFn | None, start: float, end: float) -> ProgressFn | None:
    """A callback that maps a sub-job's 0..1 onto start..end of the parent's progress."""
    if progress is None:
        return None

    def inner(fraction: float, message: str) -> None:
        progress(start + (end - start) * _clamp(fraction), message)

    return inner


def stage_progress(progress: ProgressFn | None, start: float, end: float, stage: str) -> ProgressFn | None:
    """A sub-range of `progress` whose messages name their stage ("Step 2 of 3, ...: embedding 1,664 of ...").

    A stage's counts are its own while the fraction is the whole job's; `progress_words` says so."""
    sub = sub_progress(progress, start, end)
    if sub is None:
        return None
    return lambda fraction, message: sub(fraction, f"{stage}: {message}" if message else stage)


def progress_words(message: str, fraction: float) -> str:
    """A progress line whose percentage cannot be misread as the stage's count: a staged message
    ("Step 1 of 2, ...: embedding 1,664 of 1,797 images") gets "28% of the whole job"."""
    percent = f"{_clamp(fraction) * 100:.0f}%"
    if message.startswith("Step "):
        return f"{message}  ·  {percent} of the whole job"
    return f"{message}  {percent}" if message else percent
