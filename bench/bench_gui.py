"""GUI benchmarks: launch to an interactive window, GUI-thread heartbeat while training, and the frame
time of the embeddings scatter while panning.

Three tables, each row measured next to its reference in the same run:

* launch (`python -m app`, a fresh process each time): wall time from spawning the process to the
  window's first pass of the event loop after `show()` ("interactive") and to the sample images of
  the bundled digits on screen ("data ready"). Cold = first launch with an empty per-user cache
  (numba's compiled code included) and no settings; warm = the launches after it. The reference is the
  bare `import torch, PySide6.QtWidgets` of a fresh interpreter: the floor of a launch that imports the
  engine before drawing its window. UMAP's numba warm-up runs after the window is up; its time is
  measured too (cold and warm on-disk cache; not with --quick).
* heartbeat: a QTimer asks for a beat every 10 ms on the GUI thread; a gap is the time between two
  beats, so a gap of 10 ms means the GUI answered at once. Measured with the app idle (reference) and
  while SimCLR trains on the digits with the Train tab's live curves or the Views tab's live previews
  shown. Whenever a beat is more than 40 ms late the GUI thread samples its own Python stack (a
  watchdog thread signals it) and the table lists the most common places.
* scatter: the embeddings scatter (app/widgets/scatter.py: one item, one shared brush per class, no
  point borders, pxMode) with 50,000 and 20,000 points, panned programmatically (ViewBox.translateBy)
  and rendered with QWidget.grab() each frame; reference: one item whose points each carry their own
  pen (with borders) and brush objects; also the app's previous design, one item per class.

    python bench/bench_gui.py            # full run, writes its section of bench/RESULTS.md
    python bench/bench_gui.py --quick    # a short smoke run, no results file
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from _common import (
    ROOT,
    Target,
    add_common_args,
    apply_threads,
    command_line,
    machine_description,
    now,
    publish,
    table,
)

SECTION_ID = "bench_gui"
LAUNCH_TARGET_S = 2.5
HEARTBEAT_P99_TARGET_MS = 20.0
FRAME_TARGET_MS = 33.0  # 30 frames a second while panning
REFERENCE = "reference: per-point pen (with border) and brush objects"
BEAT_MS = 10
LATE_MS = 40.0


# ---- launch ---------------------------------------------------------------------------------------
@dataclass
class Launch:
    kind: str  # "cold" or "warm"
    interactive_s: float
    data_ready_s: float


def _env(cache: Path) -> dict[str, str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT), XDG_CACHE_HOME=str(cache), OMP_NUM_THREADS="1")
    env.pop("NUMBA_CACHE_DIR", None)  # the app chooses it inside XDG_CACHE_HOME
    return env


def launch_once(work: Path, cache: Path, kind: str) -> Launch:
    out = work / "startup.json"
    out.unlink(missing_ok=True)
    cmd = [sys.executable, "-m", "app", "--settings", str(work / "settings.ini"),
           "--runs-dir", str(work / "runs"), "--report-startup", str(out)]  # fmt: skip
    t0 = time.time()
    done = subprocess.run(cmd, cwd=ROOT, env=_env(cache), capture_output=True, text=True, timeout=300)
    if done.returncode != 0 or not out.is_file():
        raise RuntimeError(f"the app did not start: exit {done.returncode}\n{done.stderr[-2000:]}")
    times = json.loads(out.read_text())
    return Launch(kind, times["interactive"] - t0, times["data_ready"] - t0)


def import_floor(cache: Path) -> float:
    t0 = time.time()
    subprocess.run([sys.executable, "-c", "import torch, PySide6.QtWidgets"], env=_env(cache), check=True)
    return time.time() - t0


WARM_UP_CODE = """
import os, time
from PySide6.QtCore import QCoreApplication
app = QCoreApplication([])
from app.main import use_numba_cache
use_numba_cache()
t = time.perf_counter()
from app.tabs.embeddings_tab import warm_up_umap
warm_up_umap()
print(time.perf_counter() - t)
"""


def umap_warm_up(cache: Path) -> float:
    done = subprocess.run(
        [sys.executable, "-c", WARM_UP_CODE], env=_env(cache), capture_output=True, text=True, check=True
    )
    return float(done.stdout.strip().splitlines()[-1])


def bench_launch(warm_runs: int, umap: bool = True) -> tuple[list[Launch], float, tuple[float, float] | None]:
    with tempfile.TemporaryDirectory(prefix="bench-gui-launch-") as tmp:
        work, cache = Path(tmp) / "work", Path(tmp) / "cache"
        work.mkdir()
        floor = import_floor(cache)
        launches = [launch_once(work, cache, "cold")]
        launches += [launch_once(work, cache, "warm") for _ in range(warm_runs)]
        floor = min(floor, import_floor(cache))
        warm_up = None
        if umap:  # tens of seconds of numba compiling: not in --quick
            warm_up = (umap_warm_up(Path(tmp) / "fresh-cache"), umap_warm_up(Path(tmp) / "fresh-cache"))
    return launches, floor, warm_up


# ---- heartbeat ------------------------------------------------------------------------------------
class Watchdog(threading.Thread):
    """Where the GUI thread is while its heartbeat is late, sampled by the GUI thread itself.

    This thread only reads the time of the last beat; while a beat is more than LATE_MS late it sends
    the GUI thread a signal every 5 ms, and Python runs the handler on the GUI thread, which records its
    own stack: where its Python code is and, for signals it could not answer in time, that it was
    outside Python (in C++ or waiting for the GIL) before it came back to that code. It never reads
    another thread's frames: sys._current_frames() and f_back from a second thread crash CPython 3.11
    (the native segfault of issue 19; the same crash as the sampling profilers of sentry-sdk and
    ddtrace)."""

    SIGNAL = signal.SIGUSR1

    def __init__(self, main_ident: int):
        super().__init__(name="heartbeat-watchdog", daemon=True)
        self.main_ident = main_ident
        self.last_beat = time.perf_counter()
        self.samples: collections.Counter[str] = collections.Counter()
        self.stop_event = threading.Event()
        self.sent = 0  # signals sent and not yet answered by the GUI thread
        self.previous_handler = signal.signal(self.SIGNAL, self._on_gui_thread)

    def run(self) -> None:
        while not self.stop_event.wait(0.005):
            if (time.perf_counter() - self.last_beat) * 1000.0 > LATE_MS:
                self.sent += 1
                signal.pthread_kill(self.main_ident, self.SIGNAL)

    def _on_gui_thread(self, signum, frame) -> None:
        count, self.sent = self.sent, 0
        if frame is None or not count:
            return
        where = _where(frame)
        self.samples[where] += 1
        if count > 1:  # signals it could not answer: it was in C++ (Qt drawing, say) or waiting for the GIL
            self.samples[f"outside Python (C++ code or waiting for the GIL), then {where}"] += count - 1

    def stop(self) -> None:
        self.stop_event.set()
        self.join(timeout=5)
        signal.signal(self.SIGNAL, self.previous_handler)


def _where(frame) -> str:
    """The innermost frames that belong to this project (app/, ssl_core/), else the innermost one."""
    parts = []
    f = frame
    while f is not None and len(parts) < 3:
        name = f.f_code.co_filename
        if "/app/" in name or "/ssl_core/" in name:
            parts.append(f"{Path(name).parent.name}/{Path(name).name}:{f.f_code.co_name}")
        f = f.f_back
    if not parts:
        parts.append(f"{Path(frame.f_code.co_filename).name}:{frame.f_code.co_name}")
    return " < ".join(parts)


@dataclass
class Beats:
    name: str
    gaps_ms: list[float]
    steps: int = 0
    late: collections.Counter = field(default_factory=collections.Counter)
    gui_cpu: float = 0.0  # share of the wall time the GUI thread spent on the CPU

    def pct(self, q: float) -> float:
        s = sorted(self.gaps_ms)
        return s[min(len(s) - 1, int(round(q / 100.0 * (len(s) - 1))))] if s else float("nan")


class HeartbeatBench:
    def __init__(self):
        from PySide6.QtCore import Qt, QTimer

        from app.main import create_app
        from app.main_window import MainWindow
        from app.settings import Prefs
        from app.theme import ThemeManager

        self.tmp = Path(tempfile.mkdtemp(prefix="bench-gui-beat-"))
        self.app = create_app([sys.argv[0]])
        ThemeManager(self.app, "light").apply()
        self.window = MainWindow(
            Prefs.open(self.tmp / "settings.ini"), runs_dir=self.tmp / "runs", warm_umap=False
        )
        self.window.resize(1440, 900)
        self.window.show()
        self.timer = QTimer()
        self.timer.setTimerType(Qt.TimerType.PreciseTimer)
        self.timer.setInterval(BEAT_MS)
        self.timer.timeout.connect(self._beat)
        self.gaps: list[float] = []
        self.last = 0.0
        self.watchdog = Watchdog(threading.main_thread().ident)
        self.watchdog.start()
        self.wait(
            lambda: self.window.setup_tab.data.info is not None and not self.window.setup_tab.data.loading
        )

    def wait(self, cond, timeout: float = 300.0) -> None:
        end = time.monotonic() + timeout
        while not cond():
            if time.monotonic() > end:
                raise TimeoutError("timed out")
            self.app.processEvents()
            time.sleep(0.002)

    def _beat(self) -> None:
        t = time.perf_counter()
        if self.last:
            self.gaps.append((t - self.last) * 1000.0)
        self.last = t
        self.watchdog.last_beat = t

    def _record(self, seconds: float, until=None) -> list[float]:
        self.gaps, self.last = [], 0.0
        cpu0, wall0 = time.thread_time(), time.perf_counter()
        self.watchdog.samples.clear()
        self.timer.start()
        end = time.monotonic() + seconds
        # exec() of a local event loop, like the app's own: processEvents in a Python loop would add
        # its own Python overhead to every gap
        from PySide6.QtCore import QEventLoop, QTimer

        loop = QEventLoop()
        QTimer.singleShot(int(seconds * 1000), loop.quit)
        loop.exec()
        self.timer.stop()
        self.gui_cpu = (time.thread_time() - cpu0) / (time.perf_counter() - wall0)
        while until is not None and not until() and time.monotonic() < end + 120:
            self.app.processEvents()
        return list(self.gaps)

    def idle(self, seconds: float) -> Beats:
        self.window.tabs.setCurrentWidget(self.window.train_tab)
        gaps = self._record(seconds)
        return Beats(
            "app idle (reference)",
            gaps,
            late=collections.Counter(self.watchdog.samples),
            gui_cpu=self.gui_cpu,
        )

    def training(self, name: str, tab, seconds: float, settle_s: float = 3.0) -> Beats:
        w = self.window
        setup = w.setup_tab
        setup.method.set_method("simclr")
        setup.training.epochs.setValue(1000)
        setup.training.max_steps.setValue(0)
        setup.training.batch_size.setValue(128)
        steps: list[int] = []

        def count(batch) -> None:
            steps.extend(s.step for s in batch)

        w.session.steps.connect(count)
        w.start_training()
        w.tabs.setCurrentWidget(tab)
        # measure the steady state: the run has started and done a few steps
        self.wait(lambda: len(steps) >= 3, timeout=120)
        t_settle = time.monotonic() + settle_s
        self.wait(lambda: time.monotonic() > t_settle)
        first = steps[-1]
        gaps = self._record(seconds)
        late = collections.Counter(self.watchdog.samples)
        done = steps[-1] - first
        w.stop_training()
        self.wait(lambda: not w.session.busy, timeout=120)
        w.session.steps.disconnect(count)
        return Beats(name, gaps, steps=done, late=late, gui_cpu=self.gui_cpu)

    def close(self) -> None:
        self.watchdog.stop()
        self.window.close()
        self.wait(lambda: not self.window.isVisible(), timeout=60)


# ---- scatter --------------------------------------------------------------------------------------
@dataclass
class Frames:
    name: str
    points: int
    ms: list[float]

    @property
    def median(self) -> float:
        return statistics.median(self.ms)

    @property
    def p95(self) -> float:
        s = sorted(self.ms)
        return s[min(len(s) - 1, int(round(0.95 * (len(s) - 1))))]


def blobs(n: int, classes: int = 10, seed: int = 0):
    import numpy as np

    rng = np.random.default_rng(seed)
    labels = rng.integers(0, classes, n)
    centres = rng.normal(size=(classes, 2)) * 6
    xy = centres[labels] + rng.normal(size=(n, 2))
    return xy, labels


def pan_frames(scatter, frames: int, app) -> list[float]:
    vb = scatter.view_box
    (x0, x1), _ = vb.viewRange()
    step = (x1 - x0) / 60.0
    scatter.grab()  # the first render builds the symbol atlas; not a panning frame
    out = []
    for i in range(frames):
        t = time.perf_counter()
        vb.translateBy(x=step if (i // 20) % 2 == 0 else -step)  # back and forth across the data
        app.processEvents()
        scatter.grab()
        out.append((time.perf_counter() - t) * 1000.0)
    return out


def _plot_widget(app):
    import pyqtgraph as pg

    widget = pg.PlotWidget()
    widget.resize(1000, 700)
    widget.show()
    widget.view_box = widget.getPlotItem().vb
    return widget


def bench_scatter(sizes: list[int], frames: int) -> list[Frames]:
    import numpy as np
    import pyqtgraph as pg

    from app.main import create_app
    from app.theme import series_color
    from app.widgets.scatter import EmbeddingScatter

    app = create_app([sys.argv[0]])
    results = []
    for n in sizes:
        xy, labels = blobs(n)
        # reference: a point list with its own pen and brush objects per point
        naive = _plot_widget(app)
        pens = [pg.mkPen("k", width=1) for _ in range(n)]
        brushes = [pg.mkBrush(series_color(int(k))) for k in labels]
        naive.addItem(
            pg.ScatterPlotItem(x=xy[:, 0], y=xy[:, 1], pen=pens, brush=brushes, size=5, pxMode=True)
        )
        results.append(Frames(REFERENCE, n, pan_frames(naive, frames, app)))
        naive.close()
        # one item per class with a shared brush and no borders (the previous design of the app)
        per_class = _plot_widget(app)
        for k in range(10):
            idx = labels == k
            per_class.addItem(pg.ScatterPlotItem(x=xy[idx, 0], y=xy[idx, 1], pen=None,
                                                 brush=pg.mkBrush(series_color(k)), size=5, pxMode=True))  # fmt: skip
        results.append(
            Frames("one item per class, shared brush, no borders", n, pan_frames(per_class, frames, app))
        )
        per_class.close()

        scatter = EmbeddingScatter()
        scatter.resize(1000, 700)
        scatter.show()
        scatter.set_points(xy, labels, [str(k) for k in range(10)])
        results.append(Frames("app: one item, a shared brush per class, no borders", n,
                              pan_frames(scatter, frames, app)))  # fmt: skip
        scatter.set_scores(xy, np.linalg.norm(xy, axis=1))
        results.append(
            Frames("app: anomaly colours (32 shared brushes)", n, pan_frames(scatter, frames, app))
        )
        scatter.close()
        app.processEvents()
    return results


# ---- report ---------------------------------------------------------------------------------------
def _fmt(v: float, digits: int = 1) -> str:
    return f"{v:,.{digits}f}"


def render(
    args, launches, floor, warm_up, beats: list[Beats], frames: list[Frames]
) -> tuple[str, list[Target]]:
    targets: list[Target] = []
    lines = [
        "## GUI: launch, responsiveness while training, scatter frame time",
        "",
        f"`{command_line('bench_gui.py', args.argv)}` on {now()}, Qt platform "
        f"`{os.environ.get('QT_QPA_PLATFORM') or 'xcb'}`. See the script's docstring for what each row measures.",
        "",
        machine_description(extra_versions=_qt_versions()),
    ]
    if launches:
        cold = [x for x in launches if x.kind == "cold"]
        warm = [x for x in launches if x.kind == "warm"]
        w_int = statistics.median(x.interactive_s for x in warm)
        w_data = statistics.median(x.data_ready_s for x in warm)
        rows = [["`import torch, PySide6.QtWidgets` (reference)", _fmt(floor, 2), "-", "1.00x"]]
        rows += [["cold launch (empty cache, no settings)", _fmt(c.interactive_s, 2), _fmt(c.data_ready_s, 2),
                  f"{c.interactive_s / floor:.2f}x"] for c in cold]  # fmt: skip
        rows.append(
            [f"warm launch (median of {len(warm)})", _fmt(w_int, 2), _fmt(w_data, 2), f"{w_int / floor:.2f}x"]
        )
        lines += [
            "",
            "### Launch to an interactive window",
            "",
            table(["launch", "interactive s", "data ready s", "interactive vs reference"], rows),
            "",
            "The window is drawn before PyTorch, torchvision and the method registry are imported (app/engine.py "
            "imports them on a thread), which is why it answers sooner than the bare import of torch; "
            "'data ready' is when the Setup tab shows the digits, i.e. the engine is in and the data loaded.",
        ]
        if warm_up is not None:
            from app.main_window import WARM_UP_DELAY_MS

            lines += [
                "",
                f"UMAP's numba warm-up (on a thread, {WARM_UP_DELAY_MS / 1000:.0f} s after the engine is in): "
                f"{warm_up[0]:.1f} s with an empty on-disk cache, {warm_up[1]:.1f} s with it filled "
                "(NUMBA_CACHE_DIR in the per-user cache folder; umap-learn marks few of its functions cacheable).",
            ]
        targets.append(Target("GUI launch", f"warm launch to interactive <= {LAUNCH_TARGET_S} s",
                              f"{w_int:.2f} s (cold {cold[0].interactive_s:.2f} s)", w_int <= LAUNCH_TARGET_S))  # fmt: skip
    if beats:
        ref = beats[0]
        rows = []
        for b in beats:
            rows.append([b.name, len(b.gaps_ms), _fmt(b.pct(50)), _fmt(b.pct(99)), _fmt(max(b.gaps_ms)),
                         sum(g > 50 for g in b.gaps_ms), f"{b.gui_cpu:.0%}", b.steps or "-",
                         f"{b.pct(99) / ref.pct(99):.2f}x" if b is not ref else "1.00x"])  # fmt: skip
        lines += [
            "",
            f"### GUI-thread heartbeat (a beat asked every {BEAT_MS} ms)",
            "",
            table(
                [
                    "state",
                    "beats",
                    "p50 gap ms",
                    "p99 gap ms",
                    "max gap ms",
                    "gaps > 50 ms",
                    "GUI thread CPU",
                    "steps trained",
                    "p99 vs reference",
                ],
                rows,
            ),  # fmt: skip
        ]
        late = collections.Counter()
        for b in beats:
            late.update(b.late)
        if late:
            total = sum(late.values())
            lines += ["", f"Where the GUI thread was when a beat was over {LATE_MS:.0f} ms late (the GUI thread samples itself every 5 ms while late):",
                      "", table(["GUI thread in", "share of late samples"],
                                [[f"`{k}`", f"{v / total:.0%}"] for k, v in late.most_common(6)], "lr")]  # fmt: skip
        worst = max(b.pct(99) for b in beats[1:]) if len(beats) > 1 else ref.pct(99)
        targets.append(Target("GUI heartbeat while training", f"p99 gap <= {HEARTBEAT_P99_TARGET_MS:.0f} ms",
                              f"{worst:.1f} ms (idle {ref.pct(99):.1f} ms)", worst <= HEARTBEAT_P99_TARGET_MS))  # fmt: skip
    if frames:
        rows = []
        by_size: dict[int, float] = {}
        for f in frames:
            if f.name == REFERENCE:
                by_size[f.points] = f.median
            rows.append([f.name, f"{f.points:,}", len(f.ms), _fmt(f.median), _fmt(f.p95),
                         f"{by_size[f.points] / f.median:.2f}x"])  # fmt: skip
        lines += [
            "",
            "### Embeddings scatter: one pan step + render per frame",
            "",
            table(
                ["plot", "points", "frames", "median ms/frame", "p95 ms/frame", "speed vs reference"], rows
            ),
        ]
        app_50k = [
            f
            for f in frames
            if f.name.startswith("app: one item,") and f.points == max(x.points for x in frames)
        ]
        if app_50k:
            f = app_50k[0]
            targets.append(Target("embeddings scatter pan", f"{f.points:,} points <= {FRAME_TARGET_MS:.0f} ms/frame",
                                  f"{f.median:.1f} ms/frame", f.median <= FRAME_TARGET_MS))  # fmt: skip
    return "\n".join(lines), targets


def _qt_versions() -> list[str]:
    import pyqtgraph
    import PySide6

    return [f"PySide6 {PySide6.__version__}", f"pyqtgraph {pyqtgraph.__version__}"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_common_args(parser)
    parser.add_argument("--only", nargs="+", choices=["launch", "heartbeat", "scatter"], default=None)
    parser.add_argument("--seconds", type=float, default=20.0, help="heartbeat recording per state")
    args = parser.parse_args(argv)
    args.argv = argv if argv is not None else sys.argv[1:]
    if args.threads is None:
        args.threads = 1  # training gets one core, the GUI thread the other
    apply_threads(args)
    parts = set(args.only or ["launch", "heartbeat", "scatter"])
    seconds = 2.0 if args.quick else args.seconds

    launches, floor, warm_up = [], 0.0, None
    if "launch" in parts:
        launches, floor, warm_up = bench_launch(warm_runs=1 if args.quick else 3, umap=not args.quick)
    beats: list[Beats] = []
    if "heartbeat" in parts:
        bench = HeartbeatBench()
        beats.append(bench.idle(seconds))
        beats.append(bench.training("training, Train tab (live curves)", bench.window.train_tab, seconds,
                                    settle_s=0.5 if args.quick else 3.0))  # fmt: skip
        if not args.quick:
            beats.append(
                bench.training("training, Views tab (live previews)", bench.window.views_tab, seconds)
            )
        bench.close()
    frames: list[Frames] = []
    if "scatter" in parts:
        frames = bench_scatter([5_000] if args.quick else [50_000, 20_000], 5 if args.quick else 60)
    body, targets = render(args, launches, floor, warm_up, beats, frames)
    publish(args, SECTION_ID, body, targets)
    return 0


if __name__ == "__main__":
    sys.exit(main())
