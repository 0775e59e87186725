"""A terminal progress bar (tqdm) driven by trainer events, with rate and ETA."""

from __future__ import annotations

import sys

from tqdm import tqdm

from ssl_core.train.events import (
    CheckpointSaved,
    Event,
    RunFailed,
    RunFinished,
    RunStarted,
    StepEnded,
    TrainWarning,
)


class ProgressPrinter:
    def __init__(self, quiet: bool = False):
        self.quiet = quiet
        self.bar: tqdm | None = None

    def __call__(self, event: Event) -> None:
        if isinstance(event, RunStarted):
            self._write(f"Run {event.run_dir} on {event.device}: {event.total_steps} steps")
            if not self.quiet:
                self.bar = tqdm(
                    total=event.total_steps,
                    initial=event.start_step,
                    unit="step",
                    file=sys.stderr,
                    dynamic_ncols=True,
                    mininterval=0.25,
                )
        elif isinstance(event, StepEnded):
            if self.bar is not None:
                self.bar.set_postfix(
                    epoch=event.epoch + 1,
                    loss=f"{event.loss:.4f}",
                    img_s=f"{event.images_per_sec:.0f}",
                    refresh=False,
                )
                self.bar.update(event.step - self.bar.n)
        elif isinstance(event, CheckpointSaved):
            if self.bar is None:
                self._write(f"checkpoint saved at step {event.step}")
        elif isinstance(event, TrainWarning):
            self._write(f"warning: {event.message}")
        elif isinstance(event, RunFinished | RunFailed):
            self.close()
            if isinstance(event, RunFinished) and event.note:
                self._write(event.note)

    def _write(self, text: str) -> None:
        if self.bar is not None:
            self.bar.write(text, file=sys.stderr)
        else:
            print(text, file=sys.stderr)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
