"""A screenshot of the app started from the installed wheel (not the checkout): dark theme, About box with
the app icon and the folder it was imported from. Run it with the Python of a venv that has the wheel:

    .venv/bin/python -m pip wheel . --no-deps --no-build-isolation --no-index -w /tmp/wh
    .venv/bin/python -m venv --without-pip /tmp/wv
    .venv/bin/python -m pip --python /tmp/wv/bin/python install --no-deps --no-index /tmp/wh/*.whl
    .venv/bin/python -c "import site; print(*site.getsitepackages(), sep=chr(10))" \
        > "$(/tmp/wv/bin/python -c 'import sysconfig; print(sysconfig.get_path("purelib"))')/zz_deps.pth"
    cd /tmp && xvfb-run -a -s "-screen 0 1400x900x24" /tmp/wv/bin/python \
        /path/to/docs/screenshot_installed.py /path/to/docs/screenshots/installed-wheel-dark.png

(the .pth reuses the project venv's torch, Qt, ... without installing them again).
"""
import subprocess, sys, tempfile, time
from pathlib import Path
import app
from app.main import create_app
from app.settings import Prefs
from app.theme import ThemeManager
qapp = create_app([sys.argv[0]])
ThemeManager(qapp, "dark").apply()
from app.main_window import MainWindow
from PySide6.QtWidgets import QMessageBox
from app.resources import app_icon
work = Path(tempfile.mkdtemp())
w = MainWindow(Prefs.open(work / "s.ini"), runs_dir=work / "runs", warm_umap=False)
w.resize(1320, 860); w.move(0, 0); w.show()
end = time.monotonic() + 20
while time.monotonic() < end and (w.setup_tab.data.info is None or w.setup_tab.data.loading):
    qapp.processEvents(); time.sleep(0.02)
box = QMessageBox(w)
box.setWindowTitle("About SSL Workbench")
box.setIconPixmap(app_icon().pixmap(64, 64))
box.setText(f"<b>SSL Workbench</b><br>started from {Path(app.__file__).parent}")
box.show(); box.move(480, 380)
end = time.monotonic() + 2
while time.monotonic() < end:
    qapp.processEvents(); time.sleep(0.02)
subprocess.run(["import", "-window", "root", "-crop", "1320x860+0+0", sys.argv[1]], check=True)
print("wrote", sys.argv[1])
