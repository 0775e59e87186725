"""`ssl-workbench --install-desktop-entry` / `--uninstall-desktop-entry`: the launcher (.desktop file), the
icons and the AppStream metainfo in the current user's XDG data folder ($XDG_DATA_HOME, default
~/.local/share), so desktops list the app, show its icon and group its windows under it.

Qt-free: it runs before any QApplication exists. Install and uninstall compute the same file list
(`entry_files`), so uninstalling removes exactly what installing wrote and nothing else.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from app.resources import resource_path
from app.settings import APPLICATION
from ssl_core.errors import UserError

log = logging.getLogger(__name__)

# One name for the desktop file id, the icon and the window class: Qt sets WM_CLASS to
# (argv[0]'s name, applicationName) on X11 and the Wayland app id to desktopFileName, and app/main.py sets
# applicationName = desktopFileName = APPLICATION, so StartupWMClass in the template is this name too.
DESKTOP_ID = APPLICATION
ICON_NAME = APPLICATION
SCRIPT = "ssl-workbench"  # the console script (pyproject [project.scripts])
APPSTREAM_ID = "io.github.ssl_workbench.SslWorkbench"  # its <launchable> is DESKTOP_ID.desktop
DESKTOP_TEMPLATE = ("desktop", f"{DESKTOP_ID}.desktop")
METAINFO = ("desktop", f"{APPSTREAM_ID}.metainfo.xml")
HEADER = (
    "# Written by `ssl-workbench --install-desktop-entry`; `ssl-workbench --uninstall-desktop-entry` "
    "removes it.\n"
)


class DesktopEntryError(UserError):
    """The launcher could not be installed or removed (an unwritable folder, a non-freedesktop system)."""


@dataclass(frozen=True)
class EntryFile:
    source: tuple[str, ...]  # under the bundled resources (resource_path)
    target: Path  # where it goes


def data_home() -> Path:
    """$XDG_DATA_HOME when set to an absolute path (the spec says to ignore a relative one), else
    ~/.local/share."""
    value = os.environ.get("XDG_DATA_HOME", "")
    if value and os.path.isabs(value):
        return Path(value)
    return Path.home() / ".local" / "share"


def entry_files(home: Path | None = None) -> list[EntryFile]:
    """Every file the desktop entry consists of, with where it comes from and where it goes."""
    home = data_home() if home is None else home
    icons = _hicolor(home)
    return [
        EntryFile(DESKTOP_TEMPLATE, home / "applications" / f"{DESKTOP_ID}.desktop"),
        EntryFile(("icons", "ssl-workbench.svg"), icons / "scalable" / "apps" / f"{ICON_NAME}.svg"),
        EntryFile(("icons", "ssl-workbench-256.png"), icons / "256x256" / "apps" / f"{ICON_NAME}.png"),
        EntryFile(("icons", "ssl-workbench-64.png"), icons / "64x64" / "apps" / f"{ICON_NAME}.png"),
        EntryFile(METAINFO, home / "metainfo" / f"{APPSTREAM_ID}.metainfo.xml"),
    ]


def find_script() -> Path | None:
    """The installed `ssl-workbench` console script: the one beside this Python (the same virtual
    environment, e.g. pipx's), else the first on PATH; None when there is none."""
    beside = Path(sys.executable).parent / SCRIPT  # not resolved: a venv's python is a symlink out of it
    if beside.is_file() and os.access(beside, os.X_OK):
        return beside.absolute()
    found = shutil.which(SCRIPT)
    return Path(found).absolute() if found else None


# Characters that make an Exec argument need double quotes (Desktop Entry Specification, "The Exec key").
_EXEC_RESERVED = frozenset(" \t\n\"'\\><~|&;$*?#()`")


def exec_argument(arg: str) -> str:
    """`arg` as one argument of an Exec value, quoted and escaped as the specification asks."""
    arg = arg.replace("%", "%%")
    if any(c in _EXEC_RESERVED for c in arg):
        arg = '"' + "".join("\\" + c if c in '"`$\\' else c for c in arg) + '"'
    return _escape_string(arg)


def _escape_string(value: str) -> str:
    """A desktop-file string value: backslashes (and control characters) escaped."""
    value = value.replace("\\", "\\\\").replace("\n", "\\n").replace("\t", "\\t").replace("\r", "\\r")
    return "\\s" + value[1:] if value.startswith(" ") else value


def desktop_file_text(script: Path | None) -> str:
    """The bundled .desktop template with Exec and TryExec pointing at `script` (its bare name when None,
    found on PATH at launch)."""
    program = str(script) if script is not None else SCRIPT
    lines = []
    for line in resource_path(*DESKTOP_TEMPLATE).read_text(encoding="utf-8").splitlines():
        if line.startswith("#") and not lines:
            continue  # the template's own comment; replaced by HEADER
        key, sep, value = line.partition("=")
        if sep and key.strip() == "Exec":
            _, _, args = value.strip().partition(" ")  # the template's program, then its field codes
            # GLib looks for the program before expanding %% (a path with % would hide the entry): env runs it.
            command = exec_argument(program) if "%" not in program else f"env {exec_argument(program)}"
            line = f"Exec={command} {args}".rstrip()
        elif sep and key.strip() == "TryExec":
            line = f"TryExec={_escape_string(program)}"
        lines.append(line)
    return HEADER + "\n".join(lines) + "\n"


@dataclass(frozen=True)
class Installed:
    files: list[Path]
    script: Path | None  # what Exec runs; None: the bare name, looked up on PATH at launch


def install(home: Path | None = None) -> Installed:
    """Write the desktop entry's files (replacing older ones) and refresh the desktop's caches."""
    _require_freedesktop()
    home = data_home() if home is None else home
    files = entry_files(home)
    script = find_script()
    written = []
    for item in files:
        if item.source == DESKTOP_TEMPLATE:
            data = desktop_file_text(script).encode("utf-8")
        else:
            data = resource_path(*item.source).read_bytes()
        _write(item.target, data)
        written.append(item.target)
    _refresh_caches(home)
    return Installed(written, script)


def uninstall(home: Path | None = None) -> list[Path]:
    """Remove the files `install` writes (those present); other files and the folders stay."""
    _require_freedesktop()
    home = data_home() if home is None else home
    removed = []
    for item in entry_files(home):
        try:
            item.target.unlink()
        except FileNotFoundError:
            continue
        except OSError as exc:
            raise DesktopEntryError(
                f"Cannot remove {item.target}: {exc.strerror or exc}. Check the permissions of {item.target.parent}."
            ) from exc
        removed.append(item.target)
    if removed:
        _refresh_caches(home)
    return removed


def _require_freedesktop() -> None:
    if sys.platform in ("win32", "darwin"):
        raise DesktopEntryError(
            "Desktop entries are for Linux and BSD desktops (freedesktop.org); on this system start the app "
            "with `ssl-workbench`."
        )


def _write(target: Path, data: bytes) -> None:
    """Write through a temporary file in the same folder, then rename, with normal permissions (rw-r--r--)."""
    tmp = target.with_name(f".{target.name}.tmp")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_bytes(data)
        tmp.chmod(0o644)
        os.replace(tmp, target)
    except OSError as exc:
        if tmp.parent.is_dir():
            tmp.unlink(missing_ok=True)
        existing = _first_existing(target.parent)
        advice = (
            f"{existing} is a file, not a folder" if not existing.is_dir() else f"make {existing} writable"
        )
        raise DesktopEntryError(
            f"Cannot write {target}: {exc.strerror or exc}; {advice}, or set XDG_DATA_HOME to a folder you can write."
        ) from exc


def _first_existing(path: Path) -> Path:
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def _hicolor(home: Path) -> Path:
    return home / "icons" / "hicolor"


def _refresh_caches(home: Path) -> None:
    """Tell the desktop about the change where its tools are installed; never required. The icon cache
    is only updated when one exists: creating one would hide the icons of apps that never update it."""
    _run_quietly(["update-desktop-database", "-q", str(home / "applications")])
    hicolor = _hicolor(home)
    if (hicolor / "icon-theme.cache").is_file():
        _run_quietly(["gtk-update-icon-cache", "-q", "-t", "-f", str(hicolor)])


def _run_quietly(command: list[str]) -> None:
    if shutil.which(command[0]) is None:
        return
    try:
        subprocess.run(command, capture_output=True, timeout=30, check=False)
    except (OSError, subprocess.SubprocessError):
        log.debug("%s failed", command[0], exc_info=True)


def main(action: str) -> int:
    """The command-line flags: "install" or "uninstall"; prints what was written or removed. Returns the
    exit status (2 with one line on stderr when it failed)."""
    try:
        if action == "install":
            done = install()
            print("Installed the SSL Workbench launcher for this user:")
            for path in done.files:
                print(f"  {path}")
            if done.script is not None:
                print(f"It starts {done.script}.")
            else:
                print(f"It starts `{SCRIPT}` from PATH (no installed {SCRIPT} script was found).")
        else:
            removed = uninstall()
            if removed:
                print("Removed the SSL Workbench launcher:")
                for path in removed:
                    print(f"  {path}")
            else:
                print(f"Nothing to remove: no SSL Workbench launcher in {data_home()}.")
    except DesktopEntryError as exc:
        print(f"ssl-workbench: {exc}", file=sys.stderr)
        return 2
    return 0
