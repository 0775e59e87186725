"""bench/bench_gui.py runs end to end in --quick mode and writes its section with every table."""

from __future__ import annotations

import json

from tests.bench.test_bench_smoke import EARLIER, load, results  # noqa: F401 - fixture


def test_bench_gui_quick(results, tmp_path):  # noqa: F811
    summary = tmp_path / "summary.json"
    module = load("bench_gui")
    assert module.main(["--quick", "--results", str(results), "--summary-json", str(summary)]) == 0
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
