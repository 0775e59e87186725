"""Training in a child process ("All N GPUs", train.processes > 1): the session follows the child through
the run store and steers it through a control folder, with the signals and commands of an in-process run.

The child is the real `python -m ssl_core train --control DIR` with two gloo processes on the CPU once the
engine's launcher is there (the marker below); before, a stand-in child with the same command line runs one
in-process Trainer under a FileControl, and the session is told to use the child path (`session.child`)."""

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

LAUNCHER_READY = Path("/work/notes/h16_trainer_ready").exists()
PROCESSES = 2 if LAUNCHER_READY else 1

STAND_IN = r"""
import sys
from ssl_core.cli.main import _run_trainer
from ssl_core.config import RunConfig
from ssl_core.errors import UserError
from ssl_core.train.events import RunStarted
from ssl_core.train.file_control import FileControl, announce_run_dir
from ssl_core.train.trainer import Trainer

args = sys.argv[1:]
folder = args[args.index("--control") + 1]
control = FileControl(folder)
try:
    if args[0] == "resume":
        trainer = Trainer.resume(args[1], control=control)
    else:
        trainer = Trainer(RunConfig.load(args[args.index("--config") + 1]), control=control)
except UserError as exc:
    print(f"error: {exc}", file=sys.stderr)
    sys.exit(2)
trainer.events.subscribe(lambda e: announce_run_dir(folder, e.run_dir) if isinstance(e, RunStarted) else None)
sys.exit(_run_trainer(trainer, quiet=True))
"""


@pytest.fixture
def session(qtbot, tmp_path, monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # control folders kept after a failure go too
    if not LAUNCHER_READY:
        script = tmp_path / "stand_in_child.py"
        script.write_text(STAND_IN, encoding="utf-8")
        root = str(Path(__file__).resolve().parents[2])

        real = child_run.child_command

        def command(config_path, resume_dir, control_dir):
            argv = real(config_path, resume_dir, control_dir)
            return [sys.executable, str(script), *argv[3:]]

        monkeypatch.setattr(child_run, "child_command", command)
        monkeypatch.setenv("PYTHONPATH", root)
    runner = JobRunner()
    s = TrainingSession(runner)
    s.job_error.connect(lambda exc, tb: pytest.fail(f"the worker failed: {tb}"))
    # two processes take the child path by themselves; the stand-in's one process is sent there
    s.child = None if LAUNCHER_READY else True
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
    started = time.monotonic()
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
    qtbot.wait(800)  # the steps already on their way arrive
    held = rec.last_step()
    qtbot.wait(1000)
    assert rec.last_step() == held  # paused: no step for a second
    session.resume()
    qtbot.waitUntil(lambda: rec.last_step() > held + 2, timeout=20_000)

    with qtbot.waitSignal(session.ended, timeout=60_000):
        session.stop()
    assert session.state == IDLE
    finished = rec.get("run_finished")
    assert len(finished) == 1 and finished[0].status == "stopped" and not rec.get("run_failed")
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
    assert more.get("run_finished")[0].status == "stopped"
    assert time.monotonic() - started < 120


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
