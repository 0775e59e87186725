"""bench/bench_series_throughput.py runs end to end in --quick mode, prints its table with finite ratios
and writes only its own section of a results file."""

from __future__ import annotations

import json
import math
import sys

import torch

from tests.bench.test_bench_smoke import EARLIER, load, results, run_quick  # noqa: F401 - fixture

NAME = "bench_series_throughput"


def _ratios(text: str, backbone: str) -> list[float]:
    """The 'engine vs reference' cells (the last column, **N.NNx**) of the main table's rows for `backbone`."""
    cells = [
        line.rstrip(" |").rsplit("|", 1)[1].strip()
        for line in text.splitlines()
        if line.startswith(f"| {backbone} | ")
    ]
    return [float(c.strip("*").rstrip("x")) for c in cells]


def test_series_throughput_quick(results, tmp_path, capsys):  # noqa: F811
    text, targets = run_quick(NAME, results, tmp_path, "--device", "cpu")
    printed = capsys.readouterr().out
    assert "| backbone | batch | reference series/s, 0 workers | reference series/s, 2 workers |" in printed
    for backbone in ("cnn1d", "transformer1d"):
        ratios = _ratios(printed, backbone)
        assert len(ratios) == 1 and math.isfinite(ratios[0]) and ratios[0] > 0
    for heading in (
        "### Where the gain comes from",
        "### Views only",
        "### Where an engine step's time goes",
    ):
        assert heading in text
    assert "ISA in use: ATen kernels" in text and "oneDNN" in text and "engine precision" in text
    # One target (cnn1d) for run_all's summary; the other backbone is named in its note.
    assert [t["target"] for t in targets] == ["simclr cnn1d: engine >= 2x reference"]
    assert targets[0]["benchmark"] == "series training throughput"
    assert isinstance(targets[0]["met"], bool) and targets[0]["measured"].endswith("workers)")
    assert "transformer1d:" in targets[0]["note"]
    assert (
        json.loads(text.split("<!-- targets: ", 1)[1].split(" -->", 1)[0])[0]["target"]
        == targets[0]["target"]
    )


def test_quick_without_results_writes_nothing(capsys):
    bench = load(NAME)
    assert bench.main(["--quick", "--device", "cpu", "--backbones", "cnn1d", "--workers", "0"]) == 0
    out = capsys.readouterr().out
    assert "| cnn1d | 32 |" in out and "written to" not in out


def test_synthetic_series_are_seeded_and_standardised():
    bench = load(NAME)
    a = bench.synthetic_series(64, 6, 50, seed=3)
    assert a.shape == (64, 6, 50) and a.dtype.name == "float32"
    assert (a == bench.synthetic_series(64, 6, 50, seed=3)).all()
    assert not (a == bench.synthetic_series(64, 6, 50, seed=4)).all()
    assert abs(a.mean(axis=(0, 2))).max() < 1e-4 and abs(a.std(axis=(0, 2)) - 1).max() < 1e-3


def test_isa_note_when_onednn_is_held_below_native_bf16(monkeypatch):
    """ONEDNN_MAX_CPU_ISA=AVX2 on a bf16 CPU: the engine still picks bf16, and the section says it is emulated."""
    bench = load(NAME)
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "AVX2")
    monkeypatch.setattr(sys.modules["_common"], "onednn_isa", lambda: "Intel AVX2")
    monkeypatch.setattr(
        sys.modules["_common"], "training_autocast_dtype", lambda device, amp=True: torch.bfloat16
    )
    bullet, warning = bench.isa_facts(torch.device("cpu"))
    assert "ONEDNN_MAX_CPU_ISA=AVX2" in bullet and "bfloat16 autocast" in bullet
    assert "emulated" in warning
    monkeypatch.setattr(
        sys.modules["_common"], "onednn_isa", lambda: "Intel AVX-512 with Intel DL Boost and bfloat16 support"
    )
    assert bench.isa_facts(torch.device("cpu"))[1] == ""


def test_run_all_runs_it():
    assert "bench_series_throughput.py" in load("run_all").SCRIPTS
