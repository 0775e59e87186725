"""bench/bench_gui.py runs end to end in --quick mode and writes its section with every table."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.bench.test_bench_smoke import BENCH, EARLIER, results  # noqa: F401 - fixture


def run_bench_script(name: str, tmp_path, *args: str, timeout: int = 240) -> subprocess.CompletedProcess:
    """A GUI benchmark in its own process, with its own QApplication, like a person runs it: sharing
    pytest-qt's application with the windows earlier tests left would make its result depend on them."""
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "SSL_WORKBENCH_CACHE": str(tmp_path / "cache")}
    return subprocess.run(
        [sys.executable, "-X", "faulthandler", str(BENCH / f"{name}.py"), *args],
        capture_output=True, text=True, timeout=timeout, cwd=tmp_path, env=env,
    )  # fmt: skip


def test_bench_gui_quick(results, tmp_path):  # noqa: F811
    summary = tmp_path / "summary.json"
    done = run_bench_script("bench_gui", tmp_path, "--quick", "--results", str(results),
                            "--summary-json", str(summary))  # fmt: skip
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
    text = results.read_text()
    assert EARLIER in text and text.count("<!-- bench_gui:start -->") == 1
    assert "CPU:" in text and "load average" in text and "PySide6 " in text
    for heading in (
        "### Launch to an interactive window",
        "### GUI-thread heartbeat",
        "### Embeddings scatter",
    ):
        assert heading in text
    assert "| cold launch" in text and "| warm launch" in text
    assert "| app idle (reference) |" in text and "| training, Train tab (live curves) |" in text
    assert "| app: one item, a shared brush per class, no borders | 5,000 |" in text
    targets = json.loads(summary.read_text())
    assert {t["benchmark"] for t in targets} == {
        "GUI launch",
        "GUI heartbeat while training",
        "embeddings scatter pan",
    }
    assert all(isinstance(t["met"], bool) for t in targets)


def test_soak_gui_quick_trains_samples_and_judges(tmp_path):
    """The soak benchmark's 20-second smoke run, in its own process (it makes its own QApplication)."""
    done = run_bench_script("soak_gui", tmp_path, "--quick")
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
    samples = [ln for ln in done.stdout.splitlines() if " min  steps " in ln]
    assert len(samples) >= 3, done.stdout[-2000:]
    steps = [int(ln.split("steps")[1].split()[0].replace(",", "")) for ln in samples]
    assert steps[-1] > steps[0]  # it trained while it sampled
    for criterion in ("RSS within", "widgets not growing", "QObjects not growing"):
        assert criterion in done.stdout
    assert "**FAIL**" not in done.stdout
    assert "written to" not in done.stdout  # --quick writes no results file


WATCHDOG_SCRIPT = """
import hashlib, sys, threading, time
sys.path.insert(0, sys.argv[1])
import bench_gui

def busy_in_python(seconds):
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass

dog = bench_gui.Watchdog(threading.main_thread().ident)
dog.start()
busy_in_python(0.4)  # no beats: late after 40 ms, sampled every 5 ms
data = bytes(100_000_000)
for _ in range(3):
    hashlib.sha256(data).digest()  # C code without the GIL (like Qt drawing): signals wait for it
busy_in_python(0.05)
dog.stop()
for place, count in dog.samples.items():
    print(count, place)
"""


def test_watchdog_samples_the_gui_threads_own_stack(tmp_path):
    """The heartbeat watchdog finds where a late GUI thread is by signalling it, and the GUI thread
    records its own stack (reading its frames from the watchdog's thread crashed CPython 3.11)."""
    done = subprocess.run([sys.executable, "-c", WATCHDOG_SCRIPT, str(BENCH)], capture_output=True,
                          text=True, timeout=120, cwd=tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    samples = {place: int(count) for count, place in (ln.split(" ", 1) for ln in done.stdout.splitlines())}
    in_python = sum(n for place, n in samples.items() if place.endswith("busy_in_python"))
    outside = sum(n for place, n in samples.items() if place.startswith("outside Python"))
    assert in_python >= 20, samples  # ~70 signals in 0.35 s late, each answered at once
    assert outside >= 2, samples  # signals sent while the hash ran in C, counted when it returned
