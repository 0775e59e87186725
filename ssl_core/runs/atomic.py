"""Atomic file writes: write a temporary file in the same folder, fsync, then rename over the target.

A failed write (disk full, folder not writable) leaves the previous file untouched and raises
DiskWriteError: a UserError (the CLI prints it as one line) that is also an OSError (for callers that
catch those), naming the file and what to do.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import tempfile
from pathlib import Path
from typing import Any

from ssl_core.errors import UserError

log = logging.getLogger(__name__)

TEMP_SUFFIX = ".tmp"  # temporary files are ".<name>.<writer pid>-<random>.tmp" next to their target

_DISK_FULL = frozenset({errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)})
_NOT_WRITABLE = frozenset({errno.EACCES, errno.EPERM, errno.EROFS})


class DiskWriteError(UserError, OSError):
    """A file could not be written because of the disk or the folder, not because of a bug."""

    def __init__(self, message: str, *, path: str, code: int | None = None):
        UserError.__init__(self, message, path=path)
        self.errno = code
        self.filename = path

    def __str__(self) -> str:  # OSError's own format would hide the message
        return str(self.args[0]) if self.args else ""

    @property
    def disk_full(self) -> bool:
        return self.errno in _DISK_FULL


def write_error(exc: OSError, path: Path | str) -> DiskWriteError:
    """Turn an OSError raised while writing `path` into a message that says what happened and what to do."""
    if isinstance(exc, DiskWriteError):
        return exc
    reason = exc.strerror or str(exc)
    if exc.errno in _DISK_FULL:
        text = f"Cannot write {path}: the disk is full ({reason}). Free some disk space, then try again."
    elif exc.errno in _NOT_WRITABLE:
        text = (
            f"Cannot write {path}: the folder is not writable ({reason}). Make it writable or choose "
            "another folder, then try again."
        )
    else:
        text = f"Cannot write {path} ({reason}). Check the disk and the folder, then try again."
    return DiskWriteError(text, path=str(path), code=exc.errno)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # the writer's pid in the name: a cleaner can tell a write in progress from one a kill cut off
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.{os.getpid()}-", suffix=TEMP_SUFFIX, dir=path.parent)
    except OSError as exc:
        raise write_error(exc, path) from None
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)  # a half-written temporary file would only waste the space
        raise write_error(exc, path) from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: Path, obj: Any) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n")


def remove_temp_files(
    folder: Path, names: tuple[str, ...] | None = None, *, dead_writers_only: bool = False
) -> list[Path]:
    """Delete temporary files a killed process left in `folder` (only those of `names` when given).

    Without `dead_writers_only`, call this only where no other process may be writing at the same time
    (e.g. the checkpoints of a run being resumed). With it, a file is removed only when the process that
    wrote it has ended, so files another process may write (summary.json: `ssl-core eval` adds to it)
    can be cleaned too.
    """
    removed = []
    folder = Path(folder)
    if not folder.is_dir():
        return removed
    for tmp in folder.glob(f".*{TEMP_SUFFIX}"):
        target, writer = temp_file_parts(tmp)  # ".last.pt.123-ab12cd.tmp" -> "last.pt", 123
        if names is not None and target not in names:
            continue
        if dead_writers_only and (writer is None or _process_alive(writer)):
            continue
        try:
            tmp.unlink()
            removed.append(tmp)
        except FileNotFoundError:  # its writer renamed or removed it meanwhile
            continue
        except OSError as exc:
            log.warning("could not remove leftover temporary file %s: %s", tmp, exc)
    if removed:
        log.info("removed %d leftover temporary file(s) in %s", len(removed), folder)
    return removed


def temp_file_parts(tmp: Path) -> tuple[str, int | None]:
    """(target name, writer pid or None for a name without one) of a temporary file."""
    parts = tmp.name[1:].rsplit(".", 2)  # ".last.pt.123-ab12cd.tmp" -> ["last.pt", "123-ab12cd", "tmp"]
    pid, sep, _ = parts[1].partition("-") if len(parts) == 3 else ("", "", "")
    return parts[0], int(pid) if sep and pid.isdigit() else None


def _process_alive(pid: int) -> bool:
    if pid == os.getpid() or os.name == "nt":  # Windows' os.kill would terminate it: assume alive
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # it exists but belongs to someone else: keep the file
        return True
    return True
