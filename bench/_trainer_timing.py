"""What the throughput benchmarks share: timing the real Trainer, and warming up a DataLoader reference.

`trainer_rate` runs `ssl_core.train.trainer.Trainer` on a config whose `train.max_steps` is warm-up + timed
steps and counts items per second between the StepEnded time stamps after the warm-up; setup (data,
model) is never timed. `loader_warmup` gives a DataLoader reference the extra warm-up steps its workers'
prefetched batches need.
"""

from __future__ import annotations

import time
from dataclasses import replace

import torch
from _common import sync

import ssl_core.train.trainer as trainer_module
from ssl_core.config import RunConfig
from ssl_core.train.events import RunFailed, StepEnded

PREFETCH = 2  # batches each DataLoader worker keeps ready (torch's default prefetch_factor)


def trainer_rate(
    cfg: RunConfig,
    device: torch.device,
    warmup: int,
    steps: int,
    batch_size: int,
    *,
    threads_used: list[int] | None = None,
    what: str = "engine run",
) -> float:
    """Items per second of the Trainer's steps after `warmup` (from StepEnded time stamps).

    `threads_used` receives the torch thread count the Trainer chose (it may lower it to one per physical
    core); the caller's own count is restored afterwards.
    """
    threads = torch.get_num_threads()
    stamps: list[float] = []
    failures: list[str] = []
    trainer = trainer_module.Trainer(cfg)

    def on_event(event) -> None:
        if isinstance(event, StepEnded):
            sync(device)
            stamps.append(time.perf_counter())
        elif isinstance(event, RunFailed):
            failures.append(event.message)

    trainer.events.subscribe(on_event)
    try:
        trainer.run()
        if threads_used is not None:
            threads_used.append(torch.get_num_threads())
    finally:
        torch.set_num_threads(threads)
    if failures or len(stamps) != warmup + steps:
        raise RuntimeError(f"{what} failed: {failures or stamps}")
    return steps * batch_size / (stamps[-1] - stamps[warmup - 1])


def loader_warmup(case, workers: int):
    """`case` (a dataclass with `warmup`) with extra warm-up steps that take the batches the workers made
    ahead (PREFETCH each).

    Workers fill their queue while the loader starts and during the warm-up; where they are slower than
    the consumer, a full queue at the start of the timed window would count batches made before it.
    Taking that many more batches first leaves the queue in its steady state.
    """
    return replace(case, warmup=case.warmup + PREFETCH * workers)
