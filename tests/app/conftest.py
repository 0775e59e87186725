"""GUI test fixtures: offscreen Qt, a temporary settings file and runs folder, captured dialogs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile


def _offscreen_platform() -> str:
    # A desktop-sized virtual screen (the offscreen default is 800x800, smaller than the window).
    fd, path = tempfile.mkstemp(prefix="ssl-workbench-screen-", suffix=".json")
    with os.fdopen(fd, "w") as fh:
        json.dump(
            {
                "synthesized": False,
                "screens": [
                    {
                        "name": "Offscreen",
                        "x": 0,
                        "y": 0,
                        "width": 1600,
                        "height": 1000,
                        "logicalDpi": 96,
                        "logicalBaseDpi": 96,
                        "dpr": 1,
                    }
                ],
            },
            fh,
        )
    return f"offscreen:configfile={path}"


# Plain "offscreen" (as `make test` sets it) gets the desktop-sized screen too; a real platform is kept.
if os.environ.get("QT_QPA_PLATFORM", "offscreen") == "offscreen":
    os.environ["QT_QPA_PLATFORM"] = _offscreen_platform()
os.environ.setdefault("OMP_NUM_THREADS", "1")

import shutil  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402


@dataclass
class DialogLog:
    """Every dialog the app tried to show; `answer` is what yes/no questions get."""

    shown: list[tuple[str, str, str, str]] = field(default_factory=list)  # (kind, title, message, details)
    questions: list[tuple[str, str]] = field(default_factory=list)
    answer: bool = True

    def kinds(self) -> list[str]:
        return [k for k, *_ in self.shown]


@pytest.fixture
def dialog_log(monkeypatch) -> DialogLog:
    from app import dialogs

    log = DialogLog()

    def present(parent, kind, title, message, details=""):
        log.shown.append((kind, title, message, details))

    def ask(parent, title, question):
        log.questions.append((title, question))
        return log.answer

    monkeypatch.setattr(dialogs, "present", present)
    monkeypatch.setattr(dialogs, "ask", ask)
    return log


@pytest.fixture(scope="session", autouse=True)
def _theme(qapp):
    from app.theme import ThemeManager, theme_manager

    if theme_manager() is None:
        ThemeManager(qapp, "light").apply()


@pytest.fixture
def settings_path(tmp_path) -> Path:
    return tmp_path / "settings" / "ssl-workbench.ini"


@pytest.fixture
def runs_dir(tmp_path) -> Path:
    path = tmp_path / "runs"
    path.mkdir()
    return path


def make_window(qtbot, settings_path: Path, runs_dir: Path, preview_interval_s: float | None = 0.2):
    from app.main_window import MainWindow
    from app.settings import Prefs

    window = MainWindow(
        Prefs.open(settings_path), runs_dir=runs_dir, warm_umap=False, preview_interval_s=preview_interval_s
    )
    # pytest-qt closes and deletes registered widgets before fixtures are torn down: close like a user
    # first, waiting for jobs a test left running (an automatic preview, say), or they would finish into
    # deleted widgets.
    qtbot.addWidget(window, before_close_func=lambda w: close_window(qtbot, w))
    window.show()
    qtbot.waitUntil(
        lambda: window.setup_tab.data.info is not None and not window.setup_tab.data.loading, timeout=30_000
    )
    return window


def close_window(qtbot, window) -> None:
    """Close like a user would, answering yes, and wait until every job ended (once per window)."""
    if getattr(window, "_closed_by_test", False):
        return
    window._closed_by_test = True
    window.embeddings_tab.cancel()
    window.evaluate_tab.cancel()
    window.session.stop()
    window.close()
    qtbot.waitUntil(lambda: not window.runner.running(), timeout=60_000)
    qtbot.waitUntil(lambda: not window.isVisible(), timeout=10_000)


@pytest.fixture
def window(qtbot, settings_path, runs_dir, dialog_log):
    win = make_window(qtbot, settings_path, runs_dir)
    yield win
    close_window(qtbot, win)


def tiny_training(window, method: str = "simclr", max_steps: int = 6, batch_size: int = 128, epochs: int = 1):
    """Settings for a run of a few steps on the bundled digits."""
    setup = window.setup_tab
    setup.method.set_method(method)
    setup.training.epochs.setValue(epochs)
    setup.training.max_steps.setValue(max_steps)
    setup.training.batch_size.setValue(batch_size)
    setup.training.seed.setValue(0)


def train_and_wait(qtbot, window, timeout: int = 90_000) -> None:
    with qtbot.waitSignal(window.session.ended, timeout=timeout):
        assert window.start_training() is not None


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory) -> Path:
    """One tiny SimCLR run on the digits, trained once by the engine for tests that open a run."""
    from tests.tiny_runs import train_tiny

    return train_tiny(tmp_path_factory.mktemp("shared-runs"), "train.max_steps=6")


@pytest.fixture
def copied_run(trained_run, runs_dir) -> Path:
    """A private copy of the shared run, inside this test's runs folder."""
    target = runs_dir / trained_run.name
    shutil.copytree(trained_run, target)
    return target


def launch_app(path: Path, tmp_path: Path, settings: Path, quit_after: float) -> subprocess.CompletedProcess:
    """`python -m app PATH` offscreen, as a person starts it from a shell, quitting after `quit_after` s."""
    root = Path(__file__).resolve().parents[2]
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", PYTHONPATH=str(root))
    args = [str(path), "--settings", str(settings), "--runs-dir", str(tmp_path / "runs"), "--no-umap-warmup"]
    return subprocess.run(
        [sys.executable, "-m", "app", *args, "--quit-after", str(quit_after)],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
