"""Training in a child process: the GUI's "All N GPUs" (train.processes > 1).

Data-parallel training runs one process per GPU under torchrun, so it cannot run on the GUI's worker
thread. `run_child` (run by TrainingSession on its worker thread, in place of the in-process Trainer)
starts `python -m ssl_core train --config CFG --control DIR --quiet` (or `resume RUN ...`) in its own
process group, then follows it:

- pause / resume / stop on the session's RunControl become DIR/command ("pause", "run", "stop"), which
  the child's rank 0 reads between steps (ssl_core.train.file_control);
- the run folder the child announces (DIR/run_dir) is read as it grows (ssl_core.runs.follow):
  summary.json -> RunStarted, metrics.jsonl lines -> StepEnded / EpochEnded, checkpoints/last.pt ->
  CheckpointSaved, kept previews -> PreviewReady, "warning: ..." lines of the child's log -> TrainWarning;
- the child's exit and the summary's status -> RunFinished, or RunFailed with the child's last
  "error: ..." line (a user error when it exits with 2, the CLI's code for one).

The events go to the same `publish` as the in-process trainer's, so the rest of the GUI cannot tell the
difference. The child's output goes to DIR/child.log; DIR is removed after a run that ended well and kept
(and named in the failure's details) after one that did not.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from ssl_core.config import RunConfig
from ssl_core.runs.follow import LineReader, RunFollower
from ssl_core.runs.store import RunPaths, effective_status
from ssl_core.train.control import RunControl
from ssl_core.train.events import (
    CheckpointSaved,
    EpochEnded,
    PreviewReady,
    RunFailed,
    RunFinished,
    RunStarted,
    StepEnded,
    TrainWarning,
)
from ssl_core.train.file_control import read_run_dir, write_command

log = logging.getLogger(__name__)

POLL_S = 0.15  # how often the worker looks at the child and its run folder (~7 times a second)
STOP_GRACE_S = 120.0  # after Stop, how long the child may take to save its checkpoint and end
CLOSE_GRACE_S = 30.0  # the same when the window closes (the job is cancelled)
INTERRUPT_GAP_S = 1.0  # between the two Ctrl+C that end a child which does not stop
KILL_GRACE_S = 45.0  # then, before killing its process group (the launcher gives its ranks 30 s)
LOG_NAME = "child.log"
CONFIG_NAME = "run.toml"
EXIT_USER_ERROR = 2  # what `ssl-core` returns for an error the user can fix
LOG_TAIL_LINES = 200


@dataclass(frozen=True)
class ChildResult:
    """What the worker returns (like the Trainer's RunResult)."""

    run_dir: Path | None
    status: str  # "completed", "stopped" or "failed"
    step: int
    message: str = ""


def wants_child(config: RunConfig | None, resume_dir: Path | None) -> bool:
    """Whether a run trains in a child process: more than one process (train.processes), for a new run
    from its config, for a resumed one from the config saved in its folder."""
    if config is None and resume_dir is not None:
        try:
            config = RunConfig.load(RunPaths(Path(resume_dir)).config)
        except Exception:  # the in-process path reports a broken run folder in its usual words
            return False
    return config is not None and int(getattr(config.train, "processes", 1) or 1) > 1


def child_command(config_path: Path | None, resume_dir: Path | None, control_dir: Path) -> list[str]:
    """The command line of the child: the engine's CLI, which re-launches itself under torchrun when the
    config asks for several processes."""
    base = [sys.executable, "-m", "ssl_core"]
    if resume_dir is not None:
        return [*base, "resume", str(resume_dir), "--control", str(control_dir), "--quiet"]
    return [*base, "train", "--config", str(config_path), "--control", str(control_dir), "--quiet"]


# On Linux the child is started through this prologue: if the app dies (a crash, a kill), the child gets the
# Ctrl+C a person would give it (PR_SET_PDEATHSIG, kept across exec), so the run stops at the next step with
# a checkpoint instead of training on with nobody to see or stop it. The parent's pid, passed first, closes
# the window in which the app died before the prologue ran.
ORPHAN_PROLOGUE = (
    "import ctypes, os, signal, sys\n"
    "ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGINT), 0, 0, 0)  # PR_SET_PDEATHSIG\n"
    "if os.getppid() != int(sys.argv[1]):\n"
    "    sys.exit(130)\n"
    "os.execvp(sys.argv[2], sys.argv[2:])\n"
)


def _orphan_safe(command: list[str]) -> list[str]:
    if not sys.platform.startswith("linux"):
        return command
    return [sys.executable, "-c", ORPHAN_PROLOGUE, str(os.getpid()), *command]


def _start(command: list[str], log_path: Path) -> subprocess.Popen:
    command = _orphan_safe(command)
    env = dict(os.environ, PYTHONUNBUFFERED="1")  # log lines arrive as they are written
    with log_path.open("wb") as out:  # the child keeps its own handle
        kwargs: dict[str, Any] = {}
        if os.name == "posix":
            kwargs["start_new_session"] = True  # its own process group: stopped as a whole
        else:  # pragma: no cover - Windows
            kwargs["creationflags"] = subprocess.CREATE_NEW_PROCESS_GROUP
        return subprocess.Popen(
            command, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env, **kwargs
        )


def _signal_group(proc: subprocess.Popen, how: str) -> None:
    """Signal the child's process group: "interrupt" (a Ctrl+C: the launcher's first asks the run to stop,
    its second ends the ranks it started, which run in a session of their own), "terminate" or "kill"."""
    if proc.poll() is not None:
        return
    try:
        if os.name == "posix":
            sig = {"interrupt": signal.SIGINT, "terminate": signal.SIGTERM, "kill": signal.SIGKILL}[how]
            os.killpg(proc.pid, sig)
        elif how == "kill":  # pragma: no cover - Windows
            proc.kill()
        else:  # pragma: no cover - Windows
            proc.send_signal(signal.CTRL_BREAK_EVENT)
    except (ProcessLookupError, PermissionError, OSError) as exc:
        log.info("could not signal the training process: %s", exc)


class _Ender:
    """Ends a child that has not stopped within its grace: two Ctrl+C (one second apart, or they would
    count as one), then, if it is still there KILL_GRACE_S later, SIGKILL to its process group."""

    def __init__(self, proc: subprocess.Popen):
        self.proc = proc
        self.began: float | None = None
        self.stage = 0

    @property
    def ending(self) -> bool:
        return self.began is not None

    def step(self) -> None:
        now = time.monotonic()
        if self.began is None:
            self.began = now
        waited = now - self.began
        if self.stage == 0:
            _signal_group(self.proc, "interrupt")
            self.stage = 1
        elif self.stage == 1 and waited >= INTERRUPT_GAP_S:
            _signal_group(self.proc, "interrupt")
            self.stage = 2
        elif self.stage == 2 and waited >= INTERRUPT_GAP_S + KILL_GRACE_S:
            log.warning("the training process is still there: killing it")
            _signal_group(self.proc, "kill")
            self.stage = 3


def _preview_from_archive(archived) -> Any:
    import torch

    from ssl_core.methods.base import Preview

    return Preview(
        kind=archived.kind,
        images={name: torch.from_numpy(array) for name, array in archived.arrays.items()},
        captions=dict(archived.captions),
        payload=archived.payload,
        meta=dict(archived.meta),
    )


class _Translator:
    """Turns what the follower reads into the trainer's events, in the trainer's order."""

    def __init__(
        self, publish: Callable[[Any], None], launched: float, processes: int, previews: bool, resuming: bool
    ):
        self.publish = publish
        self.resuming = resuming
        self.launched = launched  # wall time the child started: older metrics lines are the history
        self.processes = processes
        self.previews = previews
        self.follower: RunFollower | None = None
        self.started = False
        self.total_steps = 0
        self.steps_per_epoch = 1
        self.time_limit_s = 0.0
        self.started_at = 0.0
        self.step = 0  # the newest step reported
        self.epoch: int | None = None
        self.epoch_losses: list[float] = []
        self.epoch_closed = False
        self.window: deque[tuple[float, int]] = deque(maxlen=50)  # (time, step): speed and ETA
        self.checkpoint_pending = False
        self.checkpoint_step = -1
        self.warnings_seen: set[str] = set()

    def follow(self, run_dir: Path) -> None:
        if self.follower is None:
            self.follower = RunFollower(run_dir)

    def warn(self, text: str) -> None:
        if text and text not in self.warnings_seen:  # every rank may say the same thing
            self.warnings_seen.add(text)
            self.publish(TrainWarning(text))

    def poll(self, final: bool = False) -> dict[str, Any]:
        """Read what is new and publish it; returns the summary read."""
        if self.follower is None:
            return {}
        summary = self.follower.summary()
        if not self.started:
            begun = effective_status(summary) == "running" or final
            if "total_steps" not in summary or not begun or not self._written_by_child(summary):
                return summary
            checkpoint = self.follower.checkpoint_changed()
            records = [r for r in self.follower.new_records() if self._fresh(r)]
            self._start(summary, records)
        else:
            checkpoint = self.follower.checkpoint_changed()
            records = self.follower.new_records()
        for record in records:
            self._record(record)
        if final and summary.get("status") == "completed":
            self.finish("completed")  # the last epoch ends before its checkpoint, as in the trainer
        if checkpoint:
            self.checkpoint_pending = True
        if self.checkpoint_pending:
            step = int(summary.get("step", 0) or 0)
            if step > self.checkpoint_step or (final and step >= self.checkpoint_step):
                if summary.get("status") in ("running", "completed") and step == self.step:
                    self._close_epoch()  # a checkpoint at the end of an epoch (or of the run) follows it
                self.checkpoint_pending = False
                self.checkpoint_step = step
                epoch = max(0, (step - 1) // self.steps_per_epoch)  # the epoch of its last step
                self.publish(CheckpointSaved(self.follower.checkpoint_path, step, epoch))
        if self.previews:
            for archived in self.follower.new_previews():
                try:
                    self.publish(PreviewReady(archived.step, _preview_from_archive(archived)))
                except Exception as exc:  # a preview that cannot be rebuilt is only not shown
                    log.info("skipped a kept preview: %s", exc)
        return summary

    def _written_by_child(self, summary: dict[str, Any]) -> bool:
        """Whether the summary is this start's (a resumed run's folder has the previous one's until then)."""
        if not self.resuming:
            return True
        try:  # "updated" is the local time in whole seconds
            return datetime.fromisoformat(str(summary.get("updated"))).timestamp() >= self.launched - 1.0
        except (TypeError, ValueError):
            return False

    def _fresh(self, record: dict[str, Any]) -> bool:
        """Whether a metrics line was written by this child (a resumed run's file starts with its history)."""
        try:
            return float(record.get("time", 0.0)) >= self.launched
        except (TypeError, ValueError):
            return False

    def _start(self, summary: dict[str, Any], records: list[dict[str, Any]]) -> None:
        """RunStarted, from the child's first summary; the step it starts from is the one before its first
        metrics line (the summary's own step may already be a later checkpoint's)."""
        self.started = True
        self.total_steps = int(summary.get("total_steps") or 0)
        self.steps_per_epoch = max(1, int(summary.get("steps_per_epoch") or 1))
        if not self.resuming:
            self.step = 0
        elif records and str(records[0]["step"]).isdigit():
            self.step = max(0, int(records[0]["step"]) - 1)
        else:
            self.step = int(summary.get("step", 0) or 0)
        self.checkpoint_step = self.step
        self.started_at = time.time()
        device = str(summary.get("device") or "?")
        try:
            processes = int(summary.get("processes") or self.processes)
        except (TypeError, ValueError):
            processes = self.processes
        if processes > 1:  # "2 × cuda": rank 0's device is cuda:0
            device = f"{processes} × {device.split(':')[0]}"
        self.publish(
            RunStarted(
                self.follower.run_dir,
                self.total_steps,
                self.steps_per_epoch,
                self.step,
                device,
                self.time_limit_s,
            )
        )

    def _record(self, record: dict[str, Any]) -> None:
        try:
            step, epoch = int(record["step"]), int(record.get("epoch", 0))
            loss = float(record.get("loss", float("nan")))
            when = float(record.get("time", 0.0))
        except (TypeError, ValueError):
            return
        if step <= self.step or when < self.launched:  # history from before this start (a resume)
            return
        if self.epoch is not None and epoch != self.epoch and not self.epoch_closed:
            self._close_epoch()
        if self.epoch != epoch:
            self.epoch, self.epoch_losses, self.epoch_closed = epoch, [], False
        self.started_at = min(self.started_at, when)
        self.step = step
        self.epoch_losses.append(loss)
        self.window.append((when, step))
        per_step = 0.0
        if len(self.window) >= 2 and self.window[-1][1] > self.window[0][1]:
            per_step = (self.window[-1][0] - self.window[0][0]) / (self.window[-1][1] - self.window[0][1])
        eta = max(0, self.total_steps - step) * per_step
        used = None
        if self.time_limit_s > 0:
            elapsed = max(0.0, when - self.started_at)
            eta = min(eta, max(0.0, self.time_limit_s - elapsed))
            used = min(1.0, elapsed / self.time_limit_s)
        parts = record.get("parts") or {}
        self.publish(
            StepEnded(
                step=step,
                epoch=epoch,
                total_steps=self.total_steps,
                loss=loss,
                parts={str(k): float(v) for k, v in parts.items()} if isinstance(parts, dict) else {},
                lr=float(record.get("lr", 0.0) or 0.0),
                images_per_sec=float(record.get("images_per_sec", 0.0) or 0.0),
                eta_seconds=eta,
                time_fraction=used,
            )
        )
        if step % self.steps_per_epoch == 0:  # the epoch is complete: the trainer reports it now
            self._close_epoch()

    def _close_epoch(self) -> None:
        if self.epoch is not None and self.epoch_losses and not self.epoch_closed:
            self.epoch_closed = True
            self.publish(EpochEnded(self.epoch, self.step, sum(self.epoch_losses) / len(self.epoch_losses)))

    def finish(self, status: str) -> None:
        """A completed run reports its last (partial) epoch, as the trainer does; a stopped one does not."""
        if status == "completed":
            self._close_epoch()


# "error: ..." (ssl-core's one line for a user error) or argparse's "ssl-core train: error: ..."
ERROR_LINE = re.compile(r"^(?:ssl-core(?: [\w-]+)?: )?error: (?P<message>.+)$")


def _error_line(lines: deque[str]) -> str | None:
    """The child's last error line, without its "error: " prefix."""
    for line in reversed(lines):
        match = ERROR_LINE.match(line.strip())
        if match:
            return match.group("message").strip()
    return None


def run_child(
    config: RunConfig | None,
    resume_dir: Path | None,
    control: RunControl,
    preview_interval_s: float | None,
    publish: Callable[[Any], None],
    cancel: threading.Event | None = None,
    command: Callable[[Path | None, Path | None, Path], list[str]] | None = None,
) -> ChildResult:
    """Train in a child process and publish its events (see the module docstring). Runs on a worker
    thread; returns when the child has ended."""
    cancel = cancel or threading.Event()
    folder = Path(tempfile.mkdtemp(prefix="ssl-workbench-run-"))
    config_path = None
    if resume_dir is None:
        config_path = folder / CONFIG_NAME
        config.save(config_path)
        processes = int(config.train.processes)
        time_limit = float(config.train.time_limit_s)
    else:
        saved = RunConfig.load(RunPaths(Path(resume_dir)).config)
        processes, time_limit = int(saved.train.processes), float(saved.train.time_limit_s)
    write_command(folder, "run")
    log_path = folder / LOG_NAME
    argv = (command or child_command)(config_path, resume_dir, folder)
    translator = _Translator(
        publish, time.time(), processes, preview_interval_s is not None, resuming=resume_dir is not None
    )
    translator.time_limit_s = time_limit
    proc = _start(argv, log_path)
    log.info("training in a child process %d: %s", proc.pid, " ".join(argv))
    log_reader = LineReader(log_path)
    tail: deque[str] = deque(maxlen=LOG_TAIL_LINES)
    sent = "run"
    stop_since: float | None = None
    ender = _Ender(proc)
    try:
        while True:
            # the session's control -> the child's command file
            stopping = control.stop_requested or cancel.is_set()
            wanted = "stop" if stopping else "pause" if control.paused else "run"
            if wanted != sent:
                write_command(folder, wanted)
                sent = wanted
            if stopping and stop_since is None:
                stop_since = time.monotonic()
            exited = proc.poll() is not None
            for line in log_reader.new_lines():
                tail.append(line)
                if line.startswith("warning: "):
                    translator.warn(line[len("warning: ") :].strip())
            run_dir = read_run_dir(folder)
            if run_dir is not None:
                translator.follow(run_dir)
            translator.poll(final=exited)
            if exited:
                break
            if stop_since is not None:
                grace = CLOSE_GRACE_S if cancel.is_set() else STOP_GRACE_S
                waited = time.monotonic() - stop_since
                if waited > grace:
                    if not ender.ending:
                        log.warning("the training process did not stop within %.0f s: ending it", grace)
                    ender.step()
            time.sleep(POLL_S)
    except BaseException:
        _signal_group(proc, "interrupt")  # a bug here must not leave a run training unseen
        time.sleep(INTERRUPT_GAP_S)
        _signal_group(proc, "interrupt")
        raise
    code = proc.wait()
    for line in log_reader.new_lines():
        tail.append(line)
    summary = translator.poll(final=True)
    run_dir = translator.follower.run_dir if translator.follower is not None else None
    status = str(summary.get("status", ""))
    step = int(summary.get("step", translator.step) or 0)
    if code == 0 and status in ("completed", "stopped"):
        translator.finish(status)
        publish(RunFinished(run_dir, step, status, str(summary.get("note") or "")))
        shutil.rmtree(folder, ignore_errors=True)
        return ChildResult(run_dir, status, step)
    user_error = code == EXIT_USER_ERROR
    if ender.ending:
        message = (
            f"The training process did not stop within {CLOSE_GRACE_S if cancel.is_set() else STOP_GRACE_S:.0f} s "
            "and was ended; the run keeps its last checkpoint."
        )
    else:
        message = (
            _error_line(tail)
            or (str(summary.get("message")) if status == "failed" and summary.get("message") else None)
            or f"The training process ended unexpectedly (exit code {code})."
        )
    details = "" if user_error else "\n".join([*tail, "", f"(the full log: {log_path})"])
    publish(RunFailed(run_dir, step, message, details, user_error))
    return ChildResult(run_dir, "failed", step, message)
