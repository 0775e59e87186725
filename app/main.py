"""Entry point: `ssl-workbench` (console script) and `python -m app`."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from pathlib import Path

from PySide6.QtCore import QCoreApplication, Qt, QTimer
from PySide6.QtWidgets import QApplication

from app import dialogs
from app.launch_target import CONFIG, DATA, RUN, LaunchTarget, classify
from app.resources import app_icon
from app.settings import APPLICATION, ORGANIZATION, Prefs
from app.theme import ThemeManager


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    from ssl_core import __version__

    parser = argparse.ArgumentParser(prog="ssl-workbench", description="SSL Workbench desktop app.")
    parser.add_argument("--version", action="version", version=f"ssl-workbench {__version__}")
    parser.add_argument(
        "config",
        nargs="?",
        type=Path,
        metavar="PATH",
        help="open at start: a run folder, an experiment config (.toml), or data (a folder of images, "
        "a .npz, .npy, .ts, .csv or .tsv file)",
    )
    entry = parser.add_mutually_exclusive_group()
    entry.add_argument(
        "--install-desktop-entry",
        action="store_true",
        help="add SSL Workbench to this user's application menu (launcher, icons, metainfo) and exit",
    )
    entry.add_argument(
        "--uninstall-desktop-entry",
        action="store_true",
        help="remove what --install-desktop-entry wrote and exit",
    )
    parser.add_argument(
        "--settings", type=Path, help="keep preferences in this INI file (portable use, tests)"
    )
    parser.add_argument(
        "--runs-dir",
        type=Path,
        help="folder for runs, this session only (default: the one chosen in the app, else the folder ssl-core uses)",
    )
    parser.add_argument("--theme", choices=["system", "light", "dark"], help="override the colour theme")
    parser.add_argument("--no-umap-warmup", action="store_true", help="do not pre-compile UMAP at start-up")
    parser.add_argument("--verbose", action="store_true", help="log debug messages")
    parser.add_argument("--quit-after", type=float, metavar="SECONDS", help=argparse.SUPPRESS)  # smoke tests
    # bench/bench_gui.py: write when the window showed, answered and had its data, then quit
    parser.add_argument("--report-startup", type=Path, metavar="JSON", help=argparse.SUPPRESS)
    args, _qt_args = parser.parse_known_args(argv)
    return args


def create_app(argv: list[str] | None = None) -> QApplication:
    app = QApplication.instance()
    if app is None:
        QCoreApplication.setOrganizationName(ORGANIZATION)
        QCoreApplication.setApplicationName(APPLICATION)
        app = QApplication(argv if argv is not None else sys.argv)
    app.setApplicationDisplayName("SSL Workbench")
    app.setWindowIcon(app_icon())
    app.setDesktopFileName("ssl-workbench")
    return app


def use_numba_cache() -> None:
    """Keep numba's compiled code (UMAP's) in the per-user cache folder, so later launches skip
    recompiling whatever umap-learn and pynndescent allow to be cached. A user's own setting wins."""
    if "NUMBA_CACHE_DIR" in os.environ:
        return
    from PySide6.QtCore import QStandardPaths

    base = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.GenericCacheLocation)
    if base:
        os.environ["NUMBA_CACHE_DIR"] = str(Path(base) / APPLICATION / "numba")


class StartupReport:
    """Wall-clock times (time.time()) of the launch milestones, written as JSON for the benchmark."""

    def __init__(self, path: Path, window, app: QApplication):
        self.path, self.window, self.app = path, window, app
        self.times: dict[str, float] = {"window_shown": time.time()}
        # The first pass of the event loop after show(): the window is painted and answers input.
        QTimer.singleShot(0, self._interactive)
        window.setup_tab.data_loaded.connect(self._data_ready)

    def _interactive(self) -> None:
        self.times["interactive"] = time.time()
        self._maybe_done()

    def _data_ready(self) -> None:
        self.times.setdefault("data_ready", time.time())
        self._maybe_done()

    def _maybe_done(self) -> None:
        if "interactive" in self.times and "data_ready" in self.times:
            self.path.write_text(json.dumps(self.times), encoding="utf-8")
            self.window.close()


def open_path(window, path: Path | str) -> LaunchTarget:
    """Open what `ssl-workbench PATH` names in the window (whose engine is loaded): a run, a config, or
    data in Setup; anything else gets one line on stderr and a dialog, and the app carries on."""
    target = classify(path)
    if target.kind == RUN:
        window.open_run(target.path)
        window.tabs.setCurrentWidget(window.train_tab)  # its curves and status
    elif target.kind == CONFIG:
        window.load_config(str(target.path))
    elif target.kind == DATA:
        window.setup_tab.open_data(target.spec)
        window.tabs.setCurrentWidget(window.setup_tab)
    else:
        print(f"ssl-workbench: {target.message}", file=sys.stderr)
        # From the event loop, so the launch goes on (and a modal dialog never runs inside main()).
        QTimer.singleShot(0, lambda: dialogs.present(window, "user", "Cannot open this", target.message))
    return target


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.install_desktop_entry or args.uninstall_desktop_entry:  # no window, no QApplication
        from app import desktop_entry

        return desktop_entry.main("install" if args.install_desktop_entry else "uninstall")
    use_numba_cache()
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    QApplication.setHighDpiScaleFactorRoundingPolicy(Qt.HighDpiScaleFactorRoundingPolicy.PassThrough)
    app = create_app([sys.argv[0]])
    prefs = Prefs.open(args.settings)
    theme = ThemeManager(app, args.theme or prefs.get("theme", "system"))
    theme.apply()

    from app.main_window import MainWindow  # after the theme, so widgets start with its colours

    window = MainWindow(prefs, runs_dir=args.runs_dir, warm_umap=not args.no_umap_warmup)
    dialogs.install_excepthook(lambda: window)
    app.aboutToQuit.connect(lambda: window.runner.wait_all(15_000))
    window.show()
    if args.config is not None:
        window.when_ready(lambda: open_path(window, args.config))
    if args.quit_after is not None:  # counted from when the engine is loaded and the config applied
        window.when_ready(lambda: QTimer.singleShot(int(args.quit_after * 1000), window.close))
    if args.report_startup is not None:
        report = StartupReport(args.report_startup, window, app)  # noqa: F841 - lives until exit
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())
