"""What bench_time_to_quality.py measures with: a CPU-seconds clock and a fixed few-label linear probe.

`CpuClock` counts the CPU time of this process (every thread) and of its child processes (DataLoader
workers: the live ones from /proc/<pid>/stat, the ended ones from getrusage(RUSAGE_CHILDREN)), from its
start, less the blocks run under `excluded()` (the probe evaluations, which are the benchmark's cost, not
training's).

`ProbeSplit` is one data set's labelled split: a stratified `fraction` of the training samples' labels (the
engine's own split, groups kept apart as `ssl-core evaluate` keeps them) to fit the engine's linear probe on,
and the held-out samples (at most `max_test`) to score it. Every method of a modality, and the reference,
is scored on the same split.
"""

from __future__ import annotations

import contextlib
import os
import resource
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ssl_core.eval.embeddings import encode_source, model_input
from ssl_core.eval.hold_out import keep_groups_apart, source_groups
from ssl_core.eval.label_efficiency import stratified_subsample
from ssl_core.eval.metrics import infer_num_classes
from ssl_core.eval.probe import linear_probe
from ssl_core.train.global_rng import isolated_global_stream

TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


# ---- CPU seconds ---------------------------------------------------------------------------------------
def _live_children_cpu(pid: int) -> float:
    """utime + stime (seconds) of the running child processes of `pid` (Linux /proc; 0 elsewhere)."""
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            # after the ")" closing the command name: state ppid ... (utime, stime are fields 14, 15)
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == pid:
            total += int(fields[11]) + int(fields[12])
    return total / TICKS


def process_tree_cpu() -> float:
    """CPU seconds of this process (all threads) plus its children, running and ended."""
    ended = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + ended.ru_utime + ended.ru_stime + _live_children_cpu(os.getpid())


class CpuClock:
    """CPU seconds since creation, without the time spent in `excluded()` blocks."""

    def __init__(self) -> None:
        self.start = process_tree_cpu()
        self.left_out = 0.0

    def seconds(self) -> float:
        return process_tree_cpu() - self.start - self.left_out

    @contextlib.contextmanager
    def excluded(self) -> Iterator[None]:
        before = process_tree_cpu()
        try:
            yield
        finally:
            self.left_out += process_tree_cpu() - before


# ---- the labelled split --------------------------------------------------------------------------------
@dataclass(frozen=True)
class ProbeSplit:
    labels: np.ndarray  # every sample's label
    label_idx: np.ndarray  # the labelled training samples the probe is fitted on
    test_idx: np.ndarray  # held-out samples it is scored on
    num_classes: int
    train_size: int  # training samples the fraction was taken of

    def describe(self) -> str:
        return (
            f"{len(self.label_idx):,} labels ({len(self.label_idx) / self.train_size:.0%} of "
            f"{self.train_size:,}), {len(self.test_idx):,} held out"
        )


def probe_split(parts, fraction: float, max_test: int, seed: int = 0) -> ProbeSplit:
    """The split of a run's components (`ssl_core.train.builder.Components`); None-labelled data raises."""
    labels_t = parts.source.labels()
    if labels_t is None:
        raise ValueError(f"{parts.source.info.name} has no labels: no probe possible")
    labels = labels_t.numpy().astype(np.int64)
    train_idx, val_idx, _ = keep_groups_apart(
        parts.train_idx.numpy(), parts.val_idx.numpy(), source_groups(parts.source)
    )
    label_idx = train_idx[stratified_subsample(labels[train_idx], fraction, seed)]
    if len(val_idx) > max_test:  # a fixed random subset keeps each probe affordable on big sets
        val_idx = np.sort(np.random.default_rng(seed).choice(val_idx, size=max_test, replace=False))
    num_classes = infer_num_classes(labels, num_classes=parts.source.info.num_classes)
    return ProbeSplit(labels, label_idx, val_idx, num_classes, len(train_idx))


# ---- probing -------------------------------------------------------------------------------------------
def probe_features(train: np.ndarray, test: np.ndarray, split: ProbeSplit) -> float:
    result = linear_probe(
        train,
        split.labels[split.label_idx],
        test,
        split.labels[split.test_idx],
        num_classes=split.num_classes,
    )
    return float(result.accuracy)


def probe_encoder(encoder: nn.Module, source, split: ProbeSplit) -> float:
    """Held-out accuracy of the linear probe on `encoder`'s embeddings (an SSLMethod or a plain module),
    in eval mode (restored after), on the CPU, drawing nothing from torch's global random stream."""
    indices = torch.as_tensor(np.concatenate([split.label_idx, split.test_idx]))
    with isolated_global_stream():
        feats = encode_source(encoder, source, indices, device="cpu")
    n = len(split.label_idx)
    return probe_features(feats[:n], feats[n:], split)


def probe_raw(method: nn.Module, source, split: ProbeSplit) -> float:
    """The same probe on the raw input, as the method's modality defines it (no training)."""
    adapter, modality = model_input(method), method.modality

    def raw(idx: np.ndarray) -> np.ndarray:
        return modality.raw_features(source.read(torch.as_tensor(idx))[0], adapter)

    return probe_features(raw(split.label_idx), raw(split.test_idx), split)


# ---- the accuracy curve of one run ---------------------------------------------------------------------
@dataclass
class Trace:
    """Probe points of one run: (training CPU seconds, optimizer steps, held-out accuracy)."""

    points: list[tuple[float, int, float]] = field(default_factory=list)
    stopped_at_cap: bool = False
    steps_planned: int = 0
    failure: str = ""

    def add(self, cpu_s: float, step: int, accuracy: float) -> None:
        self.points.append((cpu_s, step, accuracy))

    def first_reaching(self, target: float) -> float | None:
        """CPU seconds at the first probe point at or above `target` (an upper bound: probes are spaced)."""
        return next((cpu for cpu, _, acc in self.points if acc >= target), None)

    @property
    def last(self) -> tuple[float, int, float] | None:
        return self.points[-1] if self.points else None


class ProbeSchedule:
    """When to probe: every `1/points` of the planned steps, and every `1/points` of the CPU cap, whichever
    comes first, so a run that ends early and one stopped by the cap both get about `points` probes."""

    def __init__(self, total_steps: int, cap_s: float, points: int) -> None:
        self.step_every = max(1, total_steps // points)
        self.cpu_every = cap_s / points
        self.next_step, self.next_cpu = self.step_every, self.cpu_every

    def due(self, step: int, cpu_s: float) -> bool:
        if step < self.next_step and cpu_s < self.next_cpu:
            return False
        while self.next_step <= step:
            self.next_step += self.step_every
        while self.next_cpu <= cpu_s:
            self.next_cpu += self.cpu_every
        return True
