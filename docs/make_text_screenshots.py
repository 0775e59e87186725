"""Screenshots of the text flow for the docs: the fortune-cookie quotes (text:fortunes), masked-token
modelling with its live guesses, the Try-it box, and the embedding map with a quote under the pointer.

Run under a virtual X server (a real window, real fonts):

    xvfb-run -a -s "-screen 0 1700x1000x24" .venv/bin/python docs/make_text_screenshots.py

Writes docs/screenshots/text_setup.png (the data summary, sample quotes and the text options),
text_train.png (training, the live masked-word guesses), text_try_it.png (the Try-it box answering a
sentence with a blank) and text_embeddings.png (quotes as points, one hovered, its neighbours listed).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from screenshot_kit import ROOT, Shots, parse_size

TRY = "You will [MASK] a long trip ."


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    parser.add_argument("--spec", default="text:fortunes")
    parser.add_argument("--steps", type=int, default=1500, help="training steps of the masked-token run")
    parser.add_argument("--tokenizer", default="wordpiece", choices=["bpe", "wordpiece", "char"])
    parser.add_argument("--max-tokens", type=int, default=32)
    parser.add_argument("--size", default="1320x860", help="window size WIDTHxHEIGHT")
    parser.add_argument("--theme", default="light", choices=["light", "dark"])
    parser.add_argument(
        "--runs-dir", type=Path, default=None, help="keep the run here (default: a temporary folder)"
    )
    parser.add_argument("--try", dest="sentence", default=TRY, help="the sentence typed into the Try-it box")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    suffix = "-dark" if args.theme == "dark" else ""
    kit = Shots(
        "ssl-workbench-text-",
        out=args.out,
        suffix=suffix,
        theme=args.theme,
        size=parse_size(args.size),
        runs_dir=args.runs_dir,
    )
    window, wait, settle, shot = kit.window, kit.wait, kit.settle, kit.shot
    kit.wait_for_data("the digits")

    # ---- Setup: the fortunes, with the text options -----------------------------------------------------
    setup = window.setup_tab
    window.tabs.setCurrentWidget(setup)
    setup.data.open_spec(args.spec)
    wait(lambda: not setup.data.loading and setup.data.info.modality == "text", 300, "the fortunes")
    options = setup.data.text_options  # whole words read better in a screenshot than BPE pieces
    for box, value in ((options.tokenizer_box, args.tokenizer), (options.length_box, args.max_tokens)):
        if isinstance(value, str):
            box.setCurrentIndex(box.findData(value))
        else:
            box.setValue(value)
        settle(0.2)
        wait(lambda: not setup.data.loading, 300, "the fortunes, opened again")
    setup.method.set_method("masked_token")
    setup.training.epochs.setValue(50)
    setup.training.max_steps.setValue(args.steps)
    setup.training.batch_size.setValue(64)
    setup.training.seed.setValue(0)
    shot("text_setup")

    # ---- Train: the live masked-word guesses ----------------------------------------------------------
    window.start_training()
    window.tabs.setCurrentWidget(window.train_tab)
    train = window.train_tab
    wait(
        lambda: train.live_preview.renderer is not None and train.live_preview.columns(),
        600,
        "a live preview",
    )
    wait(lambda: not window.session.busy, 3600, "masked-token training on the fortunes")
    shot("text_train")

    # ---- Views: the Try-it box answers a sentence with a blank ---------------------------------------
    views = window.views_tab
    window.tabs.setCurrentWidget(views)
    wait(lambda: not window.runner.running("preview"), 120, "the views")
    views.try_it.edit.setText(args.sentence)
    views.try_it.try_text()
    wait(lambda: views.try_it.worker is None and views.try_it.result.columns(), 300, "the Try-it answer")
    shot("text_try_it")

    # ---- Embeddings: quotes as points, one hovered and its neighbours -------------------------------
    emb = window.embeddings_tab
    emb.projection.setCurrentIndex(emb.projection.findData("umap"))
    window.tabs.setCurrentWidget(emb)
    wait(lambda: emb.result is not None and not emb.busy, 1200, "embeddings and UMAP")
    rows, xy = emb.result.projections[emb.shown_kind()]
    lengths = np.array([len(emb.result.text_of(int(r)) or "") for r in rows[: min(len(rows), 4000)]])
    short = np.flatnonzero((lengths > 30) & (lengths < 110))  # a quote that fits the hover panel
    pool = short if len(short) else np.arange(len(lengths))
    # a point on the left of the map, inside its bulk: the legend covers the right edge
    low, high = np.percentile(xy, [2, 98], axis=0)
    goal = np.array([low[0] + 0.15 * (high[0] - low[0]), np.median(xy[:, 1])])
    target = int(pool[np.argmin(np.linalg.norm(xy[pool] - goal, axis=1))])
    settle()
    emb.scatter._mouse_moved(emb.scatter.view_box.mapViewToScene(_point(xy[target])))
    emb._hovered(target)
    emb._clicked(target)
    shot("text_embeddings")
    settle()
    kit.close()
    return 0


def _point(xy):
    from PySide6.QtCore import QPointF

    return QPointF(float(xy[0]), float(xy[1]))


if __name__ == "__main__":
    sys.exit(main())
