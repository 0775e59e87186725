"""The engine must never import Qt: it runs headless on servers and in the CLI."""

import subprocess
import sys

CODE = r"""
import importlib, pkgutil, sys
import ssl_core
for info in pkgutil.walk_packages(ssl_core.__path__, "ssl_core."):
    if info.name.endswith("__main__"):
        continue
    importlib.import_module(info.name)
qt = sorted(m for m in sys.modules if m.split(".")[0] in ("PySide6", "PyQt5", "PyQt6", "PySide2", "shiboken6", "pyqtgraph"))
print("QT:" + ",".join(qt))
"""


def test_ssl_core_imports_no_qt_module():
    out = subprocess.run([sys.executable, "-c", CODE], capture_output=True, text=True, timeout=240)
    assert out.returncode == 0, out.stderr
    line = [ln for ln in out.stdout.splitlines() if ln.startswith("QT:")][-1]
    assert line == "QT:", f"ssl_core loaded Qt modules: {line[3:]}"
