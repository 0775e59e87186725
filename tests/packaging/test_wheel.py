"""The wheel carries everything the app needs at run time, and the app runs from it (issue 20).

One wheel is built per session from a copy of the checkout's files (what git tracks plus new files it does
not ignore), then installed into a fresh virtual environment layered on this one's site-packages: the
heavy dependencies (torch, Qt, ...) are reused, nothing is downloaded, and the checkout's own packages and
its editable-install finder stay out of sight, so what runs is the wheel's copy.
"""

from __future__ import annotations

import email
import json
import os
import shutil
import site
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

import ssl_core
from tests.xvfb_command import xvfb_run

ROOT = Path(__file__).resolve().parents[2]
RESOURCES_PACKAGE = "ssl_workbench_resources"  # the import name pyproject.toml gives resources/


def _run(cmd: list[str], *, timeout: float = 180, **kwargs) -> subprocess.CompletedProcess:
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kwargs)
    assert result.returncode == 0, f"{cmd} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result


def _clean_env(**extra: str) -> dict[str, str]:
    """The environment for the installed copy: nothing points back at the checkout."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    env.update(PIP_DISABLE_PIP_VERSION_CHECK="1", PIP_NO_INPUT="1", **extra)
    return env


def _source_files() -> list[str]:
    """The files a build sees: tracked by git, or new and not ignored (e.g. resources added this session)."""
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("needs the git checkout (git ls-files) to know which files are the project's")
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    return sorted(name for name in listed if (ROOT / name).is_file())


@pytest.fixture(scope="session")
def wheel(tmp_path_factory) -> Path:
    """`pip wheel` on a copy of the checkout (a build in place could pick up a stale build/ folder)."""
    src = tmp_path_factory.mktemp("src")
    for name in _source_files():
        (src / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, src / name)
    out = tmp_path_factory.mktemp("wheelhouse")
    cmd = [sys.executable, "-m", "pip", "wheel", str(src), "--no-deps", "--no-build-isolation", "--no-index"]
    _run([*cmd, "-w", str(out)], env=_clean_env())
    (built,) = out.glob("ssl_workbench-*.whl")
    return built


@pytest.fixture(scope="session")
def new_venv(wheel, tmp_path_factory) -> Path:
    """A fresh venv with only the wheel installed in it, then layered on this venv's site-packages."""
    venv = tmp_path_factory.mktemp("installed") / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)])
    python = venv / "bin" / "python"
    # Installed before the layering, so pip sees an empty environment and never touches this one.
    pip = [sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "--no-index"]
    _run([*pip, str(wheel)], env=_clean_env())
    purelib = Path(
        _run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"]).stdout.strip()
    )
    # Plain folder lines in a .pth are appended to sys.path after the venv's own site-packages, and .pth
    # files inside them are not run, so the checkout's editable finder (__editable__*.pth) stays inactive.
    (purelib / "zz_layered_on_project_venv.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    return venv


def _venv_python(venv: Path, script: str, *args: str, cwd: Path) -> dict:
    path = cwd / "probe.py"
    path.write_text(textwrap.dedent(script), encoding="utf-8")
    env = _clean_env(QT_QPA_PLATFORM="offscreen")
    result = _run([str(venv / "bin" / "python"), str(path), *args], cwd=cwd, env=env, timeout=120)
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_pyproject_lists_every_package_under_app_and_ssl_core():
    """pyproject.toml names its packages (package-dir maps resources/); a new subpackage must be added."""
    declared = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    on_disk = {
        ".".join(init.parent.relative_to(ROOT).parts)
        for top in ("app", "ssl_core")
        for init in (ROOT / top).rglob("__init__.py")
    }
    assert on_disk - declared == set(), "add these to [tool.setuptools] packages in pyproject.toml"
    assert declared - on_disk == {RESOURCES_PACKAGE}


def test_checkout_finds_resources_through_importlib():
    """The editable install of this checkout resolves the resources to the repository's resources/ folder."""
    from app.resources import resource_path

    qss = resource_path("styles", "app.qss")
    assert qss == ROOT / "resources" / "styles" / "app.qss"
    assert qss.read_text(encoding="utf-8").strip()


def test_wheel_holds_every_resource_the_license_and_the_version(wheel):
    resources = [n for n in _source_files() if n.startswith("resources/") and "__pycache__" not in n]
    assert "resources/styles/app.qss" in resources and "resources/__init__.py" in resources
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        dist_info = f"ssl_workbench-{ssl_core.__version__}.dist-info"
        metadata = email.message_from_bytes(zf.read(f"{dist_info}/METADATA"))
        for name in resources:
            inside = RESOURCES_PACKAGE + name.removeprefix("resources")
            assert inside in names, f"{name} is missing from the wheel"
            assert zf.read(inside) == (ROOT / name).read_bytes()
        assert zf.read(f"{dist_info}/licenses/LICENSE") == (ROOT / "LICENSE").read_bytes()
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]
    python_files = [n for n in _source_files() if n.startswith(("app/", "ssl_core/")) and n.endswith(".py")]
    assert [n for n in python_files if n not in names] == []
    assert metadata["Version"] == ssl_core.__version__
    assert metadata["License-Expression"] == "MIT"
    assert "License" not in metadata  # the deprecated free-text field is gone
    assert metadata["License-File"] == "LICENSE"
    assert wheel.name == f"ssl_workbench-{ssl_core.__version__}-py3-none-any.whl"


