"""Where runs go by default: one folder shared by the CLI and the GUI.

SSL_WORKBENCH_RUNS wins when set; otherwise the per-user data folder of the platform
(XDG_DATA_HOME or ~/.local/share on Linux, ~/Library/Application Support on macOS,
%LOCALAPPDATA% on Windows), under ssl-workbench/runs. `--runs-dir`, a config's `runs_dir` and
the GUI's Runs folder action choose another folder.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

RUNS_ENV = "SSL_WORKBENCH_RUNS"
APP_FOLDER = "ssl-workbench"


def user_data_dir(platform: str | None = None) -> Path:
    """The per-user folder for the app's data (created by whoever writes into it)."""
    platform = platform or sys.platform
    home = Path.home()
    if platform.startswith("win"):
        base = os.environ.get("LOCALAPPDATA") or str(home / "AppData" / "Local")
        return Path(base) / APP_FOLDER
    if platform == "darwin":
        return home / "Library" / "Application Support" / APP_FOLDER
    xdg = os.environ.get("XDG_DATA_HOME", "")
    base = Path(xdg) if xdg and Path(xdg).is_absolute() else home / ".local" / "share"  # the XDG rule
    return base / APP_FOLDER


def default_runs_dir(platform: str | None = None) -> Path:
    """The runs folder used when none was chosen: $SSL_WORKBENCH_RUNS, else <user data>/runs."""
    chosen = os.environ.get(RUNS_ENV, "").strip()
    if chosen:
        return Path(chosen).expanduser()
    return user_data_dir(platform) / "runs"


def resolve_run(run: str | Path, runs_dir: str | Path | None = None) -> Path:
    """A run folder as given, or a run id (as `ssl-core runs` lists it) inside `runs_dir` (default:
    `default_runs_dir()`). A name that is neither comes back unchanged, so the caller's error names it."""
    path = Path(run).expanduser()
    if path.exists() or len(path.parts) != 1:
        return path
    folder = Path(runs_dir).expanduser() if runs_dir else default_runs_dir()
    in_runs = folder / path
    return in_runs if in_runs.exists() else path


__all__ = ["APP_FOLDER", "RUNS_ENV", "default_runs_dir", "resolve_run", "user_data_dir"]
