"""The scoring pipelines of bench_table_throughput.py, each run in a fresh Python process.

    python bench/_table_scoring.py KIND PARAMS_JSON     # prints one line of JSON: times, rows, memory

KIND is `engine` (`ssl_core.anomaly.score_file` end to end, its steps timed by wrapping the functions it
calls), `reference` (pd.read_csv + the per-row PandasRows + a DataLoader + the run's model + to_csv) or
`iforest` (scikit-learn's IsolationForest, as a practitioner's baseline). A fresh process per pipeline
gives each the same start and its own peak memory; heavy modules are imported inside the pipeline that
needs them (the IsolationForest process loads pandas and scikit-learn only).
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as `python bench/_table_scoring.py` without installing the project
    sys.path.insert(0, str(ROOT))

from _table_data import ID_COLUMN, PandasRows, fit_recipe, schema_columns, yes_no  # noqa: E402

SCORE_BATCH = 4096  # the reference's scoring batch
CONTAMINATION = 0.05  # the reference's threshold: the 95th percentile of its held-out scores


def _rss_mb(field: str = "VmHWM") -> float:
    """This process's peak (VmHWM) or current (VmRSS) resident memory in MB.

    Linux: from /proc/self/status, which starts afresh at exec (getrusage's ru_maxrss does not: a child
    started by a big parent reports the parent's peak). Elsewhere: getrusage's peak.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    except (OSError, ValueError, IndexError):
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 1024  # bytes on macOS, KiB elsewhere


class Phases:
    """Exclusive seconds per named phase; a phase entered inside another pauses the outer one."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.stack: list[list] = []  # [name, start]

    def wrap(self, name: str, fn: Callable, *, inside: str | None = None) -> Callable:
        def wrapped(*args, **kwargs):
            if inside is not None and (not self.stack or self.stack[-1][0] != inside):
                return fn(*args, **kwargs)
            now_ = time.perf_counter()
            if self.stack:
                outer = self.stack[-1]
                self.seconds[outer[0]] = self.seconds.get(outer[0], 0.0) + now_ - outer[1]
            self.stack.append([name, now_])
            try:
                return fn(*args, **kwargs)
            finally:
                end = time.perf_counter()
                self.seconds[name] = self.seconds.get(name, 0.0) + end - self.stack.pop()[1]
                if self.stack:
                    self.stack[-1][1] = end

        return wrapped


def score_engine(p: dict) -> dict:
    """`score_file` end to end, its module's steps timed by wrapping them (nothing else changes)."""
    import ssl_core.anomaly.scoring as scoring
    import ssl_core.data.table_source as table_source

    phases = Phases()
    opening = "open the file (schema, labels, checks)"
    scoring.load_run = phases.wrap("load the run (model + its training table)", scoring.load_run)
    scoring.open_like_run = phases.wrap(opening, scoring.open_like_run)
    for name, title in (("read_table_file", "parse the CSV (pandas)"), ("encode_table", "encode the columns"),
                        ("_row_ids", "row ids as text")):  # fmt: skip
        setattr(table_source, name, phases.wrap(title, getattr(table_source, name), inside=opening))
    scoring._threshold = phases.wrap("threshold (the run's held-out scores)", scoring._threshold)
    scoring.new_data_scores = phases.wrap("score (model)", scoring.new_data_scores)
    scoring._csv = phases.wrap("write the CSV", scoring._csv)
    scoring.atomic_write_text = phases.wrap("write the CSV", scoring.atomic_write_text)
    start = time.perf_counter()
    result = scoring.score_file(p["run_dir"], p["spec"], p["out"])
    total = time.perf_counter() - start
    return {
        "total": total,
        "phases": phases.seconds,
        "rows": len(result.scores),
        "flagged": int(result.flags.sum()),
    }


def score_reference(p: dict) -> dict:
    """pd.read_csv + PandasRows + DataLoader (batches of SCORE_BATCH) + the run's model + to_csv."""
    import torch
    from torch.utils.data import DataLoader, Subset

    from ssl_core.device import select_device
    from ssl_core.modalities.base import sample_indices
    from ssl_core.runs.store import load_run

    times: dict[str, float] = {}
    start = time.perf_counter()
    run = load_run(p["run_dir"])
    device = select_device("auto")  # where the engine's scoring runs the model too
    method = run.method.to(device).eval()
    times["load the model"] = time.perf_counter() - start

    mark = time.perf_counter()
    train_frame = pd.read_csv(p["train_csv"])
    frame = pd.read_csv(p["csv"])
    times["parse the CSVs (pandas)"] = time.perf_counter() - mark

    mark = time.perf_counter()
    columns = schema_columns(run.source.info)
    recipe = fit_recipe(train_frame, columns, sample_indices(run.train_idx, run.config.train.seed).numpy())
    times["fit the preprocessing"] = time.perf_counter() - mark

    def scores_of(rows) -> tuple[np.ndarray, float]:
        loader = DataLoader(rows, batch_size=SCORE_BATCH, shuffle=False, num_workers=p["workers"])
        out, waited = [], 0.0
        with torch.inference_mode():
            batches = iter(loader)
            while True:
                before = time.perf_counter()
                x = next(batches, None)
                waited += time.perf_counter() - before
                if x is None:
                    break
                out.append(method.anomaly_scores(x.to(device)).float().cpu().numpy())
        return np.concatenate(out), waited

    mark = time.perf_counter()
    heldout = np.setdiff1d(np.arange(len(train_frame)), run.train_idx.numpy())
    held, _ = scores_of(Subset(PandasRows(train_frame, recipe), heldout.tolist()))
    threshold = float(np.quantile(held, 1.0 - CONTAMINATION))
    times["threshold (held-out rows)"] = time.perf_counter() - mark

    mark = time.perf_counter()
    scores, waited = scores_of(PandasRows(frame, recipe))
    times["waiting for the per-row DataLoader"] = waited
    times["score (model)"] = time.perf_counter() - mark - waited

    mark = time.perf_counter()
    flags = scores > threshold
    out = {
        "index": np.arange(len(frame)),
        ID_COLUMN: frame[ID_COLUMN],
        "score": scores,
        "flag": flags.astype(int),
    }
    pd.DataFrame(out).to_csv(p["out"], index=False, float_format="%.6g")
    times["write the CSV"] = time.perf_counter() - mark
    total = time.perf_counter() - start
    return {
        "total": total,
        "phases": times,
        "rows": len(scores),
        "flagged": int(flags.sum()),
    }


def _median(column: pd.Series, kind: str) -> float:
    values = column.map(yes_no) if kind == "boolean" else column
    return float(np.nanmedian(values.to_numpy(np.float64)))


def _iforest_matrix(frame: pd.DataFrame, columns: list[dict], medians: dict) -> np.ndarray:
    """What a practitioner feeds IsolationForest: numbers with gaps filled by the training median, yes/no
    as 0/1, categories one-hot (pd.get_dummies over the training categories)."""
    parts = []
    for c in columns:
        col = frame[c["name"]]
        if c["kind"] == "numeric":
            parts.append(col.fillna(medians[c["name"]]).to_numpy(np.float32)[:, None])
        elif c["kind"] == "boolean":
            parts.append(col.map(yes_no).fillna(medians[c["name"]]).to_numpy(np.float32)[:, None])
        else:
            cats = pd.Categorical(col.astype("string").str.strip(), categories=c["categories"])
            parts.append(pd.get_dummies(cats).to_numpy(np.float32))
    return np.concatenate(parts, axis=1)


def score_iforest(p: dict) -> dict:
    from sklearn.ensemble import IsolationForest

    times: dict[str, float] = {}
    start = time.perf_counter()
    train_frame = pd.read_csv(p["train_csv"])
    frame = pd.read_csv(p["csv"])
    times["parse the CSVs (pandas)"] = time.perf_counter() - start

    mark = time.perf_counter()
    columns = p["columns"]
    medians = {
        c["name"]: _median(train_frame[c["name"]], c["kind"]) for c in columns if c["kind"] != "categorical"
    }
    fit_x = _iforest_matrix(train_frame, columns, medians)
    new_x = _iforest_matrix(frame, columns, medians)
    times["preprocess (fill, one-hot)"] = time.perf_counter() - mark

    mark = time.perf_counter()
    forest = IsolationForest(n_estimators=100, random_state=p["seed"], n_jobs=-1).fit(fit_x)
    times["fit (training file)"] = time.perf_counter() - mark

    mark = time.perf_counter()
    scores = -forest.score_samples(new_x)  # higher = more unusual
    times["score_samples"] = time.perf_counter() - mark

    mark = time.perf_counter()
    pd.DataFrame({"index": np.arange(len(frame)), ID_COLUMN: frame[ID_COLUMN], "score": scores}).to_csv(
        p["out"], index=False, float_format="%.6g"
    )
    times["write the CSV"] = time.perf_counter() - mark
    return {"total": time.perf_counter() - start, "phases": times, "rows": len(scores)}


SCORERS = {"engine": score_engine, "reference": score_reference, "iforest": score_iforest}


def score_child(kind: str, params: dict) -> dict:
    """Run one scoring pipeline in this (fresh) process; add its peak memory."""
    rss_start = _rss_mb("VmRSS")  # Python, NumPy and pandas; each pipeline imports the rest itself
    if params.get("threads") and kind != "iforest":
        import torch

        torch.set_num_threads(int(params["threads"]))
    result = SCORERS[kind](params)
    result["rss_start_mb"] = rss_start
    result["peak_rss_mb"] = _rss_mb()
    return result


def run_children(jobs: dict[str, dict], *, together: bool, timeout_s: float = 1200.0) -> dict[str, dict]:
    """Each scoring pipeline in a fresh process (one after the other; all at once with `together`, for
    --quick, whose numbers mean nothing) -> {kind: its result}."""
    script = str(Path(__file__).resolve())

    def start(kind: str, params: dict) -> subprocess.Popen:
        cmd = [sys.executable, script, kind, json.dumps(params)]
        return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def finish(kind: str, proc: subprocess.Popen) -> dict:
        out, err = proc.communicate(timeout=timeout_s)
        if proc.returncode != 0:
            raise RuntimeError(f"scoring child '{kind}' failed ({proc.returncode}):\n{err[-3000:]}")
        return json.loads(out.strip().splitlines()[-1])

    if together:
        procs = {kind: start(kind, params) for kind, params in jobs.items()}
        return {kind: finish(kind, proc) for kind, proc in procs.items()}
    return {kind: finish(kind, start(kind, params)) for kind, params in jobs.items()}


if __name__ == "__main__":
    kind, params = sys.argv[1], json.loads(sys.argv[2])
    print(json.dumps(score_child(kind, params)))