@pytest.mark.slow
def test_app_starts_from_the_installed_wheel_with_icon_help_and_theme(new_venv, tmp_path):
    info = _venv_python(
        new_venv,
        """
        import json, sys
        from pathlib import Path
        from PySide6.QtCore import QTimer
        import app, ssl_core
        from app.main import create_app
        from app.resources import app_icon, resource_path
        from app.settings import Prefs
        from app.theme import ThemeManager

        work = Path(sys.argv[1])
        qapp = create_app([sys.argv[0]])
        colors = ThemeManager(qapp, "dark").apply()
        from app.help import IntroDialog
        from app.main_window import MainWindow

        def _drawn_pixels(icon):
            image = icon.pixmap(64, 64).toImage()
            return sum(image.pixelColor(x, y).alpha() > 0 for x in range(image.width()) for y in range(image.height()))

        window = MainWindow(Prefs.open(work / "settings.ini"), runs_dir=work / "runs", warm_umap=False)
        window.show()
        result = {}

        def done():
            intro = IntroDialog(window)
            result.update(
                app_file=app.__file__,
                ssl_core_file=ssl_core.__file__,
                help_page=str(resource_path("help", "ssl_intro.html")),
                help_text=intro.browser.toPlainText(),
                icon_null=app_icon().isNull(),
                icon_pixels=_drawn_pixels(app_icon()),
                window_icon_null=window.windowIcon().isNull(),
                app_icon_null=qapp.windowIcon().isNull(),
                style_sheet=qapp.styleSheet(),
                accent=colors.accent,
                window_colour=qapp.palette().window().color().name(),
                theme_window=colors.window,
            )
            intro.close()
            window.close()

        window.when_ready(lambda: QTimer.singleShot(0, done))
        qapp.exec()
        print(json.dumps(result))
        """,
        str(tmp_path),
        cwd=tmp_path,
    )
    site_dir = new_venv.resolve()
    for key in ("app_file", "ssl_core_file", "help_page"):
        assert Path(info[key]).resolve().is_relative_to(site_dir), (
            f"{key} = {info[key]} is not the wheel's copy"
        )
        assert not Path(info[key]).resolve().is_relative_to(ROOT)
    assert Path(info["help_page"]).is_file()
    assert "self-supervised" in info["help_text"].lower()
    assert not info["icon_null"] and not info["window_icon_null"] and not info["app_icon_null"]
    assert info["icon_pixels"] > 500, "the icon draws nothing"
    sheet = info["style_sheet"]
    assert "QGroupBox" in sheet and info["accent"] in sheet and "@accent" not in sheet
    assert info["window_colour"] == info["theme_window"]  # the dark palette is applied


@pytest.mark.slow
def test_console_scripts_of_the_installed_wheel_print_the_version(new_venv, tmp_path):
    env = _clean_env(QT_QPA_PLATFORM="offscreen")
    for script in ("ssl-workbench", "ssl-core"):
        exe = new_venv / "bin" / script
        assert exe.is_file(), f"{script} was not installed"
        result = _run([str(exe), "--version"], cwd=tmp_path, env=env, timeout=120)
        assert result.stdout.strip() == f"{script} {ssl_core.__version__}"


