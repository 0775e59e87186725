"""Where the bundled icons, styles, help pages and desktop files live.

The repository keeps them in its top-level resources/ folder, which pyproject.toml installs as the data
package `ssl_workbench_resources`; they are found through importlib.resources, so the same code works from
a wheel, a normal install (pip, pipx) and an editable install of a checkout. Running straight from a
checkout that was never installed (PYTHONPATH=.) falls back to the resources/ folder beside app/.

`resource_path` returns a real `Path` because Qt (QIcon, style sheets) and the desktop-entry installer
need file names. Installed packages are folders on disk, so the path is the file itself; only if the
package were imported from a zip archive is a file extracted to a temporary copy, which lives until the
process exits (`importlib.resources.as_file`).
"""

from __future__ import annotations

import atexit
import contextlib
import importlib.resources
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtGui import QIcon

if TYPE_CHECKING:
    from importlib.abc import Traversable  # importlib.resources.abc from Python 3.11

PACKAGE = "ssl_workbench_resources"
_CHECKOUT = Path(__file__).resolve().parent.parent / "resources"
_extracted = contextlib.ExitStack()  # temporary copies of files from a zip import, removed at exit
atexit.register(_extracted.close)


@cache
def resources() -> Traversable:
    """The root of the bundled resources (a `Path` unless imported from a zip archive)."""
    try:
        return importlib.resources.files(PACKAGE)
    except ModuleNotFoundError:  # a checkout on PYTHONPATH that was never pip-installed
        return _CHECKOUT


def resource_path(*parts: str) -> Path:
    """The file or folder `resources/<parts...>` as a real path (it may not exist; check with is_file)."""
    item = resources().joinpath(*parts)
    if isinstance(item, Path):
        return item
    if not item.is_file():  # a folder inside a zip archive, or a missing name: nothing to extract
        return Path(str(item))
    return _extracted.enter_context(importlib.resources.as_file(item))


@cache
def app_icon() -> QIcon:
    icon = QIcon()
    for name in ("ssl-workbench.svg", "ssl-workbench-256.png", "ssl-workbench-64.png"):
        path = resource_path("icons", name)
        if path.is_file():
            icon.addFile(str(path))
    return icon
