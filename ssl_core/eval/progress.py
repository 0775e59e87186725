"""Progress reports and cancellation for long evaluation jobs (no threads are started here).

A `progress` callback takes `(fraction in [0, 1], message)`. A `cancel` object is anything with
`is_set() -> bool` (a `threading.Event`, or `RunControl`-like adapters); long jobs poll it between
stages and inside their loops and raise `Cancelled`.
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


def report(progress: ProgressFn | None, fraction: float, message: str) -> None:
    if progress is not None:
        progress(min(1.0, max(0.0, float(fraction))), message)


def sub_progress(progress: ProgressFn | None, start: float, end: float) -> ProgressFn | None:
    """A callback that maps a sub-job's 0..1 onto start..end of the parent's progress."""
    if progress is None:
        return None

    def inner(fraction: float, message: str) -> None:
        progress(start + (end - start) * min(1.0, max(0.0, fraction)), message)

    return inner
