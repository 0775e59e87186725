"""Screenshots of the guided demo: every step of "Learning without labels" and one step of each other story,
played on the real engine with each story's own time limit, as a person pressing Next would see them.

Run under a virtual X server (a real window, real fonts):

    xvfb-run -a -s "-screen 0 1600x1000x24" .venv/bin/python docs/screenshot_demo.py

Writes docs/screenshots/demo-<story>-<step>.png (QWidget.grab of the window, narrator and highlight
included), demo-<story>-<step>-training.png for steps that change while training, and, when ImageMagick's
`import` is installed, demo-presentation.png (the whole X screen in presentation mode, while training).
`--stories without_labels` makes only that story's shots; `--time-limit S` shortens every story's run.
"""

from __future__ import annotations

import argparse
import dataclasses
import re
import shutil
import subprocess
from pathlib import Path

from screenshot_kit import ROOT, Shots, parse_size

# For the stories other than the first: the one step shown, by title.
ONE_STEP = {"fill_in": "Up close", "motion": "The map", "anomalies": "The scores"}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    parser.add_argument("--stories", default="without_labels,fill_in,motion,anomalies")
    parser.add_argument("--time-limit", type=float, default=None, help="seconds of training per story")
    parser.add_argument("--size", default="1600x900", help="window size WIDTHxHEIGHT")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)

    from app.demo import stories

    if args.time_limit:
        for key, story in list(stories.STORIES.items()):
            run = dataclasses.replace(story.run, time_limit_s=args.time_limit)
            stories.STORIES[key] = dataclasses.replace(story, run=run)

    kit = Shots(
        "ssl-workbench-demo-",
        out=args.out,
        size=parse_size(args.size),
        pos=(20, 20),
        timeout=600.0,
        pause=0.8,
    )
    window, wait, settle, shot = kit.window, kit.wait, kit.settle, kit.shot
    kit.wait_for_data("the data")
    demo = window.demo
    chosen = [k.strip() for k in args.stories.split(",") if k.strip()]
    for key in chosen:
        story = stories.STORIES[key]
        demo.start(key)
        wait(lambda: demo.index == 0, 60, "the first step")
        for index, step in enumerate(story.steps):
            name = f"demo-{key.replace('_', '-')}-{index + 1}-{_slug(step.title)}"
            wanted = key == "without_labels" or step.title == ONE_STEP.get(key)
            if wanted and step.wait == "trained" and key == "without_labels":
                settle(min(25.0, story.run.time_limit_s / 2))  # the live map, half-way
                shot(f"{name}-training")
            if wanted and step.title in ("Practice", "Repairs, live"):
                wait(lambda: window.train_tab.loss_curves.point_count("loss") > 20, 120, "some steps")
                if key == "without_labels" and shutil.which("import"):
                    presentation_shot(demo, args.out, settle)
            wait(lambda: demo.narrator.next_button.isEnabled(), 600, f"step {index + 1} of {key}")
            if wanted:
                settle(1.5)  # a live picture or a chart that just arrived is drawn
                shot(name)
            if demo.narrator.problem_text():
                print(f"problem at {name}: {demo.narrator.problem_text()}", flush=True)
            demo.next()
        wait(lambda: not window.session.busy and not window.runner.running("train"), 120, "the run's end")

    kit.close()
    return 0


def presentation_shot(demo, out: Path, settle) -> None:
    """The whole screen in presentation mode, as a room sees it."""
    demo.set_presentation(True)
    settle(2.0)
    path = out / "demo-presentation.png"
    subprocess.run(["import", "-window", "root", str(path)], check=False)
    print("wrote", path, flush=True)
    demo.set_presentation(False)
    settle(1.0)


def _slug(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")


if __name__ == "__main__":
    raise SystemExit(main())
