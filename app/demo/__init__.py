"""Guided demo stories over the real engine, for showing self-supervised learning to people who have never
trained a model: a Demo menu, an invitation on the Setup tab, and the narrator that tells each story.

    window.demo.start("without_labels")   # what the menu and the invitation do

The stories are data (app/demo/stories.py); the controller (app/demo/controller.py) runs them."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QMenu, QPushButton, QToolButton, QWidget

from app.demo.controller import DemoController
from app.demo.stories import STORIES

FIRST_STORY = "without_labels"
BANNER_HIDDEN_KEY = "demo/banner_hidden"


def install_demo(window) -> None:
    """Add the Demo menu and the start page's entry to `window` (a MainWindow); `window.demo` runs them."""
    window.demo = DemoController(window)
    menu = QMenu("&Demo", window)
    menu.setObjectName("demo_menu")
    menu.setToolTipsVisible(True)
    _fill_story_menu(window, menu)
    menu.addSeparator()
    leave = menu.addAction("Leave the demo", window.demo.leave)
    menu.aboutToShow.connect(lambda: leave.setEnabled(window.demo.active))
    window.menuBar().insertMenu(window.menus["help"].menuAction(), menu)
    window.menus["demo"] = menu
    if not window.prefs.get(BANNER_HIDDEN_KEY, False):
        window.setup_tab.add_banner(_banner(window))


def _fill_story_menu(window, menu: QMenu) -> None:
    for story in STORIES.values():
        action = menu.addAction(f"{story.title}…", lambda key=story.key: window.demo.start(key))
        action.setToolTip(story.summary)
        action.setStatusTip(story.summary)


def _banner(window) -> QWidget:
    """The Setup tab's invitation: start the first story, pick another, or hide it for good."""
    banner = QFrame()
    banner.setObjectName("demo_banner")
    banner.setFrameShape(QFrame.Shape.StyledPanel)
    row = QHBoxLayout(banner)
    row.setContentsMargins(10, 6, 10, 6)
    text = QLabel(
        "<b>New to self-supervised learning?</b> Watch a computer learn without labels, step by step, "
        "with a narrator (about two minutes)."
    )
    text.setWordWrap(True)
    start = QPushButton(f"▶ {STORIES[FIRST_STORY].title}")
    start.setObjectName("demo_banner_start")
    start.setProperty("role", "primary")
    start.setToolTip(STORIES[FIRST_STORY].summary)
    start.clicked.connect(lambda: window.demo.start(FIRST_STORY))
    others = QToolButton()
    others.setText("Other demos")
    others.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
    others_menu = QMenu(others)
    others_menu.setToolTipsVisible(True)
    _fill_story_menu(window, others_menu)
    others.setMenu(others_menu)
    hide = QToolButton()
    hide.setText("✕")
    hide.setObjectName("demo_banner_hide")
    hide.setToolTip("Hide this line (the demos stay in the Demo menu).")
    hide.setAutoRaise(True)

    def hide_for_good() -> None:
        banner.hide()
        window.prefs.set(BANNER_HIDDEN_KEY, True)

    hide.clicked.connect(hide_for_good)
    # Not while a story runs: the narrator is the way on then.
    window.demo.started.connect(lambda _key: banner.hide())
    window.demo.left.connect(lambda: banner.setVisible(not window.prefs.get(BANNER_HIDDEN_KEY, False)))
    row.addWidget(text, 1)
    row.addWidget(start, 0, Qt.AlignmentFlag.AlignVCenter)
    row.addWidget(others, 0, Qt.AlignmentFlag.AlignVCenter)
    row.addWidget(hide, 0, Qt.AlignmentFlag.AlignVCenter)
    return banner
