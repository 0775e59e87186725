"""Turns finished steps into metrics lines and StepEnded events without a host sync per step.

On a GPU, reading a loss back (`float(loss)`) waits for the device. Losses therefore stay on the
device and are read back in groups a few times a second; on the CPU every step is flushed at once.
The metrics file still gets one line per step, in order.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import torch

from ssl_core.runs.metrics import MetricsWriter
from ssl_core.train.events import EventBus, StepEnded
from ssl_core.train.time_limit import TimeLimit


class NonFiniteLoss(Exception):
    pass


@dataclass
class _Pending:
    step: int
    epoch: int
    loss: torch.Tensor
    parts: dict[str, torch.Tensor]
    lr: float
    images: int


class StepRecorder:
    def __init__(
        self,
        metrics: MetricsWriter,
        events: EventBus,
        total_steps: int,
        flush_interval_s: float,
        limit: TimeLimit | None = None,
    ):
        self.metrics = metrics
        self.limit = limit  # train.time_limit_s: caps the ETA, and says how much of the time is used
        self.events = events
        self.total_steps = total_steps
        self.flush_interval_s = flush_interval_s
        self.pending: list[_Pending] = []
        self.last_loss: float | None = None
        self.epoch_losses: list[float] = []
        self._window: list[tuple[float, int, int]] = []  # (seconds, steps, images) per flush: rate and ETA
        self._last_flush = time.perf_counter()

    def add(
        self,
        step: int,
        epoch: int,
        loss: torch.Tensor,
        parts: dict[str, torch.Tensor],
        lr: float,
        images: int,
    ) -> None:
        self.pending.append(
            _Pending(step, epoch, loss.detach(), {k: v.detach() for k, v in parts.items()}, lr, images)
        )
        if time.perf_counter() - self._last_flush >= self.flush_interval_s:
            self.flush()

    def flush(self) -> None:
        """Read pending losses back (one transfer), check them, write their lines and emit their events."""
        if not self.pending:
            return
        names = sorted({name for p in self.pending for name in p.parts})
        rows = [
            [p.loss.float(), *(p.parts.get(n, p.loss.new_tensor(float("nan"))).float() for n in names)]
            for p in self.pending
        ]
        values = torch.stack([torch.stack(r) for r in rows]).cpu().tolist()
        now = time.perf_counter()
        images = sum(p.images for p in self.pending)
        self._window.append((now - self._last_flush, len(self.pending), images))
        self._window = self._window[-20:]
        self._last_flush = now
        seconds = max(sum(w[0] for w in self._window), 1e-9)
        per_step = seconds / max(sum(w[1] for w in self._window), 1)
        ips = sum(w[2] for w in self._window) / seconds
        pending, self.pending = self.pending, []
        for p, row in zip(pending, values, strict=True):
            loss, part_values = row[0], dict(zip(names, row[1:], strict=True))
            parts = {n: v for n, v in part_values.items() if n in p.parts}
            if not math.isfinite(loss):
                raise NonFiniteLoss(
                    f"The loss became {loss} at step {p.step} (epoch {p.epoch + 1}); the run stopped and its last "
                    "good checkpoint is kept. Lower the learning rate (train.lr) or turn off mixed precision "
                    "(train.amp = false), then resume or start again."
                )
            eta = (self.total_steps - p.step) * per_step
            remaining = self.limit.remaining() if self.limit is not None else None
            if remaining is not None:
                eta = min(eta, remaining)
            used = self.limit.fraction() if self.limit is not None else None
            self.metrics.append(
                {
                    "step": p.step,
                    "epoch": p.epoch,
                    "loss": loss,
                    "lr": p.lr,
                    "parts": parts,
                    "images_per_sec": round(ips, 2),
                    "time": time.time(),
                }
            )
            self.last_loss = loss
            self.epoch_losses.append(loss)
            self.events.emit(StepEnded(p.step, p.epoch, self.total_steps, loss, parts, p.lr, ips, eta, used))

    def end_epoch(self) -> float | None:
        self.flush()
        losses, self.epoch_losses = self.epoch_losses, []
        return sum(losses) / len(losses) if losses else None
