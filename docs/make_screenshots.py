"""Screenshots of every tab after a short real training run, for the docs.

Run under a virtual X server (a real window, real fonts):

    xvfb-run -a -s "-screen 0 1600x1000x24" .venv/bin/python docs/make_screenshots.py

Writes docs/screenshots/<tab>.png (QWidget.grab of the window) and, when ImageMagick's `import` is
installed, docs/screenshots/desktop.png (the whole X screen, as a person would see it).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    parser.add_argument("--epochs", type=int, default=15, help="epochs of the SimCLR run on the digits")
    parser.add_argument("--theme", default="light", choices=["light", "dark"])
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="ssl-workbench-shots-"))

    from app import dialogs
    from app.main import create_app
    from app.settings import Prefs
    from app.theme import ThemeManager

    app = create_app([sys.argv[0]])
    ThemeManager(app, args.theme).apply()
    dialogs.install_excepthook()
    from app.main_window import MainWindow

    window = MainWindow(Prefs.open(work / "settings.ini"), runs_dir=work / "runs", warm_umap=True)
    window.resize(1440, 900)
    window.move(40, 30)
    window.show()

    def wait(cond, timeout: float = 300.0, what: str = "") -> None:
        end = time.monotonic() + timeout
        while not cond():
            if time.monotonic() > end:
                raise TimeoutError(f"timed out waiting for {what}")
            app.processEvents()
            time.sleep(0.01)

    def settle(seconds: float = 0.6) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            app.processEvents()
            time.sleep(0.01)

    def shot(name: str) -> None:
        settle()
        path = args.out / f"{name}.png"
        window.grab().save(str(path))
        print("wrote", path)

    wait(
        lambda: window.setup_tab.data.info is not None and not window.setup_tab.data.loading, 60, "the digits"
    )
    window.tabs.setCurrentWidget(window.setup_tab)
    shot("setup")

    # a short but real run: SimCLR on the digits
    setup = window.setup_tab
    setup.method.set_method("simclr")
    setup.training.epochs.setValue(args.epochs)
    setup.training.batch_size.setValue(256)
    window.start_training()
    wait(lambda: window.train_tab.loss_curves.point_count("loss") > 12, 300, "some steps")
    shot("train-running")
    wait(lambda: not window.session.busy, 900, "training")
    shot("train")

    window.tabs.setCurrentWidget(window.views_tab)
    window.compute_views()  # the trained model's views, with the originals
    wait(lambda: not window.runner.running("preview") and "original" in window.views_tab.rows(), 120, "views")
    shot("views")

    emb = window.embeddings_tab
    emb.projection.setCurrentIndex(emb.projection.findData("umap"))
    window.tabs.setCurrentWidget(emb)
    wait(lambda: emb.result is not None and not emb.busy, 600, "embeddings and UMAP")
    rows, xy = emb.result.projections[emb.shown_kind()]
    target = int(abs(xy - xy.mean(axis=0)).sum(axis=1).argmax())  # an outlying point, easy to see
    settle()
    emb.scatter._mouse_moved(emb.scatter.view_box.mapViewToScene(_point(xy[target])))
    emb._clicked(target)
    # a lasso drawn around another class's cluster fills the selection panel
    labels = emb.result.labels[rows]
    other = int(labels[target] + 1) % 10
    members = xy[labels == other]
    centre = np.median(members, axis=0)
    radius = np.percentile(np.linalg.norm(members - centre, axis=1), 90) * 1.3
    angles = np.linspace(0, 2 * np.pi, 24, endpoint=False)
    lasso = centre + radius * np.column_stack([np.cos(angles), np.sin(angles) * 0.8])
    emb.lasso_button.setChecked(True)
    emb.scatter.view_box.lasso_selected.emit(lasso)
    shot("embeddings")

    ev = window.evaluate_tab
    window.tabs.setCurrentWidget(ev)
    ev.evaluate()
    wait(lambda: not ev.busy, 600, "evaluation")
    shot("evaluate")

    # a second, generative run for the reconstruction view and the run comparison
    window.tabs.setCurrentWidget(setup)
    setup.method.set_method("autoencoder")
    setup.training.epochs.setValue(max(3, args.epochs // 2))
    window.start_training()
    wait(lambda: not window.session.busy, 900, "the autoencoder")
    window.tabs.setCurrentWidget(window.views_tab)
    shot("views-reconstruction")

    runs = window.runs_tab
    window.tabs.setCurrentWidget(runs)
    runs.refresh()
    runs.table.selectAll()
    runs.compare_selected()  # two methods: their curves are shown relative to their first loss
    wait(lambda: not window.runner.running("compare"), 60, "curves")
    shot("runs")

    if shutil.which("import"):
        settle()
        subprocess.run(["import", "-window", "root", str(args.out / "desktop.png")], check=False)
        print("wrote", args.out / "desktop.png")

    window.close()
    wait(lambda: not window.isVisible(), 60, "closing")
    shutil.rmtree(work, ignore_errors=True)
    return 0


def _point(xy):
    from PySide6.QtCore import QPointF

    return QPointF(float(xy[0]), float(xy[1]))


if __name__ == "__main__":
    sys.exit(main())
