"""Where the run report lives in the app: File > Export with its two report entries open over the Runs
tab, two runs selected (the Runs tab's Report… button compares them). A real window under Xvfb:

    xvfb-run -a -s '-screen 0 1600x1000x24' .venv/bin/python docs/screenshot_report_gui.py --runs RUNS_DIR

RUNS_DIR: a runs folder with at least two runs (e.g. the --work folder of docs/screenshot_report.py, plus
/runs). Writes docs/screenshots/report-menu.png with ImageMagick's `import` (menus are separate windows,
so the whole screen is captured, then cut to the window).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

from screenshot_kit import ROOT, Shots


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=Path, required=True, help="a runs folder with two runs or more")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots" / "report-menu.png")
    args = parser.parse_args()

    from PySide6.QtCore import QPoint

    kit = Shots(
        "ssl-workbench-report-gui-",
        size=(1320, 760),
        warm_umap=False,
        runs_dir=args.runs,
        excepthook=False,
    )
    window, settle = kit.window, kit.settle

    settle(3.0)
    window.tabs.setCurrentWidget(window.runs_tab)
    window.runs_tab.refresh()
    window.runs_tab.table.selectRow(0)
    window.runs_tab.table.selectRow(1)
    window.runs_tab.table.selectAll()
    settle(0.5)
    file_menu, export_menu = window.menus["file"], window.menus["export"]
    bar = window.menuBar()
    file_menu.popup(bar.mapToGlobal(QPoint(bar.actionGeometry(file_menu.menuAction()).x(), bar.height())))
    settle(0.5)
    file_menu.setActiveAction(export_menu.menuAction())
    export_menu.popup(
        file_menu.mapToGlobal(file_menu.actionGeometry(export_menu.menuAction()).topRight() + QPoint(2, 0))
    )
    export_menu.setActiveAction(window.actions["export_report"])
    settle(1.0)
    frame = window.frameGeometry()
    crop = f"{frame.width()}x{frame.height()}+{frame.x()}+{frame.y()}"
    subprocess.run(["import", "-window", "root", "-crop", crop, "+repage", str(args.out)], check=True)
    print(args.out)
    export_menu.close()
    file_menu.close()
    window.close()
    settle(1.0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
