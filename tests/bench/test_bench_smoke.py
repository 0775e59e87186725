"""The throughput benchmark runs end to end (one tiny iteration) and keeps its results section tidy."""

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "bench" / "bench_train_throughput.py"


def _load_script():
    spec = importlib.util.spec_from_file_location("bench_train_throughput", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the file executes
    spec.loader.exec_module(module)
    return module


def test_bench_train_throughput_quick(tmp_path):
    results = tmp_path / "RESULTS.md"
    results.write_text("# Benchmark results\n\nAn earlier section that must survive.\n")
    cmd = [sys.executable, str(SCRIPT), "--quick", "--device", "cpu", "--results", str(results)]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    out = done.stdout
    assert "| pipeline | measures | images/s | vs reference |" in out
    assert out.count("| train step |") == 2 and out.count("| views only |") == 2
    assert "1.00x (reference)" in out
    text = results.read_text()
    assert "An earlier section that must survive." in text
    assert "torchvision v2 per-sample" in text and "CPU:" in text and "torch " in text


def test_results_section_is_replaced_not_appended(tmp_path):
    bench = _load_script()
    path = tmp_path / "RESULTS.md"
    path.write_text("# Benchmark results\n\nOther benchmark.\n")
    start, end = bench.section_markers(bench.SECTION_ID)
    for run in ("first", "second"):
        bench.write_results(path, f"{start}\n{run}\n{end}")
    other_start, other_end = bench.section_markers(bench.SECTION_ID + "-threads1")
    bench.write_results(path, f"{other_start}\nsingle thread\n{other_end}", bench.SECTION_ID + "-threads1")
    text = path.read_text()
    assert "Other benchmark." in text and "second" in text and "first" not in text
    assert "single thread" in text
    assert text.count(start) == 1
