"""Every joint-embedding method trains in 2 CPU processes (gloo) through the real Trainer: each run finishes
on both processes, rank 0 writes its run folder, and the loss falls (the mean of the last 5 logged steps below
the mean of the first 5). One 2-process job trains the nine methods in turn (tests/distributed/_trainer_workers.py),
so Python and torch start once; the CLI and torchrun paths are tested in test_runs_two_processes.py, and what
the processes keep identical (queues, centres, teachers) in test_methods_distributed.py.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from tests.distributed.test_two_processes import run_gloo_job, worker_module

TIMEOUT_S = 420.0
WINDOW = 5
# The first steps compared. MoCo's queue starts as random unit vectors (easy negatives, a low loss) until
# real keys replace them: 256 rows at 2 x 64 keys a step take 2 steps, so its baseline starts at step 3.
FIRST = {"moco": 2}
# DINO's loss is the teacher's entropy plus the student's KL divergence from it. In 40 steps centring spreads
# the teacher (entropy ~2.5 -> ~4.4 nats, the loss rising a little) while the student's KL falls by half:
# the student's own part is the one that must fall (as in tests/methods/test_dino.py).
CURVE = {"dino": "kl"}

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def job(tmp_path_factory):
    workers = worker_module("_trainer_workers")
    out_dir = tmp_path_factory.mktemp("trainer-job")
    run_gloo_job(workers, out_dir, TIMEOUT_S)
    ranks = [json.loads((out_dir / f"rank{r}.json").read_text()) for r in range(workers.WORLD)]
    return workers, ranks


def _curve(run_dir: Path, key: str = "loss") -> list[float]:
    """The logged value `key` (the loss, or one of its parts) of every training step, in order."""
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines() if line.strip()]
    return [float(r["loss"] if key == "loss" else r["parts"][key]) for r in rows]


@pytest.mark.parametrize(
    "method", ["simclr", "moco", "byol", "simsiam", "dino", "barlow_twins", "vicreg", "swav", "nnclr"]
)
def test_method_trains_in_two_processes(job, method):
    workers, ranks = job
    outcomes = [r[method] for r in ranks]
    assert [o["status"] for o in outcomes] == ["completed", "completed"], outcomes
    assert outcomes[0]["run_dir"] == outcomes[1]["run_dir"]  # rank 0 told the other where the run is
    run_dir = Path(outcomes[0]["run_dir"])
    summary = json.loads((run_dir / "summary.json").read_text())
    assert (summary["status"], summary["processes"], summary["step"]) == ("completed", 2, workers.STEPS)
    assert all(math.isfinite(value) for value in _curve(run_dir))
    values = _curve(run_dir, CURVE.get(method, "loss"))
    assert len(values) == workers.STEPS
    start = FIRST.get(method, 0)
    first = sum(values[start : start + WINDOW]) / WINDOW
    last = sum(values[-WINDOW:]) / WINDOW
    assert last < first, (
        f"{method}: the {CURVE.get(method, 'loss')} did not fall ({first:.4f} -> {last:.4f}): {values}"
    )
