"""Faults during a run: a full or unwritable disk, out of memory, non-finite losses, damaged run files.

Each run is tiny (an .npz of 40 8x8 images, 2 steps per epoch, a checkpoint every epoch) and goes
through the `ssl-core` CLI in this process, so a fault can be injected with monkeypatch at the exact
point it would happen. The expected outcome is always the same: the run stops with one clear line
(exit 2), its last checkpoint survives, it still loads, and `ssl-core resume` finishes it once the
fault is gone.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch

from ssl_core.errors import UserError
from ssl_core.runs.atomic import temp_file_parts
from ssl_core.runs.checkpoint import load_checkpoint
from ssl_core.runs.store import list_runs, load_run, read_metrics, read_summary

GROUP = "Faults during a run"
pytestmark = pytest.mark.timeout(90)

EPOCHS = 4
STEPS_PER_EPOCH = 2  # 40 images, 20% held out -> 32 training images in batches of 16


@pytest.fixture
def data(tmp_path) -> Path:
    rng = np.random.default_rng(0)
    path = tmp_path / "small.npz"
    np.savez(path, images=rng.integers(0, 256, (40, 8, 8), dtype=np.uint8), labels=np.arange(40) % 4)
    return path


def train_argv(tiny_train, data: Path, runs: Path, *extra: str) -> list[str]:
    return ["train", *tiny_train, "--data", f"npz:{data}", "--method", "simclr", "--batch-size", "16",
            "--epochs", str(EPOCHS), "--runs-dir", str(runs), *extra]  # fmt: skip


def the_run(runs: Path) -> Path:
    dirs = [p for p in runs.iterdir() if (p / "config.toml").is_file()]
    assert len(dirs) == 1, dirs
    return dirs[0]


def temp_files(run_dir: Path) -> list[str]:
    return sorted(p.name for p in run_dir.rglob(".*.tmp"))


def checkpoint_step(run_dir: Path) -> int:
    return int(load_checkpoint(run_dir / "checkpoints" / "last.pt")["step"])


def assert_resumes_to_the_end(cli, run_dir: Path) -> str:
    """`ssl-core resume` finishes the run: exit 0, metrics 1..N exactly once each, status completed."""
    result = cli.run("resume", run_dir, "--quiet")
    assert result.code == 0, result.err
    total = EPOCHS * STEPS_PER_EPOCH
    assert [r["step"] for r in read_metrics(run_dir)] == list(range(1, total + 1))
    assert read_summary(run_dir)["status"] == "completed" and checkpoint_step(run_dir) == total
    assert not temp_files(run_dir)
    return f"resume: exit 0, steps 1..{total} each once, status completed"


class Faults:
    """Injected write failures in ssl_core.runs.atomic (checkpoints, summaries) by target file name."""

    def __init__(self, monkeypatch):
        import ssl_core.runs.atomic as atomic

        self.rules: list[
            tuple[str, str, int, int]
        ] = []  # (where: mkstemp|fsync, target name, from nth, errno)
        self.seen: dict[tuple[str, str], int] = {}
        self.fired: list[str] = []
        self._targets: dict[int, Path] = {}
        real_mkstemp, real_fsync = atomic.tempfile.mkstemp, os.fsync

        def mkstemp(prefix="", suffix="", dir=None):  # noqa: A002 - tempfile's own argument name
            target = Path(dir) / temp_file_parts(Path(f"{prefix}x{suffix}"))[0]  # the name it stands for
            self._check("mkstemp", target)
            fd, name = real_mkstemp(prefix=prefix, suffix=suffix, dir=dir)
            self._targets[fd] = target
            return fd, name

        def fsync(fd):
            target = self._targets.pop(fd, None)
            if target is not None:
                self._check("fsync", target)
            return real_fsync(fd)

        monkeypatch.setattr(atomic.tempfile, "mkstemp", mkstemp)
        monkeypatch.setattr(atomic.os, "fsync", fsync)

    def fail(self, where: str, name: str, from_nth: int, code: int) -> None:
        self.rules.append((where, name, from_nth, code))

    def clear(self) -> None:
        self.rules.clear()

    def _check(self, where: str, target: Path) -> None:
        key = (where, target.name)
        self.seen[key] = self.seen.get(key, 0) + 1
        for rule_where, name, from_nth, code in self.rules:
            if rule_where == where and name == target.name and self.seen[key] >= from_nth:
                self.fired.append(f"{where} {target.name} #{self.seen[key]}")
                raise OSError(code, os.strerror(code))


@pytest.fixture
def faults(monkeypatch) -> Faults:
    return Faults(monkeypatch)


# ---- the disk -------------------------------------------------------------------------------------
def test_disk_full_during_a_checkpoint(case, tmp_path, cli, tiny_train, data, faults):
    case.describe(
        "`ssl-core train`, 4 epochs with a checkpoint each; the 3rd checkpoint write fails with ENOSPC "
        "(injected at the fsync of its temporary file)",
        "exit 2, one line naming checkpoints/last.pt, 'disk is full', the kept step and the resume command; "
        "last.pt still holds step 4; no temporary file left; resume completes after space is freed",
    )
    faults.fail("fsync", "last.pt", 3, errno.ENOSPC)
    runs = tmp_path / "runs"
    result = cli.run(*train_argv(tiny_train, data, runs))
    run_dir = the_run(runs)
    line = cli.assert_failed_run(
        result,
        str(run_dir / "checkpoints" / "last.pt"),
        "disk is full",
        "step 4",
        f"ssl-core resume {run_dir}",
    )
    assert checkpoint_step(run_dir) == 4 and not temp_files(run_dir)
    assert read_summary(run_dir)["status"] == "failed" and load_run(run_dir).step == 4
    faults.clear()
    resumed = assert_resumes_to_the_end(cli, run_dir)
    case.observe(f"{line.replace(str(tmp_path), 'TMP')} | {resumed}")


def _mount_tmpfs(where: Path, size: str) -> bool:
    where.mkdir()
    try:
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)],
                              capture_output=True, timeout=10)  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return False
    return done.returncode == 0


def test_disk_really_fills_up(case, tmp_path, faults):
    from ssl_core.config import RunConfig
    from ssl_core.train.events import CheckpointSaved, RunFailed
    from ssl_core.train.trainer import Trainer

    disk = tmp_path / "disk"
    real = _mount_tmpfs(disk, "64m")
    mechanism = (
        "a real 64 MB tmpfs, filled by a ballast file after the first checkpoint"
        if real
        else "mounting a tmpfs is not permitted here, so ENOSPC is injected after the first checkpoint"
    )
    case.describe(
        f"Python API run (Trainer) whose run folder is on a disk that fills up mid-run: {mechanism}",
        "RunFailed(user_error) naming the checkpoint path and 'disk is full'; the previous checkpoint loads; "
        "after the space is freed the run resumes to the end",
    )
    try:
        config = RunConfig().with_overrides([
            f"data.spec='npz:{tmp_path / 'small.npz'}'", "method.backbone='small_cnn'", "train.batch_size=16",
            f"train.epochs={EPOCHS}", "train.device='cpu'", "data.num_workers=0", f"runs_dir='{disk / 'runs'}'",
        ])  # fmt: skip
        np.savez(
            tmp_path / "small.npz",
            images=np.random.default_rng(0).integers(0, 256, (40, 8, 8), dtype=np.uint8),
        )
        ballast = disk / "ballast.bin"
        events = []

        def fill_disk(event):
            events.append(event)
            if isinstance(event, CheckpointSaved) and event.step == STEPS_PER_EPOCH:
                if real:  # leave 256 KB: room for metrics and the summary, not for a 5 MB checkpoint
                    stats = os.statvfs(disk)
                    free = stats.f_bavail * stats.f_frsize
                    with ballast.open("wb") as fh:
                        os.posix_fallocate(fh.fileno(), 0, max(0, free - (256 << 10)))
                else:
                    faults.fail("fsync", "last.pt", 2, errno.ENOSPC)

        trainer = Trainer(config)
        trainer.events.subscribe(fill_disk)
        result = trainer.run()
        failed = [e for e in events if isinstance(e, RunFailed)]
        assert result.status == "failed" and len(failed) == 1 and failed[0].user_error
        message = failed[0].message
        run_dir = result.run_dir
        assert str(run_dir / "checkpoints" / "last.pt") in message and "disk is full" in message
        assert "step 2" in message and "ssl-core resume" in message
        assert checkpoint_step(run_dir) == STEPS_PER_EPOCH and not temp_files(run_dir)
        ballast.unlink(missing_ok=True)  # the user frees some space
        faults.clear()
        resumed = Trainer.resume(run_dir).run()
        assert resumed.status == "completed" and resumed.step == EPOCHS * STEPS_PER_EPOCH
        assert [r["step"] for r in read_metrics(run_dir)] == list(range(1, EPOCHS * STEPS_PER_EPOCH + 1))
        case.observe(f"{'real ENOSPC' if real else 'injected ENOSPC'}: {message.replace(str(tmp_path), 'TMP')} | "
                     "resumed after freeing space: completed, steps 1..8")  # fmt: skip
    finally:
        if real:
            subprocess.run(["umount", "-l", str(disk)], capture_output=True, timeout=10)


def test_run_folder_becomes_unwritable(case, tmp_path, cli, tiny_train, data, faults):
    case.describe(
        "the checkpoints folder stops accepting new files after the 2nd checkpoint (EACCES injected at "
        "the temporary file's creation; chmod cannot stop root)",
        "exit 2, one line naming last.pt, 'not writable', the kept step 4 and the resume command; resume "
        "works once the folder is writable again",
    )
    faults.fail("mkstemp", "last.pt", 3, errno.EACCES)
    runs = tmp_path / "runs"
    result = cli.run(*train_argv(tiny_train, data, runs))
    run_dir = the_run(runs)
    line = cli.assert_failed_run(result, "last.pt", "not writable", "step 4", "ssl-core resume")
    assert checkpoint_step(run_dir) == 4
    faults.clear()
    resumed = assert_resumes_to_the_end(cli, run_dir)
    case.observe(f"{line.replace(str(tmp_path), 'TMP')} | {resumed}")


def test_read_only_disk_at_the_start(case, tmp_path, cli, tiny_train, data, faults):
    case.describe(
        "the runs folder is on a read-only file system: writing the new run's config.toml fails with "
        "EROFS (injected)",
        "exit 2, one line naming config.toml and 'not writable'; no traceback",
    )
    faults.fail("mkstemp", "config.toml", 1, errno.EROFS)
    line = cli.assert_failed_run(
        cli.run(*train_argv(tiny_train, data, tmp_path / "runs")), "config.toml", "not writable"
    )
    case.observe(line.replace(str(tmp_path), "TMP"))


class _FullAfter:
    """A text file that accepts `lines` writes, then fails like a full disk."""

    def __init__(self, fh, lines: int):
        self._fh, self._left = fh, lines

    def write(self, text: str) -> int:
        if self._left <= 0:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        self._left -= 1
        return self._fh.write(text)

    def __getattr__(self, name):
        return getattr(self._fh, name)


def test_disk_full_while_appending_metrics(case, tmp_path, cli, tiny_train, data, monkeypatch):
    case.describe(
        "metrics.jsonl cannot grow after 5 lines (ENOSPC injected into its file object)",
        "exit 2, one line naming metrics.jsonl and 'disk is full'; checkpoint of step 4 kept; resume completes",
    )
    from ssl_core.runs import metrics

    real_init = metrics.MetricsWriter.__init__
    state = {"full": True}

    def init(self, path):
        real_init(self, path)
        if state["full"]:
            self._fh = _FullAfter(self._fh, 5)

    monkeypatch.setattr(metrics.MetricsWriter, "__init__", init)
    runs = tmp_path / "runs"
    result = cli.run(*train_argv(tiny_train, data, runs))
    run_dir = the_run(runs)
    line = cli.assert_failed_run(result, "metrics.jsonl", "disk is full", "step 4")
    assert checkpoint_step(run_dir) == 4
    state["full"] = False
    resumed = assert_resumes_to_the_end(cli, run_dir)
    case.observe(f"{line.replace(str(tmp_path), 'TMP')} | {resumed}")


# ---- memory and numbers ---------------------------------------------------------------------------
def _huge_cpu_allocation():
    torch.empty(1 << 50, dtype=torch.uint8)  # the CPU allocator refuses: a real RuntimeError


def _cuda_style_oom():
    raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB (simulated)")


@pytest.mark.parametrize(
    "raise_oom, what",
    [(_cuda_style_oom, "torch.OutOfMemoryError (what CUDA raises), injected"),
     (_huge_cpu_allocation, "a real failed CPU allocation of 1 PiB (RuntimeError from the allocator)")],
    ids=["torch-OutOfMemoryError", "cpu-allocator"],
)  # fmt: skip
def test_out_of_memory_during_a_step(case, tmp_path, cli, tiny_train, data, monkeypatch, raise_oom, what):
    case.describe(
        f"out of memory in the 5th training step: {what}",
        "exit 2, one line: 'Out of memory on cpu at batch size 16 ...: lower train.batch_size or "
        "data.image_size', last checkpoint (step 4) kept; status failed; resume completes",
    )
    from ssl_core.methods.simclr import SimCLR

    real_step = SimCLR.training_step
    calls = {"n": 0, "on": True}

    def step(self, images, ctx):
        calls["n"] += 1
        if calls["on"] and calls["n"] == 5:
            raise_oom()
        return real_step(self, images, ctx)

    monkeypatch.setattr(SimCLR, "training_step", step)
    runs = tmp_path / "runs"
    result = cli.run(*train_argv(tiny_train, data, runs))
    run_dir = the_run(runs)
    line = cli.assert_failed_run(
        result, "out of memory on cpu at batch size 16", "lower train.batch_size or data.image_size", "step 4"
    )
    assert checkpoint_step(run_dir) == 4 and read_summary(run_dir)["status"] == "failed"
    calls["on"] = False
    resumed = assert_resumes_to_the_end(cli, run_dir)
    case.observe(f"{line.replace(str(tmp_path), 'TMP')} | {resumed}")


def test_non_finite_loss(case, tmp_path, cli, tiny_train, data, monkeypatch):
    case.describe(
        "the loss of step 5 is NaN (injected into SimCLR.training_step)",
        "exit 2, one line 'The loss became nan at step 5 ... Lower the learning rate'; the last good "
        "checkpoint (step 4) kept and finite; resume completes",
    )
    from ssl_core.methods.simclr import SimCLR

    real_step = SimCLR.training_step
    calls = {"n": 0, "on": True}

    def step(self, images, ctx):
        out = real_step(self, images, ctx)
        calls["n"] += 1
        if calls["on"] and calls["n"] == 5:
            out.loss = out.loss * float("nan")
        return out

    monkeypatch.setattr(SimCLR, "training_step", step)
    runs = tmp_path / "runs"
    result = cli.run(*train_argv(tiny_train, data, runs))
    run_dir = the_run(runs)
    line = cli.assert_failed_run(result, "loss became nan at step 5", "train.lr")
    state = load_checkpoint(run_dir / "checkpoints" / "last.pt")
    assert state["step"] == 4 and all(
        torch.isfinite(v).all() for v in state["model"].values() if v.is_floating_point()
    )
    calls["on"] = False
    resumed = assert_resumes_to_the_end(cli, run_dir)
    case.observe(f"{line.replace(str(tmp_path), 'TMP')} | {resumed}")


@pytest.mark.parametrize("clip", [3.0, 0.0], ids=["with-clipping", "clipping-off"])
def test_exploding_gradients(case, tmp_path, cli, tiny_train, data, clip):
    case.describe(
        f"train.lr = 10 (the largest allowed, ~10,000x the default) with train.grad_clip = {clip}",
        "either every logged loss is finite (clipping holds it) or the run stops with the non-finite-loss "
        "message; never a traceback; the run folder loads either way",
    )
    runs = tmp_path / "runs"
    result = cli.run(*train_argv(tiny_train, data, runs, "--lr", "10", "--set", f"train.grad_clip={clip}"))
    run_dir = the_run(runs)
    losses = [r["loss"] for r in read_metrics(run_dir)]
    assert "Traceback" not in result.err
    if result.code == 0:
        assert len(losses) == EPOCHS * STEPS_PER_EPOCH and all(np.isfinite(losses))
        outcome = f"completed; all {len(losses)} losses finite (max {max(losses):.3g})"
    else:
        line = cli.assert_failed_run(result, "loss became", "lower the learning rate")
        outcome = f"stopped: {line.replace(str(tmp_path), 'TMP')}"
    if (run_dir / "checkpoints" / "last.pt").is_file():
        load_run(run_dir)
    case.observe(outcome)


# ---- damaged run folders --------------------------------------------------------------------------
@pytest.fixture
def finished_run(tmp_path, cli, tiny_train, data) -> Path:
    runs = tmp_path / "runs"
    result = cli.run(*train_argv(tiny_train, data, runs))
    assert result.code == 0, result.err
    return the_run(runs)


def _eval_registered() -> bool:
    from ssl_core.cli.main import build_parser

    return "eval" in build_parser()._subparsers._group_actions[0].choices


@pytest.mark.parametrize(
    "damage, needle",
    [
        (lambda p: p.write_bytes(p.read_bytes()[: len(p.read_bytes()) // 2]), "cannot be loaded safely"),
        (lambda p: p.write_bytes(b""), "cannot be loaded safely"),
        (lambda p: p.write_text("this is not a checkpoint"), "cannot be loaded safely"),
        (lambda p: torch.save(torch.zeros(3), p), "not a checkpoint"),
    ],
    ids=["truncated", "empty", "text", "a-bare-tensor"],
)
def test_damaged_checkpoint(case, tmp_path, cli, finished_run, damage, needle):
    case.describe(
        "a finished run whose checkpoints/last.pt is then damaged",
        f"`ssl-core resume`, `ssl-core eval` and load_run refuse it in one line ('{needle}', naming the file); "
        "list_runs still lists the run",
    )
    checkpoint = finished_run / "checkpoints" / "last.pt"
    damage(checkpoint)
    line = cli.assert_failed_run(cli.run("resume", finished_run, "--quiet"), str(checkpoint), needle)
    with pytest.raises(UserError, match=needle):
        load_run(finished_run)
    if _eval_registered():
        cli.assert_refused(
            cli.run("eval", finished_run, "--quiet", "--no-baselines"), str(checkpoint), needle
        )
    assert [r.run_id for r in list_runs(finished_run.parent)] == [finished_run.name]
    case.observe(line.replace(str(tmp_path), "TMP"))


def test_config_edited_after_training(case, tmp_path, cli, finished_run):
    case.describe(
        "config.toml of a finished run edited to another backbone (resnet18) after training",
        "resume and load_run refuse: the checkpoint does not match the run's config.toml; restore it",
    )
    config = finished_run / "config.toml"
    config.write_text(config.read_text().replace('backbone = "small_cnn"', 'backbone = "resnet18"'))
    line = cli.assert_failed_run(
        cli.run("resume", finished_run, "--quiet"), "does not match the run's config.toml"
    )
    with pytest.raises(UserError, match="does not match"):
        load_run(finished_run)
    case.observe(line.replace(str(tmp_path), "TMP"))


def test_exported_backbone_in_place_of_the_checkpoint(case, tmp_path, cli, finished_run):
    case.describe(
        "checkpoints/last.pt replaced by the run's own exported backbone file",
        "resume refuses: 'not a training checkpoint ... it may be an exported backbone'",
    )
    from ssl_core.runs.store import export_backbone

    exported = export_backbone(finished_run, tmp_path / "backbone.pt")
    shutil.copy(exported, finished_run / "checkpoints" / "last.pt")
    line = cli.assert_failed_run(
        cli.run("resume", finished_run, "--quiet"), "not a training checkpoint", "exported backbone"
    )
    with pytest.raises(UserError, match="exported backbone"):
        load_run(finished_run)
    case.observe(line.replace(str(tmp_path), "TMP"))


def test_resume_of_a_run_still_training(case, tmp_path, cli, finished_run):
    case.describe(
        "`ssl-core resume` of a run whose summary says 'running' in another live process",
        "refused: the run is still being trained by process N; nothing is written",
    )
    summary_path = finished_run / "summary.json"
    summary = json.loads(summary_path.read_text())
    summary.update(status="running", pid=os.getppid())  # the process that started pytest: alive
    summary_path.write_text(json.dumps(summary))
    before = (finished_run / "metrics.jsonl").read_bytes()
    line = cli.assert_refused(
        cli.run("resume", finished_run, "--quiet"), "still being trained by process", str(os.getppid())
    )
    assert (finished_run / "metrics.jsonl").read_bytes() == before
    case.observe(line.replace(str(tmp_path), "TMP"))


def test_garbled_summary_and_metrics(case, tmp_path, cli, tiny_train, data, monkeypatch):
    case.describe(
        "a run stopped after epoch 2, then summary.json overwritten with garbage and metrics.jsonl given a "
        "garbage line in the middle and a cut-off last line",
        "list_runs still lists it; read_metrics skips the bad lines; resume completes and rewrites metrics "
        "so every line is valid JSON",
    )
    runs = tmp_path / "runs"
    result = cli.run(*train_argv(tiny_train, data, runs, "--max-steps", "4"))
    assert result.code == 0, result.err
    run_dir = the_run(runs)
    # The run was limited to 4 steps: lift the limit so resume has work left.
    config = run_dir / "config.toml"
    config.write_text(config.read_text().replace("max_steps = 4\n", ""))
    (run_dir / "summary.json").write_bytes(b"\x00\x17{{{ not json")
    lines = (run_dir / "metrics.jsonl").read_text().splitlines(keepends=True)
    (run_dir / "metrics.jsonl").write_text(
        "".join(lines[:2]) + "%%% garbage %%%\n" + "".join(lines[2:]) + '{"step": 5, "lo'
    )
    listed = list_runs(runs)
    assert [r.run_id for r in listed] == [run_dir.name]
    assert [r["step"] for r in read_metrics(run_dir)] == [1, 2, 3, 4]
    resumed = assert_resumes_to_the_end(cli, run_dir)
    for raw in (run_dir / "metrics.jsonl").read_text().splitlines():
        json.loads(raw)
    case.observe(f"listed with status {listed[0].status!r}; metrics read as steps 1-4; {resumed}")


def test_run_folder_without_its_config(case, tmp_path, cli, finished_run):
    case.describe(
        "a run folder whose config.toml was deleted",
        "list_runs ignores it; resume refuses: not an SSL Workbench run (no config.toml)",
    )
    (finished_run / "config.toml").unlink()
    assert list_runs(finished_run.parent) == []
    line = cli.assert_refused(cli.run("resume", finished_run), "is not an SSL Workbench run", "config.toml")
    case.observe(line.replace(str(tmp_path), "TMP"))
