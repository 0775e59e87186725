"""bench_time_to_quality.py's reference for images: lightly's SimCLR / BYOL pipeline (bench/_lightly_reference.py)
training the engine's default backbone from the engine's initial weights, probed like the engine's runs.

The backbone and split come from `build_components` of the engine run's own config (same seed, so the same
initial weights and the same training images); it trains for the engine run's epochs at its batch size,
with the same CPU cap and probe points, and is probed through the normalisation its training input had.
"""

from __future__ import annotations

import _lightly_reference as lightly_ref
import torch
from _quality_probe import CpuClock, ProbeSchedule, ProbeSplit, Trace, probe_encoder
from torch import nn

from ssl_core.config import RunConfig
from ssl_core.train.builder import build_components
from ssl_core.train.optim import resolve_hyper


class NormalisedEncoder(nn.Module):
    """The backbone as lightly's pipeline feeds it: [0, 1] images normalised with the data's statistics."""

    def __init__(self, backbone: nn.Module, mean: list[float], std: list[float]) -> None:
        super().__init__()
        self.backbone = backbone
        self.register_buffer("mean", torch.tensor(mean).view(1, -1, 1, 1))
        self.register_buffer("std", torch.tensor(std).view(1, -1, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.backbone((x - self.mean) / self.std).flatten(start_dim=1)


def reference_trace(
    cfg: RunConfig, split: ProbeSplit, *, cap_s: float, probes: int, workers: int, seed: int = 0
) -> Trace:
    """lightly's pipeline for cfg's method on the engine's backbone (same initial weights, same training
    images), for the engine run's epochs at its batch size, with the same cap and probe points."""
    clock = CpuClock()  # from the start of the setup, as the engine's clock
    parts = build_components(cfg)  # the Trainer's build: same seed, same weights, same split
    hyper = resolve_hyper(cfg, parts.spec, len(parts.train_idx))
    images, _ = parts.source.read(parts.train_idx)
    method = parts.method
    mean, std = lightly_ref.channel_stats(images)
    encoder = NormalisedEncoder(method.backbone, mean, std)
    trace = Trace()
    epochs = cfg.train.epochs
    steps_per_epoch = len(images) // hyper.batch_size
    total = epochs * steps_per_epoch if cfg.train.max_steps is None else cfg.train.max_steps
    trace.steps_planned = total
    schedule = ProbeSchedule(total, cap_s, probes)
    last = {"step": 0, "cpu": 0.0}

    def probe(step: int, cpu_s: float) -> None:
        with clock.excluded():
            trace.add(cpu_s, step, probe_encoder(encoder, parts.source, split))

    def on_step(step: int, _total: int) -> bool:
        cpu = clock.seconds()
        last.update(step=step, cpu=cpu)
        trace.stopped_at_cap = cpu >= cap_s
        ended = trace.stopped_at_cap or step >= total
        if schedule.due(step, cpu) or ended:
            probe(step, cpu)
        return not ended

    probe(0, clock.seconds())
    lightly_ref.lightly_train(
        cfg.method.name,
        method.backbone,
        method.feature_dim,
        images,
        batch_size=hyper.batch_size,
        epochs=epochs,
        workers=workers,
        device=torch.device("cpu"),
        on_step=on_step,
        seed=seed,
    )
    if trace.last is not None and trace.last[1] != last["step"]:
        probe(last["step"], last["cpu"])
    return trace
