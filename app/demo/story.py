"""What a guided story is made of, as plain data: steps with a title, a caption in everyday words, the
control to highlight, what entering the step does (moves, app/demo/moves.py) and when Next becomes
available (a wait, app/demo/waits.py). The stories themselves are in app/demo/stories.py."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class RunPlan:
    """The training a story starts: its length is a time limit, so a laptop CPU takes the stated minute
    and a GPU does more steps in the same minute (`epochs` only caps a very fast machine)."""

    time_limit_s: float = 60.0
    epochs: int = 1000
    batch_size: int | None = None  # None: the method's default
    seed: int = 0


@dataclass(frozen=True)
class Step:
    title: str
    caption: str  # may name {time}: the expected training time, in words ("about a minute")
    target: str = ""  # a name in app/demo/targets.py TARGETS: the control to highlight ("" for none)
    enter: tuple[Any, ...] = ()  # moves done when the step is first entered (views are shown again on Back)
    wait: str = "now"  # a name in app/demo/waits.py WAITS: Next is available once it is satisfied
    then: tuple[Any, ...] = ()  # moves done once the wait is satisfied (e.g. draw the finished map)
    fact: str = ""  # a name in app/demo/waits.py FACTS: a live result shown under the caption


@dataclass(frozen=True)
class Story:
    key: str
    title: str
    summary: str  # one sentence for the Demo menu and the start page
    steps: tuple[Step, ...]
    run: RunPlan = field(default_factory=RunPlan)


def duration_words(seconds: float) -> str:
    """A training time as a person says it: 'about a minute', 'about two minutes'."""
    minutes = seconds / 60.0
    if minutes < 0.4:
        return f"about {max(5, round(seconds / 5) * 5):.0f} seconds"
    if minutes < 0.75:
        return "about half a minute"
    if minutes < 1.25:
        return "about a minute"
    if minutes < 1.75:
        return "about a minute and a half"
    words = {2: "two", 3: "three", 4: "four", 5: "five"}
    whole = round(minutes)
    return f"about {words.get(whole, str(whole))} minutes"


def expected_time(plan: RunPlan, step_budget: int | None) -> str:
    """What a caption's {time} says: the time limit in words, or the few steps of a shortened run."""
    if step_budget:
        return f"{step_budget} training steps (a shortened run: a few seconds)"
    return duration_words(plan.time_limit_s)
