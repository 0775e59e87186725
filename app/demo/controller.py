"""Runs a guided story over the real workbench: enters its steps (their moves drive the Setup tab, Start,
the tabs and the evaluations), keeps the narrator, the highlight and Next's availability up to date, sends
the messages dialogs would show to the narrator, and leaves into the normal workbench with the run and
every setting kept."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Qt, QTimer, Signal
from PySide6.QtGui import QKeySequence, QShortcut

from app.demo.context import DemoContext, DemoProblem
from app.demo.highlight import Highlight
from app.demo.narrator import Narrator
from app.demo.presentation import FONT_SCALE, Presentation
from app.demo.quiet_dialogs import QuietDialogs
from app.demo.stories import STORIES
from app.demo.targets import find_target, tab, target_tab
from app.demo.waits import FACTS, WAITS, training_clock

log = logging.getLogger(__name__)

REFRESH_MS = 250  # how often Next's availability, the countdown and the live facts are looked at


# The window size a story needs beside its narrator (the workbench at 1024 px plus the panel).
ROOMY_WIDTH, ROOMY_HEIGHT = 1600, 900  # the Train tab beside the narrator wants ~1560 px


class DemoController(QObject):
    started = Signal(str)  # a story's key
    step_entered = Signal(int)
    left = Signal()

    def __init__(self, window: Any):
        super().__init__(window)
        self.window = window
        self.ctx: DemoContext | None = None
        self.index = -1
        self._entered: set[int] = set()  # steps whose moves with effects were done
        self._then_done: set[int] = set()  # steps whose wait was met and its `then` moves done
        self._passed: set[int] = set()  # steps left with Next: coming Back, their Next waits no more
        self.narrator: Narrator | None = None
        self.highlight: Highlight | None = None
        self.presentation = Presentation(window)
        self.quiet = QuietDialogs(self._tell)
        self._timer = QTimer(self)
        self._timer.setInterval(REFRESH_MS)
        self._timer.timeout.connect(self.refresh)
        self._shortcuts = [  # presenter remotes send Page Down / Page Up
            self._shortcut(QKeySequence.StandardKey.MoveToNextPage, self.next),
            self._shortcut(QKeySequence.StandardKey.MoveToPreviousPage, self.back),
        ]
        self._escape = self._shortcut(QKeySequence(Qt.Key.Key_Escape), lambda: self.set_presentation(False))
        self._stop_keys: list[QKeySequence] = []
        window.session.run_started.connect(self._run_started)
        window.embeddings_tab.live_updated.connect(self._live_map_drawn)
        quiet = self.quiet  # not self: this controller is gone when the window's destruction is announced
        window.destroyed.connect(lambda *_: quiet.stop())

    def _shortcut(self, keys: Any, slot: Any) -> QShortcut:
        shortcut = QShortcut(keys, self.window)
        shortcut.setContext(Qt.ShortcutContext.WindowShortcut)
        shortcut.setEnabled(False)
        shortcut.activated.connect(slot)
        return shortcut

    # ---- a story's course --------------------------------------------------------------------
    @property
    def active(self) -> bool:
        return self.ctx is not None

    @property
    def story(self):
        return self.ctx.story if self.ctx is not None else None

    def start(self, key: str, step_budget: int | None = None) -> None:
        """Begin a story (leaving one in progress). `step_budget`: train that many steps instead of the
        story's time limit (tests, a quick rehearsal)."""
        if self.active:
            self.leave()
        ctx = DemoContext(self.window, STORIES[key], step_budget)
        self.ctx, self.index = ctx, -1
        for steps in (self._entered, self._then_done, self._passed):
            steps.clear()
        narrator = self._ensure_narrator()
        narrator.show_step(ctx.story.title, 0, len(ctx.story.steps), ctx.story.title, "", False)
        narrator.set_waiting("Loading PyTorch and the methods…")
        self._make_room()
        narrator.show()
        narrator.raise_()
        self._focus_next()
        self.quiet.start()
        for shortcut in self._shortcuts:
            shortcut.setEnabled(True)
        self._timer.start()
        self.started.emit(key)
        self.window.when_ready(lambda: self._begin(ctx))

    def _make_room(self) -> None:
        """Grow a small window once, within the screen, before the narrator docks: otherwise a later step's
        wide panel widens it mid-story and the Next button moves from where the person last clicked it."""
        window = self.window
        if window.isFullScreen() or window.isMaximized() or window.screen() is None:
            return
        room = window.screen().availableGeometry()
        width = min(room.width(), max(window.width(), ROOMY_WIDTH))
        height = min(room.height(), max(window.height(), ROOMY_HEIGHT))
        if (width, height) != (window.width(), window.height()):
            window.resize(width, height)

    def _begin(self, ctx: DemoContext) -> None:
        if ctx is self.ctx:  # not left while the engine loaded
            self.go(0)

    def go(self, index: int) -> None:
        """Show step `index`: do its moves (those with effects only the first time), point at its control."""
        ctx = self.ctx
        if ctx is None or not 0 <= index < len(ctx.story.steps):
            return
        steps = ctx.story.steps
        step = steps[index]
        self.index = index
        self.narrator.show_step(
            ctx.story.title,
            index,
            len(steps),
            step.title,
            step.caption.format(time=ctx.time_words()),
            index == len(steps) - 1,
        )
        first = index not in self._entered
        self._entered.add(index)
        for move in step.enter:
            if first or move.view_only:
                self._do(move)
        place = target_tab(step.target)
        if place is not None and self.ctx is ctx:
            self.window.tabs.setCurrentWidget(tab(self.window, place))
        self.highlight.point_at(find_target(self.window, step.target))
        self.step_entered.emit(index)
        self.refresh()
        self._focus_next()

    def next(self) -> None:
        if not self.active or self.index < 0 or not self.narrator.next_button.isEnabled():
            return
        self._passed.add(self.index)
        if self.index == len(self.ctx.story.steps) - 1:
            self.leave()
        else:
            self.go(self.index + 1)

    def back(self) -> None:
        if self.active and self.index > 0:
            self.go(self.index - 1)

    def leave(self) -> None:
        """Back to the normal workbench: the run (training or not) and every setting stay as they are."""
        if not self.active:
            return
        run = self.ctx.run_dir
        self.ctx, self.index = None, -1
        self._timer.stop()
        for shortcut in self._shortcuts:
            shortcut.setEnabled(False)
        self.set_presentation(False)
        self.highlight.point_at(None)
        self.narrator.hide()
        self.quiet.stop()
        self.window.statusBar().showMessage(_left_message(run, self.window.session.busy), 10_000)
        self.left.emit()

    # ---- each step ---------------------------------------------------------------------------
    def _do(self, move: Any) -> None:
        try:
            move.do(self.ctx)
        except DemoProblem as exc:
            self._tell(str(exc))
        except Exception as exc:  # a bug: said in the narrator, with the traceback in the log
            log.exception("Demo move %r failed", move)
            self._tell(
                f"Something went wrong ({type(exc).__name__}: {exc}). Leave the demo to carry on by hand."
            )

    def refresh(self) -> None:
        """Next's availability and what it waits for, the step's live fact, and its `then` moves."""
        ctx = self.ctx
        if ctx is None or self.index < 0:
            return
        step = ctx.story.steps[self.index]
        wait = WAITS[step.wait]
        ready = self.index in self._passed or wait.ready(ctx)
        if ready and self.index not in self._then_done:
            self._then_done.add(self.index)
            for move in step.then:
                self._do(move)
        if ready:  # Next is available; a run of the story still training shows its clock
            training = ctx.run_dir is not None and self.window.session.busy
            self.narrator.set_waiting(training_clock(ctx) if training else "", ready=True)
        else:
            self.narrator.set_waiting(wait.waiting(ctx), ready=False)
        if step.fact:
            self.narrator.set_fact(FACTS[step.fact](ctx))

    def _focus_next(self) -> None:
        """The keyboard focus on Next, never on a setting: a stray key or wheel turn (or the Setup tab's
        hidden invitation handing its focus on) must not change the story's settings."""
        self.narrator.next_button.setFocus(Qt.FocusReason.OtherFocusReason)

    def _tell(self, text: str) -> None:
        if self.narrator is not None and self.active:
            self.narrator.show_problem(text)

    def _run_started(self, event: Any) -> None:
        if self.ctx is not None:
            self.ctx.run_started(Path(event.run_dir))

    def _live_map_drawn(self, *_: Any) -> None:
        if self.ctx is not None and self.ctx.run_dir is not None:
            self.ctx.live_map_drawn = True

    # ---- presentation mode ---------------------------------------------------------------------
    def set_presentation(self, on: bool) -> None:
        """Full screen, large type, thick lines; Esc ends it (and stops no training meanwhile)."""
        if self.narrator is not None and self.narrator.presentation.isChecked() != on:
            self.narrator.presentation.setChecked(on)  # comes back here through its signal
            return
        if on == self.presentation.on:
            return
        stop = self.window.actions["stop"]
        if on:  # Esc is the window's Stop key: in a room it should only end full screen
            self._stop_keys = stop.shortcuts()
            stop.setShortcuts([])
        else:
            stop.setShortcuts(self._stop_keys)
        self._escape.setEnabled(on)
        self.presentation.set_on(on)
        if self.narrator is not None:
            self.narrator.set_scale(FONT_SCALE if on else 1.0)
        if self.highlight is not None:
            QTimer.singleShot(0, self.highlight.follow)

    # ---- parts made on first use -----------------------------------------------------------------
    def _ensure_narrator(self) -> Narrator:
        if self.narrator is None:
            narrator = Narrator(self.window)
            narrator.back_pressed.connect(self.back)
            narrator.next_pressed.connect(self.next)
            narrator.leave_pressed.connect(self.leave)
            narrator.presentation_toggled.connect(self.set_presentation)
            self.window.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, narrator)
            self.narrator = narrator
            self.highlight = Highlight(self.window)
        return self.narrator


def _left_message(run: Path | None, training: bool) -> str:
    if run is None:
        return "Left the demo. Its settings are kept in Setup."
    if training:
        return f"Left the demo. Run {run.name} keeps training; its settings are kept in Setup."
    return f"Left the demo. Run {run.name} and its settings are kept; it is listed in the Runs tab."
