"""A real window on a virtual X server (Xvfb): the app starts, draws, and a screenshot is not blank."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.xvfb_command import xvfb_run

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    out, work = Path(sys.argv[1]), Path(sys.argv[2])
    from app.main import create_app
    from app.settings import Prefs
    from app.theme import ThemeManager
    app = create_app([sys.argv[0]])
    assert app.platformName() == "xcb", app.platformName()
    ThemeManager(app, "light").apply()
    from app.main_window import MainWindow
    window = MainWindow(Prefs.open(work / "settings.ini"), runs_dir=work / "runs", warm_umap=False)
    window.resize(1200, 760)
    window.show()
    end = time.monotonic() + 60
    while (window.setup_tab.data.info is None or window.setup_tab.data.loading) and time.monotonic() < end:
        app.processEvents()
        time.sleep(0.01)
    for _ in range(50):
        app.processEvents()
        time.sleep(0.01)
    window.grab().save(str(out / "window.png"))
    app.primaryScreen().grabWindow(0).save(str(out / "screen.png"))  # the X framebuffer itself
    window.close()
    """
)


def _not_blank(path: Path) -> tuple[float, int]:
    pixels = np.asarray(Image.open(path).convert("RGB"))
    return float(pixels.std()), len(np.unique(pixels.reshape(-1, 3), axis=0))


@pytest.mark.xvfb
def test_real_window_screenshot(tmp_path):
    if shutil.which("xvfb-run") is None or shutil.which("Xvfb") is None:
        pytest.skip("xvfb-run/Xvfb is not installed (apt-get install xvfb) - no real X display to test on")
    env = {k: v for k, v in os.environ.items() if k not in ("QT_QPA_PLATFORM", "DISPLAY", "WAYLAND_DISPLAY")}
    env["PYTHONPATH"] = str(ROOT)
    work = tmp_path / "work"
    work.mkdir()
    result = subprocess.run(
        [
            *xvfb_run("-screen 0 1280x800x24"),
            sys.executable,
            "-c",
            SCRIPT,
            str(tmp_path),
            str(work),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    if result.returncode != 0 and 'Could not load the Qt platform plugin "xcb"' in result.stderr:
        pytest.skip(
            "Qt's xcb plugin cannot load: install its X libraries (apt-get install libxcb-cursor0 "
            "libxkbcommon-x11-0 libxcb-icccm4 libxcb-keysyms1 libxcb-image0 libxcb-render-util0 libxcb-shape0)"
        )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    for name in ("window.png", "screen.png"):
        std, colours = _not_blank(tmp_path / name)
        assert std > 10 and colours > 50, f"{name} looks blank (std {std:.1f}, {colours} colours)"
    assert Image.open(tmp_path / "window.png").size == (1200, 760)
