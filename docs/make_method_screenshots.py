"""Screenshots of issue 14's methods in the GUI: the GAN's Train tab (both players' losses and the live grid of
samples from fixed latents) and its Views tab (samples and the interpolation strip), and DINO with its Vision
Transformer on the Views tab (global and local crops and where the teacher looks).

    xvfb-run -a -s "-screen 0 1700x1000x24" .venv/bin/python docs/make_method_screenshots.py

Run from the repository root; writes docs/screenshots/gan_*.png and dino_views.png (about 5 minutes on 2 cores).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from PySide6.QtWidgets import QScrollArea  # noqa: E402
from screenshot_kit import Shots  # noqa: E402

OUT = Path(__file__).resolve().parent / "screenshots"


def train_and_shoot(
    kit: Shots, method: str, steps: int, overrides: dict, shots: dict[str, str], to_bottom: bool = False
) -> None:
    """Train `method` on the digits for `steps` steps, then take each tab of `shots` (name -> tab attribute),
    scrolled to its last rows when `to_bottom` (DINO's attention row is the last of six)."""
    window, setup = kit.window, kit.window.setup_tab
    setup.method.set_method(method, overrides)
    setup.training.epochs.setValue(200)
    setup.training.max_steps.setValue(steps)
    setup.training.batch_size.setValue(64)
    ended = []
    window.session.ended.connect(lambda *a: ended.append(a))
    window.start_training()
    window.tabs.setCurrentWidget(window.train_tab)
    kit.wait(lambda: bool(ended), 1800, f"the {method} run")
    kit.settle(1.0)
    for name, tab in shots.items():
        window.tabs.setCurrentWidget(getattr(window, tab))
        kit.settle(0.5)
        if to_bottom:
            for area in getattr(window, tab).findChildren(QScrollArea):
                area.verticalScrollBar().setValue(area.verticalScrollBar().maximum())
            kit.settle(0.5)
        kit.shot(name)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--gan-steps", type=int, default=440)  # 20 epochs of the digits at batch 64
    parser.add_argument("--dino-steps", type=int, default=150)
    parser.add_argument("--only", choices=("gan", "dino"), help="take one method's screenshots")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    kit = Shots("ssl-workbench-methods-", out=args.out, warm_umap=False)
    kit.wait_for_data("the digits")
    if args.only in (None, "gan"):
        shots = {"gan_train": "train_tab", "gan_samples": "views_tab"}
        train_and_shoot(kit, "gan", args.gan_steps, {}, shots)
    if args.only in (None, "dino"):
        shots = {"dino_views": "views_tab"}
        train_and_shoot(kit, "dino", args.dino_steps, {"encoder": "vit"}, shots, to_bottom=True)
    kit.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
