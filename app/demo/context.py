"""What a story in progress knows: the window it drives, the story, and what its moves have done so far
(the data it asked for, the run it started), for the waits and captions to read."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.demo.story import Story, expected_time


class DemoProblem(Exception):
    """Something a story cannot do now, in words for the narrator (never a dialog)."""


@dataclass
class DemoContext:
    window: Any  # the MainWindow
    story: Story
    step_budget: int | None = None  # tests and quick tries: train this many steps instead of the time limit
    data_spec: str = ""  # the data the story opened: the "data" wait waits for it
    start_requested: bool = False  # the story pressed Start
    run_dir: Path | None = None  # the run it started, once the trainer announced it
    run_started_at: float | None = None  # time.monotonic() when that run began
    live_map_drawn: bool = False  # the Embeddings tab drew a live map of that run

    def time_words(self) -> str:
        return expected_time(self.story.run, self.step_budget)

    def seconds_left(self) -> float | None:
        """Of the story's training, by its time limit; None before it started or without a limit."""
        if self.run_started_at is None or self.step_budget:
            return None
        return max(0.0, self.story.run.time_limit_s - (time.monotonic() - self.run_started_at))

    def run_started(self, run_dir: Path) -> None:
        if self.start_requested and self.run_dir is None:
            self.run_dir = Path(run_dir)
            self.run_started_at = time.monotonic()
