"""The run store: runs/<id>/ with config.toml, metrics.jsonl, checkpoints/last.pt and summary.json."""

from __future__ import annotations

import json
import logging
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ssl_core.config import RunConfig
from ssl_core.errors import UserError
from ssl_core.file_modes import give_normal_mode
from ssl_core.runs.atomic import atomic_write_json
from ssl_core.runs.checkpoint import load_checkpoint, save_checkpoint
from ssl_core.runs.metrics import read_metrics

log = logging.getLogger(__name__)

CONFIG = "config.toml"
METRICS = "metrics.jsonl"
SUMMARY = "summary.json"
CHECKPOINT = Path("checkpoints") / "last.pt"
EVAL_REPORT = "report.json"  # written by ssl_core.eval (report_path), read here for the run list
FINETUNE_DIR = "finetune"  # a fine-tune run's own files (ssl_core.finetune): result.json, classifier.pt


@dataclass(frozen=True)
class RunPaths:
    root: Path

    @property
    def config(self) -> Path:
        return self.root / CONFIG

    @property
    def metrics(self) -> Path:
        return self.root / METRICS

    @property
    def summary(self) -> Path:
        return self.root / SUMMARY

    @property
    def checkpoint(self) -> Path:
        return self.root / CHECKPOINT

    @property
    def eval_dir(self) -> Path:
        return self.root / "eval"

    @property
    def eval_report(self) -> Path:
        return self.eval_dir / EVAL_REPORT

    @property
    def finetune_dir(self) -> Path:
        return self.root / FINETUNE_DIR

    @property
    def finetune_result(self) -> Path:
        """A fine-tune run's FinetuneReport as JSON."""
        return self.finetune_dir / "result.json"

    @property
    def finetune_classifier(self) -> Path:
        """A fine-tune run's classifier: backbone + head weights with the class names."""
        return self.finetune_dir / "classifier.pt"


def require_run_dir(run_dir: str | Path) -> RunPaths:
    root = Path(run_dir)
    if not root.is_dir():
        raise UserError(
            f"Run directory {root} does not exist; check the path (see `ssl-core runs`).", path=str(root)
        )
    paths = RunPaths(root)
    if not paths.config.is_file():
        raise UserError(
            f"{root} is not an SSL Workbench run: it has no {CONFIG}. Pick a folder inside your runs directory.",
            path=str(root),
        )
    return paths


def read_summary(run_dir: Path) -> dict[str, Any]:
    path = Path(run_dir) / SUMMARY
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return data if isinstance(data, dict) else {}
    except (OSError, json.JSONDecodeError):
        return {}


def write_summary(run_dir: Path, **updates: Any) -> dict[str, Any]:
    summary = read_summary(run_dir)
    summary.update(updates)
    atomic_write_json(Path(run_dir) / SUMMARY, summary)
    return summary


def _pid_alive(pid: Any) -> bool:
    try:
        os.kill(int(pid), 0)
    except (OSError, ValueError, TypeError):
        return False
    return True


def effective_status(summary: dict[str, Any]) -> str:
    """'running' only while the owning process lives; a killed run reads as 'interrupted'."""
    status = summary.get("status", "unknown")
    if status == "running" and not (summary.get("pid") == os.getpid() or _pid_alive(summary.get("pid"))):
        return "interrupted"
    return status


@dataclass(frozen=True)
class RunRecord:
    run_id: str
    path: Path
    method: str
    data: str
    created: str
    epochs: int
    steps: int
    final_loss: float | None
    probe_accuracy: float | None
    status: str
    has_checkpoint: bool
    # The linear probe trained on the fewest labels evaluated (e.g. 1%), where runs differ most;
    # probe_accuracy above is the all-labels figure. None until the run is evaluated with fractions.
    few_label_probe: float | None = None
    few_label_fraction: float | None = None
    few_label_count: int | None = None
    # "training" for a training run; "finetune" for a fine-tuned classifier (ssl_core.finetune), whose
    # parent is the folder name of the run it was fine-tuned from.
    kind: str = "training"
    parent: str | None = None

    @property
    def is_finetune(self) -> bool:
        return self.kind == "finetune"

    def to_dict(self) -> dict[str, Any]:
        d = dict(self.__dict__)
        d["path"] = str(self.path)
        return d


def few_label_probe(run_dir: Path) -> tuple[float, float, int] | None:
    """(accuracy, fraction, labels used) of the pretrained features' probe at the smallest label
    fraction below 100% in the run's evaluation report; None without one."""
    try:
        report = json.loads(RunPaths(Path(run_dir)).eval_report.read_text(encoding="utf-8"))
        features = report["features"]
        pre = (
            features["pretrained"]
            if isinstance(features, dict)
            else next(f for f in features if f["name"] == "pretrained")
        )
        rows = [r for r in pre["label_efficiency"]["rows"] if float(r["fraction"]) < 1.0]
        if not rows:
            return None
        row = min(rows, key=lambda r: float(r["fraction"]))
        return float(row["probe"]["mean"]), float(row["fraction"]), int(row["labels_used"])
    except (OSError, ValueError, KeyError, TypeError, StopIteration, AttributeError):
        return None


