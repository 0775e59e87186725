"""A fine-tune's own run folder: written all at once, found again from its parent, exported.

Layout (paths from `ssl_core.runs.store.RunPaths`): config.toml (the parent's), summary.json (kind
"finetune", parent, the accuracies), checkpoints/last.pt (the parent's method with the fine-tuned
backbone, so `ssl-core eval` and `embed` work on it), finetune/classifier.pt (backbone + head with the
class names) and finetune/result.json (the FinetuneReport). The folder is built under a hidden temporary
name and renamed into place, so a cancelled or failed job leaves nothing behind.
"""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
import warnings
from pathlib import Path
from typing import Any

import torch

from ssl_core.errors import UserError
from ssl_core.file_modes import give_normal_mode
from ssl_core.finetune.classifier import Classifier, classifier_from_method
from ssl_core.finetune.report import FINETUNE, FinetuneReport
from ssl_core.finetune.settings import labels_text
from ssl_core.progress import CancelToken, check_cancel
from ssl_core.runs.atomic import atomic_write_json, write_error
from ssl_core.runs.checkpoint import load_checkpoint, save_checkpoint
from ssl_core.runs.run_id import new_run_id
from ssl_core.runs.store import RunPaths, load_run, read_summary, require_run_dir

log = logging.getLogger(__name__)

KIND = "finetune"
CLASSIFIER_FORMAT = "ssl-workbench-classifier/1"


def _now() -> str:
    from ssl_core.train.run_folder import now

    return now()


def _on_cpu(state: dict[str, Any]) -> dict[str, Any]:
    """A state_dict's tensors on the CPU; other entries (a text backbone's extra state) as they are."""
    return {k: v.detach().cpu() if isinstance(v, torch.Tensor) else v for k, v in state.items()}


# The semi-supervised steps a fine-tune run took, recorded in its summary.json ("recipe").
RECIPE_FLAGS = ("fixmatch", "pseudo_labels", "distill")


def classifier_payload(model: Classifier, run, report: FinetuneReport, variant: str) -> dict[str, Any]:
    """What classifier.pt (and an export) holds: plain tensors and names, loadable with weights_only."""
    return {
        "format": CLASSIFIER_FORMAT,
        "state_dict": _on_cpu(model.state_dict()),
        "class_names": list(report.class_names),
        "num_classes": int(report.num_classes),
        "variant": variant,
        "labels": report.labels,
        "method": run.config.method.name,
        "backbone": str(getattr(run.method.backbone, "name", run.config.method.backbone)),
        "backbone_params": dict(run.config.method.backbone_params),
        "feature_dim": int(run.method.feature_dim),
        # Blocks of the method's projection head between the backbone and the head (classifier.projector_trunk)
        "projector_layers": int(model.neck_layers),
        "data": run.config.data.spec,
        "sample_shape": [int(v) for v in run.source.info.sample_shape],
        "input": "samples as the data source stores them (uint8 images); the model scales them itself",
    }


