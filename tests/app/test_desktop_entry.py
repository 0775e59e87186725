"""`ssl-workbench --install-desktop-entry` / `--uninstall-desktop-entry`: the launcher, icons and AppStream
metainfo land in $XDG_DATA_HOME, validate with the freedesktop tools, agree with the window class Qt sets,
and uninstalling removes exactly them."""

from __future__ import annotations

import configparser
import os
import shutil
import struct
import subprocess
import sys
import textwrap
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

try:
    import tomllib
except ImportError:  # Python 3.10
    import tomli as tomllib

from app import desktop_entry
from app.desktop_entry import APPSTREAM_ID, DESKTOP_ID, ICON_NAME
from app.resources import resource_path
from app.settings import APPLICATION
from tests.xvfb_command import xvfb_run

ROOT = Path(__file__).resolve().parents[2]
RAW_PREFIX = "https://raw.githubusercontent.com/ssl-workbench/ssl-workbench/main/"


def _expected(home: Path) -> dict[str, Path]:
    icons = home / "icons" / "hicolor"
    return {
        "desktop": home / "applications" / f"{DESKTOP_ID}.desktop",
        "svg": icons / "scalable" / "apps" / f"{ICON_NAME}.svg",
        "png256": icons / "256x256" / "apps" / f"{ICON_NAME}.png",
        "png64": icons / "64x64" / "apps" / f"{ICON_NAME}.png",
        "metainfo": home / "metainfo" / f"{APPSTREAM_ID}.metainfo.xml",
    }


def _entry(path: Path) -> configparser.SectionProxy:
    parser = configparser.ConfigParser(interpolation=None, comment_prefixes=("#",), delimiters=("=",))
    parser.optionxform = str  # keys are case-sensitive
    parser.read_string(path.read_text(encoding="utf-8"))
    return parser["Desktop Entry"]


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    return struct.unpack(">II", data[16:24])


@pytest.fixture
def data_home(tmp_path, monkeypatch) -> Path:
    home = tmp_path / "xdg data"  # a space, as in many home folders: Exec must quote such paths
    monkeypatch.setenv("XDG_DATA_HOME", str(home))
    return home


def test_install_writes_the_launcher_icons_and_metainfo(data_home):
    done = desktop_entry.install()
    expected = _expected(data_home)
    assert sorted(done.files) == sorted(expected.values())
    for path in expected.values():
        assert path.is_file() and path.stat().st_size > 0, path
        assert path.stat().st_mode & 0o777 == 0o644, path
    entry = _entry(expected["desktop"])
    # Exec runs the installed console script by its absolute path, with the file a launcher passes.
    program, field = entry["Exec"].rsplit(" ", 1)
    assert field == "%f"
    assert done.script is not None and program == str(done.script)
    assert done.script.is_absolute() and done.script.is_file() and os.access(done.script, os.X_OK)
    assert done.script.name == "ssl-workbench"
    assert entry["TryExec"] == str(done.script)
    assert entry["Icon"] == ICON_NAME == "ssl-workbench"
    assert entry["StartupWMClass"] == APPLICATION == "ssl-workbench"
    assert entry["Type"] == "Application" and entry["Terminal"] == "false"
    # Everything else as in the bundled template (one file, no second copy to drift).
    template = _entry(resource_path("desktop", f"{DESKTOP_ID}.desktop"))
    assert {k: v for k, v in entry.items() if k not in ("Exec", "TryExec")} == {
        k: v for k, v in template.items() if k not in ("Exec", "TryExec")
    }
    assert template["Exec"] == "ssl-workbench %f" and template["TryExec"] == "ssl-workbench"
    # The icons are the bundled ones, each at the size its folder promises.
    assert expected["svg"].read_bytes() == resource_path("icons", "ssl-workbench.svg").read_bytes()
    assert b"<svg" in expected["svg"].read_bytes()[:500]
    assert _png_size(expected["png256"]) == (256, 256)
    assert _png_size(expected["png64"]) == (64, 64)
    assert (
        expected["metainfo"].read_bytes() == resource_path("desktop", expected["metainfo"].name).read_bytes()
    )
    assert not list(data_home.rglob(".*.tmp"))  # no temporary files left behind


