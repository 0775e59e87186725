"""Training in a child process ("All N GPUs", train.processes > 1): the session follows the child through
the run store and steers it through a control folder, with the signals and commands of an in-process run.

The child is the real `python -m ssl_core train --control DIR`, with two gloo processes on the CPU.

On a loaded machine (CI runs two test workers on two cores, here with three training processes more) the
child and the GUI's follower lag by a second or more: the checks wait for what they expect with generous
deadlines instead of assuming how fast anything is."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from app import child_run
from app.training import IDLE, PAUSED, RUNNING, TrainingSession
from app.workers import JobRunner
from ssl_core.runs.follow import LineReader
from tests.tiny_runs import tiny_config

PROCESSES = 2  # the real launcher: two gloo processes on the CPU under torchrun


@pytest.fixture
def session(qtbot, tmp_path, monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # control folders kept after a failure go too
    runner = JobRunner()
    s = TrainingSession(runner)
    # a bug in the worker is kept and asserted on by the test, with its traceback (an exception raised in
    # a slot would only be reported after the test's first failing assertion)
    s.job_errors = []
    s.job_error.connect(lambda exc, tb: s.job_errors.append(tb))
    yield s
    if s.busy:
        s.stop()
        qtbot.waitUntil(lambda: not s.busy, timeout=60_000)
    _wait_for_threads(qtbot, runner)


def _wait_for_threads(qtbot, runner: JobRunner) -> None:
    """The worker's thread ends a moment after the session's `ended`; a JobRunner dropped before that
    would destroy a running QThread (Qt aborts the process)."""
    qtbot.waitUntil(lambda: not runner.running(), timeout=30_000)


def _config(runs_dir: Path, *overrides: str):
    return tiny_config(
        runs_dir,
        "train.batch_size=32",
        "train.epochs=100",
        "train.max_steps=3000",
        f"train.processes={PROCESSES}",
        *overrides,
    )


def _lines(path: Path) -> int:
    return len(path.read_text(encoding="utf-8").splitlines())


def _wait_until_still(qtbot, rec: Recorder, metrics: Path, still_s: float = 1.0) -> int:
    """Wait (up to 30 s) until neither the GUI's steps nor the child's metrics file have moved for
    `still_s`; returns the last step."""
    seen = (-1, -1)
    since = time.monotonic()
    deadline = since + 30
    while time.monotonic() < deadline:
        now = (rec.last_step(), _lines(metrics))
        if now != seen:
            seen, since = now, time.monotonic()
        elif time.monotonic() - since >= still_s and now[0] == now[1]:
            return now[0]
        qtbot.wait(100)
    raise AssertionError(f"the paused run kept training: GUI step, metrics lines = {seen}")


class Recorder:
    def __init__(self, session: TrainingSession):
        self.steps: list = []
        self.events: dict[str, list] = {}
        session.steps.connect(self.steps.extend)
        for name in (
            "run_started",
            "epoch_ended",
            "checkpoint_saved",
            "run_finished",
            "run_failed",
            "warning",
        ):
            getattr(session, name).connect(lambda e, name=name: self.events.setdefault(name, []).append(e))

    def last_step(self) -> int:
        return self.steps[-1].step if self.steps else 0

    def get(self, name: str) -> list:
        return self.events.get(name, [])


def test_child_run_streams_steps_pauses_resumes_stops_and_resumes(qtbot, session, runs_dir):
    from ssl_core.runs.store import load_run, read_summary

    rec = Recorder(session)
    session.start(_config(runs_dir))
    qtbot.waitUntil(lambda: rec.last_step() >= 5, timeout=45_000)
    assert session.state == RUNNING
    begun = rec.get("run_started")[0]
    assert begun.start_step == 0 and begun.total_steps == 3000 and begun.steps_per_epoch > 0
    assert (" × " in begun.device) == (PROCESSES > 1)
    steps = [e.step for e in rec.steps]
    assert steps == list(range(1, len(steps) + 1))  # every step, once, in order
    assert all(e.loss == e.loss and e.lr > 0 for e in rec.steps)

    session.pause()
    assert session.state == PAUSED
    # the steps the child took before it read the command, and those on their way, arrive; then nothing
    metrics = Path(begun.run_dir) / "metrics.jsonl"
    held = _wait_until_still(qtbot, rec, metrics)
    qtbot.wait(1500)
    assert rec.last_step() == held and _lines(metrics) == held, "paused: no step in 1.5 s, none written"
    session.resume()
    qtbot.waitUntil(lambda: rec.last_step() > held + 2, timeout=20_000)

    with qtbot.waitSignal(session.ended, timeout=60_000):
        session.stop()
    assert session.state == IDLE
    assert not session.job_errors, session.job_errors[0]
    finished, failed = rec.get("run_finished"), rec.get("run_failed")
    assert not failed, f"{failed[0].message}\n{failed[0].details}"
    assert len(finished) == 1 and finished[0].status == "stopped"
    run_dir = finished[0].run_dir
    assert rec.get("checkpoint_saved")[-1].step == finished[0].step >= rec.last_step()
    spe = begun.steps_per_epoch
    if finished[0].step > spe:  # an epoch went by: it was reported, with its mean loss
        assert rec.get("epoch_ended")[0].epoch == 0 and rec.get("epoch_ended")[0].step == spe
    assert read_summary(run_dir)["status"] == "stopped"
    assert load_run(run_dir).step == finished[0].step  # the run folder loads

    # resuming it (`ssl-core resume RUN --control DIR`) continues from its checkpoint, history left out
    stopped_at = finished[0].step
    more = Recorder(session)
    session.resume_run(run_dir)
    qtbot.waitUntil(lambda: more.last_step() >= stopped_at + 3, timeout=45_000)
    assert more.get("run_started")[0].start_step == stopped_at
    assert more.steps[0].step == stopped_at + 1
    with qtbot.waitSignal(session.ended, timeout=60_000):
        session.stop()
    assert not session.job_errors, session.job_errors[0]
    assert not more.get("run_failed"), more.get("run_failed")[0].message
    assert more.get("run_finished")[0].status == "stopped"


def test_child_run_that_fails_reports_its_error_line(qtbot, session, runs_dir):
    rec = Recorder(session)
    with qtbot.waitSignal(session.ended, timeout=45_000):
        session.start(_config(runs_dir, "data.spec='no-such-data-anywhere'"))
    failed = rec.get("run_failed")
    assert len(failed) == 1 and not rec.get("run_finished")
    assert failed[0].user_error and "no-such-data-anywhere" in failed[0].message
    assert "\n" not in failed[0].message and not failed[0].message.startswith("error:")
    assert session.state == IDLE


def test_a_child_that_does_not_stop_is_ended_when_the_window_closes(qtbot, monkeypatch, runs_dir, tmp_path):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    monkeypatch.setattr(
        child_run, "child_command", lambda *a: [sys.executable, "-c", "import time; time.sleep(120)"]
    )
    monkeypatch.setattr(child_run, "CLOSE_GRACE_S", 0.5)
    runner = JobRunner()
    session = TrainingSession(runner)
    session.child = True
    rec = Recorder(session)
    session.start(_config(runs_dir))
    qtbot.wait(300)
    started = time.monotonic()
    with qtbot.waitSignal(session.ended, timeout=20_000):
        session.stop()
        runner.cancel()  # what closing the window does
    assert time.monotonic() - started < 10
    assert "did not stop" in rec.get("run_failed")[0].message
    _wait_for_threads(qtbot, runner)


def test_line_reader_keeps_a_partial_line_and_restarts_on_a_replaced_file(tmp_path):
    path = tmp_path / "metrics.jsonl"
    reader = LineReader(path)
    assert reader.new_lines() == []
    path.write_text('{"step": 1}\n{"st', encoding="utf-8")
    assert reader.new_lines() == ['{"step": 1}']
    with path.open("a", encoding="utf-8") as fh:
        fh.write('ep": 2}\n')
    assert reader.new_lines() == ['{"step": 2}']
    replaced = tmp_path / "new"
    replaced.write_text('{"step": 1}\n', encoding="utf-8")
    replaced.replace(path)  # a resume rewinds the file atomically
    assert reader.new_lines() == ['{"step": 1}']


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_the_child_gets_a_ctrl_c_when_the_app_dies(tmp_path):
    """A crashed or killed app leaves no run training unseen: its child gets the Ctrl+C that stops a run
    at the next step with a checkpoint."""
    ready, stopped = tmp_path / "ready", tmp_path / "stopped"
    child = (
        "import pathlib, signal, sys, time\n"
        f"signal.signal(signal.SIGINT, lambda *a: (pathlib.Path({str(stopped)!r}).touch(), sys.exit(0)))\n"
        f"pathlib.Path({str(ready)!r}).touch()\n"
        "time.sleep(60)\n"
    )
    app = (
        "import os, pathlib, signal, sys, threading, time\n"
        "from app import child_run\n"
        "from ssl_core.config import RunConfig\n"
        "from ssl_core.train.control import RunControl\n"
        f"child_run.child_command = lambda *a: [sys.executable, '-c', {child!r}]\n"
        "args = (RunConfig(), None, RunControl(), None, print)\n"
        "threading.Thread(target=child_run.run_child, args=args, daemon=True).start()\n"
        f"while not pathlib.Path({str(ready)!r}).exists(): time.sleep(0.05)\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    root = str(Path(__file__).resolve().parents[2])
    subprocess.run(
        [sys.executable, "-c", app],
        cwd=root,
        timeout=60,
        env={**os.environ, "PYTHONPATH": root, "TMPDIR": str(tmp_path)},
    )
    deadline = time.monotonic() + 15
    while not stopped.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert stopped.exists()
