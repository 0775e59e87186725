"""The entry point: `python -m app` starts, loads a config given on the command line, and exits 0."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from ssl_core.config import RunConfig

ROOT = Path(__file__).resolve().parents[2]


def test_python_m_app_starts_loads_config_and_exits(tmp_path):
    cfg = RunConfig()
    cfg.method.name = "byol"
    cfg.train.epochs = 3
    config = tmp_path / "exp.toml"
    cfg.save(config)
    settings = tmp_path / "settings.ini"
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", PYTHONPATH=str(ROOT))
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "app",
            str(config),
            "--settings",
            str(settings),
            "--runs-dir",
            str(tmp_path / "runs"),
            "--no-umap-warmup",
            "--quit-after",
            "3",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    text = settings.read_text()
    assert "byol" in text  # the loaded config became the remembered setup
    assert "Traceback" not in result.stderr
