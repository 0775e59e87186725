"""Permissions of files made for people to open and share (exports, maps): the mode any newly created
file gets, 0666 minus the umask (0644 usually), not the private 0600 of the temporary files that an
atomic write renames into place."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path


def current_umask() -> int:
    """The process's umask, read without changing it where the system says it (Linux's /proc): setting
    and restoring it, the only portable way, would race with other threads creating files."""
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/self/status").read_text(encoding="ascii", errors="replace").splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def normal_file_mode() -> int:
    """The mode of a newly created file: 0o644 under the usual umask 022."""
    return 0o666 & ~current_umask()


def give_normal_mode(path: str | Path) -> None:
    """Make `path` readable as a newly created file would be (best effort: some file systems refuse)."""
    with contextlib.suppress(OSError):
        os.chmod(path, normal_file_mode())


def write_shared_file(path: str | Path, data: bytes) -> Path:
    """Write a file made to be shared (an export, a map) whole or not at all (the run store's atomic
    write, which raises DiskWriteError naming the file and what to do), then give it the normal mode:
    the atomic write's temporary file is private (0600), and the target may be an older private file."""
    from ssl_core.runs.atomic import atomic_write_bytes

    path = Path(path)
    atomic_write_bytes(path, data)
    give_normal_mode(path)
    return path


__all__ = ["current_umask", "give_normal_mode", "normal_file_mode", "write_shared_file"]
