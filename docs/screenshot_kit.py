"""What the screenshot scripts in docs/ share: the app and a main window on a throwaway settings file and
runs folder, and how they wait for the app, let it settle and take a shot.

    from screenshot_kit import ROOT, Shots

    kit = Shots("ssl-workbench-x-", out=ROOT / "docs" / "screenshots", size=(1320, 860))
    kit.wait_for_data("the digits")
    kit.shot("setup")  # docs/screenshots/setup.png
    kit.close()
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def parse_size(text: str) -> tuple[int, int]:
    """'WIDTHxHEIGHT' as (width, height)."""
    width, height = (int(v) for v in text.lower().split("x"))
    return width, height


class Shots:
    """The app (theme applied, errors shown in a dialog) and its main window, shown at `size` and `pos`,
    with the settings and, unless `runs_dir` is given, the runs in a new temporary folder (`work`)."""

    def __init__(
        self,
        prefix: str,
        *,
        out: Path | None = None,
        suffix: str = "",
        theme: str = "light",
        size: tuple[int, int] = (1320, 860),
        pos: tuple[int, int] = (40, 30),
        warm_umap: bool = True,
        runs_dir: Path | None = None,
        excepthook: bool = True,
        timeout: float = 300.0,
        pause: float = 0.6,
        poll: float = 0.01,
    ) -> None:
        self.out, self.suffix = out, suffix
        self.timeout, self.pause, self.poll = timeout, pause, poll
        self.work = Path(tempfile.mkdtemp(prefix=prefix))

        from app import dialogs
        from app.main import create_app
        from app.settings import Prefs
        from app.theme import ThemeManager

        self.app = create_app([sys.argv[0]])
        ThemeManager(self.app, theme).apply()
        if excepthook:
            dialogs.install_excepthook()
        from app.main_window import MainWindow

        runs = runs_dir if runs_dir is not None else self.work / "runs"
        self.window = MainWindow(Prefs.open(self.work / "settings.ini"), runs_dir=runs, warm_umap=warm_umap)
        self.window.resize(*size)
        self.window.move(*pos)
        self.window.show()

    def wait(self, cond, timeout: float | None = None, what: str = "") -> None:
        """Run the event loop until `cond()` holds; TimeoutError after `timeout` seconds."""
        end = time.monotonic() + (self.timeout if timeout is None else timeout)
        while not cond():
            if time.monotonic() > end:
                raise TimeoutError(f"timed out waiting for {what}")
            self.app.processEvents()
            time.sleep(self.poll)

    def settle(self, seconds: float | None = None) -> None:
        """Run the event loop for `seconds`, so what just changed is drawn."""
        end = time.monotonic() + (self.pause if seconds is None else seconds)
        while time.monotonic() < end:
            self.app.processEvents()
            time.sleep(0.01)

    def shot(self, name: str, widget=None, *, settled: bool = True) -> Path:
        """QWidget.grab of `widget` (the main window by default) to out/<name><suffix>.png."""
        if settled:
            self.settle()
        path = self.out / f"{name}{self.suffix}.png"
        (widget or self.window).grab().save(str(path))
        print("wrote", path, flush=True)
        return path

    def wait_for_data(self, what: str = "the data", timeout: float = 60) -> None:
        """Until the Setup tab has loaded its data set."""
        setup = self.window.setup_tab
        self.wait(lambda: setup.data.info is not None and not setup.data.loading, timeout, what)

    def close(self) -> None:
        """Close the window, wait until it has gone and remove the temporary folder."""
        self.window.close()
        self.wait(lambda: not self.window.isVisible(), 60, "closing")
        shutil.rmtree(self.work, ignore_errors=True)