def test_resources_are_read_from_the_wheel_as_a_zip_archive(wheel, tmp_path):
    """Imported straight from a zip (the wheel on sys.path), files come out as temporary real paths."""
    script = tmp_path / "zip_probe.py"
    script.write_text(
        textwrap.dedent(
            """
            import json, sys
            sys.path.insert(0, sys.argv[1])
            from app.resources import resource_path, resources
            import app
            qss = resource_path("styles", "app.qss")
            print(json.dumps({"app": app.__file__, "root": str(resources()), "qss": str(qss),
                              "is_file": qss.is_file(), "text": qss.read_text(encoding="utf-8")}))
            """
        ),
        encoding="utf-8",
    )
    env = _clean_env(QT_QPA_PLATFORM="offscreen")
    result = _run([sys.executable, str(script), str(wheel)], cwd=tmp_path, env=env, timeout=120)
    info = json.loads(result.stdout.strip().splitlines()[-1])
    assert info["app"].startswith(str(wheel)), info["app"]
    assert info["root"].startswith(str(wheel))
    assert info["is_file"] and not info["qss"].startswith(str(wheel))  # an extracted copy
    assert info["text"] == (ROOT / "resources" / "styles" / "app.qss").read_text(encoding="utf-8")


XVFB_SCRIPT = """
import json, shutil, subprocess, sys, time
from pathlib import Path
import app
from app.main import create_app
from app.settings import Prefs
from app.theme import ThemeManager

out = Path(sys.argv[1])
qapp = create_app([sys.argv[0]])
assert qapp.platformName() == "xcb", qapp.platformName()
colors = ThemeManager(qapp, "dark").apply()
from app.main_window import MainWindow

window = MainWindow(Prefs.open(out / "settings.ini"), runs_dir=out / "runs", warm_umap=False)
window.resize(1200, 760)
window.show()
end = time.monotonic() + 60
while (window.setup_tab.data.info is None or window.setup_tab.data.loading) and time.monotonic() < end:
    qapp.processEvents()
    time.sleep(0.01)
for _ in range(50):
    qapp.processEvents()
    time.sleep(0.01)
qapp.primaryScreen().grabWindow(0).save(str(out / "screen.png"))  # the X framebuffer itself
wm_icon = ""
if shutil.which("xprop"):  # the icon Qt hands the window manager (taskbars and switchers show it)
    wm_icon = subprocess.run(["xprop", "-id", str(int(window.winId())), "_NET_WM_ICON"],
                             capture_output=True, text=True).stdout
print(json.dumps({"app_file": app.__file__, "window": colors.window, "wm_icon": wm_icon[:200],
                  "xprop": bool(shutil.which("xprop"))}))
window.close()
"""


@pytest.mark.slow
@pytest.mark.xvfb
def test_real_window_from_the_installed_wheel_has_its_icon_and_theme(new_venv, tmp_path):
    """A real X window (Xvfb) of the app started from the wheel: dark theme painted, icon given to X."""
    if shutil.which("xvfb-run") is None or shutil.which("Xvfb") is None:
        pytest.skip("xvfb-run/Xvfb is not installed (apt-get install xvfb) - no real X display to test on")
    from PIL import Image

    script = tmp_path / "xvfb_probe.py"
    script.write_text(XVFB_SCRIPT, encoding="utf-8")
    env = {
        k: v for k, v in _clean_env().items() if k not in ("QT_QPA_PLATFORM", "DISPLAY", "WAYLAND_DISPLAY")
    }
    cmd = [*xvfb_run("-screen 0 1280x800x24"), str(new_venv / "bin" / "python"), str(script)]
    result = subprocess.run(
        [*cmd, str(tmp_path)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=180
    )
    if result.returncode != 0 and 'Could not load the Qt platform plugin "xcb"' in result.stderr:
        pytest.skip("Qt's xcb plugin cannot load: install its X libraries (make sysdeps)")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    info = json.loads(result.stdout.strip().splitlines()[-1])
    assert Path(info["app_file"]).resolve().is_relative_to(new_venv.resolve())
    screen = Image.open(tmp_path / "screen.png").convert("RGB")
    window_rgb = tuple(int(info["window"][i : i + 2], 16) for i in (1, 3, 5))
    share = screen.getcolors(1 << 24)
    painted = sum(count for count, rgb in share if rgb == window_rgb) / (screen.width * screen.height)
    assert painted > 0.2, f"the dark theme's window colour covers only {painted:.0%} of the screen"
    if info["xprop"]:
        assert "_NET_WM_ICON(CARDINAL) = " in info["wm_icon"], info["wm_icon"]
