"""The entry point: `python -m app` starts, loads a config given on the command line, and exits 0."""

from __future__ import annotations

from pathlib import Path

from ssl_core.config import RunConfig
from tests.app.conftest import launch_app

ROOT = Path(__file__).resolve().parents[2]


def test_python_m_app_starts_loads_config_and_exits(tmp_path):
    cfg = RunConfig()
    cfg.method.name = "byol"
    cfg.train.epochs = 3
    config = tmp_path / "exp.toml"
    cfg.save(config)
    settings = tmp_path / "settings.ini"
    result = launch_app(config, tmp_path, settings, quit_after=3)
    assert result.returncode == 0, result.stderr[-3000:]
    text = settings.read_text()
    assert "byol" in text  # the loaded config became the remembered setup
    assert "Traceback" not in result.stderr


def test_the_window_answers_before_the_engine_is_loaded(
    qtbot, settings_path, runs_dir, dialog_log, monkeypatch
):
    """A first launch imports PyTorch on a thread: the window is usable at once and fills in later."""
    import app.engine as engine
    from app.main_window import MainWindow
    from app.settings import Prefs

    imported = []
    monkeypatch.setattr(engine, "engine_loaded", lambda: False)  # as in a fresh process
    monkeypatch.setattr(engine, "import_engine", lambda: imported.append(True))
    window = MainWindow(Prefs.open(settings_path), runs_dir=runs_dir, warm_umap=False)
    qtbot.addWidget(window)
    window.show()
    assert not window.engine_ready
    assert not window.actions["start"].isEnabled()  # nothing to train with yet
    assert window.setup_tab.method.method() == "" and "Loading" in window.statusBar().currentMessage()
    called = []
    window.when_ready(lambda: called.append(window.engine_ready))
    qtbot.waitUntil(lambda: window.engine_ready, timeout=10_000)
    assert imported == [True] and called == [True]
    qtbot.waitUntil(lambda: window.setup_tab.data.info is not None, timeout=30_000)
    assert window.setup_tab.method.method() == "simclr"
    assert window.setup_tab.training.device.count() >= 2  # "Automatic" and the CPU at least
    qtbot.waitUntil(lambda: window.actions["start"].isEnabled(), timeout=10_000)
    assert dialog_log.shown == []
    window.close()
