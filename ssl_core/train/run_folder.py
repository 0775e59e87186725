"""A training run's folder over its life: created under a unique id, reopened to resume, its summary kept
current, and a failure recorded with what is left on disk and how to continue.

Paths come from the run store (`ssl_core.runs.store`); every file is written atomically.
"""

from __future__ import annotations

import logging
import os
from datetime import datetime
from pathlib import Path
from typing import Any

from ssl_core.config import RunConfig
from ssl_core.errors import UserError
from ssl_core.runs import store
from ssl_core.runs.atomic import remove_temp_files, write_error
from ssl_core.runs.metrics import truncate_metrics
from ssl_core.runs.run_id import new_run_id, safe_child
from ssl_core.train.preview_archive import archive_dir

log = logging.getLogger(__name__)


def now() -> str:
    return datetime.now().isoformat(timespec="seconds")


def create_run_dir(config: RunConfig) -> Path:
    """A new folder under `config.runs_dir` with a unique id, holding the config and an empty checkpoints/."""
    runs_dir = Path(config.runs_dir)
    try:
        runs_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(
            f"runs_dir {runs_dir} cannot be created ({exc.strerror or exc}); choose a folder you can "
            "write to.",
            field="runs_dir",
        ) from None
    run_id = new_run_id(runs_dir, config.method.name, config.data.spec, config.name)
    safe_child(runs_dir, run_id)  # the id comes from user text: refuse anything outside runs_dir
    run_dir = runs_dir / run_id  # as given (relative stays relative)
    try:
        (run_dir / "checkpoints").mkdir(parents=True)
    except OSError as exc:
        raise write_error(exc, run_dir) from None
    config.save(store.RunPaths(run_dir).config)
    return run_dir


def refuse_if_finetuned(run_dir: Path) -> None:
    """A fine-tuned classifier (ssl-core finetune) holds no training state to continue; its parent does."""
    summary = store.read_summary(run_dir)
    if summary.get("kind") == "finetune":
        parent = summary.get("parent") or "its parent run"
        raise UserError(
            f"{run_dir} is a fine-tuned classifier, not a training run, so it cannot be resumed; resume its "
            f"parent ({parent}) instead, or fine-tune again from it.",
            path=str(run_dir),
        )


def refuse_if_running(run_dir: Path) -> None:
    """Two trainers appending to one run would interleave its metrics and checkpoints."""
    summary = store.read_summary(run_dir)
    pid = summary.get("pid")
    if store.effective_status(summary) == "running" and pid != os.getpid():
        raise UserError(
            f"The run {run_dir} is still being trained by process {pid}; stop that process first "
            "(or wait for it to finish), then resume.",
            path=str(run_dir),
        )


def reopen_run_dir(run_dir: Path) -> str:
    """Make a run's folder ready to resume; returns when the run was created.

    A process killed while writing leaves temporary files next to the checkpoint, metrics, config, kept
    previews and summary; no one else writes the first four, so they are removed, and the summary's (which
    `ssl-core eval` may be writing) once the process that wrote them has ended."""
    created = store.read_summary(run_dir).get("created", now())
    paths = store.RunPaths(run_dir)
    remove_temp_files(paths.checkpoint.parent)
    remove_temp_files(archive_dir(run_dir))
    remove_temp_files(paths.root, names=(paths.metrics.name, paths.config.name))
    remove_temp_files(paths.root, names=(paths.summary.name,), dead_writers_only=True)
    return created


def rewind_metrics(run_dir: Path, step: int) -> None:
    """Drop metric lines past `step` (the resumed checkpoint's), which the run will write again."""
    truncate_metrics(store.RunPaths(run_dir).metrics, step)


def update_summary(run_dir: Path, **fields: Any) -> None:
    """Record `fields` in the run's summary.json, stamped with the time."""
    store.write_summary(run_dir, **fields, updated=now())


def record_failure(run_dir: Path | None, message: str) -> None:
    """Mark the run failed with `message`; a folder that cannot take it (e.g. a full disk) is logged."""
    if run_dir is None or not run_dir.is_dir():
        return
    try:
        update_summary(run_dir, status="failed", message=message)
    except OSError as exc:  # e.g. the disk that just filled up: the event still reports it
        log.warning("could not record the failure in %s: %s", run_dir, exc)


def with_resume_hint(message: str, run_dir: Path | None, checkpoint_step: int | None) -> str:
    """Add what is left on disk and how to continue, to a message about a failed run."""
    if run_dir is None or not store.RunPaths(run_dir).config.is_file():
        return message
    if checkpoint_step is None:
        return (
            f"{message} No checkpoint was saved yet; once this is fixed, `ssl-core resume {run_dir}` "
            "starts it again from step 0."
        )
    return (
        f"{message} The last checkpoint (step {checkpoint_step}) is kept; continue with: "
        f"ssl-core resume {run_dir}"
    )
