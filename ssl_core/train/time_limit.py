"""`train.time_limit_s`: a run that ends, as completed, after so many seconds of training, so a demo or a race
takes the same minute on any machine and a faster one simply does more steps in it."""

from __future__ import annotations

import time


class TimeLimit:
    """Counts from its creation (the loop's start, after the data and model are ready). 0: no limit."""

    def __init__(self, seconds: float, clock=time.monotonic):
        self.seconds = float(seconds or 0.0)
        self.clock = clock
        self.start = clock()

    def reached(self) -> bool:
        return self.seconds > 0 and self.clock() - self.start >= self.seconds

    def remaining(self) -> float | None:
        """Seconds left before the limit ends the run; None without a limit."""
        return max(0.0, self.seconds - (self.clock() - self.start)) if self.seconds > 0 else None

    def fraction(self) -> float | None:
        """The share of the limit used so far, 0..1; None without a limit."""
        return min(1.0, (self.clock() - self.start) / self.seconds) if self.seconds > 0 else None

    def note(self, step: int, total_steps: int) -> str:
        """Why the run ended early, in words, for the log and the run's summary."""
        return (
            f"Reached the time limit of {self.seconds:g} s after {step:,} of {total_steps:,} planned steps; "
            "the run is complete and can be evaluated."
        )