def record_for(run_dir: Path) -> RunRecord:
    summary = read_summary(run_dir)
    few = few_label_probe(run_dir) if summary.get("probe_accuracy") is not None else None
    try:
        config = RunConfig.load(run_dir / CONFIG)
        method, data = config.method.name, config.data.spec
    except UserError:
        method, data = summary.get("method", "?"), summary.get("data", "?")
    return RunRecord(
        run_id=run_dir.name,
        path=run_dir,
        method=method,
        data=data,
        created=str(summary.get("created", "")),
        epochs=int(summary.get("epochs_done", 0) or 0),
        steps=int(summary.get("step", 0) or 0),
        final_loss=summary.get("final_loss"),
        probe_accuracy=summary.get("probe_accuracy"),
        status=effective_status(summary),
        has_checkpoint=(run_dir / CHECKPOINT).is_file(),
        few_label_probe=few[0] if few else None,
        few_label_fraction=few[1] if few else None,
        few_label_count=few[2] if few else None,
        kind=str(summary.get("kind") or "training"),
        parent=None if summary.get("parent") is None else str(summary.get("parent")),
    )


def list_runs(runs_dir: str | Path) -> list[RunRecord]:
    """Every run under runs_dir, newest first; folders that are not runs are ignored."""
    root = Path(runs_dir)
    if not root.is_dir():
        return []
    records = [record_for(p) for p in root.iterdir() if p.is_dir() and (p / CONFIG).is_file()]
    return sorted(records, key=lambda r: (r.created, r.run_id), reverse=True)


@dataclass
class LoadedRun:
    config: RunConfig
    method: Any  # SSLMethod with weights loaded, on CPU, in eval mode
    source: Any  # DataSource
    train_idx: torch.Tensor
    val_idx: torch.Tensor
    run_dir: Path
    checkpoint_path: Path
    step: int


def load_run(run_dir: str | Path, *, download: bool = False, source: Any = None) -> LoadedRun:
    """Rebuild a run's data split and model from its config and last checkpoint (CPU, eval mode).

    `source`: the run's data source when the caller has it open already (it is not opened again)."""
    from ssl_core.train.builder import build_components
    from ssl_core.train.global_rng import isolated_global_stream

    paths = require_run_dir(run_dir)
    config = RunConfig.load(paths.config)
    state = load_checkpoint(paths.checkpoint)
    with isolated_global_stream():  # rebuilding seeds torch; leave the caller's RNG alone
        parts = build_components(config, download=download, source=source)
    _load_weights(parts.method, state, paths.checkpoint)
    parts.method.eval()
    return LoadedRun(
        config=config,
        method=parts.method,
        source=parts.source,
        train_idx=parts.train_idx,
        val_idx=parts.val_idx,
        run_dir=paths.root,
        checkpoint_path=paths.checkpoint,
        step=int(state.get("step", 0)),
    )


def _load_weights(method: torch.nn.Module, state: dict[str, Any], path: Path) -> None:
    """The checkpoint's model weights into `method`; a checkpoint that does not fit is a user error."""
    if not isinstance(state, dict) or not isinstance(state.get("model"), dict):
        raise UserError(
            f"Checkpoint {path} holds no model weights; it may be an exported backbone. Put the run's own "
            "checkpoints/last.pt back, or train the run again.",
            path=str(path),
        )
    try:
        method.load_state_dict(state["model"])
    except (RuntimeError, ValueError, KeyError, TypeError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UserError(
            f"Checkpoint {path} does not match the run's {CONFIG} ({first}); the config was probably edited "
            "after training. Restore the original settings, or train the run again.",
            path=str(path),
        ) from None


def delete_run(run_dir: str | Path) -> None:
    paths = require_run_dir(run_dir)
    shutil.rmtree(paths.root)


def export_backbone(run_dir: str | Path, out_path: str | Path) -> Path:
    """Save the run's backbone (with its input normalisation) as a plain state_dict file."""
    paths = require_run_dir(run_dir)
    config = RunConfig.load(paths.config)
    state = load_checkpoint(paths.checkpoint)
    if not isinstance(state.get("model"), dict):
        raise UserError(
            f"Checkpoint {paths.checkpoint} holds no model weights; it cannot be exported.",
            path=str(paths.checkpoint),
        )
    prefix = "backbone."
    weights = {k[len(prefix) :]: v for k, v in state["model"].items() if k.startswith(prefix)}
    out = Path(out_path)
    if out.is_dir():
        out = out / f"{paths.root.name}-backbone.pt"
    save_checkpoint(
        out,
        {
            "backbone": str(state.get("backbone_name", config.method.backbone)),
            "method": config.method.name,
            "method_params": dict(config.method.params),
            "backbone_params": dict(config.method.backbone_params),
            "state_dict": weights,
        },
    )
    give_normal_mode(out)  # a file to share, not one of the run's private files
    return out


__all__ = [
    "LoadedRun",
    "RunPaths",
    "RunRecord",
    "delete_run",
    "effective_status",
    "export_backbone",
    "few_label_probe",
    "list_runs",
    "load_run",
    "read_metrics",
    "read_summary",
    "require_run_dir",
    "write_summary",
]
