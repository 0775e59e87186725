"""Events the trainer publishes to its subscribers (CLI progress bar, GUI, tests)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class RunStarted:
    run_dir: Path
    total_steps: int
    steps_per_epoch: int
    start_step: int  # > 0 when resuming
    device: str
    time_limit_s: float = 0.0  # train.time_limit_s: the run may end before total_steps


@dataclass(frozen=True)
class StepEnded:
    step: int  # number of optimizer steps done so far (1-based)
    epoch: int  # 0-based epoch the step belongs to
    total_steps: int
    loss: float
    parts: dict[str, float]
    lr: float
    images_per_sec: float
    eta_seconds: float
    time_fraction: float | None = None  # share of train.time_limit_s used; None without a time limit


@dataclass(frozen=True)
class EpochEnded:
    epoch: int
    step: int
    mean_loss: float


@dataclass(frozen=True)
class CheckpointSaved:
    path: Path
    step: int
    epoch: int


@dataclass(frozen=True)
class TrainWarning:
    message: str


@dataclass(frozen=True)
class PreviewReady:
    step: int
    preview: Any  # ssl_core.methods.base.Preview: named image grids for the Views tab


@dataclass(frozen=True)
class RunFinished:
    run_dir: Path
    step: int
    status: str  # "completed" or "stopped"
    note: str = ""  # why a completed run ended before its planned steps (its time limit), in words


@dataclass(frozen=True)
class RunFailed:
    run_dir: Path | None
    step: int
    message: str
    traceback: str = ""
    user_error: bool = False


Event = (
    RunStarted
    | StepEnded
    | EpochEnded
    | CheckpointSaved
    | TrainWarning
    | PreviewReady
    | RunFinished
    | RunFailed
)
Subscriber = Callable[[Event], None]


@dataclass
class EventBus:
    subscribers: list[Subscriber] = field(default_factory=list)

    def subscribe(self, fn: Subscriber) -> None:
        self.subscribers.append(fn)

    def emit(self, event: Event) -> None:
        for fn in list(self.subscribers):
            fn(event)
