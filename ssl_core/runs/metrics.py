"""metrics.jsonl: one JSON object per optimizer step, appended and flushed as training goes."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from ssl_core.runs.atomic import atomic_write_text, write_error

log = logging.getLogger(__name__)

METRICS_NAME = "metrics.jsonl"


def parse_metrics_line(line: str) -> dict[str, Any] | None:
    """One step's record, or None for a blank, truncated or garbled line (a killed process's last)."""
    line = line.strip()
    if not line:
        return None
    try:
        record = json.loads(line)
    except json.JSONDecodeError:
        return None
    return record if isinstance(record, dict) and "step" in record else None


def read_metrics(path: Path) -> list[dict[str, Any]]:
    """All complete records; a truncated or garbled line (a killed process) is skipped, not fatal."""
    path = Path(path)
    if path.is_dir():
        path = path / "metrics.jsonl"
    if not path.exists():
        return []
    records = []
    with path.open("r", encoding="utf-8", errors="replace") as fh:
        for number, line in enumerate(fh, 1):
            record = parse_metrics_line(line)
            if record is not None:
                records.append(record)
            elif line.strip():
                log.warning("%s: line %d is incomplete and was skipped", path, number)
    return records


def truncate_metrics(path: Path, last_step: int) -> int:
    """Keep only records up to `last_step` (the checkpoint a resume starts from); returns how many."""
    kept = [r for r in read_metrics(path) if int(r["step"]) <= last_step]
    atomic_write_text(path, "".join(json.dumps(r) + "\n" for r in kept))
    return len(kept)


class MetricsWriter:
    """Appends one line per step and flushes it, so a killed process loses at most a partial line."""

    def __init__(self, path: Path):
        self.path = Path(path)
        try:
            self._fh = self.path.open("a", encoding="utf-8")
        except OSError as exc:
            raise write_error(exc, self.path) from None

    def append(self, record: dict[str, Any]) -> None:
        try:
            self._fh.write(json.dumps(record) + "\n")
            self._fh.flush()
        except OSError as exc:
            raise write_error(exc, self.path) from None

    def close(self) -> None:
        if not self._fh.closed:
            try:
                self._fh.close()
            except OSError as exc:  # a full disk may refuse the last buffered bytes; the error is known
                log.warning("%s: %s", self.path, exc)
