"""The window's places a story names: its tabs, and the controls a step highlights. Each is found through
the tab that owns it; a control a tab no longer has falls back to the tab itself, so a story still points
at the right screen."""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import QWidget

TABS = {  # a story's tab name -> the window's attribute
    "setup": "setup_tab",
    "train": "train_tab",
    "views": "views_tab",
    "embeddings": "embeddings_tab",
    "evaluate": "evaluate_tab",
    "anomalies": "anomalies_tab",
    "runs": "runs_tab",
}

NARRATOR = "narrator"  # not a tab: the demo's own panel (its Next button, on the first step)
TARGETS = {  # a step's target -> (tab, the path of attributes from that tab to the control)
    "narrator.next": (NARRATOR, ("next_button",)),
    "setup.data": ("setup", ("data",)),
    "setup.method": ("setup", ("method",)),
    "setup.training": ("setup", ("training",)),
    "embeddings.caption": ("embeddings", ("live_caption",)),
    "train.loss": ("train", ("loss_plot",)),
    "train.preview": ("train", ("live_preview",)),
    "train.progress": ("train", ("progress",)),
    "views.preview": ("views", ("preview",)),
    "embeddings.map": ("embeddings", ("scatter",)),
    "evaluate.charts": ("evaluate", ("figure",)),
    "evaluate.headline": ("evaluate", ("headline",)),
    "anomalies.histogram": ("anomalies", ("histogram",)),
    "anomalies.top": ("anomalies", ("top",)),
    "anomalies.headline": ("anomalies", ("headline",)),
}


def tab(window: Any, name: str) -> QWidget:
    return window.demo.narrator if name == NARRATOR else getattr(window, TABS[name])


def target_tab(name: str) -> str | None:
    """The tab a target lives on (None for no target, or one outside the tabs)."""
    place = TARGETS[name][0] if name in TARGETS else None
    return place if place in TABS else None


def find_target(window: Any, name: str) -> QWidget | None:
    """The control a step highlights, or None for none."""
    if name not in TARGETS:
        return None
    tab_name, path = TARGETS[name]
    widget: Any = tab(window, tab_name)
    for attribute in path:
        inner = getattr(widget, attribute, None)
        if not isinstance(inner, QWidget):
            return tab(window, tab_name)
        widget = inner
    return widget
