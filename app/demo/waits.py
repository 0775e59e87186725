"""When a step's Next becomes available (WAITS), what the narrator says meanwhile, and the live results a
step quotes under its caption (FACTS). Each reads the window's state; the narrator asks a few times a
second, so none of them may do work."""

from __future__ import annotations

import html
from collections.abc import Callable
from dataclasses import dataclass

from app.demo.context import DemoContext
from app.run_context import has_checkpoint


@dataclass(frozen=True)
class Wait:
    ready: Callable[[DemoContext], bool]
    waiting: Callable[[DemoContext], str]  # what is going on meanwhile, in words


def _data_ready(ctx: DemoContext) -> bool:
    setup = ctx.window.setup_tab
    return not setup.data_loading and setup.data_spec() == ctx.data_spec


def _data_waiting(ctx: DemoContext) -> str:
    if ctx.window.setup_tab.data_loading:
        return "Opening the data…"
    return "The data did not open (the message above says why). Leave the demo to carry on by hand."


def _start_ready(ctx: DemoContext) -> bool:
    return ctx.window.actions["start"].isEnabled()


def _start_waiting(ctx: DemoContext) -> str:
    blocker = ctx.window.setup_tab.start_blocker()
    return f"Training cannot start yet: {blocker}" if blocker else "Getting ready…"


def _trained(ctx: DemoContext) -> bool:
    return ctx.run_dir is not None and not ctx.window.session.busy and has_checkpoint(ctx.run_dir)


def training_clock(ctx: DemoContext) -> str:
    """How the story's training is going, in words, with the time left by its time limit."""
    if not ctx.start_requested:
        return "Waiting for training to start."
    if ctx.run_dir is None:
        return "Preparing the data and the network…"
    left = ctx.seconds_left()
    if left is None:
        return "Training…"
    if left < 1:
        return "Training ends now; saving what it learned…"
    return f"Training: about {int(left) // 60}:{int(left) % 60:02d} left."


def _training_text(ctx: DemoContext) -> str:
    if ctx.run_dir is not None and not ctx.window.session.busy:  # ended without a checkpoint: it failed
        return "Training did not finish (the message above says why). Leave the demo to carry on by hand."
    return f"{training_clock(ctx)} Next becomes available when it ends."


def _evaluated(ctx: DemoContext) -> bool:
    evaluate = ctx.window.evaluate_tab
    return evaluate.view is not None and not evaluate.busy and evaluate.run_dir == ctx.run_dir


def _anomalies_scored(ctx: DemoContext) -> bool:
    anomalies = ctx.window.anomalies_tab
    return anomalies.view is not None and not anomalies.busy and anomalies.run_dir == ctx.run_dir


WAITS = {
    "now": Wait(lambda ctx: True, lambda ctx: ""),
    "data": Wait(_data_ready, _data_waiting),
    "start": Wait(_start_ready, _start_waiting),
    "trained": Wait(_trained, _training_text),
    "evaluated": Wait(_evaluated, lambda ctx: "Measuring how well a few labels do on each kind of features…"),
    "anomalies": Wait(_anomalies_scored, lambda ctx: "Scoring every row and comparing with three baselines…"),
}


def _verdict(ctx: DemoContext) -> str:
    view = ctx.window.evaluate_tab.view
    if view is None:
        return ""
    from ssl_core.eval.verdict import verdict

    return html.escape(verdict(view.raw).text)


def _anomaly_result(ctx: DemoContext) -> str:
    """How well the run's scores pick out the unusual rows, next to the classic detectors, in words."""
    view = ctx.window.anomalies_tab.view
    if view is None:
        return ""
    result = view.result
    auc = (result.metrics.get(result.method) or {}).get("roc_auc")
    if auc is None:
        return ""
    others = [
        f"{name} {m['roc_auc']:.3f}"
        for name, m in result.metrics.items()
        if name != result.method and m.get("roc_auc") is not None
    ]
    text = (
        f"Shown an unusual row and a normal one, the {result.method_title or result.method} gives the unusual "
        f"one the higher score {auc:.1%} of the time (ROC-AUC {auc:.3f})."
    )
    if others:
        text += f" Classic detectors: {', '.join(others)}."
    return html.escape(text)


FACTS = {
    "verdict": _verdict,
    "anomaly_result": _anomaly_result,
}
