"""Screenshot of the device choice on a machine with several GPUs: Setup with "All 4 GPUs" chosen and the
device list open (data-parallel training, one process per GPU, train.processes = 4).

The machine that takes it needs no GPU: the device list is simulated (four NVIDIA H200 and the CPU), as
docs/gui.md says under the picture. Run under a virtual X server (a real window, real fonts):

    xvfb-run -a -s "-screen 0 1700x1000x24" .venv/bin/python docs/make_all_gpus_screenshot.py

Writes docs/screenshots/all_gpus_device.png.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from screenshot_kit import ROOT, Shots, parse_size


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    parser.add_argument("--gpus", type=int, default=4)
    parser.add_argument("--size", default="1320x900", help="window size WIDTHxHEIGHT")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)

    from app.widgets import training_form
    from app.widgets.training_form import ALL_GPUS, DEVICE
    from ssl_core.device import DeviceInfo

    simulated = [DeviceInfo(f"cuda:{i}", "NVIDIA H200 (140 GB)") for i in range(args.gpus)]
    simulated.append(DeviceInfo("cpu", "CPU (64 cores)"))
    training_form.detected_devices = lambda: simulated  # the picture's machine, not this one

    kit = Shots("ssl-workbench-gpus-", out=args.out, size=parse_size(args.size), warm_umap=False)
    window = kit.window
    kit.wait_for_data("the digits")
    setup = window.setup_tab
    window.tabs.setCurrentWidget(setup)
    form = setup.training
    box = form.editor(DEVICE)
    kit.wait(lambda: box.findData(ALL_GPUS) >= 0, 60, "the device list")
    setup.method.set_method("simclr")
    form.epochs.setValue(100)
    form.batch_size.setValue(1024)
    box.setCurrentIndex(box.findData(ALL_GPUS))
    kit.settle(0.5)
    from PySide6.QtWidgets import QScrollArea

    scroll = next(a for a in setup.findChildren(QScrollArea) if a.widget().isAncestorOf(form))
    scroll.ensureWidgetVisible(form, 0, 200)  # "3. Training" in view, with room for the list under it
    kit.settle(1.0)
    box.showPopup()  # the list is a window of its own: grab the screen, not the main window
    kit.settle(1.0)
    geometry = window.frameGeometry()
    screen = kit.app.primaryScreen()
    picture = screen.grabWindow(0, geometry.x(), geometry.y(), geometry.width(), geometry.height())
    path = args.out / "all_gpus_device.png"
    picture.save(str(path))
    print("wrote", path, flush=True)
    box.hidePopup()
    kit.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
