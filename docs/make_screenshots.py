"""Screenshots of every tab after a short real training run, for the docs.

Run under a virtual X server (a real window, real fonts):

    xvfb-run -a -s "-screen 0 1600x1000x24" .venv/bin/python docs/make_screenshots.py

Writes docs/screenshots/<tab>.png (QWidget.grab of the window) and, when ImageMagick's `import` is
installed, docs/screenshots/desktop.png (the whole X screen, as a person would see it). The time-series
flow (SimCLR on BasicMotions, then next-step prediction when that method is installed) writes
docs/screenshots/<tab>-series.png; `--flows series` makes only those. The table flow (VIME on the Shuttle
table, trained on its normal rows, then anomaly detection) writes setup-table.png, views-table.png and
anomalies.png; `--flows tables`.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
from screenshot_kit import ROOT, Shots, parse_size


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    parser.add_argument("--epochs", type=int, default=15, help="epochs of the SimCLR run on the digits")
    parser.add_argument("--theme", default="light", choices=["light", "dark"])
    parser.add_argument("--size", default="1320x860", help="window size WIDTHxHEIGHT (also try 1024x700)")
    parser.add_argument(
        "--suffix",
        default=None,
        help="added to every file name; by default '-dark' for the dark theme and '-WxH' for other sizes",
    )
    parser.add_argument(
        "--flows",
        default="images,series,tables",
        help="comma-separated flows to capture: images, series, tables (setup: only the Setup shots)",
    )
    parser.add_argument("--series-epochs", type=int, default=40, help="epochs of the runs on BasicMotions")
    parser.add_argument("--table-epochs", type=int, default=4, help="epochs of the run on the Shuttle table")
    args = parser.parse_args()
    flows = {f.strip() for f in args.flows.split(",") if f.strip()}
    if args.suffix is None:
        args.suffix = ("" if args.size == "1320x860" else f"-{args.size}") + (
            "-dark" if args.theme == "dark" else ""
        )
    args.out.mkdir(parents=True, exist_ok=True)
    kit = Shots(
        "ssl-workbench-shots-", out=args.out, suffix=args.suffix, theme=args.theme, size=parse_size(args.size)
    )
    window, wait, settle, shot = kit.window, kit.wait, kit.settle, kit.shot
    kit.wait_for_data("the digits")
    steps = Steps(window, wait, settle, shot)
    if "images" in flows:
        image_flow(steps, args)
    elif "setup" in flows:
        setup_flow(steps)
    if "series" in flows:
        series_flow(steps, args)
    if "tables" in flows:
        table_flow(steps, args)

    if shutil.which("import") and "images" in flows:
        settle()
        desktop = args.out / f"desktop{args.suffix}.png"
        subprocess.run(["import", "-window", "root", str(desktop)], check=False)
        print("wrote", desktop)

    kit.close()
    return 0


class Steps:
    """What the flows share: the window and how to wait, let it settle and take a shot."""

    def __init__(self, window, wait, settle, shot):
        self.window, self.wait, self.settle, self.shot = window, wait, settle, shot

    def train(self, method: str, epochs: int, batch_size: int, what: str) -> None:
        window = self.window
        window.tabs.setCurrentWidget(window.setup_tab)
        setup = window.setup_tab
        setup.method.set_method(method)
        setup.training.epochs.setValue(epochs)
        setup.training.batch_size.setValue(batch_size)
        window.start_training()
        self.wait(lambda: not window.session.busy, 900, what)

    def views(self, name: str) -> None:
        window = self.window
        window.tabs.setCurrentWidget(window.views_tab)
        window.compute_views()  # the trained model's preview
        self.wait(lambda: not window.runner.running("preview") and window.views_tab.rows(), 120, "views")
        self.shot(name)

    def hover_and_click(self, target: int) -> None:
        emb = self.window.embeddings_tab
        rows, xy = emb.result.projections[emb.shown_kind()]
        self.settle()
        emb.scatter._mouse_moved(emb.scatter.view_box.mapViewToScene(_point(xy[target])))
        emb._clicked(target)


def setup_flow(steps: Steps) -> None:
    """Setup as it opens, then with a setting that cannot work, told in words beside the field."""
    window, shot = steps.window, steps.shot
    window.tabs.setCurrentWidget(window.setup_tab)
    shot("setup")

    # a setting that cannot work, told in words beside the field, with Start off
    setup = window.setup_tab
    setup.method.set_method("mae", {"patch_size": 3})
    setup.training.set_value("data.image_size", 8)
    patch = setup.method.params.editor("patch_size")
    scroll = patch.parent()
    while scroll is not None and not hasattr(scroll, "ensureWidgetVisible"):
        scroll = scroll.parent()
    if scroll is not None:
        scroll.ensureWidgetVisible(patch, 0, 120)
    shot("setup-check")
    setup.training.set_value("data.image_size", None)


def image_flow(steps: Steps, args) -> None:
    window, wait, shot = steps.window, steps.wait, steps.shot
    setup = window.setup_tab
    setup_flow(steps)

    # a short but real run: SimCLR on the digits
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
    steps.hover_and_click(target)
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
    # batch 64: enough steps (about 150) for reconstructions that are digits, not grey blurs
    steps.train("autoencoder", max(3, args.epochs // 2), 64, "the autoencoder")
    window.tabs.setCurrentWidget(window.views_tab)
    shot("views-reconstruction")

    runs = window.runs_tab
    window.tabs.setCurrentWidget(runs)
    runs.refresh()
    runs.table.selectAll()
    runs.compare_selected()  # two methods: their curves are shown relative to their first loss
    wait(lambda: not window.runner.running("compare"), 60, "curves")
    shot("runs")


def series_flow(steps: Steps, args) -> None:
    """Time series: BasicMotions (6 sensor channels) with SimCLR, then next-step prediction's forecasts."""
    from PySide6.QtWidgets import QAbstractItemView

    from app.widgets.method_panel import NAME_ROLE
    from ssl_core.methods import METHODS

    window, wait, settle, shot = steps.window, steps.wait, steps.settle, steps.shot
    setup = window.setup_tab
    window.tabs.setCurrentWidget(setup)
    setup.data.open_spec("series:BasicMotions")
    wait(lambda: not setup.data.loading and setup.data.info.modality == "series", 120, "BasicMotions")
    setup.method.set_method("simclr")
    # the tree scrolled to the greyed image-only methods, so the shot shows why they are off
    item = next(i for i in setup.method._items() if not setup.method.available(i.data(0, NAME_ROLE)))
    setup.method.tree.scrollToItem(item, QAbstractItemView.ScrollHint.PositionAtCenter)
    shot("setup-series")

    setup.training.epochs.setValue(args.series_epochs)
    setup.training.batch_size.setValue(16)
    window.start_training()
    window.tabs.setCurrentWidget(window.train_tab)
    wait(lambda: window.train_tab.live_preview.renderer is not None, 300, "a live preview")
    wait(lambda: not window.session.busy, 900, "SimCLR on BasicMotions")
    shot("train-series")

    steps.views("views-series")

    emb = window.embeddings_tab
    emb.projection.setCurrentIndex(emb.projection.findData("umap"))
    window.tabs.setCurrentWidget(emb)
    wait(lambda: emb.result is not None and not emb.busy, 600, "series embeddings and UMAP")
    rows, xy = emb.result.projections[emb.shown_kind()]
    labels = emb.result.labels[rows]
    busy = [i for i, y in enumerate(labels) if emb.result.class_text(int(y)) == "Running"]
    centre = xy.mean(axis=0)
    target = max(busy or range(len(xy)), key=lambda i: float(abs(xy[i] - centre).sum()))
    steps.hover_and_click(int(target))
    shot("embeddings-series")

    ev = window.evaluate_tab
    window.tabs.setCurrentWidget(ev)
    ev.evaluate()
    wait(lambda: not ev.busy, 600, "the series evaluation")
    shot("evaluate-series")

    if "autoregressive" in METHODS:  # next-step prediction: its forecasts
        steps.train("autoregressive", max(10, args.series_epochs // 2), 16, "next-step prediction")
        steps.views("views-series-forecast")
    settle()


def table_flow(steps: Steps, args) -> None:
    """Tables and anomaly detection: the Shuttle table, VIME trained on its normal rows only, its
    reconstructions, then the Anomalies tab with the threshold the contamination rule sets."""
    window, wait, settle, shot = steps.window, steps.wait, steps.settle, steps.shot
    setup = window.setup_tab
    window.tabs.setCurrentWidget(setup)
    setup.data.open_spec("table:shuttle")
    wait(lambda: not setup.data.loading and setup.data.info.modality == "table", 300, "the Shuttle table")
    options = setup.data.table_options
    options.train_on_box.setCurrentIndex(options.train_on_box.findData("normal"))  # the most common class
    setup.method.set_method("vime")
    setup.training.epochs.setValue(args.table_epochs)
    setup.training.batch_size.setValue(256)
    shot("setup-table")

    window.start_training()
    wait(lambda: not window.session.busy, 900, "VIME on the Shuttle table")
    steps.views("views-table")

    tab = window.anomalies_tab
    window.tabs.setCurrentWidget(tab)
    wait(lambda: not tab.busy, 120, "saved anomaly results")
    tab.evaluate()
    wait(lambda: not tab.busy, 900, "the anomaly evaluation")
    tab.set_rule("contamination", 25.0)  # Shuttle's held-out rows are about a quarter anomalies
    settle()
    shot("anomalies")


def _point(xy):
    from PySide6.QtCore import QPointF

    return QPointF(float(xy[0]), float(xy[1]))


if __name__ == "__main__":
    sys.exit(main())
