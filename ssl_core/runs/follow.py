"""Follow a run folder that another process is writing: new metrics lines, the summary, the checkpoint
and the kept previews, read a little at a time (the GUI's "All N GPUs" runs train in a child process).

Nothing here waits or writes: `RunFollower` remembers how far it has read, and each call returns what is
new since the previous one. A line the trainer is still writing (no newline yet) is kept for the next call;
a file replaced by a shorter one (a resume rewinds metrics.jsonl) is read again from its start.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from ssl_core.runs.metrics import parse_metrics_line
from ssl_core.runs.store import CHECKPOINT, METRICS, read_summary
from ssl_core.train.preview_archive import INDEX_FILE, ArchivedPreview, archive_dir, read_archive

log = logging.getLogger(__name__)


class LineReader:
    """The complete lines appended to a text file since the last call."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.offset = 0
        self._identity: tuple[int, int] | None = None  # (device, inode): a replaced file starts over
        self._partial = b""

    def new_lines(self) -> list[str]:
        try:
            stat = os.stat(self.path)
        except OSError:
            return []
        identity = (stat.st_dev, stat.st_ino)
        if identity != self._identity or stat.st_size < self.offset:
            self._identity, self.offset, self._partial = identity, 0, b""
        if stat.st_size == self.offset:
            return []
        try:
            with self.path.open("rb") as fh:
                fh.seek(self.offset)
                data = fh.read()
        except OSError:
            return []
        self.offset += len(data)
        data = self._partial + data
        *lines, self._partial = data.split(b"\n")
        return [line.decode("utf-8", errors="replace").rstrip("\r") for line in lines]


class RunFollower:
    """What changed in a run folder since the last look (see the module docstring)."""

    def __init__(self, run_dir: str | Path):
        self.run_dir = Path(run_dir)
        self._metrics = LineReader(self.run_dir / METRICS)
        self._checkpoint_key: tuple[int, int] | None = self._file_key(self.run_dir / CHECKPOINT)
        self._preview_key: tuple[int, int] | None = self._file_key(archive_dir(self.run_dir) / INDEX_FILE)
        self._previews_seen: set[int] = {p.step for p in self._archived()} if self._preview_key else set()

    @staticmethod
    def _file_key(path: Path) -> tuple[int, int] | None:
        try:
            stat = os.stat(path)
        except OSError:
            return None
        return stat.st_mtime_ns, stat.st_size

    def summary(self) -> dict[str, Any]:
        return read_summary(self.run_dir)

    def new_records(self) -> list[dict[str, Any]]:
        """Metrics records (one per step) appended since the last call; garbled lines are skipped."""
        records = []
        for line in self._metrics.new_lines():
            record = parse_metrics_line(line)
            if record is not None:
                records.append(record)
            elif line.strip():
                log.info("%s: skipped an incomplete metrics line", self.run_dir)
        return records

    def checkpoint_changed(self) -> bool:
        """Whether checkpoints/last.pt was written since the last call (or since the follower began)."""
        key = self._file_key(self.run_dir / CHECKPOINT)
        changed = key is not None and key != self._checkpoint_key
        self._checkpoint_key = key
        return changed

    @property
    def checkpoint_path(self) -> Path:
        return self.run_dir / CHECKPOINT

    def _archived(self) -> list[ArchivedPreview]:
        return read_archive(self.run_dir)

    def new_previews(self) -> list[ArchivedPreview]:
        """Previews kept in RUN/previews/ since the last call (a handful per run, read only when the index
        changes)."""
        key = self._file_key(archive_dir(self.run_dir) / INDEX_FILE)
        if key is None or key == self._preview_key:
            return []
        self._preview_key = key
        fresh = [p for p in self._archived() if p.step not in self._previews_seen]
        self._previews_seen.update(p.step for p in fresh)
        return fresh
