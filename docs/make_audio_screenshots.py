"""Screenshots of the audio flow for the docs: the synthetic spoken words (audio:speech, generated on this
machine by espeak-ng), a spectrogram denoising run with its live waveforms, spectrograms and play buttons,
and the embedding map with a clip's spectrogram under the pointer.

Run under a virtual X server (a real window, real fonts; no sound card, so a play button says so):

    xvfb-run -a -s "-screen 0 1700x1000x24" .venv/bin/python docs/make_audio_screenshots.py

Writes docs/screenshots/audio_setup.png (the data summary, sample spectrograms and the audio options),
audio_train.png (training; the live preview: each clip, its noisy version and the rebuilt spectrogram, a
play button pressed) and audio_embeddings.png (clips as points coloured by word, one hovered and clicked:
its spectrogram, its nearest neighbours, the player's status line).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from screenshot_kit import ROOT, Shots, parse_size


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    parser.add_argument("--spec", default="audio:speech")
    parser.add_argument("--method", default="spectrogram_denoising")
    parser.add_argument("--steps", type=int, default=200, help="training steps")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--size", default="1320x860", help="window size WIDTHxHEIGHT")
    parser.add_argument("--theme", default="light", choices=["light", "dark"])
    parser.add_argument(
        "--runs-dir", type=Path, default=None, help="keep the run here (default: a temporary folder)"
    )
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    suffix = "-dark" if args.theme == "dark" else ""
    kit = Shots(
        "ssl-workbench-audio-",
        out=args.out,
        suffix=suffix,
        theme=args.theme,
        size=parse_size(args.size),
        runs_dir=args.runs_dir,
    )
    window, wait, settle, shot = kit.window, kit.wait, kit.settle, kit.shot
    kit.wait_for_data("the digits")

    # ---- Setup: the synthetic spoken words, with the audio options -----------------------------------
    setup = window.setup_tab
    window.tabs.setCurrentWidget(setup)
    setup.data.open_spec(args.spec)
    wait(lambda: not setup.data.loading and setup.data.info.modality == "audio", 900, args.spec)
    setup.method.set_method(args.method)
    setup.training.epochs.setValue(100)
    setup.training.max_steps.setValue(args.steps)
    setup.training.batch_size.setValue(args.batch_size)
    setup.training.seed.setValue(0)
    shot("audio_setup")

    # ---- Train: live waveforms and spectrograms; a play button pressed (no sound card here) ----------
    window.start_training()
    window.tabs.setCurrentWidget(window.train_tab)
    train = window.train_tab
    wait(
        lambda: train.live_preview.renderer is not None and train.live_preview.columns(),
        600,
        "a live preview",
    )
    wait(lambda: not window.session.busy, 3600, f"{args.method} training on {args.spec}")
    live = train.live_preview.renderer
    from app.audio_player import audio_player

    player = audio_player()
    answered: list[bool] = []
    player.done.connect(lambda: answered.append(True))
    live.play_buttons()[0].click()
    wait(lambda: bool(answered), 30, "the player")
    shot("audio_train")

    # ---- Embeddings: clips as points, one hovered (its spectrogram) and clicked (played, neighbours) --
    emb = window.embeddings_tab
    emb.projection.setCurrentIndex(emb.projection.findData("umap"))
    window.tabs.setCurrentWidget(emb)
    wait(lambda: emb.result is not None and not emb.busy, 1200, "embeddings and UMAP")
    rows, xy = emb.result.projections[emb.shown_kind()]
    # a point on the left of the map, inside its bulk: the legend covers the right edge
    low, high = np.percentile(xy, [2, 98], axis=0)
    goal = np.array([low[0] + 0.2 * (high[0] - low[0]), np.median(xy[:, 1])])
    target = int(np.argmin(np.linalg.norm(xy - goal, axis=1)))
    settle()
    emb.scatter._mouse_moved(emb.scatter.view_box.mapViewToScene(_point(xy[target])))
    emb._hovered(target)
    emb._clicked(target)
    wait(lambda: emb.audio_status.text() == player.last_status, 30, "the player's status")
    shot("audio_embeddings")
    settle()
    kit.close()
    return 0


def _point(xy):
    from PySide6.QtCore import QPointF

    return QPointF(float(xy[0]), float(xy[1]))


if __name__ == "__main__":
    sys.exit(main())
