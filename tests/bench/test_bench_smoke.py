"""Every benchmark runs end to end for one tiny iteration (--quick), and RESULTS.md is written safely.

The scripts run in this process (importing torch once for all of them keeps the whole file near a
minute on 2 cores); run_all.py and bench_memory.py start their own processes by design.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
import threading
from pathlib import Path

import pytest
import torch

from ssl_core.train.perf import training_autocast_dtype

BENCH = Path(__file__).resolve().parents[2] / "bench"
EARLIER = "An earlier section that must survive."


def load(name: str):
    if str(BENCH) not in sys.path:
        sys.path.insert(0, str(BENCH))
    spec = importlib.util.spec_from_file_location(name, BENCH / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the file executes
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def results(tmp_path):
    path = tmp_path / "RESULTS.md"
    path.write_text(f"# Benchmark results\n\n{EARLIER}\n")
    return path


def run_quick(name: str, results: Path, tmp_path: Path, *extra: str) -> tuple[str, list[dict]]:
    summary = tmp_path / f"{name}.json"
    assert (
        load(name).main(["--quick", "--results", str(results), "--summary-json", str(summary), *extra]) == 0
    )
    text = results.read_text()
    assert EARLIER in text  # other sections are never touched
    assert text.count(f"<!-- {name}:start -->") == 1 and text.count(f"<!-- {name}:end -->") == 1
    assert "CPU:" in text and "load average" in text and "torch " in text  # the machine's description
    return text, json.loads(summary.read_text())


def test_train_throughput_quick(results, tmp_path):
    numbers = tmp_path / "numbers.json"
    text, targets = run_quick(
        "bench_train_throughput", results, tmp_path, "--device", "cpu", "--json", str(numbers)
    )
    for method in ("simclr", "byol", "mae"):
        assert f"| {method} |" in text
    assert "Where the gain comes from" in text and "Where a step's time goes" in text
    if training_autocast_dtype(torch.device("cpu")) is not None:
        assert "| float32 |" in text  # the numerics table compares precisions
    else:  # float32 only (e.g. torch restricted to AVX2): no lower precision to check
        assert "Is bf16 numerically fine?" not in text
    assert "What bounds the model step" in text  # FLOPs against a matrix product's rate
    data = json.loads(numbers.read_text())
    assert [r["method"] for r in data["records"]] == ["simclr", "byol", "mae"]
    assert all(r["engine"] > 0 and r["reference"] > 0 for r in data["records"])
    (roof,) = data["roofline"]  # SimCLR's step: real FLOPs, a real time, shares of it
    assert roof["gflop"] > 0 and roof["seconds"] > 0 and 0 < roof["conv_share"] <= 1
    # bench_train_isas.py puts two such runs side by side: a column per run for every row.
    side_by_side = load("bench_train_isas").render(
        "bench_train_isas.py --quick", {"native": data, "AVX2": data}
    )
    assert "| native engine |" in side_by_side and "| AVX2 engine |" in side_by_side
    assert side_by_side.count("| simclr | small_cnn |") == 2  # the rates table and the ratios table
    main = [t for t in targets if t["benchmark"] == "training throughput"]
    assert len(main) == 3 and all(t["measured"].endswith("images/s)") for t in main)
    # lightly's pipeline, the second reference, where the optional `bench` extra is installed.
    lightly = [t for t in targets if t["benchmark"] == "training throughput vs lightly"]
    assert len(main) + len(lightly) == len(targets)
    if load("_lightly_reference").missing() is None:
        assert [t["target"].split(":")[0] for t in lightly] == ["simclr small_cnn", "byol small_cnn"]
        assert "### Against lightly's documented pipeline" in text and "| engine vs lightly |" in text
    else:
        assert not lightly and "Not measured: lightly is not importable" in text
    assert "ISA in use:" in text


def test_train_isas_refuses_an_avx2_column_that_did_not_run_on_avx2(tmp_path, monkeypatch):
    """Where the environment does not restrict torch, the AVX2 run must not be published as AVX2."""
    isas = load("bench_train_isas")

    def child_that_ignored_the_restriction(cmd, env, check):
        assert env["ATEN_CPU_CAPABILITY"] == "avx2" and env["ONEDNN_MAX_CPU_ISA"] == "AVX2"
        out = Path(cmd[cmd.index("--json") + 1])
        out.write_text(json.dumps({"aten": "AVX512", "precision": "bfloat16", "records": [], "roofline": []}))

    monkeypatch.setattr(isas.subprocess, "run", child_that_ignored_the_restriction)
    with pytest.raises(isas.RestrictionFailed, match="did not restrict torch"):
        isas.run_child("AVX2", isas.AVX2_ENV, "bench_train_throughput_avx2", [], tmp_path)


def test_data_cache_quick(results, tmp_path, monkeypatch):
    monkeypatch.setenv("SSL_WORKBENCH_CACHE", str(tmp_path / "outer-cache"))
    text, targets = run_quick("bench_data_cache", results, tmp_path)
    assert "torchvision ImageFolder" in text and "engine, warm" in text
    assert targets[0]["benchmark"] == "data loading"
    # The benchmark used its own cache folder and put the caller's setting back.
    assert os.environ["SSL_WORKBENCH_CACHE"] == str(tmp_path / "outer-cache")
    assert not (tmp_path / "outer-cache").exists()


def test_umap_quick(results, tmp_path):
    text, targets = run_quick("bench_umap", results, tmp_path, "--device", "cpu")
    assert "fast (default): PCA-50" in text and "plain umap-learn" in text and "proposed" not in text
    assert targets and targets[0]["benchmark"] == "UMAP"


def test_memory_quick(results, tmp_path):
    text, targets = run_quick("bench_memory", results, tmp_path)
    assert "`ssl-core train --method simclr`" in text
    peak = targets[0]["measured"]
    assert targets[0]["met"] is True and 100 < float(peak.split(" MB")[0].replace(",", "")) < 2048


def test_gpu_epoch_quick_and_not_measured_row(results, tmp_path, capsys):
    bench = load("bench_gpu_epoch")
    assert bench.main(["--quick", "--device", "cpu"]) == 0  # the code path runs (on the CPU here)
    out = capsys.readouterr().out
    assert "| defaults (" in out
    if load("_lightly_reference").missing() is None:  # lightly's pipeline on the same device, beside it
        assert "| lightly 1.6" in out
    import torch

    if not torch.cuda.is_available():  # without a GPU the section says so instead of inventing numbers
        summary = tmp_path / "gpu.json"
        assert bench.main(["--results", str(results), "--summary-json", str(summary)]) == 0
        text = results.read_text()
        assert "not yet measured" in text and EARLIER in text
        assert json.loads(summary.read_text())[0]["met"] is None


def test_run_all_writes_a_summary_on_top(results, tmp_path):
    """The summary lists the targets of every section, including ones not re-run this time."""
    import subprocess

    common = load("_common")
    earlier = common.Target("earlier bench", "x >= 2", "2.5x", True, "kept from its own section")
    common.write_section(results, "bench_earlier", "## Earlier\n" + common.targets_comment([earlier]))
    script = str(BENCH / "run_all.py")
    cmd = [sys.executable, script, "--only", "bench_gpu_epoch.py", "--results", str(results)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    text = results.read_text()
    summary_end = text.index("<!-- summary:end -->")
    assert summary_end < text.index(EARLIER) < text.index("<!-- bench_gpu_epoch:start -->")
    summary = text[:summary_end]
    assert "| GPU path |" in summary and "| bench_gpu_epoch.py | ok |" in summary
    assert "| earlier bench | x >= 2 | 2.5x | met | kept from its own section |" in summary
    assert [s for s, _ in common.sections_targets(text)] == ["bench_earlier", "bench_gpu_epoch"]


def test_sections_are_replaced_in_place(tmp_path):
    common = load("_common")
    path = tmp_path / "RESULTS.md"
    path.write_text(f"# Benchmark results\n\n{EARLIER}\n")
    common.write_section(path, "a", "first a")
    common.write_section(path, "b", "first b")
    common.write_section(path, "a", "second a")
    common.write_section(path, "top", "summary", at_top=True)
    text = path.read_text()
    assert "first a" not in text and text.count("<!-- a:start -->") == 1
    assert text.index("summary") < text.index(EARLIER) < text.index("second a") < text.index("first b")
    assert text.startswith("# Benchmark results\n")


def test_concurrent_writers_lose_no_section(tmp_path):
    """Without the lock, two read-modify-write cycles that overlap drop one writer's section."""
    common = load("_common")
    path = tmp_path / "RESULTS.md"
    original = common.replace_section

    def slow_replace(*args, **kwargs):  # widen the race window between read and write
        import time

        time.sleep(0.002)
        return original(*args, **kwargs)

    common.replace_section = slow_replace
    try:
        threads = [
            threading.Thread(
                target=lambda i=i: [common.write_section(path, f"s{i}", f"body {i}.{k}") for k in range(5)]
            )
            for i in range(8)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        common.replace_section = original
    text = path.read_text()
    for i in range(8):
        assert f"body {i}.4" in text and text.count(f"<!-- s{i}:start -->") == 1


def test_run_all_summary_only_rebuilds_from_the_sections(results, tmp_path):
    import subprocess

    common = load("_common")
    target = common.Target("data loading", "warm >= 3x", "3.9x", True)
    common.write_section(results, "bench_data_cache", "## Data\n" + common.targets_comment([target]))
    cmd = [sys.executable, str(BENCH / "run_all.py"), "--summary-only", "--results", str(results)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    text = results.read_text()
    assert (
        "| data loading | warm >= 3x | 3.9x | met |  |" in text and "(summary rebuilt; nothing run)" in text
    )
    assert "=== " not in done.stdout  # no benchmark was started
