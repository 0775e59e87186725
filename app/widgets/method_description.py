"""A method's teaching text in Setup: its name, family, summary, description and paper, whole.

The text scrolls inside the height it is given (the method list's), so a long description is never cut
off mid-sentence and the layout around it never jumps from one method to the next."""

from __future__ import annotations

import html
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QLabel, QScrollArea, QWidget

FAMILY_TITLES = {
    "contrastive": "Contrastive",
    "self-distillation": "Self-distillation",
    "redundancy reduction": "Redundancy reduction",
    "generative": "Generative (reconstruction, generation)",
    "pretext": "Pretext tasks",
}


def family_title(family: str) -> str:
    return FAMILY_TITLES.get(family, family.capitalize())


def method_html(spec: Any, reason: str | None = None) -> str:
    parts = [
        f"<p style='margin:0'><b style='font-size:14px'>{html.escape(spec.title)}</b>"
        f" &nbsp;<span style='color:gray'>{html.escape(family_title(spec.family))}</span></p>",
        f"<p><i>{html.escape(spec.summary)}</i></p>",
        f"<p>{html.escape(spec.description)}</p>",
    ]
    if spec.paper:
        parts.append(f"<p style='color:gray'>Paper: {html.escape(spec.paper)}</p>")
    if reason:
        parts.append(
            f"<p style='color:#c62828'><b>Not available for this data:</b> {html.escape(reason)}</p>"
        )
    return "".join(parts)


class MethodDescription(QScrollArea):
    """A word-wrapped label (`label`) in a scroll area: the whole text at any width."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("method_description_area")
        label = QLabel()
        label.setObjectName("method_description")
        label.setWordWrap(True)
        label.setTextFormat(Qt.TextFormat.RichText)
        label.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        label.setProperty("role", "banner")
        label.setMinimumWidth(240)
        label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.label = label
        self.setWidgetResizable(True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setWidget(label)

    def set_html(self, text: str) -> None:
        """Show `text`; a new text is read from its start."""
        if text != self.label.text():
            self.label.setText(text)
            self.verticalScrollBar().setValue(0)
