"""The GUI's structure: the window asks tabs, the Open menu comes from the data registry, and the
training form's editors come from the config schema."""

from __future__ import annotations

import ast
import html
from pathlib import Path

import pytest

from app.widgets.data_panel import choice_title
from app.widgets.training_form import TrainingForm, empty_value
from ssl_core.config import RunConfig
from ssl_core.config_schema import SCHEMA

APP = Path(__file__).resolve().parents[2] / "app"
SIGNAL_METHODS = {"connect", "disconnect", "emit"}  # a tab's own signals are part of what it offers


def _chain(node: ast.AST) -> list[str]:
    """self.a.b.c -> ["self", "a", "b", "c"]; [] when the chain does not start at a name."""
    names = []
    while isinstance(node, ast.Attribute):
        names.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return []
    return [node.id, *reversed(names)]


def tab_reaches(source: str) -> list[str]:
    """Every `<...>.<x>_tab.<y>.<z>` in the code (self.setup_tab.data.summary, window.setup_tab.data.loaded):
    code outside a tab reaching past it into its widgets. A tab's own signals may be connected."""
    found = []
    for node in ast.walk(ast.parse(source)):
        chain = _chain(node)
        for i, name in enumerate(chain[1:-2], start=1):
            if name.endswith("_tab") and chain[i + 2] not in SIGNAL_METHODS:
                found.append(f"line {node.lineno}: {'.'.join(chain[: i + 3])}")
    return sorted(set(found))


def test_the_reach_check_finds_what_it_should():
    bad = "class W:\n    def f(self):\n        self.setup_tab.data.summary.setText('x')\n"
    ok = "class W:\n    def f(self):\n        self.setup_tab.data_loaded.connect(self.g)\n        self.train_tab.clear()\n"
    assert tab_reaches(bad) == ["line 3: self.setup_tab.data.summary"]
    assert tab_reaches("window.setup_tab.data.loaded.connect(f)") == ["line 1: window.setup_tab.data.loaded"]
    assert tab_reaches(ok) == []


def test_main_window_does_not_reach_into_tab_internals():
    reaches = tab_reaches((APP / "main_window.py").read_text(encoding="utf-8"))
    assert reaches == [], "ask the tab for it (a method, signal or property of the tab):\n" + "\n".join(
        reaches
    )


def test_no_other_app_module_reaches_into_tab_internals():
    reaches = [
        f"{path.relative_to(APP.parent)} {reach}"
        for path in sorted(APP.rglob("*.py"))
        for reach in tab_reaches(path.read_text(encoding="utf-8"))
    ]
    assert reaches == []


