"""Pause / resume / stop a run trained by another process, through a small control folder.

A run launched as a child process (the GUI's "All N GPUs", or `ssl-core train --devices N`, whose ranks
run under torchrun) cannot share a RunControl object with whoever launched it. They share a folder
instead (`--control DIR`):

- `DIR/command`: "run", "pause" or "stop", written atomically by the launcher (`write_command`);
- `DIR/run_dir`: the run's folder, written by the trainer once it exists (`announce_run_dir`), so the
  launcher can follow the run store (metrics.jsonl, summary.json) without guessing its id.

`FileControl` is a RunControl whose state also follows `DIR/command`; the file is read at most every
`poll_s` seconds, so polling it between training steps costs nothing measurable.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from ssl_core.train.control import RunControl

COMMAND_FILE = "command"
RUN_DIR_FILE = "run_dir"
COMMANDS = ("run", "pause", "stop")


def _write_text(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def write_command(folder: str | Path, command: str) -> None:
    """Ask the run controlled through `folder` to run, pause or stop."""
    if command not in COMMANDS:
        raise ValueError(f"command must be one of {', '.join(COMMANDS)}, got {command!r}")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    _write_text(folder / COMMAND_FILE, command)


def read_command(folder: str | Path) -> str:
    """The last command written to `folder` ("run" when there is none, or it cannot be read)."""
    try:
        text = (Path(folder) / COMMAND_FILE).read_text(encoding="utf-8").strip()
    except OSError:
        return "run"
    return text if text in COMMANDS else "run"


def announce_run_dir(folder: str | Path, run_dir: str | Path) -> None:
    """Tell the launcher where the run's folder is (written once the trainer has created or reopened it)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    _write_text(folder / RUN_DIR_FILE, str(Path(run_dir).resolve()))


def read_run_dir(folder: str | Path) -> Path | None:
    """The run folder announced in `folder`, or None while there is none yet."""
    try:
        text = (Path(folder) / RUN_DIR_FILE).read_text(encoding="utf-8").strip()
    except OSError:
        return None
    return Path(text) if text else None


class FileControl(RunControl):
    """A RunControl that also obeys `folder/command`. Calls made in this process (a Ctrl+C handler's
    stop()) still count: a stop from either side stops the run."""

    def __init__(self, folder: str | Path, poll_s: float = 0.2) -> None:
        super().__init__()
        self.folder = Path(folder)
        self.poll_s = poll_s
        self._read_at = -float("inf")
        self._command = "run"

    def _file_command(self) -> str:
        now = time.monotonic()
        if now - self._read_at >= self.poll_s:
            self._read_at = now
            self._command = read_command(self.folder)
        return self._command

    @property
    def paused(self) -> bool:
        return not self.stop_requested and (super().paused or self._file_command() == "pause")

    @property
    def stop_requested(self) -> bool:
        return super().stop_requested or self._file_command() == "stop"

    def wait_while_paused(self, poll: float = 0.1) -> None:
        while self.paused:
            time.sleep(poll)
