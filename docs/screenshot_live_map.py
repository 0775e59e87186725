"""Screenshots of the Embeddings tab's live map while SimCLR trains on the digits: an early picture, one
mid-move (points gliding to the next checkpoint's layout) and the last one, when training has ended.

Run under a virtual X server (a real window, real fonts):

    xvfb-run -a -s "-screen 0 1600x1000x24" .venv/bin/python docs/screenshot_live_map.py

Writes docs/screenshots/live-map-early.png, live-map-moving.png and live-map-end.png (QWidget.grab of the
window) and prints each picture's epoch, projection and how far its points moved.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from screenshot_kit import ROOT, Shots, parse_size


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    parser.add_argument("--epochs", type=int, default=12, help="epochs of the SimCLR run on the digits")
    parser.add_argument("--size", default="1320x860", help="window size WIDTHxHEIGHT")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    kit = Shots("ssl-workbench-live-map-", out=args.out, size=parse_size(args.size), poll=0.005)
    from ssl_core.eval.live_map import umap_is_warm

    window, wait = kit.window, kit.wait

    kit.wait_for_data("data")
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
    kit.shot("live-map-early", settled=False)
    seen = len(frames)
    wait(lambda: len(frames) > seen and emb.live_map.animator.running, 600, "the next picture")
    time.sleep(0.12)  # about half-way through the move: on the way from one layout to the next
    kit.app.processEvents()
    kit.shot("live-map-moving", settled=False)
    wait(lambda: not window.session.busy and not emb.live_map.live.updating, 900, "training")
    wait(lambda: not emb.live_map.animator.running, 10, "the last move")
    kit.shot("live-map-end", settled=False)
    for f in frames:
        print(f"picture {f.number}: epoch {f.epoch + 1}, {f.kind}, moved {f.moved:.3f}, {f.seconds:.2f} s")

    kit.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
