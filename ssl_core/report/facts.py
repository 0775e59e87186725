"""Everything a run report says about one run, read from the run's folder: its config and summary, the
loss per step, the saved evaluation (eval/report.json) and its verdict, the previews kept during training
and the embedding map. Reading never trains or evaluates; ssl_core.report.build does that first when
asked. No Qt."""

from __future__ import annotations

import io
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ssl_core.config import RunConfig
from ssl_core.errors import UserError
from ssl_core.eval.embed import load_embedding
from ssl_core.eval.map_export import render_map
from ssl_core.eval.report import read_report
from ssl_core.eval.verdict import Verdict, verdict
from ssl_core.runs import store
from ssl_core.runs.metrics import read_metrics
from ssl_core.train.preview_archive import ArchivedPreview, read_archive

PAUSE_GAP_S = 120.0  # a gap this long between two logged steps is a pause or a resume, not training time


@dataclass
class RunFacts:
    run_dir: Path
    run_id: str
    config: RunConfig
    summary: dict[str, Any]
    losses: list[tuple[int, float]]  # (step, loss) per logged step
    training_seconds: float | None  # time spent on steps (pauses between starts left out)
    evaluation: dict[str, Any] | None  # eval/report.json, or None when the run was not evaluated
    verdict: Verdict | None
    previews: list[ArchivedPreview] = field(default_factory=list)
    map_png: bytes | None = None  # the embedding map drawn by ssl_core.eval.map_export
    map_projection: str = ""  # "umap" or "pca"
    problems: list[str] = field(default_factory=list)  # what could not be added to the report, in words

    @property
    def pretrained(self) -> dict[str, Any] | None:
        features = (self.evaluation or {}).get("features") or {}
        if isinstance(features, list):
            features = {f.get("name"): f for f in features}
        return features.get("pretrained")


def training_seconds(records: list[dict[str, Any]]) -> float | None:
    """Seconds between the first and last logged step, leaving out gaps of PAUSE_GAP_S or more (a pause,
    or the time between a stop and a resume); None without timed records."""
    times = [float(r["time"]) for r in records if isinstance(r.get("time"), int | float)]
    if len(times) < 2:
        return None
    gaps = np.diff(np.asarray(times))
    return float(gaps[(gaps >= 0) & (gaps < PAUSE_GAP_S)].sum())


def _current_map(run_dir: Path, evaluation: dict[str, Any] | None):
    """The saved map (an EmbedResult) of the checkpoint the evaluation used; None when there is none or
    it is stale."""
    embedded = load_embedding(run_dir)
    if embedded is None or embedded.projection is None or embedded.indices is None:
        return None
    if evaluation is not None and evaluation.get("checkpoint_key") not in (None, "", embedded.checkpoint_key):
        return None  # drawn from another checkpoint than the numbers next to it
    return embedded


def _map_image(
    run_dir: Path, evaluation: dict[str, Any] | None, class_names: list[str]
) -> tuple[bytes | None, str]:
    """The saved map of the evaluated checkpoint as PNG bytes (None when there is none or it is stale)."""
    embedded = _current_map(run_dir, evaluation)
    if embedded is None:
        return None, ""
    idx = np.asarray(embedded.indices, dtype=np.int64)
    labels = None if embedded.labels is None else np.asarray(embedded.labels)[idx]
    anomaly = None if embedded.anomaly is None or labels is not None else np.asarray(embedded.anomaly)[idx]
    title = f"{embedded.projection_kind.upper()} map of {len(idx):,} points"
    image = render_map(embedded.projection, labels, class_names, anomaly, title=title)
    data = io.BytesIO()
    image.save(data, format="PNG", optimize=True)
    return data.getvalue(), embedded.projection_kind


def has_map(run_dir: str | Path) -> bool:
    """Whether the run has a saved map of the checkpoint its evaluation used."""
    return _current_map(Path(run_dir), read_report(run_dir)) is not None  # checked, not drawn


def read_run(run_dir: str | Path) -> RunFacts:
    """The facts of one run (UserError when the folder is not a run)."""
    paths = store.require_run_dir(run_dir)
    config = RunConfig.load(paths.config)
    summary = store.read_summary(paths.root)
    records = read_metrics(paths.metrics)
    losses = [
        (int(r["step"]), float(r["loss"]))
        for r in records
        if isinstance(r.get("loss"), int | float) and math.isfinite(float(r["loss"]))
    ]
    evaluation = read_report(paths.root)
    said = verdict(evaluation) if evaluation else None
    class_names = list(
        (evaluation or {}).get("class_names") or (summary.get("data_info") or {}).get("class_names") or []
    )
    map_png, projection = _map_image(paths.root, evaluation, class_names)
    return RunFacts(
        run_dir=paths.root,
        run_id=paths.root.resolve().name,
        config=config,
        summary=summary,
        losses=losses,
        training_seconds=training_seconds(records),
        evaluation=evaluation,
        verdict=said if said is not None and said.text else None,
        previews=read_archive(paths.root),
        map_png=map_png,
        map_projection=projection,
    )


def check_runs(runs: list[str | Path]) -> list[Path]:
    """One or two run folders, checked (UserError naming the problem)."""
    if not 1 <= len(runs) <= 2:
        raise UserError(f"A report covers one run or compares two; got {len(runs)}.")
    paths = [store.require_run_dir(r).root for r in runs]
    if len(paths) == 2 and paths[0].resolve() == paths[1].resolve():
        raise UserError(f"Both runs are {paths[0]}; pick two different runs to compare.")
    return paths
