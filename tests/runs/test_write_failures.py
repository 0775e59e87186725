"""Atomic writes that fail (full disk, unwritable folder) keep the old file and explain what to do."""

import errno
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from ssl_core.errors import UserError
from ssl_core.runs.atomic import DiskWriteError, atomic_write_text, remove_temp_files, write_error
from ssl_core.runs.checkpoint import load_checkpoint
from ssl_core.runs.metrics import MetricsWriter


def test_failed_write_keeps_the_old_file_and_names_it(tmp_path, monkeypatch):
    path = tmp_path / "summary.json"
    atomic_write_text(path, "old")

    def full(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(DiskWriteError) as info:
        atomic_write_text(path, "new")
    monkeypatch.undo()
    error = info.value
    assert isinstance(error, UserError) and isinstance(error, OSError) and error.disk_full
    assert (
        str(path) in str(error) and "the disk is full" in str(error) and "Free some disk space" in str(error)
    )
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["summary.json"]  # no temporary file left


@pytest.mark.parametrize(
    "code, words",
    [(errno.EACCES, "not writable"), (errno.EROFS, "not writable"), (errno.EIO, "Check the disk")],
)
def test_write_error_messages(code, words):
    error = write_error(OSError(code, os.strerror(code)), "/runs/x/last.pt")
    assert words in str(error) and "/runs/x/last.pt" in str(error) and error.errno == code
    assert "\n" not in str(error)


def test_remove_temp_files_only_touches_the_named_targets(tmp_path):
    for name in (
        ".last.pt.abc123.tmp",
        ".metrics.jsonl.x1.tmp",
        ".summary.json.y2.tmp",
        "keep.tmp",
        "last.pt",
    ):
        (tmp_path / name).write_text("x")
    removed = remove_temp_files(tmp_path, names=("last.pt", "metrics.jsonl"))
    assert sorted(p.name for p in removed) == [".last.pt.abc123.tmp", ".metrics.jsonl.x1.tmp"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [".summary.json.y2.tmp", "keep.tmp", "last.pt"]


def test_summary_temp_files_go_once_the_process_that_wrote_them_has_ended(tmp_path):
    """summary.json may be written by another process (`ssl-core eval`) while a run resumes: only the
    temporary files of writers that have ended (a kill cut their write off) are removed."""
    ended = subprocess.Popen([sys.executable, "-c", "pass"])
    ended.wait()
    running = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        names = [
            f".summary.json.{ended.pid}-ab12cd.tmp",  # cut off by a kill
            f".summary.json.{running.pid}-cd34ef.tmp",  # being written by another process
            f".summary.json.{os.getpid()}-ef56gh.tmp",  # being written by this one
            ".summary.json.x9y8z7.tmp",  # no writer in the name: cannot tell, kept
            f".metrics.jsonl.{ended.pid}-ab12cd.tmp",  # another target
        ]
        for name in names:
            (tmp_path / name).write_text("{}")
        removed = remove_temp_files(tmp_path, names=("summary.json",), dead_writers_only=True)
        assert [p.name for p in removed] == [names[0]]
        assert sorted(p.name for p in tmp_path.iterdir()) == sorted(names[1:])
    finally:
        running.kill()
        running.wait()


def test_temporary_files_carry_their_writers_pid(tmp_path, monkeypatch):
    renamed = []
    real_replace = os.replace
    monkeypatch.setattr(
        os, "replace", lambda src, dst: (renamed.append(Path(src).name), real_replace(src, dst))
    )
    atomic_write_text(tmp_path / "summary.json", "{}")
    assert len(renamed) == 1 and renamed[0].startswith(f".summary.json.{os.getpid()}-")
    assert renamed[0].endswith(".tmp") and (tmp_path / "summary.json").read_text() == "{}"


def test_metrics_append_on_a_full_disk(tmp_path):
    writer = MetricsWriter(tmp_path / "metrics.jsonl")

    class Full:
        closed = False

        def write(self, text):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

        def flush(self):
            pass

        def close(self):
            self.closed = True

    writer._fh.close()
    writer._fh = Full()
    with pytest.raises(DiskWriteError, match="metrics.jsonl: the disk is full"):
        writer.append({"step": 1})
    writer.close()


def test_checkpoint_that_is_not_a_dict_is_refused(tmp_path):
    torch.save([1, 2, 3], tmp_path / "list.pt")
    with pytest.raises(UserError, match="holds a list, not a checkpoint"):
        load_checkpoint(tmp_path / "list.pt")