def test_uninstall_removes_exactly_what_install_wrote(data_home):
    expected = _expected(data_home)
    foreign = [path.with_name("someone-else" + path.suffix) for path in expected.values()]
    for path in foreign:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("not ours")
    desktop_entry.install()
    desktop_entry.install()  # again: replaces, nothing doubled
    removed = desktop_entry.uninstall()
    assert sorted(removed) == sorted(expected.values())
    assert not any(path.exists() for path in expected.values())
    assert all(path.read_text() == "not ours" for path in foreign)
    assert desktop_entry.uninstall() == []  # nothing left to remove


def test_xdg_data_home_defaults_to_local_share(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("XDG_DATA_HOME", raising=False)
    assert desktop_entry.data_home() == tmp_path / ".local" / "share"
    monkeypatch.setenv("XDG_DATA_HOME", "relative/path")  # invalid per the spec: ignored
    assert desktop_entry.data_home() == tmp_path / ".local" / "share"


def test_exec_quotes_paths_the_way_the_specification_asks(data_home):
    assert desktop_entry.exec_argument("/usr/bin/ssl-workbench") == "/usr/bin/ssl-workbench"
    assert desktop_entry.exec_argument("/opt/my apps/ssl-workbench") == '"/opt/my apps/ssl-workbench"'
    # In quotes " ` $ \ get a backslash, which the string escaping doubles; % is doubled.
    assert desktop_entry.exec_argument('/a "b"/$c') == '"/a \\\\"b\\\\"/\\\\$c"'
    text = desktop_entry.desktop_file_text(Path("/opt/50% off/bin/ssl-workbench"))
    entry = _entry_from_text(text, data_home)
    assert entry["Exec"] == 'env "/opt/50%% off/bin/ssl-workbench" %f'  # env: GLib checks the path before %%
    assert entry["TryExec"] == "/opt/50% off/bin/ssl-workbench"


def _entry_from_text(text: str, folder: Path) -> configparser.SectionProxy:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "probe.desktop"
    path.write_text(text, encoding="utf-8")
    return _entry(path)


def test_without_an_installed_script_exec_names_the_command(data_home, monkeypatch, tmp_path):
    monkeypatch.setattr(sys, "executable", str(tmp_path / "nowhere" / "python"))
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    done = desktop_entry.install()
    entry = _entry(_expected(data_home)["desktop"])
    assert done.script is None
    assert entry["Exec"] == "ssl-workbench %f" and entry["TryExec"] == "ssl-workbench"


def _require_tool(name: str, package: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"{name} is not installed (Debian package {package}; `make test` installs it)")
    return path


def test_desktop_files_validate(data_home, tmp_path):
    tool = _require_tool("desktop-file-validate", "desktop-file-utils")
    desktop_entry.install()
    spaced = tmp_path / "spaced" / f"{DESKTOP_ID}.desktop"
    spaced.parent.mkdir()
    spaced.write_text(
        desktop_entry.desktop_file_text(Path("/opt/my $apps/50%/ssl-workbench")), encoding="utf-8"
    )
    for path in (resource_path("desktop", f"{DESKTOP_ID}.desktop"), _expected(data_home)["desktop"], spaced):
        result = subprocess.run([tool, str(path)], capture_output=True, text=True, timeout=30)
        assert result.returncode == 0 and result.stdout.strip() == "", (
            f"{path}:\n{result.stdout}{result.stderr}"
        )


def test_metainfo_validates_and_agrees_with_the_project(data_home):
    tool = _require_tool("appstreamcli", "appstream")
    desktop_entry.install()
    path = _expected(data_home)["metainfo"]
    result = subprocess.run(
        [tool, "validate", "--no-net", str(path)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "W:" not in result.stdout and "E:" not in result.stdout, result.stdout
    # As a tree (prefix/usr/share), appstreamcli also checks that the launchable names the desktop file.
    tree = data_home.parent / "tree"
    desktop_entry.install(tree / "usr" / "share")
    result = subprocess.run(
        [tool, "validate-tree", "--no-net", str(tree)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "W:" not in result.stdout and "E:" not in result.stdout, result.stdout

    root = ET.parse(path).getroot()
    assert root.get("type") == "desktop-application"
    assert root.findtext("id") == APPSTREAM_ID
    assert root.find("launchable[@type='desktop-id']").text == f"{DESKTOP_ID}.desktop"
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["scripts"]
    assert sorted(b.text for b in root.iter("binary")) == sorted(scripts)
    from ssl_core import __version__

    assert root.find("releases/release").get("version") == __version__
    assert root.find("content_rating").get("type") == "oars-1.1"
    assert len(root.findall("description/ul/li")) >= 3
    # Every screenshot is a file in this repository (its raw URL on the main branch), with a caption.
    shots = root.findall("screenshots/screenshot")
    assert len(shots) >= 3 and shots[0].get("type") == "default"
    for shot in shots:
        assert shot.findtext("caption").strip()
        url = shot.findtext("image").strip()
        assert url.startswith(RAW_PREFIX), url
        assert (ROOT / url.removeprefix(RAW_PREFIX)).is_file(), url


def test_cli_installs_and_uninstalls(tmp_path):
    home = tmp_path / "data"
    env = dict(os.environ, XDG_DATA_HOME=str(home), PYTHONPATH=str(ROOT))
    env.pop("DISPLAY", None)  # no display needed: nothing of Qt's GUI starts

    def run(*args: str, data_home: Path = home) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "app", *args],
            cwd=ROOT,
            env=dict(env, XDG_DATA_HOME=str(data_home)),
            capture_output=True,
            text=True,
            timeout=60,
        )

    installed = run("--install-desktop-entry")
    assert installed.returncode == 0, installed.stderr
    expected = _expected(home)
    for path in expected.values():
        assert path.is_file() and str(path) in installed.stdout
    program = _entry(expected["desktop"])["Exec"].rsplit(" ", 1)[0]
    assert Path(program).is_file() and os.access(program, os.X_OK), program
    assert installed.stderr == ""

    removed = run("--uninstall-desktop-entry")
    assert removed.returncode == 0, removed.stderr
    assert not any(path.exists() for path in expected.values())
    assert all(str(path) in removed.stdout for path in expected.values())

    blocker = tmp_path / "a-file"  # XDG_DATA_HOME naming a file: nothing can be written under it
    blocker.write_text("")
    failed = run("--install-desktop-entry", data_home=blocker)
    assert failed.returncode == 2
    lines = failed.stderr.strip().splitlines()
    assert len(lines) == 1 and str(blocker) in lines[0] and "XDG_DATA_HOME" in lines[0], failed.stderr
    assert "Traceback" not in failed.stderr


WINDOW_CLASS_SCRIPT = textwrap.dedent(
    """
    import subprocess, sys
    from PySide6.QtWidgets import QWidget
    from app.main import create_app
    app = create_app([sys.argv[1]])
    widget = QWidget()
    widget.show()
    app.processEvents()
    result = subprocess.run(
        ["xprop", "-id", str(int(widget.winId())), "WM_CLASS", "_GTK_APPLICATION_ID"],
        capture_output=True, text=True, timeout=30,
    )
    print(result.stdout)
    """
)


@pytest.mark.xvfb
def test_startup_wm_class_matches_the_window_class_qt_sets(tmp_path):
    """Launchers group windows by WM_CLASS (X11) or the app id; both must name the desktop entry."""
    for tool, package in (("xvfb-run", "xvfb"), ("Xvfb", "xvfb"), ("xprop", "x11-utils")):
        _require_tool(tool, package)
    env = {k: v for k, v in os.environ.items() if k not in ("QT_QPA_PLATFORM", "DISPLAY", "WAYLAND_DISPLAY")}
    env["PYTHONPATH"] = str(ROOT)
    script = tmp_path / "bin" / "ssl-workbench"  # argv[0] as the console script gives it
    result = subprocess.run(
        [*xvfb_run(), sys.executable, "-c", WINDOW_CLASS_SCRIPT, str(script)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if result.returncode != 0 and 'Could not load the Qt platform plugin "xcb"' in result.stderr:
        pytest.skip("Qt's xcb plugin cannot load: install its X libraries (see the Makefile's QT_DEBS)")
    assert result.returncode == 0, result.stdout + result.stderr
    startup_wm_class = _entry(resource_path("desktop", f"{DESKTOP_ID}.desktop"))["StartupWMClass"]
    assert f'WM_CLASS(STRING) = "ssl-workbench", "{startup_wm_class}"' in result.stdout, result.stdout
    assert f'_GTK_APPLICATION_ID(UTF8_STRING) = "{DESKTOP_ID}"' in result.stdout, result.stdout
