"""Persistent preferences (window geometry, last choices) in QSettings, stored as JSON values.

JSON keeps types intact across the INI and native backends (INI returns every value as a string).
Tests and portable installs point the app at a file with `--settings PATH` or SSL_WORKBENCH_SETTINGS.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

from PySide6.QtCore import QByteArray, QSettings, QStandardPaths

log = logging.getLogger(__name__)

ORGANIZATION = "SSL Workbench"
APPLICATION = "ssl-workbench"
SETTINGS_ENV = "SSL_WORKBENCH_SETTINGS"


class Prefs:
    """Typed access to a QSettings store; a missing or damaged value yields the default."""

    def __init__(self, settings: QSettings):
        self.qsettings = settings

    @classmethod
    def open(cls, path: str | Path | None = None) -> Prefs:
        path = path or os.environ.get(SETTINGS_ENV)
        if path:
            return cls(QSettings(str(path), QSettings.Format.IniFormat))
        return cls(
            QSettings(QSettings.Format.IniFormat, QSettings.Scope.UserScope, ORGANIZATION, APPLICATION)
        )

    def get(self, key: str, default: Any = None) -> Any:
        raw = self.qsettings.value(key)
        if raw is None:
            return default
        try:
            return json.loads(raw)
        except (TypeError, ValueError):
            log.warning("Ignoring unreadable setting %s=%r", key, raw)
            return default

    def set(self, key: str, value: Any) -> None:
        self.qsettings.setValue(key, json.dumps(value))

    def get_bytes(self, key: str) -> QByteArray | None:
        raw = self.qsettings.value(key)
        return raw if isinstance(raw, QByteArray) and not raw.isEmpty() else None

    def set_bytes(self, key: str, value: QByteArray) -> None:
        self.qsettings.setValue(key, value)

    def sync(self) -> None:
        self.qsettings.sync()


def chosen_runs_dir(prefs: Prefs) -> Path | None:
    """The runs folder the user chose in the app, if any.

    Earlier versions stored their own default (Qt's app-data folder) as if chosen, which would keep the
    GUI away from the folder shared with `ssl-core`; that value counts as unchosen while it holds no runs.
    """
    value = prefs.get("runs_dir")
    if not isinstance(value, str) or not value.strip():
        return None
    path = Path(value)
    base = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.AppDataLocation)
    if base and path == Path(base) / "runs" and not any(path.glob("*/config.toml")):
        return None
    return path


def default_runs_dir() -> Path:
    """Where runs go unless the user chose a folder: the engine's default, shared with `ssl-core`."""
    from ssl_core.runs.location import default_runs_dir as engine_default

    return engine_default()


EXPORT_DIR_KEY = "last_export_dir"


def last_export_dir(prefs: Prefs) -> Path | None:
    """The folder the user last exported a file to, if it still exists."""
    value = prefs.get(EXPORT_DIR_KEY)
    if not isinstance(value, str) or not value.strip():
        return None
    path = Path(value)
    return path if path.is_dir() else None


def remember_export_dir(prefs: Prefs, folder: Path) -> None:
    prefs.set(EXPORT_DIR_KEY, str(folder))
