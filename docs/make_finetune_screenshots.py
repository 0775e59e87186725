"""Screenshots of fine-tuning with few labels on the Evaluate tab, after a short real SimCLR run on the
digits: the job running (progress, Cancel), then the results table and the fine-tune and pseudo-label
lines beside the linear probe's on the label-efficiency chart.

Run under a virtual X server (a real window, real fonts):

    xvfb-run -a -s "-screen 0 1700x1000x24" .venv/bin/python docs/make_finetune_screenshots.py

Writes docs/screenshots/finetune-running.png and docs/screenshots/finetune.png (QWidget.grab of the
window); `--size 1024x700` adds the size to the names. `--runs-dir DIR` keeps the runs in DIR and reuses
what is there: the trained run, its evaluation and the fine-tunings already stored (the running shot is
taken only when a fine-tuning runs).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from screenshot_kit import ROOT, Shots, parse_size


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    parser.add_argument("--epochs", type=int, default=10, help="epochs of the SimCLR run on the digits")
    parser.add_argument("--theme", default="light", choices=["light", "dark"])
    parser.add_argument("--size", default="1320x860", help="window size WIDTHxHEIGHT (also try 1024x700)")
    parser.add_argument(
        "--labels",
        default="0.01,0.1",
        help="labels to fine-tune with, one job each, in order: shares offered by the form (0.01, 0.1, 1.0) "
        "or whole numbers per class (5)",
    )
    parser.add_argument("--runs-dir", type=Path, default=None, help="keep the runs here and reuse them")
    args = parser.parse_args()
    suffix = ("" if args.size == "1320x860" else f"-{args.size}") + ("-dark" if args.theme == "dark" else "")
    args.out.mkdir(parents=True, exist_ok=True)
    kit = Shots(
        "ssl-workbench-finetune-",
        out=args.out,
        suffix=suffix,
        theme=args.theme,
        size=parse_size(args.size),
        warm_umap=False,
        runs_dir=args.runs_dir,
    )
    window, wait = kit.window, kit.wait
    kit.wait_for_data("the digits")

    from ssl_core.eval import read_report
    from ssl_core.finetune import is_finetune_run, saved_finetune_results
    from ssl_core.runs.store import list_runs

    kept = args.runs_dir is not None and args.runs_dir.is_dir()
    runs = [r.path for r in list_runs(args.runs_dir)] if kept else []
    runs = [r for r in runs if not is_finetune_run(r)]
    if runs:
        window.open_run(runs[0])
    else:  # a short real run: SimCLR on the digits
        setup = window.setup_tab
        window.tabs.setCurrentWidget(setup)
        setup.method.set_method("simclr")
        setup.training.epochs.setValue(args.epochs)
        setup.training.batch_size.setValue(128)
        window.start_training()
        wait(lambda: not window.session.busy, 900, "training")

    # the linear probe's line first: fine-tuning is drawn next to it
    ev = window.evaluate_tab
    window.tabs.setCurrentWidget(ev)
    wait(lambda: ev.button.isEnabled() and not window.runner.running(), 120, "the Evaluate button")
    if read_report(ev.run_dir) is None:
        ev.evaluate()
        wait(lambda: not ev.busy, 900, "evaluation")

    ev.show_finetune()
    panel = ev.finetune
    panel.form.pseudo.setChecked(True)
    stored = {e["labels_setting"] for e in saved_finetune_results(ev.run_dir)}
    running_shot = False
    for text in args.labels.split(","):
        share = float(text) if "." in text else int(text)
        panel.form.choose_labels(share)
        if share in stored:
            continue
        wait(lambda: panel.button.isEnabled(), 120, "the Fine-tune button")
        panel.start()
        if not running_shot:  # the job under way: its progress and Cancel
            wait(lambda: panel.progress.value() >= 300 or not panel.busy, 1800, "fine-tuning progress")
            kit.shot("finetune-running", settled=False)
            running_shot = True
        wait(lambda: not panel.busy, 3600, f"fine-tuning with labels {text}")
    kit.shot("finetune")
    kit.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
