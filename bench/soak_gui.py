"""GUI soak test (a benchmark, not CI): the app trains continuously with live plots for N minutes while
its resident memory, the number of live Qt objects and Python's allocated memory blocks are sampled.

Runs are looped on the bundled digits: each run is a few thousand steps; when one finishes (which also
refreshes the Runs table, the Embeddings and Evaluate tabs), the next starts at once, so training keeps
going for the whole duration and the start/finish path is exercised many times. Live curves on the
Train tab and live previews on the Views tab are drawn throughout (the Train tab is shown).

Every `--interval` seconds it samples:
  * resident memory (VmRSS from /proc/self/status),
  * QApplication.allWidgets() and every QObject below the main window (findChildren, recursive),
  * memory blocks held by Python's allocator (sys.getallocatedblocks(); gc.get_objects() would hand this
    thread references to tuples a training thread is still building, which breaks them: a SystemError
    'tupleobject.c: bad argument to internal function' in that thread, and the soak waits forever).

Pass criteria: after the warm-up, RSS stays within 10% of its value at the end of the warm-up, and the
Qt object counts do not grow (the last sample is no higher than the warm-up one plus a small slack).

    xvfb-run -a python bench/soak_gui.py                 # 30 minutes, writes bench/RESULTS.md
    python bench/soak_gui.py --minutes 2 --interval 10   # offscreen when there is no display
    python bench/soak_gui.py --quick                     # a 20-second smoke run, no results file
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from _common import add_common_args, apply_threads, command_line, machine_description, now, publish, table

SECTION_ID = "soak_gui"
RSS_TOLERANCE = 0.10
QT_SLACK = 20  # objects: a tooltip or a pending timer may be alive at one sample and not the next


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024.0
    return float("nan")


@dataclass
class Sample:
    t_s: float
    steps: int  # steps trained so far, all runs together
    runs: int  # runs started so far
    rss_mb: float
    widgets: int
    qobjects: int
    py_blocks: int


@dataclass
class Verdict:
    rss_ok: bool
    qt_ok: bool
    rss_change: float  # relative to the warm-up sample
    widget_change: int
    qobject_change: int
    warm: Sample
    last: Sample


def judge(samples: list[Sample], warmup_s: float) -> Verdict:
    """Compare every sample after the warm-up with the first sample at or after it."""
    after = [s for s in samples if s.t_s >= warmup_s] or samples[-1:]
    warm, last = after[0], samples[-1]
    worst = max(after, key=lambda s: abs(s.rss_mb - warm.rss_mb))
    rss_change = (worst.rss_mb - warm.rss_mb) / warm.rss_mb
    qt_ok = last.widgets <= warm.widgets + QT_SLACK and last.qobjects <= warm.qobjects + QT_SLACK
    return Verdict(
        rss_ok=abs(rss_change) <= RSS_TOLERANCE,
        qt_ok=qt_ok,
        rss_change=rss_change,
        widget_change=last.widgets - warm.widgets,
        qobject_change=last.qobjects - warm.qobjects,
        warm=warm,
        last=last,
    )


class Soak:
    def __init__(self, args: argparse.Namespace):
        from PySide6.QtCore import QObject, QTimer
        from PySide6.QtWidgets import QApplication

        from app.main import create_app
        from app.main_window import MainWindow
        from app.settings import Prefs
        from app.theme import ThemeManager

        self.args = args
        self.work = Path(tempfile.mkdtemp(prefix="ssl-workbench-soak-"))
        self.app = create_app([sys.argv[0]])
        ThemeManager(self.app, "light").apply()
        self.window = MainWindow(
            Prefs.open(self.work / "settings.ini"), runs_dir=self.work / "runs", warm_umap=False
        )
        self.window.resize(1440, 900)
        self.window.show()
        self.QApplication, self.QObject = QApplication, QObject
        self.samples: list[Sample] = []
        self.runs = 0
        self.steps_before = 0  # steps of finished runs
        self.errors: list[str] = []
        self.started = time.monotonic()
        self.deadline = self.started + args.minutes * 60.0
        self.sampler = QTimer()
        self.sampler.timeout.connect(self.sample)
        self.session = self.window.session
        self.session.ended.connect(self._run_ended)
        self.session.run_failed.connect(lambda ev: self.errors.append(ev.message))
        self.session.job_error.connect(lambda exc, tb: self.errors.append(str(exc)))

    # ---- training loop -----------------------------------------------------------------------
    def configure(self) -> None:
        setup = self.window.setup_tab
        setup.method.set_method(self.args.method)
        setup.training.epochs.setValue(100_000)
        setup.training.max_steps.setValue(self.args.run_steps)
        setup.training.batch_size.setValue(self.args.batch_size)
        setup.training.seed.setValue(0)

    def start_run(self) -> None:
        if time.monotonic() >= self.deadline:
            return
        worker = self.window.start_training()
        if worker is None:
            self.errors.append("start_training refused to start a run")
            return
        self.runs += 1

    def _current_step(self) -> int:
        return int(self.window.train_tab._last_step)

    def _run_ended(self) -> None:
        self.steps_before += self._current_step()
        if time.monotonic() < self.deadline and not self.errors:
            self.start_run()

    # ---- sampling ----------------------------------------------------------------------------
    def sample(self) -> None:
        gc.collect()
        running = self._current_step() if self.session.busy else 0
        s = Sample(
            t_s=time.monotonic() - self.started,
            steps=self.steps_before + running,
            runs=self.runs,
            rss_mb=rss_mb(),
            widgets=len(self.QApplication.allWidgets()),
            qobjects=len(self.window.findChildren(self.QObject)),
            py_blocks=sys.getallocatedblocks(),
        )
        self.samples.append(s)
        print(
            f"{s.t_s / 60:6.1f} min  steps {s.steps:>7,}  runs {s.runs:>3}  RSS {s.rss_mb:7.1f} MB  "
            f"widgets {s.widgets:>5}  QObjects {s.qobjects:>6}  Python blocks {s.py_blocks:>9,}",
            flush=True,
        )

    def run(self) -> list[Sample]:
        app = self.app
        end_load = time.monotonic() + 60
        while self.window.setup_tab.data.info is None or self.window.setup_tab.data.loading:
            app.processEvents()
            time.sleep(0.01)
            if time.monotonic() > end_load:
                raise TimeoutError("the digits did not load within a minute")
        self.configure()
        self.window.tabs.setCurrentWidget(self.window.train_tab)
        self.started = time.monotonic()
        self.deadline = self.started + self.args.minutes * 60.0
        self.start_run()
        self.sample()
        self.sampler.start(int(self.args.interval * 1000))
        while time.monotonic() < self.deadline and not self.errors:
            app.processEvents()
            time.sleep(0.005)
        self.sampler.stop()
        self.sample()
        self.window.stop_training()
        end = time.monotonic() + 120
        while self.window.runner.running() and time.monotonic() < end:
            app.processEvents()
            time.sleep(0.01)
        self.window.close()
        return self.samples


def report(args: argparse.Namespace, samples: list[Sample], verdict: Verdict, errors: list[str]) -> str:
    minutes = samples[-1].t_s / 60.0
    rows = [
        [
            f"{s.t_s / 60:.1f}",
            f"{s.steps:,}",
            s.runs,
            f"{s.rss_mb:.1f}",
            s.widgets,
            f"{s.qobjects:,}",
            f"{s.py_blocks:,}",
        ]
        for s in samples
    ]
    rate = samples[-1].steps / max(samples[-1].t_s, 1e-9)
    lines = [
        "## GUI soak: continuous training with live plots",
        "",
        f"`{command_line('soak_gui.py', args.argv)}` on {now()}: {minutes:.1f} min of {args.method} on the "
        f"bundled digits (batch {args.batch_size}, runs of {args.run_steps:,} steps started back to back; "
        f"Train tab shown, live previews every second), platform `{os.environ.get('QT_QPA_PLATFORM', 'xcb')}`. "
        f"{samples[-1].steps:,} steps in all ({rate:.1f} steps/s), {samples[-1].runs} runs. Sampled every "
        f"{args.interval:g} s after a garbage collection: resident memory (VmRSS), "
        "`len(QApplication.allWidgets())`, QObjects below the main window (recursive `findChildren`) and "
        "the memory blocks Python's allocator holds (`sys.getallocatedblocks()`). Warm-up: the first "
        f"{args.warmup:g} s.",
        "",
        machine_description(extra_versions=_qt_versions()),
        "",
        table(
            ["minute", "steps", "runs", "RSS MB", "widgets", "QObjects", "Python blocks"],
            rows,
        ),
        "",
        "| criterion | warm-up sample | last sample | change | result |",
        "|---|---:|---:|---:|---|",
        f"| RSS within ±{RSS_TOLERANCE:.0%} after warm-up (worst sample) | {verdict.warm.rss_mb:.1f} MB | "
        f"{verdict.last.rss_mb:.1f} MB | {verdict.rss_change:+.1%} | {'pass' if verdict.rss_ok else '**FAIL**'} |",
        f"| widgets not growing (slack {QT_SLACK}) | {verdict.warm.widgets} | {verdict.last.widgets} | "
        f"{verdict.widget_change:+d} | {'pass' if verdict.last.widgets <= verdict.warm.widgets + QT_SLACK else '**FAIL**'} |",
        f"| QObjects not growing (slack {QT_SLACK}) | {verdict.warm.qobjects:,} | {verdict.last.qobjects:,} | "
        f"{verdict.qobject_change:+d} | {'pass' if verdict.last.qobjects <= verdict.warm.qobjects + QT_SLACK else '**FAIL**'} |",
    ]
    if errors:
        lines += ["", "Training stopped early: " + "; ".join(errors)]
    return "\n".join(lines)


def _qt_versions() -> list[str]:
    import pyqtgraph
    import PySide6

    return [f"PySide6 {PySide6.__version__}", f"pyqtgraph {pyqtgraph.__version__}"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_common_args(parser)
    parser.add_argument("--minutes", type=float, default=30.0, help="how long to train (default 30)")
    parser.add_argument("--interval", type=float, default=30.0, help="seconds between samples (default 30)")
    parser.add_argument(
        "--warmup", type=float, default=300.0, help="seconds before RSS is judged (default 300)"
    )
    parser.add_argument("--method", default="simclr")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--run-steps", type=int, default=2000, help="steps per run before the next starts")
    args = parser.parse_args(argv)
    args.argv = argv if argv is not None else sys.argv[1:]
    if args.quick:
        args.minutes, args.interval, args.warmup, args.run_steps = 20 / 60, 4.0, 8.0, 40
    if args.threads is None:
        args.threads = 1  # the GUI thread needs the second core
    apply_threads(args)
    soak = Soak(args)
    samples = soak.run()
    verdict = judge(samples, args.warmup)
    body = report(args, samples, verdict, soak.errors)
    publish(args, SECTION_ID, body)
    return 0 if verdict.rss_ok and verdict.qt_ok and not soak.errors else 1


if __name__ == "__main__":
    sys.exit(main())
