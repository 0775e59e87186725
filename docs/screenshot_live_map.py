"""Screenshots of the Embeddings tab's live map while SimCLR trains on the digits: an early picture, one
mid-move (points gliding to the next checkpoint's layout) and the last one, when training has ended.

Run under a virtual X server (a real window, real fonts):

    xvfb-run -a -s "-screen 0 1600x1000x24" .venv/bin/python docs/screenshot_live_map.py

Writes docs/screenshots/live-map-early.png, live-map-moving.png and live-map-end.png (QWidget.grab of the
window) and prints each picture's epoch, projection and how far its points moved.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    parser.add_argument("--epochs", type=int, default=12, help="epochs of the SimCLR run on the digits")
    parser.add_argument("--size", default="1320x860", help="window size WIDTHxHEIGHT")
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.lower().split("x"))
    args.out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="ssl-workbench-live-map-"))

    from app import dialogs
    from app.main import create_app
    from app.settings import Prefs
    from app.theme import ThemeManager

    app = create_app([sys.argv[0]])
    ThemeManager(app, "light").apply()
    dialogs.install_excepthook()
    from app.main_window import MainWindow
    from ssl_core.eval.live_map import umap_is_warm

    window = MainWindow(Prefs.open(work / "settings.ini"), runs_dir=work / "runs", warm_umap=True)
    window.resize(width, height)
    window.move(40, 30)
    window.show()

    def wait(cond, timeout: float = 300.0, what: str = "") -> None:
        end = time.monotonic() + timeout
        while not cond():
            if time.monotonic() > end:
                raise TimeoutError(f"timed out waiting for {what}")
            app.processEvents()
            time.sleep(0.005)

    def shot(name: str) -> None:
        path = args.out / f"{name}.png"
        window.grab().save(str(path))
        print("wrote", path)

    wait(lambda: window.setup_tab.data.info is not None and not window.setup_tab.data.loading, 60, "data")
    # As in a demo, the window has been up a while: umap-learn is compiled, so the live map is a UMAP.
    wait(umap_is_warm, 180, "the UMAP warm-up")
    emb = window.embeddings_tab
    frames = []
    emb.live_updated.connect(frames.append)

    setup = window.setup_tab
    setup.method.set_method("simclr")
    setup.training.epochs.setValue(args.epochs)
    setup.training.batch_size.setValue(256)
    window.start_training()
    window.tabs.setCurrentWidget(emb)  # the demo's view: the map while it trains
    wait(lambda: len(frames) >= 3, 600, "three live pictures")
    wait(lambda: not emb.live_map.animator.running, 10, "the move")
    shot("live-map-early")
    seen = len(frames)
    wait(lambda: len(frames) > seen and emb.live_map.animator.running, 600, "the next picture")
    time.sleep(0.12)  # about half-way through the move: on the way from one layout to the next
    app.processEvents()
    shot("live-map-moving")
    wait(lambda: not window.session.busy and not emb.live_map.live.updating, 900, "training")
    wait(lambda: not emb.live_map.animator.running, 10, "the last move")
    shot("live-map-end")
    for f in frames:
        print(f"picture {f.number}: epoch {f.epoch + 1}, {f.kind}, moved {f.moved:.3f}, {f.seconds:.2f} s")

    window.close()
    wait(lambda: not window.isVisible(), 60, "closing")
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
