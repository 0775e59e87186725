"""Where the bundled icons, styles and help pages live (the repository's resources/ folder)."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from PySide6.QtGui import QIcon

RESOURCES = Path(__file__).resolve().parent.parent / "resources"


def resource_path(*parts: str) -> Path:
    return RESOURCES.joinpath(*parts)


@cache
def app_icon() -> QIcon:
    icon = QIcon()
    for name in ("ssl-workbench.svg", "ssl-workbench-256.png", "ssl-workbench-64.png"):
        path = resource_path("icons", name)
        if path.is_file():
            icon.addFile(str(path))
    return icon