def test_run_files_are_named_by_the_run_store_only():
    """The app finds a run's files through ssl_core.runs.store.RunPaths, never by spelling their names."""
    spelled = []
    for path in sorted(APP.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and node.value in (
                "config.toml",
                "last.pt",
                "checkpoints",
                "metrics.jsonl",
                "summary.json",
            ):
                spelled.append(f"{path.relative_to(APP.parent)}:{node.lineno}: {node.value!r}")
    assert spelled == []


# ---- the Open menu -----------------------------------------------------------------------------
class FakeFileDialog:
    """Stands in for QFileDialog: records what was asked and answers with `answer`."""

    answer = ""
    asked: list[tuple[str, str]] = []

    @classmethod
    def getOpenFileName(cls, parent, title, start="", pattern=""):  # noqa: N802 - Qt API
        cls.asked.append(("file", pattern))
        return cls.answer, pattern

    @classmethod
    def getExistingDirectory(cls, parent, title, start=""):  # noqa: N802 - Qt API
        cls.asked.append(("folder", ""))
        return cls.answer


def _menu_entries(menu) -> dict[str, object]:
    """Text -> QAction of the menu and its submenus, keyed by "Title" or "Title/Item"."""
    out = {}
    for action in menu.actions():
        if action.isSeparator():
            continue
        out[action.text()] = action
        if action.menu() is not None:
            for sub in action.menu().actions():
                if not sub.isSeparator():
                    out[f"{action.text()}/{sub.text()}"] = sub
    return out


@pytest.fixture
def panel(qtbot, monkeypatch):
    from app.widgets import data_panel
    from app.workers import JobRunner

    FakeFileDialog.asked = []
    monkeypatch.setattr(data_panel, "QFileDialog", FakeFileDialog)
    runner = JobRunner()
    widget = data_panel.DataPanel(runner)
    qtbot.addWidget(widget)
    opened: list[str] = []
    monkeypatch.setattr(widget, "open_spec", lambda spec, force=False: opened.append(spec))
    widget.opened = opened
    return widget


def test_open_menu_waits_for_the_engine_then_lists_every_registered_kind(panel):
    from ssl_core.data import DATA_SOURCES

    entries = _menu_entries(panel.open_menu)
    assert (
        list(entries) == ["Loading the kinds of data…"]
        and not entries["Loading the kinds of data…"].isEnabled()
    )
    panel.engine_loaded()
    entries = _menu_entries(panel.open_menu)
    for _, kind in DATA_SOURCES.items():
        title = kind.title if not kind.browse or kind.choices else f"{kind.title}…"
        assert title in entries, (title, list(entries))
        assert entries[title].toolTip() == kind.description
        for name in kind.choices:  # the registry's name, or the readable words the panel gives it
            assert f"{kind.title}/{choice_title(kind, name)}" in entries
        assert kind.usage in panel.spec_box.toolTip()


def test_a_newly_registered_kind_appears_without_gui_edits(panel, monkeypatch):
    from ssl_core.data import DATA_SOURCES, SourceKind

    def opener(spec, argument, options):
        raise AssertionError("the menu only builds specs; opening is the panel's job")

    kinds = [
        SourceKind("waves", "Waves (built in)", "Bundled waves.", "waves", "", "", opener),
        SourceKind(
            "signals",
            "Signal files",
            "Series from files, or a bundled set.",
            "signals:GunPoint",
            "NAME|PATH",
            "file",
            opener,
            file_pattern="*.ts *.csv *.tsv",
            choices=("BasicMotions", "GunPoint"),
        ),
        SourceKind("scans", "Scan folder", "A folder of scans.", "scans:~/scans", "PATH", "folder", opener),
    ]
    panel.engine_loaded()
    for kind in kinds:  # registered after the menu was built, as a plug-in would be
        monkeypatch.setitem(DATA_SOURCES._entries, kind.scheme, kind)
    panel.open_menu.aboutToShow.emit()  # what opening the menu does
    entries = _menu_entries(panel.open_menu)
    assert "Waves (built in)" in entries and "Scan folder…" in entries
    assert "Signal files/BasicMotions" in entries and "Signal files/Open a file…" in entries

    entries["Waves (built in)"].trigger()  # takes no argument: opens at once
    entries["Signal files/GunPoint"].trigger()  # a bundled name
    FakeFileDialog.answer = "/data/motion.ts"
    entries["Signal files/Open a file…"].trigger()  # a file, with the kind's own patterns
    FakeFileDialog.answer = "/data/scans"
    entries["Scan folder…"].trigger()
    assert panel.opened == ["waves", "signals:GunPoint", "signals:/data/motion.ts", "scans:/data/scans"]
    assert FakeFileDialog.asked == [
        ("file", "Signal files (*.ts *.csv *.tsv);;All files (*)"),
        ("folder", ""),
    ]

    FakeFileDialog.answer = ""  # cancelled: nothing opens
    entries["Scan folder…"].trigger()
    assert len(panel.opened) == 4
    # the digits stay first, the kinds that open at once come before those that ask
    texts = [a.text() for a in panel.open_menu.actions() if not a.isSeparator()]
    assert texts.index("Waves (built in)") < texts.index("Image folder…")


def test_the_recent_specs_are_kept(panel):
    panel.set_recent(["npz:/a.npz", "", 5, "folder:/b"])
    assert panel.recent == ["npz:/a.npz", "folder:/b"]
    panel._remember("series:GunPoint")
    assert panel.recent[:3] == ["series:GunPoint", "npz:/a.npz", "folder:/b"] and "digits" in panel.recent
    assert [panel.spec_box.itemText(i) for i in range(panel.spec_box.count())] == panel.recent


def test_the_colours_box_offers_the_schemas_channels(panel):
    field = SCHEMA["data.channels"]
    box = panel.channels_box
    assert [box.itemData(i) for i in range(box.count())] == [None, *field.choices]
    assert [box.itemText(i) for i in range(box.count())] == [
        "Keep the source's colours",
        "Grayscale (1 channel)",
        "Colour (3 channels)",
    ]
    assert field.help in box.toolTip()


# ---- the training form -------------------------------------------------------------------------
@pytest.fixture
def form(qtbot):
    widget = TrainingForm()
    qtbot.addWidget(widget)
    return widget


def test_training_form_limits_equal_the_schema(form):
    assert set(form.editors) >= {
        "train.epochs",
        "train.batch_size",
        "train.lr",
        "data.image_size",
        "train.seed",
    }
    for key, editor in form.editors.items():
        field = SCHEMA[key]
        assert html.escape(field.help, quote=False) in editor.toolTip(), key
        if field.type not in (int, float) or field.choices:
            continue
        low = empty_value(field) if field.optional else field.low
        assert (editor.minimum(), editor.maximum()) == (low, field.high), key
        if field.optional:
            assert editor.specialValueText() == field.none_label, key
            editor.setValue(editor.minimum())
            assert form.value(key) is None, key
            editor.setValue(field.low)
            assert form.value(key) == field.low, key


def test_training_form_defaults_are_the_configs(form):
    cfg = RunConfig()
    form.apply_to(cfg)
    assert cfg == RunConfig()


def test_every_value_the_form_can_hold_passes_validate(form):
    for bound in ("minimum", "maximum"):
        for editor in form.editors.values():
            if hasattr(editor, bound):
                editor.setValue(getattr(editor, bound)())
        cfg = RunConfig()
        form.apply_to(cfg)
        cfg.validate(f"form at its {bound}")


def test_training_form_round_trips_a_config(form):
    cfg = RunConfig().with_overrides(
        [
            "train.epochs=7",
            "train.batch_size=64",
            "train.lr=0.003",
            "train.max_steps=500",
            "train.seed=42",
            "data.image_size=32",
            "data.val_fraction=0.35",
            "name='trial'",
        ]
    )
    form.load_from(cfg)
    assert form.epochs.value() == 7 and form.run_name.text() == "trial"
    again = RunConfig()
    form.apply_to(again)
    assert again == cfg


# ---- what tabs offer the window ----------------------------------------------------------------
def test_views_tab_set_busy_keeps_views_but_not_rebuilds(qtbot):
    from app.tabs.views_tab import ViewsTab
    from app.workers import JobRunner

    tab = ViewsTab(JobRunner())
    qtbot.addWidget(tab)
    tab.set_busy(True)
    assert tab.button.isEnabled()  # new augmented views are fine while training
    tab.set_kind("reconstruction")
    assert not tab.button.isEnabled()  # an untrained rebuild would mislead
    tab.set_busy(False)
    assert tab.button.isEnabled()
    tab.set_status("Choose a method first.")
    assert tab.status.text() == "Choose a method first."


def test_train_tab_shows_a_saved_run(qtbot):
    from PySide6.QtGui import QAction

    from app.tabs.train_tab import TrainTab

    actions = {key: QAction(key) for key in ("start", "pause", "resume", "stop")}
    tab = TrainTab(actions)
    qtbot.addWidget(tab)
    tab.show_saved_run(1234)
    assert tab.progress.value() == tab.progress.maximum()
    assert tab.progress.format() == "Saved run: 1,234 steps"