def save_finetune_run(
    run, report: FinetuneReport, model: Classifier, variant: str, cancel: CancelToken | None = None
) -> Path:
    """Write the fine-tune run next to its parent and return its folder (see the module docstring)."""
    runs_dir = Path(run.run_dir).parent
    run_id = new_run_id(runs_dir, run.config.method.name, run.config.data.spec, "finetune")
    final = runs_dir / run_id
    try:
        tmp = Path(tempfile.mkdtemp(prefix=f".{run_id}.", suffix=".tmp", dir=runs_dir))
    except OSError as exc:
        raise write_error(exc, final) from None
    try:
        paths = RunPaths(tmp)
        report.run_dir = str(final)
        save_checkpoint(paths.finetune_classifier, classifier_payload(model, run, report, variant))
        atomic_write_json(paths.finetune_result, report.to_dict())
        method_state = _on_cpu(run.method.state_dict())
        method_state.update({f"backbone.{k}": v for k, v in _on_cpu(model.backbone.state_dict()).items()})
        # The fine-tuned first block(s) of the projection head go back where they came from (same indices).
        method_state.update({f"projector.{k}": v for k, v in _on_cpu(model.neck.state_dict()).items()})
        save_checkpoint(
            paths.checkpoint,
            {
                "model": method_state,
                "step": int(run.step),
                "backbone_name": str(getattr(run.method.backbone, "name", "")),
            },
        )
        fine = report.row(FINETUNE)
        atomic_write_json(paths.summary, {
            "kind": KIND, "parent": Path(run.run_dir).name, "parent_dir": str(Path(run.run_dir).resolve()),
            "status": "completed", "created": _now(), "updated": _now(),
            "method": run.config.method.name, "data": run.config.data.spec,
            "modality": run.source.info.modality, "step": int(run.step), "epochs_done": 0,
            "labels": report.labels, "labels_text": labels_text(report.labels), "label_fraction": report.fraction,
            "finetune_accuracy": fine.accuracy if fine else None, "classifier_variant": variant,
            "variants": {r.variant: r.accuracy for r in report.rows},
            "recipe": {k: bool(report.settings.get(k, False)) for k in RECIPE_FLAGS},
        })  # fmt: skip
        run.config.save(paths.config)  # last: a folder is listed as a run once it has its config
        check_cancel(cancel)
        tmp.rename(final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final


def is_finetune_run(run_dir: str | Path) -> bool:
    return read_summary(Path(run_dir)).get("kind") == KIND


def finetune_runs_of(parent_run_dir: str | Path) -> list[Path]:
    """The fine-tune runs stored next to a run whose parent it is, oldest first."""
    parent = Path(parent_run_dir).resolve()
    found = []
    for folder in parent.parent.iterdir():
        if not folder.is_dir() or folder.name.startswith("."):
            continue
        summary = read_summary(folder)
        if summary.get("kind") == KIND and Path(str(summary.get("parent_dir", ""))) == parent:
            found.append((str(summary.get("created", "")), folder.name, folder))
    return [f for *_, f in sorted(found)]


def saved_finetune_results(parent_run_dir: str | Path) -> list[dict[str, Any]]:
    """Every fine-tune result stored for a run: one entry per labels value and variant (the newest run's),
    with `labels` as the fraction of the training labels used, for the label-efficiency chart.

    Entry: {"labels", "labels_setting", "labels_text", "variant", "accuracy", "std", "n_labels",
    "values", "run_dir", "created"}; sorted by variant, then labels."""
    latest: dict[tuple[str, str], dict[str, Any]] = {}
    for folder in finetune_runs_of(parent_run_dir):
        try:
            result = json.loads(RunPaths(folder).finetune_result.read_text(encoding="utf-8"))
            rows, fraction = result["rows"], float(result["fraction"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.warning("Ignoring fine-tune result in %s: %s", folder, exc)
            continue
        created = str(read_summary(folder).get("created", ""))
        for row in rows:
            key = (str(result["labels"]), str(row["variant"]))
            latest[key] = {
                "labels": fraction,
                "labels_setting": result["labels"],
                "labels_text": labels_text(result["labels"]),
                "variant": row["variant"],
                "accuracy": float(row["accuracy"]),
                "std": float(row["std"]),
                "n_labels": int(row["n_labels"]),
                "values": list(row.get("values", [])),
                "run_dir": str(folder),
                "created": created,
            }
    return sorted(latest.values(), key=lambda e: (e["variant"], e["labels"]))


def load_classifier(finetune_run_dir: str | Path) -> tuple[Classifier, dict[str, Any]]:
    """The fine-tune run's classifier (eval mode, CPU) and its saved payload (class names, ...)."""
    paths = require_run_dir(finetune_run_dir)
    if not paths.finetune_classifier.is_file():
        raise UserError(
            f"{paths.root} is not a fine-tune run (it has no {paths.finetune_classifier.relative_to(paths.root)}); "
            "fine-tune a run first (ssl-core finetune RUN).",
            path=str(paths.root),
        )
    payload = load_checkpoint(paths.finetune_classifier)
    run = load_run(paths.root)
    neck = int(payload.get("projector_layers", 0))  # classifiers saved before the option had none
    model = classifier_from_method(run.method, int(payload["num_classes"]), 0, neck)
    model.load_state_dict(payload["state_dict"])
    return model.eval(), payload | {"example": run.source.read(torch.arange(min(2, len(run.source))))[0]}


def torchscript_path(path: str | Path) -> Path:
    """Where `export_classifier(..., path)` puts the TorchScript version: <stem>.torchscript.pt."""
    path = Path(path)
    return path.with_name(f"{path.stem}.torchscript.pt")


def export_classifier(finetune_run_dir: str | Path, path: str | Path) -> Path:
    """Save the fine-tuned classifier as a plain state_dict file with its class names at `path` (a folder
    gets <run id>-classifier.pt) and, when the network traces, a TorchScript file next to it
    (`torchscript_path`) that takes stored samples (uint8 images) and returns class logits."""
    model, payload = load_classifier(finetune_run_dir)
    example = payload.pop("example")
    out = Path(path)
    if out.is_dir():
        out = out / f"{Path(finetune_run_dir).name}-classifier.pt"
    save_checkpoint(out, payload)
    give_normal_mode(out)
    scripted = torchscript_path(out)
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # tracer chatter (deprecation, shape checks made constant)
            traced = torch.jit.trace(model, example, check_trace=False)
            same = torch.allclose(traced(example), model(example), atol=1e-4)
        if not same:
            raise RuntimeError("the traced network gives other outputs")
        tmp = scripted.with_name(f".{scripted.name}.tmp")
        traced.save(str(tmp))
        tmp.replace(scripted)
        give_normal_mode(scripted)
    except Exception as exc:  # noqa: BLE001 - TorchScript is a bonus; the state_dict is the export
        log.warning("The classifier could not be saved as TorchScript (%s); the state_dict is saved.", exc)
        scripted.unlink(missing_ok=True)
    return out
