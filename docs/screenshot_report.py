"""Screenshots of run reports opened in a headless browser, for the docs.

    .venv/bin/python docs/screenshot_report.py            # needs chromium (apt-get install chromium)

Trains SimCLR and a denoising autoencoder on the bundled digits (about a minute each on a laptop CPU),
writes a report of the SimCLR run and a comparison of the two with `ssl-core report` (which evaluates
them first), and photographs both with Chromium in headless mode: the whole page at a desktop width
(docs/screenshots/report.png, report-compare.png) and the top of the report at a phone's width
(report-phone.png). The HTML files stay in the work folder (--work keeps it).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

BROWSERS = ("chromium", "chromium-browser", "google-chrome")
METHODS = ("simclr", "denoising_autoencoder")


def train(runs_dir: Path, method: str, steps: int) -> Path:
    from ssl_core.config import RunConfig
    from ssl_core.train.trainer import Trainer

    config = RunConfig().with_overrides(
        [
            "data.spec=digits",
            f"method.name={method}",
            "train.epochs=100",
            f"train.max_steps={steps}",
            "train.device=cpu",
            "data.num_workers=0",
            f"runs_dir={str(runs_dir)!r}",
        ]
    )
    result = Trainer(config).run()
    if result.status != "completed":
        raise SystemExit(f"training {method} failed: {result.message}")
    return result.run_dir


def reuse(runs_dir: Path, method: str) -> Path | None:
    """A completed run of `method` kept from an earlier call (--work), or None."""
    from ssl_core.runs.store import list_runs

    found = [r.path for r in list_runs(runs_dir) if r.method == method and r.status == "completed"]
    return found[0] if runs_dir.is_dir() and found else None


def shoot(browser: str, html: Path, png: Path, width: int, height: int) -> None:
    """One screenshot of `html` in a `width` x `height` headless window (a tall one shows the whole page)."""
    subprocess.run(
        [
            browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
            "--force-device-scale-factor=1", f"--window-size={width},{height}",
            f"--screenshot={png}", html.resolve().as_uri(),
        ],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    trim_bottom(png)
    print(png)


def trim_bottom(png: Path, margin: int = 24) -> None:
    """Cut the empty page background below the report (the window is taller than the page)."""
    import numpy as np
    from PIL import Image

    image = Image.open(png).convert("RGB")
    pixels = np.asarray(image)
    differs = np.nonzero((pixels != pixels[-1:, :1, :]).any(axis=(1, 2)))[0]
    if len(differs):
        image.crop((0, 0, image.width, min(image.height, int(differs[-1]) + margin))).save(png)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    parser.add_argument("--steps", type=int, default=300, help="training steps of each run")
    parser.add_argument(
        "--page-height", type=int, default=7000, help="window height of the desktop shots (trimmed)"
    )
    parser.add_argument(
        "--work",
        type=Path,
        help="keep the runs in this folder and reuse them next time (default: a temporary one)",
    )
    args = parser.parse_args()
    browser = next((b for b in BROWSERS if shutil.which(b)), None)
    if browser is None:
        raise SystemExit("No Chromium found: apt-get install chromium")
    from ssl_core.cli.main import main as ssl_core

    args.out.mkdir(parents=True, exist_ok=True)
    work = args.work or Path(tempfile.mkdtemp(prefix="ssl-workbench-report-"))
    simclr, denoising = (reuse(work / "runs", m) or train(work / "runs", m, args.steps) for m in METHODS)
    single, compare = work / "report.html", work / "report-compare.html"
    for out, runs in ((single, [simclr]), (compare, [simclr, denoising])):
        if ssl_core(["report", "--quiet", "-o", str(out), *map(str, runs)]) != 0:
            raise SystemExit("ssl-core report failed")
    shoot(browser, single, args.out / "report.png", 1100, args.page_height)
    shoot(browser, single, args.out / "report-phone.png", 390, 2200)
    shoot(browser, compare, args.out / "report-compare.png", 1100, args.page_height + 3000)
    if args.work is None:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
