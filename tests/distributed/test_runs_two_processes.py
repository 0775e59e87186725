"""Whole runs in 2 CPU processes (gloo), started the ways a person starts them: `torchrun ... -m ssl_core train
--config run.toml` and `ssl-core train --devices 2`; a pause through the control folder; a rank killed
mid-epoch; `ssl-core resume` with 2 and with 1 process; evaluation under torchrun. (Stop through the control
folder: tests/app's child-run test.)

Each launch costs a few seconds of start-up (three Python processes import torch), so runs are tiny: the
digits, the small CNN, batch 32, a few dozen steps.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ssl_core.cli.main import main
from ssl_core.config import RunConfig
from ssl_core.runs import store
from ssl_core.runs.metrics import read_metrics
from ssl_core.train.file_control import read_run_dir, write_command

TIMEOUT_S = 240.0

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="torchrun's gloo runs are tested on Linux")


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", PYTHONUNBUFFERED="1")
    env.pop("WORLD_SIZE", None)
    env.pop("RANK", None)
    return env


def _run(argv: list[str], timeout: float = TIMEOUT_S) -> subprocess.CompletedProcess:
    done = subprocess.run(argv, env=_env(), capture_output=True, text=True, timeout=timeout)
    return done


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "ssl_core", *args]


def _torchrun(*args: str) -> list[str]:
    return [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2", *args]


def _config(tmp_path: Path, method: str = "simclr", steps: int = 24, batch_size: int = 32) -> Path:
    config = RunConfig().with_overrides(
        [
            "data.spec=digits",
            f'method.name="{method}"',
            'method.backbone="small_cnn"',
            f"train.batch_size={batch_size}",
            f"train.max_steps={steps}",
            'train.device="cpu"',
            f'runs_dir="{tmp_path / "runs"}"',
        ]
    )
    path = tmp_path / "run.toml"
    config.save(path)
    return path


def _listing(run_dir: Path) -> set[str]:
    """The run folder's files, without the preview archive's step-numbered names."""
    return {
        str(p.relative_to(run_dir)) for p in run_dir.rglob("*") if p.is_file() and "previews" not in p.parts
    }


def _run_dir(done: subprocess.CompletedProcess) -> Path:
    assert done.returncode == 0, done.stderr[-3000:]
    return Path(done.stdout.strip().splitlines()[-1])


def test_the_same_config_trains_in_one_process_and_under_torchrun(tmp_path, capsys):
    config = _config(tmp_path)
    capsys.readouterr()
    assert main(["train", "--config", str(config), "--quiet"]) == 0
    single = Path(capsys.readouterr().out.strip().splitlines()[-1])
    double = _run_dir(_run(_torchrun("-m", "ssl_core", "train", "--config", str(config), "--quiet")))

    assert _listing(single) == _listing(double)
    assert RunConfig.load(store.RunPaths(double).config) == RunConfig.load(config)
    one, two = store.read_summary(single), store.read_summary(double)
    assert set(one) == set(two)
    assert (one["status"], two["status"]) == ("completed", "completed")
    assert (one["processes"], two["processes"]) == (1, 2)
    assert two["batch_size"] == one["batch_size"] == 32  # the global batch
    assert two["steps_per_epoch"] == one["steps_per_epoch"]
    steps_one = [r["step"] for r in read_metrics(store.RunPaths(single).metrics)]
    steps_two = [r["step"] for r in read_metrics(store.RunPaths(double).metrics)]
    assert steps_one == steps_two == list(range(1, 25))  # rank 0 alone wrote one line per step


def test_evaluation_under_torchrun_runs_on_rank_zero_only(monkeypatch, capsys, tmp_path):
    """What `torchrun --nproc-per-node 2 -m ssl_core eval RUN` does in its second process (its first runs
    the evaluation as in one process)."""
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "1")
    assert main(["eval", str(tmp_path / "no-such-run")]) == 0
    assert "evaluation runs on rank 0 only" in capsys.readouterr().err
    monkeypatch.setenv("RANK", "0")
    assert main(["eval", str(tmp_path / "no-such-run")]) == 2  # rank 0 does the work (here: a bad path)


def _worker_pids(control: Path) -> dict[int, int]:
    """rank -> pid of the training processes torchrun started with this control folder."""
    found: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().split(b"\0")
            environ = (entry / "environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if str(control).encode() not in cmdline or b"ssl_core.distributed.launch" in cmdline:
            continue
        for item in environ:
            if item.startswith(b"RANK="):
                found[int(item[5:])] = int(entry.name)
    return found


def _wait_for(predicate, what: str, timeout: float = TIMEOUT_S, proc: subprocess.Popen | None = None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        if proc is not None and proc.poll() is not None:
            out, err = proc.communicate()
            pytest.fail(f"the run ended (exit {proc.returncode}) before {what}:\n{err[-3000:]}")
        time.sleep(0.2)
    pytest.fail(f"timed out waiting for {what}")


def _last_step(run_dir: Path) -> int:
    records = read_metrics(store.RunPaths(run_dir).metrics)
    return int(records[-1]["step"]) if records else 0


@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="finds the ranks' pids through /proc")
def test_a_rank_killed_mid_epoch_leaves_a_run_that_resumes_with_two_and_with_one_process(tmp_path, capsys):
    control = tmp_path / "control"
    config = _config(tmp_path, method="moco", steps=40, batch_size=64)
    launcher = subprocess.Popen(
        _cli("train", "--config", str(config), "--devices", "2", "--control", str(control), "--quiet"),
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        run_dir = _wait_for(lambda: read_run_dir(control), "the run folder", proc=launcher)
        per_epoch = store.read_summary(run_dir)["steps_per_epoch"]
        assert per_epoch < 37
        # into the second epoch, past the first epoch's checkpoint; then held there by a pause
        _wait_for(lambda: _last_step(run_dir) >= per_epoch + 2, "the second epoch", proc=launcher)
        write_command(control, "pause")
        time.sleep(1.5)  # rank 0 reads the control folder within 0.2 s, and every process waits with it
        paused_at = _last_step(run_dir)
        time.sleep(1.5)
        assert _last_step(run_dir) == paused_at < 40  # no process trains on while paused
        pids = _wait_for(lambda: (p := _worker_pids(control)) and len(p) == 2 and p, "both ranks")
        os.kill(pids[1], signal.SIGKILL)
        out, err = launcher.communicate(timeout=TIMEOUT_S)
    finally:
        if launcher.poll() is None:
            os.killpg(launcher.pid, signal.SIGKILL)
    assert launcher.returncode == 128 + signal.SIGKILL
    assert f"continue with: ssl-core resume {run_dir}" in err
    assert "Traceback" not in err
    summary = store.read_summary(run_dir)
    assert summary["step"] == per_epoch  # the last checkpoint is kept
    assert store.effective_status(summary) != "running"

    copy = tmp_path / "copy"
    shutil.copytree(run_dir, copy)
    # with 2 processes (the run's own count), then a copy with 1
    resumed = _run_dir(_run(_cli("resume", str(run_dir), "--devices", "2", "--quiet")))
    assert resumed == run_dir
    assert store.read_summary(run_dir)["status"] == "completed"
    steps = [r["step"] for r in read_metrics(store.RunPaths(run_dir).metrics)]
    assert steps == list(range(1, 41))  # no step missing or repeated across the kill

    capsys.readouterr()
    assert main(["resume", str(copy), "--devices", "1", "--quiet"]) == 0
    assert "continues with 1" in capsys.readouterr().err  # the warning about the batch split
    assert store.read_summary(copy)["status"] == "completed"
    assert store.read_summary(copy)["processes"] == 1
    assert [r["step"] for r in read_metrics(store.RunPaths(copy).metrics)] == list(range(1, 41))
