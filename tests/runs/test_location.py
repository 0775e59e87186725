"""The default runs folder: one place shared by the CLI and the GUI, never the real home in tests."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ssl_core.cli.main import main
from ssl_core.config import RunConfig
from ssl_core.runs.location import RUNS_ENV, default_runs_dir, user_data_dir


def test_the_test_session_keeps_runs_out_of_the_real_home():
    chosen = Path(os.environ[RUNS_ENV])
    assert default_runs_dir() == chosen
    assert not chosen.is_relative_to(Path.home() / ".local" / "share")
    assert RunConfig().runs_dir == str(chosen)  # what `ssl-core train` uses without --runs-dir


def test_the_environment_variable_wins(monkeypatch, tmp_path):
    monkeypatch.setenv(RUNS_ENV, str(tmp_path / "mine"))
    assert default_runs_dir() == tmp_path / "mine"
    assert RunConfig().runs_dir == str(tmp_path / "mine")
    monkeypatch.setenv(RUNS_ENV, "~/elsewhere")
    assert default_runs_dir() == Path.home() / "elsewhere"


@pytest.mark.parametrize(
    "platform, env, expected",
    [
        ("linux", {}, ".local/share/ssl-workbench/runs"),
        ("linux", {"XDG_DATA_HOME": "/data/me"}, "/data/me/ssl-workbench/runs"),
        ("linux", {"XDG_DATA_HOME": "relative/ignored"}, ".local/share/ssl-workbench/runs"),
        ("darwin", {}, "Library/Application Support/ssl-workbench/runs"),
        ("win32", {"LOCALAPPDATA": "/appdata/local"}, "/appdata/local/ssl-workbench/runs"),
        ("win32", {}, "AppData/Local/ssl-workbench/runs"),
    ],
)
def test_the_per_user_folder_of_each_platform(monkeypatch, tmp_path, platform, env, expected):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv(RUNS_ENV, "")  # unset: the platform's folder
    for name in ("XDG_DATA_HOME", "LOCALAPPDATA"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    got = default_runs_dir(platform)
    assert got == (Path(expected) if expected.startswith("/") else tmp_path / expected)
    assert got.parent == user_data_dir(platform)


def test_cli_runs_and_resume_use_the_default_folder(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv(RUNS_ENV, str(tmp_path / "shared"))
    assert main(["runs"]) == 0
    assert str(tmp_path / "shared") in capsys.readouterr().out  # "No runs in <folder>."
    # `resume RUN_ID` finds the run inside the default folder; a missing one is named in the error.
    assert main(["resume", "20260101-000000-simclr-digits"]) == 2
    assert "20260101-000000-simclr-digits" in capsys.readouterr().err
