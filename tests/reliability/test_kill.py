"""SIGKILL at random moments: 20 trials across training, checkpoint writes and evaluation.

Every trial starts the real `ssl-core` entry point in its own process (forked from fork_launcher.py,
which has already imported torch, so a trial costs no start-up), kills it with SIGKILL after a delay
drawn from a seeded RNG, then checks the run from this process: `list_runs` and `load_run` work,
metrics.jsonl holds steps 1..k in order with at most a cut-off last line, and the next trial
(`ssl-core resume`, `eval` or `embed`) starts from what was left. Each chain ends with a resume that
must finish the run with every step recorded exactly once.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from ssl_core.errors import UserError
from ssl_core.runs.store import list_runs, load_run, read_metrics, read_summary

GROUP = "SIGKILL at random moments"
pytestmark = pytest.mark.timeout(240)

SEED = 20251125
HERE = Path(__file__).parent
TINY = ["--backbone", "small_cnn", "--device", "cpu", "--set", "data.num_workers=0", "--quiet"]


class Launcher:
    """Client of fork_launcher.py: start a child running `ssl-core ARGV`, wait for it."""

    def __init__(self) -> None:
        env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
        self.proc = subprocess.Popen(
            [sys.executable, str(HERE / "fork_launcher.py")],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        self._ask(None)  # {"ready": pid}

    def _ask(self, request: dict | None) -> dict:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        if request is not None:
            self.proc.stdin.write(json.dumps(request) + "\n")
            self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        assert line, "the fork launcher died"
        return json.loads(line)

    def start(self, argv: list[str], log: Path) -> int:
        return int(self._ask({"op": "start", "argv": [str(a) for a in argv], "log": str(log)})["pid"])

    def wait(self, pid: int) -> dict:
        return self._ask({"op": "wait", "pid": pid})

    def close(self) -> None:
        if self.proc.stdin:
            self.proc.stdin.close()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture(scope="module")
def launcher():
    server = Launcher()
    yield server
    server.close()


@dataclass
class Outcome:
    killed: bool
    exit_code: int | None
    seconds: float
    temp_seen: bool = False


def run_and_kill(launcher: Launcher, argv, log: Path, delay: float, watch: Path | None = None) -> Outcome:
    """Start argv, SIGKILL it after `delay` s (then, with `watch`, as soon as a temp file appears there)."""
    pid = launcher.start(argv, log)
    started = time.perf_counter()
    time.sleep(delay)
    temp_seen = False
    if watch is not None:  # aim the kill at a checkpoint write in progress
        deadline = time.perf_counter() + 5
        while time.perf_counter() < deadline and not temp_seen:
            temp_seen = watch.is_dir() and any(watch.glob(".last.pt.*.tmp"))
            if not temp_seen:
                time.sleep(0.0005)
    os.kill(pid, signal.SIGKILL)  # the child is ours until the launcher reaps it, so the pid is safe
    status = launcher.wait(pid)
    return Outcome(
        status.get("signal") == signal.SIGKILL, status.get("exit"), time.perf_counter() - started, temp_seen
    )


def the_run(runs: Path) -> Path | None:
    found = [p for p in runs.iterdir() if (p / "config.toml").is_file()] if runs.is_dir() else []
    assert len(found) <= 1, found
    return found[0] if found else None


def inspect(runs: Path) -> tuple[Path | None, str]:
    """Everything a user could do with the runs folder right after the kill must work; describe the state."""
    records = list_runs(runs)
    run = the_run(runs)
    if run is None:
        return (
            None,
            "killed before the run folder had a config.toml: no run to resume (the next command starts one)",
        )
    record = next(r for r in records if r.path == run)
    raw = (run / "metrics.jsonl").read_text(encoding="utf-8") if (run / "metrics.jsonl").exists() else ""
    lines = raw.splitlines()
    cut = bool(raw) and not raw.endswith("\n")
    for line in lines[:-1] if cut else lines:
        json.loads(line)  # every line but a cut-off last one is whole
    steps = [r["step"] for r in read_metrics(run)]
    assert steps == list(range(1, len(steps) + 1)), steps[:5]
    temps = sorted(p.name for p in run.rglob(".*.tmp"))
    if (run / "checkpoints" / "last.pt").is_file():
        loaded = load_run(run)
        assert loaded.step <= len(steps) or record.status == "completed"
        checkpoint = f"checkpoint step {loaded.step} loads"
    else:
        with pytest.raises(UserError, match="No checkpoint"):
            load_run(run)
        checkpoint = "no checkpoint yet (load_run says so)"
    assert record.status in ("interrupted", "completed", "unknown", "failed"), record.status
    return run, (
        f"metrics steps 1..{len(steps)}{' + a cut-off line' if cut else ''}; {checkpoint}; status "
        f"{record.status}; {len(temps)} temp file(s) left{' (' + temps[0] + ')' if temps else ''}"
    )


def finish(cli, run: Path, total: int) -> str:
    result = cli.run("resume", run, "--quiet")
    assert result.code == 0, result.err
    steps = [r["step"] for r in read_metrics(run)]
    assert steps == list(range(1, total + 1)), (len(steps), total)
    assert read_summary(run)["status"] == "completed" and load_run(run).step == total
    assert not list(run.rglob(".*.tmp")), "leftover temporary files were not cleaned"
    return f"resume exit 0; steps 1..{total} each recorded once; status completed; no temp files left"


def chain(case, launcher, cli, tmp_path, label, trials, first_argv, delays, watch_checkpoints=False):
    """Kill `trials` commands in a row on one run: train first, then resume whatever was left.

    Should a run finish between kills (a fast machine), the next trial trains a new one, so every
    trial still has something to interrupt."""
    generation = 0
    runs = tmp_path / "runs0"
    for k in range(trials):
        run = the_run(runs)
        if run is not None and read_summary(run).get("status") == "completed":
            generation += 1
            runs, run = tmp_path / f"runs{generation}", None
        argv = first_argv(runs) if run is None else ["resume", run, "--quiet"]
        command = "train" if run is None else "resume"
        watch = run / "checkpoints" if (watch_checkpoints and run is not None) else None
        delay = delays()
        outcome = run_and_kill(launcher, argv, tmp_path / f"trial{k}.log", delay, watch)
        problem = ""
        try:
            if not outcome.killed:  # it finished first: that must have been a success
                assert outcome.exit_code == 0, (tmp_path / f"trial{k}.log").read_text()[-2000:]
            run, state = inspect(runs)
        except AssertionError as exc:
            problem, state = f"FAILED: {exc}", ""
        how = (
            f"SIGKILL {outcome.seconds:.2f} s into `ssl-core {command}`"
            if outcome.killed
            else (
                f"`ssl-core {command}` finished (exit {outcome.exit_code}) before the kill at {delay:.2f} s"
            )
        )
        if watch is not None:
            how += (
                " while a checkpoint write was in progress"
                if outcome.temp_seen
                else " (no write seen in time)"
            )
        case.sub(
            f"{label} trial {k + 1}/{trials}",
            how,
            "list_runs and load_run work; metrics steps 1..k with at most a cut-off last line; next command resumes",
            problem or state,
            not problem,
        )
        assert not problem, problem
    return the_run(runs)


def test_kill_during_training(case, launcher, cli, tmp_path):
    """7 kills of `ssl-core train`/`resume` on digits (264 steps, a checkpoint every 44)."""
    rng = random.Random(SEED)
    total = 6 * 44
    run = chain(
        case, launcher, cli, tmp_path, "training", 7,
        lambda runs: ["train", *TINY, "--data", "digits", "--method", "simclr", "--batch-size", "32",
                      "--epochs", "6", "--runs-dir", runs],
        lambda: rng.uniform(0.3, 3.0),
    )  # fmt: skip
    assert run is not None, "no trial got as far as creating the run"
    assert read_summary(run)["steps_per_epoch"] * 6 == total
    case.sub(
        "training chain end",
        "`ssl-core resume` after the 7 kills",
        "finishes the run",
        finish(cli, run, total),
        True,
    )


def test_kill_during_checkpoint_writes(case, launcher, cli, tmp_path):
    """7 kills aimed at checkpoint writes: a checkpoint every 4 steps; after a random delay, kill as soon as
    a temporary checkpoint file appears (the first trial, with no run yet, is killed at a random moment)."""
    rng = np.random.default_rng(SEED + 1)
    data = tmp_path / "small.npz"
    np.savez(data, images=rng.integers(0, 256, (80, 8, 8), dtype=np.uint8), labels=np.arange(80) % 4)
    delays = random.Random(SEED + 1)
    total = 60 * 4
    run = chain(
        case, launcher, cli, tmp_path, "checkpoint", 7,
        lambda runs: ["train", *TINY, "--data", f"npz:{data}", "--method", "simclr", "--batch-size", "16",
                      "--epochs", "60", "--runs-dir", runs],
        lambda: delays.uniform(0.2, 0.9),
        watch_checkpoints=True,
    )  # fmt: skip
    assert run is not None
    hits = sum("while a checkpoint write was in progress" in c.given for c in case.subs)
    assert hits >= 3, f"only {hits} kills landed during a checkpoint write"
    case.sub(
        "checkpoint chain end", f"`ssl-core resume` after 7 kills ({hits} during checkpoint writes)",
        "finishes the run; the temporary files the kills left are removed", finish(cli, run, total), True,
    )  # fmt: skip


def test_kill_during_evaluation(case, launcher, cli, tmp_path, tiny_train):
    """6 kills of `ssl-core eval` / `ssl-core embed` on a finished run.

    Evaluation takes about a second in a forked child, so each command is first run to completion twice
    (the first fills the embedding cache) and the second is timed; the kills then land at random points
    within that time."""
    from ssl_core.cli.main import build_parser

    if "eval" not in build_parser()._subparsers._group_actions[0].choices:
        pytest.skip("ssl-core eval is not registered yet")
    runs = tmp_path / "runs"
    result = cli.run(
        "train", *tiny_train, "--data", "digits", "--batch-size", "64", "--epochs", "1", "--runs-dir", runs
    )
    assert result.code == 0, result.err
    run = the_run(runs)
    total = read_summary(run)["total_steps"]
    rng = random.Random(SEED + 2)
    commands = [
        ["eval", run, "--quiet", "--fractions", "0.1", "1", "--seeds", "0"],
        ["embed", run, "--quiet", "--projection", "pca"],
    ]
    durations = []
    for argv in commands:
        for _ in range(2):
            started = time.perf_counter()
            status = launcher.wait(launcher.start(argv, tmp_path / f"{argv[0]}-timing.log"))
            assert status == {"exit": 0}, (tmp_path / f"{argv[0]}-timing.log").read_text()[-2000:]
        durations.append(time.perf_counter() - started)
    for k in range(6):
        argv = commands[k % 2]
        delay = rng.uniform(0.05, 0.9) * durations[k % 2]
        outcome = run_and_kill(launcher, argv, tmp_path / f"eval{k}.log", delay)
        problem, state = "", ""
        try:
            if not outcome.killed:
                assert outcome.exit_code == 0, (tmp_path / f"eval{k}.log").read_text()[-2000:]
            _, state = inspect(runs)
            report = run / "eval" / "report.json"
            if report.exists():
                json.loads(report.read_text())  # written atomically: whole or absent
                state += "; eval/report.json whole"
        except AssertionError as exc:
            problem = f"FAILED: {exc}"
        how = (
            f"SIGKILL {outcome.seconds:.2f} s into `ssl-core {argv[0]}`"
            if outcome.killed
            else (
                f"`ssl-core {argv[0]}` finished (exit {outcome.exit_code}) before the kill at {delay:.2f} s"
            )
        )
        case.sub(f"evaluation trial {k + 1}/6", how,
                 "run still loads and lists; its checkpoint and metrics are untouched; eval files whole or absent",
                 problem or state, not problem)  # fmt: skip
        assert not problem, problem
    done = cli.run("eval", run, "--quiet", "--fractions", "0.1", "1", "--seeds", "0", "--json")
    assert done.code == 0, done.err
    probe = json.loads(done.out)["features"]["pretrained"]["probe"]
    accuracy = probe.get("accuracy") if isinstance(probe, dict) else probe
    embedded = cli.run("embed", run, "--quiet", "--projection", "pca")
    assert embedded.code == 0, embedded.err
    resumed = cli.run("resume", run, "--quiet")
    assert resumed.code == 0, resumed.err
    assert [r["step"] for r in read_metrics(run)] == list(range(1, total + 1))
    case.sub(
        "evaluation chain end", "`ssl-core eval`, `embed` and `resume` after the 6 kills",
        "all three succeed; metrics unchanged",
        f"eval exit 0 (probe accuracy {accuracy:.3f}); embed exit 0; resume exit 0; metrics steps 1..{total}",
        True,
    )  # fmt: skip
