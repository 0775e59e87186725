"""bench/bench_time_to_quality.py runs end to end in --quick mode: one default run per modality, trained by the
real Trainer and probed, with a table row per modality whose numbers are real (CPU seconds > 0, probe
accuracies in [0, 1]), and writes only its own section of a results file."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch

from tests.bench.test_bench_smoke import EARLIER, load, results, run_quick  # noqa: F401 - fixture

NAME = "bench_time_to_quality"
MODALITIES = ("image", "series", "table", "text", "audio")


def _rows(text: str) -> dict[str, dict[str, str]]:
    """The main table's rows by modality, as {column: cell}."""
    lines = [line for line in text.splitlines() if line.startswith("| ")]
    header = [c.strip() for c in lines[0].strip("|").split("|")]
    rows = [
        dict(zip(header, (c.strip() for c in line.strip("|").split("|")), strict=True)) for line in lines[1:]
    ]
    return {row["modality"]: row for row in rows}


def _accuracy(cell: str) -> float:
    return float(cell.split()[0])  # "0.640 (cap)" or "0.880 (end, 12 s)"


def test_time_to_quality_quick(results, tmp_path):  # noqa: F811
    text, targets = run_quick(NAME, results, tmp_path)
    rows = _rows(text)
    assert set(rows) == set(MODALITIES)
    for row in rows.values():
        assert float(row["CPU-s of the run"].replace(",", "")) > 0
        for column in ("accuracy at start", "raw-input probe"):
            assert 0.0 <= float(row[column]) <= 1.0
        assert 0.0 <= _accuracy(row["accuracy at the cap or end"]) <= 1.0
    if load("_lightly_reference").missing() is None:  # lightly's SimCLR trained and was probed too
        assert _accuracy(rows["image"]["lightly CPU-s to target"].split("; ")[1]) <= 1.0
    per_row = [t for t in targets if t["benchmark"] == "time to quality"]
    assert len(per_row) == len(MODALITIES) and all(isinstance(t["met"], bool) for t in per_row)


def test_probe_split_is_stratified_and_disjoint():
    labels = torch.arange(4).repeat_interleave(50)  # 4 classes of 50; even indices train, odd held out
    source = SimpleNamespace(info=SimpleNamespace(name="toy", num_classes=4), labels=lambda: labels)
    parts = SimpleNamespace(train_idx=torch.arange(0, 200, 2), val_idx=torch.arange(1, 200, 2), source=source)
    split = load("_quality_probe").probe_split(parts, 0.1, max_test=40, seed=0)
    assert np.bincount(labels.numpy()[split.label_idx]).tolist() == [2, 2, 2, 2]  # round(0.1 * 25) a class
    assert set(split.label_idx) <= set(range(0, 200, 2)) and set(split.test_idx) <= set(range(1, 200, 2))
    assert len(split.test_idx) == 40 and split.num_classes == 4


def test_probe_schedule_probes_by_steps_or_cpu():
    schedule = load("_quality_probe").ProbeSchedule(total_steps=100, cap_s=50.0, points=10)
    due = [step for step in range(1, 101) if schedule.due(step, cpu_s=step * 0.1)]
    assert due == list(range(10, 101, 10))  # by steps: CPU stays far below the cap
    slow = load("_quality_probe").ProbeSchedule(total_steps=100, cap_s=50.0, points=10)
    due = [step for step in range(1, 101) if slow.due(step, cpu_s=step * 2.0)]
    assert due[:3] == [3, 5, 8]  # by CPU: every 5 s, which comes before every 10 steps


@pytest.mark.parametrize("exclude", [False, True])
def test_cpu_clock_leaves_excluded_work_out(exclude):
    clock = load("_quality_probe").CpuClock()

    def burn() -> None:
        total = 0
        for i in range(3_000_000):
            total += i

    if exclude:
        with clock.excluded():
            burn()
        assert clock.seconds() < 0.05
    else:
        burn()
        assert clock.seconds() > 0.05
