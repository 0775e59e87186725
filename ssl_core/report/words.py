"""A run's config, machine and timing in plain words, for the report (no numbers left unexplained)."""

from __future__ import annotations

from typing import Any

from ssl_core.report.facts import RunFacts
from ssl_core.wording import format_seconds


def _method(name: str) -> tuple[str, str]:
    """The method's title and one-line summary from the registry (the name itself when unknown)."""
    try:
        from ssl_core.methods import METHODS

        spec = METHODS.get(name)
        return spec.title, spec.summary
    except Exception:  # noqa: BLE001 - a report of an old run still says something
        return name, ""


def _plural(modality: str | None) -> str:
    """What the data's samples are called ("images", "series"), from the modality registry."""
    try:
        from ssl_core.modalities import MODALITIES

        return MODALITIES.get(str(modality)).plural
    except Exception:  # noqa: BLE001 - an unknown or missing modality: plain "samples"
        return "samples"


def _data_text(facts: RunFacts) -> str:
    info = facts.summary.get("data_info") or {}
    spec = facts.config.data.spec
    size = info.get("size")
    shape = "x".join(str(v) for v in info.get("sample_shape") or [])
    plural = _plural(info.get("modality") or facts.summary.get("modality"))
    parts = [f"{spec}"]
    if size:
        parts.append(f"{int(size):,} {plural}" + (f" ({shape} each)" if shape else ""))
    classes = info.get("class_names") or []
    if classes:
        parts.append(f"{len(classes)} classes")
    return ", ".join(parts)


def config_rows(facts: RunFacts) -> list[tuple[str, str]]:
    """(what, in words) rows describing how the run was set up and how it went."""
    cfg, summary = facts.config, facts.summary
    title, line = _method(cfg.method.name)
    rows = [("Method", f"{title}: {line}" if line else title)]
    rows.append(("Data", _data_text(facts)))
    backbone = summary.get("backbone") or cfg.method.backbone
    rows.append(("Network", f"{backbone} backbone" + _settings_text(cfg.method.backbone_params)))
    if cfg.method.params:
        rows.append(("Method settings", _settings_text(cfg.method.params).strip(" ()")))
    held = f"{cfg.data.val_fraction * 100:g}% of the samples held out for evaluation"
    rows.append(("Split", held))
    steps, total = summary.get("step"), summary.get("total_steps")
    plan = (
        f"{int(total):,} planned steps"
        + (f" ({summary.get('steps_per_epoch')} per epoch)" if summary.get("steps_per_epoch") else "")
        if total
        else f"{cfg.train.epochs} epochs"
    )
    batch = summary.get("batch_size") or cfg.train.batch_size
    lr = summary.get("lr") or cfg.train.lr
    training = [plan]
    if batch:
        training.append(f"batches of {batch}")
    if lr:
        training.append(f"learning rate {lr:.3g}")
    training.append(f"seed {cfg.train.seed}")
    if cfg.train.time_limit_s:
        training.append(f"time limit {format_seconds(cfg.train.time_limit_s)}")
    rows.append(("Training", ", ".join(training)))
    status = summary.get("status", "unknown")
    outcome = f"{status} at step {int(steps):,}" if steps is not None else status
    if summary.get("final_loss") is not None:
        outcome += f", final loss {float(summary['final_loss']):.4f}"
    if summary.get("note"):
        outcome += f" ({summary['note']})"
    rows.append(("Outcome", outcome))
    rows.append(("Machine", machine_text(summary)))
    rows.append(("Time taken", time_text(facts)))
    return rows


def _settings_text(params: dict[str, Any]) -> str:
    if not params:
        return ""
    return " (" + ", ".join(f"{k} = {v}" for k, v in sorted(params.items())) + ")"


def machine_text(summary: dict[str, Any]) -> str:
    """What trained the run: "NVIDIA H200 (140 GB) (cuda:0)", or the device name for older runs."""
    device, machine = summary.get("device"), summary.get("machine")
    if machine and device and device != "cpu" and device not in machine:
        return f"{machine} ({device})"
    return str(machine or device or "unknown")


def time_text(facts: RunFacts) -> str:
    text = f"{format_seconds(facts.training_seconds)} of training"
    steps = len(facts.losses)
    if facts.training_seconds and steps > 1:
        text += f" ({steps / facts.training_seconds:,.1f} steps per second)"
    evaluation = facts.evaluation or {}
    if evaluation.get("seconds") is not None:
        text += f"; evaluation took {format_seconds(float(evaluation['seconds']))}"
    return text
