"""bench/bench_table_throughput.py runs end to end in --quick mode (training rows, ablation, profile, and
the three scoring pipelines in their own processes), prints its tables with finite ratios and writes only
its own section of a results file; its table and per-row reference behave as described."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd

from tests.bench.test_bench_smoke import EARLIER, load, results, run_quick  # noqa: F401 - fixture

NAME = "bench_table_throughput"


def _last_cells(text: str, prefix: str) -> list[str]:
    return [
        line.rstrip(" |").rsplit("|", 1)[1].strip() for line in text.splitlines() if line.startswith(prefix)
    ]


def test_table_throughput_quick(results, tmp_path, capsys):  # noqa: F811
    text, targets = run_quick(NAME, results, tmp_path, "--device", "cpu")
    printed = capsys.readouterr().out
    assert "| table | method | batch | reference rows/s, 0 workers | reference rows/s, 2 workers |" in printed
    for method in ("autoencoder", "scarf"):
        cells = _last_cells(printed, f"| synthetic | {method} | ")
        assert len(cells) == 1
        ratio = float(cells[0].strip("*").rstrip("x"))
        assert math.isfinite(ratio) and ratio > 0
    for heading in (
        "### Where the gain comes from",
        "### Where an engine step's time goes",
        "### Scoring 3,000 rows",
    ):
        assert heading in text
    assert "ISA in use: ATen kernels" in text and "engine precision" in text
    # All three scoring pipelines ran (in their own processes) and the reference agrees with the engine.
    for pipeline in (
        "| engine: `score_file(",
        "| reference: per-row pandas",
        "| scikit-learn IsolationForest",
    ):
        assert pipeline in text
    assert "flags agree on 100.00% of rows" in text
    assert "parse the CSV (pandas)" in text and "score (model)" in text and "score_samples" in text
    # Targets for run_all: one per trained method, and the scoring ones, not measured at this size.
    assert [t["target"] for t in targets] == [
        "autoencoder mlp: engine >= 2x per-row pipeline",
        "scarf mlp: engine >= 2x per-row pipeline",
        "score 1M rows end to end (score_file) in < 60 s on 2 cores",
        "peak memory scoring 1M rows < 2,048 MB (data.memory_budget_mb)",
    ]
    assert all(isinstance(t["met"], bool) for t in targets[:2])
    assert [t["met"] for t in targets[2:]] == [None, None]
    assert "3,000 rows" in targets[2]["measured"] and "not measured at full size" in targets[2]["note"]
    stored = json.loads(text.split("<!-- targets: ", 1)[1].split(" -->", 1)[0])
    assert [t["target"] for t in stored] == [t["target"] for t in targets]


def test_synthetic_table_is_seeded_and_read_as_described(tmp_path):
    from ssl_core.data import open_source

    data = load("_table_data")
    frame = data.synthetic_table(400, seed=3)
    assert frame.equals(data.synthetic_table(400, seed=3))
    assert not frame.equals(data.synthetic_table(400, seed=4))
    spec = data.write_csv(frame, tmp_path / "t.csv")
    schema = open_source(spec).info.extra["table"]
    kinds = {c["name"]: c["kind"] for c in schema["columns"]}
    assert [n for n, k in kinds.items() if k == "numeric"] == list(data.NUMERIC)
    assert kinds[data.BOOLEAN] == "boolean"
    cardinality = {c["name"]: len(c["categories"]) for c in schema["columns"] if c["kind"] == "categorical"}
    assert cardinality == data.CATEGORICAL
    assert schema["id_column"] == data.ID_COLUMN and data.ID_COLUMN not in kinds
    assert {c["name"] for c in schema["columns"] if c["missing"]} >= set(data.GAPPY)


def test_pandas_rows_standardise_and_keep_missing_cells():
    data = load("_table_data")
    frame = pd.DataFrame(
        {
            "x": [1.0, 3.0, np.nan],
            "flag": ["yes", "no", None],
            "kind": ["b", "a", "zebra"],  # 'zebra' is unseen at fit time
        }
    )
    columns = [
        {"name": "x", "kind": "numeric"},
        {"name": "flag", "kind": "boolean"},
        {"name": "kind", "kind": "categorical"},
    ]
    recipe = data.fit_recipe(frame.iloc[:2], columns, np.arange(2))
    rows = data.PandasRows(frame, recipe)
    first, last = rows[0].numpy(), rows[2].numpy()
    assert rows[0].dtype.is_floating_point and first.dtype == np.float32
    std = np.std([1.0, 3.0], ddof=1)
    assert np.allclose(first, [(1.0 - 2.0) / std, (1.0 - 0.5) / np.std([1.0, 0.0], ddof=1), 1.0])
    assert np.isnan(last).all()  # missing number, missing yes/no, unseen category


def test_phases_count_each_phase_once(monkeypatch):
    scoring = load("_table_scoring")
    clock = iter(range(100))
    monkeypatch.setattr(scoring.time, "perf_counter", lambda: float(next(clock)))
    phases = scoring.Phases()
    inner = phases.wrap("inner", lambda: None, inside="outer")
    outer = phases.wrap("outer", lambda: inner())
    outer()  # outer 0..1, inner 1..2, outer 2..3
    inner()  # outside 'outer': not a phase
    assert phases.seconds == {"outer": 2.0, "inner": 1.0}


def test_run_all_runs_it():
    run_all = load("run_all")
    assert "bench_table_throughput.py" in run_all.SCRIPTS
    assert (
        run_all.SCRIPTS.index("bench_table_throughput.py")
        == run_all.SCRIPTS.index("bench_series_throughput.py") + 1
    )
