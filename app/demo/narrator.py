"""The narrator: a panel beside the workbench that tells the story in large type, one step at a time, with
Back, Next and Leave demo, the step counter, what is going on while Next waits, any problem (a story shows
no dialogs), and the presentation-mode switch."""

from __future__ import annotations

import html

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QDockWidget,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from app.theme import current_colors, theme_manager

# Point sizes at scale 1 (presentation mode multiplies them).
SIZES = {"demo_story": 11, "demo_counter": 11, "demo_step_title": 19, "demo_caption": 14, "demo_fact": 14}
BUTTON_PT = 13
WIDTH = 420


class Narrator(QDockWidget):
    back_pressed = Signal()
    next_pressed = Signal()
    leave_pressed = Signal()
    presentation_toggled = Signal(bool)

    def __init__(self, parent: QWidget | None = None):
        super().__init__("Guided demo", parent)
        self.setObjectName("demo_narrator")
        # Leaving goes through its button (which keeps everything); the panel itself cannot be closed away.
        self.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable)
        self.setAllowedAreas(Qt.DockWidgetArea.LeftDockWidgetArea | Qt.DockWidgetArea.RightDockWidgetArea)
        self.scale = 1.0

        self.story = self._label("demo_story", muted=True)
        self.counter = self._label("demo_counter", muted=True)
        self.counter.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.step_title = self._label("demo_step_title")
        self.caption = self._label("demo_caption")
        self.caption.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.fact = self._label("demo_fact")
        self.fact.setProperty("role", "banner")
        self.fact.hide()
        self.status = self._label("demo_status", muted=True)
        self.problem = self._label("demo_problem")
        self.problem.hide()

        self.back_button = QPushButton("◂ Back")
        self.back_button.setObjectName("demo_back")
        self.back_button.clicked.connect(self.back_pressed)
        self.next_button = QPushButton("Next ▸")
        self.next_button.setObjectName("demo_next")
        self.next_button.setProperty("role", "primary")
        self.next_button.setDefault(True)
        self.next_button.clicked.connect(self.next_pressed)
        self.leave_button = QPushButton("Leave demo")
        self.leave_button.setObjectName("demo_leave")
        self.leave_button.setToolTip("Back to the normal workbench; the run and every setting are kept.")
        self.leave_button.clicked.connect(self.leave_pressed)
        self.presentation = QCheckBox("Presentation mode")
        self.presentation.setObjectName("demo_presentation")
        self.presentation.setToolTip(
            "Full screen, larger text and thicker plot lines, for a room (Esc ends it)."
        )
        self.presentation.toggled.connect(self.presentation_toggled)

        header = QHBoxLayout()
        header.addWidget(self.story, 1)
        header.addWidget(self.counter)
        buttons = QHBoxLayout()
        buttons.addWidget(self.back_button)
        buttons.addWidget(self.next_button, 1)
        footer = QHBoxLayout()
        footer.addWidget(self.presentation)
        footer.addStretch(1)
        footer.addWidget(self.leave_button)

        body = QWidget()
        body.setObjectName("demo_body")
        layout = QVBoxLayout(body)
        layout.setContentsMargins(14, 10, 14, 12)
        layout.setSpacing(10)
        layout.addLayout(header)
        layout.addWidget(self.step_title)
        layout.addWidget(self.caption)
        layout.addWidget(self.fact)  # right under the caption that introduces it
        layout.addStretch(1)
        layout.addWidget(self.status)
        layout.addWidget(self.problem)
        layout.addLayout(buttons)
        layout.addLayout(footer)
        self.setWidget(body)
        self.setFixedWidth(WIDTH)  # the same place for every step: a wider caption must not move the tabs
        self._apply_fonts()
        manager = theme_manager()
        if manager is not None:  # the problem line's colour follows the theme
            manager.changed.connect(self._theme_changed)

    def _label(self, name: str, muted: bool = False) -> QLabel:
        label = QLabel()
        label.setObjectName(name)
        label.setWordWrap(True)
        label.setTextFormat(Qt.TextFormat.RichText)
        label.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Minimum)
        if muted:
            label.setProperty("role", "muted")
        return label

    # ---- what it shows -----------------------------------------------------------------------
    def show_step(self, story: str, index: int, count: int, title: str, caption: str, last: bool) -> None:
        self.story.setText(html.escape(story))
        self.counter.setText(f"Step {index + 1} of {count}")
        self.step_title.setText(html.escape(title))
        self.caption.setText(caption)
        self.back_button.setEnabled(index > 0)
        self.next_button.setText("Finish" if last else "Next ▸")
        self.next_button.setToolTip(
            "End the demo; everything stays in the workbench." if last else "Go to the next step."
        )
        self.set_fact("")
        self.clear_problem()

    def set_fact(self, text: str) -> None:
        """A live result quoted under the caption (rich text; "" hides it)."""
        if text != self.fact.text():
            self.fact.setText(text)
        self.fact.setVisible(bool(text))

    def set_waiting(self, text: str, ready: bool | None = None) -> None:
        """What is going on ("" for nothing); Next is available unless `ready` is False (by default: when
        there is nothing to wait for)."""
        enabled = not text if ready is None else ready
        body = self.widget()
        if not enabled and self.next_button.hasFocus():
            body.setFocus()  # Qt would hand the focus on to Leave demo, where a Space meant for Next leaves
        self.next_button.setEnabled(enabled)
        if enabled and body.hasFocus():
            self.next_button.setFocus()
        if html.escape(text) != self.status.text():
            self.status.setText(html.escape(text))
        self.status.setVisible(bool(text))

    def show_problem(self, text: str) -> None:
        """What went wrong, in the error colour, where a dialog would have said it."""
        self.problem.setText(f"<span style='color:{current_colors().bad}'>{html.escape(text)}</span>")
        self.problem.setProperty("plain", text)
        self.problem.show()

    def clear_problem(self) -> None:
        self.problem.setText("")
        self.problem.setProperty("plain", "")
        self.problem.hide()

    def problem_text(self) -> str:
        return self.problem.property("plain") or ""

    # ---- size and colours ----------------------------------------------------------------------
    def set_scale(self, scale: float) -> None:
        """Presentation mode: everything in the panel this many times larger."""
        self.scale = scale
        self._apply_fonts()
        self.setFixedWidth(round(WIDTH * scale))

    def _apply_fonts(self) -> None:
        rules = [f"QLabel#{name} {{ font-size: {pt * self.scale:.0f}pt; }}" for name, pt in SIZES.items()]
        rules.append("QLabel#demo_step_title, QLabel#demo_fact { font-weight: 700; }")
        rules.append(f"QPushButton, QCheckBox {{ font-size: {BUTTON_PT * self.scale:.0f}pt; }}")
        rules.append(f"QPushButton#demo_next {{ padding: {8 * self.scale:.0f}px 18px; }}")
        rules.append(f"QLabel#demo_status, QLabel#demo_problem {{ font-size: {12 * self.scale:.0f}pt; }}")
        self.widget().setStyleSheet("\n".join(rules))

    def _theme_changed(self, _colors: object) -> None:
        if self.problem_text():
            self.show_problem(self.problem_text())
