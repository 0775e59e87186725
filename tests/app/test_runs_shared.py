"""One runs folder for the GUI and the CLI; the Runs table tells runs apart by their few-label probe."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from app.main_window import APP_TITLE
from app.settings import Prefs
from app.tabs.runs_tab import ALL_LABELS_COLUMN, FEW_LABELS_COLUMN
from ssl_core.cli.main import main as cli
from ssl_core.config import RunConfig
from ssl_core.runs.location import RUNS_ENV
from ssl_core.runs.store import write_summary
from tests.app.conftest import close_window, tiny_training, train_and_wait

CLI_TRAIN = ["train", "--backbone", "small_cnn", "--device", "cpu", "--set", "data.num_workers=0", "--quiet"]


@pytest.fixture
def shared_dir(monkeypatch, tmp_path) -> Path:
    """The default runs folder (what neither side was told otherwise), private to this test."""
    path = tmp_path / "shared-runs"
    monkeypatch.setenv(RUNS_ENV, str(path))
    return path


def default_window(qtbot, settings_path):
    """The app as a new user starts it: no --runs-dir and no folder chosen before."""
    from app.main_window import MainWindow

    window = MainWindow(Prefs.open(settings_path), warm_umap=False, preview_interval_s=None)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitUntil(
        lambda: window.setup_tab.data.info is not None and not window.setup_tab.data.loading, timeout=30_000
    )
    return window


def run_ids(window) -> set[str]:
    return {window.runs_tab.table.item(i, 0).text() for i in range(window.runs_tab.table.rowCount())}


def test_a_cli_run_shows_in_the_runs_tab_and_a_gui_run_in_ssl_core_runs(
    qtbot, settings_path, shared_dir, dialog_log, capsys
):
    assert (
        cli([*CLI_TRAIN, "--data", "digits", "--method", "simclr", "--max-steps", "2"]) == 0
    )  # no --runs-dir
    cli_run = Path(capsys.readouterr().out.strip().splitlines()[-1])
    assert cli_run.parent == shared_dir

    window = default_window(qtbot, settings_path)
    assert window.runs_dir == shared_dir
    assert cli_run.name in run_ids(window)

    tiny_training(window, max_steps=2)
    train_and_wait(qtbot, window)
    gui_run = window.current_run
    assert gui_run is not None and gui_run.parent == shared_dir
    assert window.windowTitle() == f"{gui_run.name} — {APP_TITLE}"  # the app named once, and last:
    assert window.windowTitle().count(APP_TITLE) == 1  # Qt adds the display name to other titles
    close_window(qtbot, window)
    assert Prefs.open(settings_path).get("runs_dir") is None  # the default is not frozen into the settings

    assert cli(["runs"]) == 0
    out = capsys.readouterr().out
    assert gui_run.name in out and cli_run.name in out and str(shared_dir) in out
    assert cli(["runs", "--json"]) == 0
    assert {r["run_id"] for r in json.loads(capsys.readouterr().out)} == {gui_run.name, cli_run.name}


def test_a_chosen_runs_folder_is_remembered(qtbot, settings_path, shared_dir, dialog_log, tmp_path):
    window = default_window(qtbot, settings_path)
    assert window.windowTitle() == APP_TITLE
    mine = tmp_path / "my-runs"
    mine.mkdir()
    window.set_runs_dir(mine)
    assert window.runs_tab.runs_dir == mine
    close_window(qtbot, window)
    again = default_window(qtbot, settings_path)
    assert again.runs_dir == mine
    close_window(qtbot, again)


def fake_evaluated_run(root: Path, name: str, few: float | None, all_labels: float | None) -> Path:
    run = root / name
    run.mkdir(parents=True)
    cfg = RunConfig()
    cfg.runs_dir = str(root)
    cfg.save(run / "config.toml")
    write_summary(run, created=f"2026-01-01T00:00:0{len(list(root.iterdir()))}", status="completed")
    if all_labels is None:
        return run
    write_summary(run, probe_accuracy=all_labels)
    rows = [
        {"fraction": f, "labels_used": n, "runs": 1, "probe": {"mean": acc, "std": 0.0, "values": [acc]}}
        for f, n, acc in ((0.01, 14, few), (0.1, 143, (few + all_labels) / 2), (1.0, 1437, all_labels))
    ]
    report = {"features": {"pretrained": {"name": "pretrained", "label_efficiency": {"rows": rows}}}}
    (run / "eval").mkdir()
    (run / "eval" / "report.json").write_text(json.dumps(report), encoding="utf-8")
    return run


def test_the_runs_table_shows_and_sorts_the_few_label_probe(qtbot, tmp_path, capsys):
    from app.tabs.runs_tab import RunsTab
    from app.workers import JobRunner

    root = tmp_path / "runs"
    fake_evaluated_run(root, "a-weak", few=0.44, all_labels=0.986)
    fake_evaluated_run(root, "b-strong", few=0.77, all_labels=0.985)
    fake_evaluated_run(root, "c-not-evaluated", few=None, all_labels=None)
    tab = RunsTab(JobRunner())
    qtbot.addWidget(tab)
    tab.set_runs_dir(root)
    table = tab.table
    assert table.horizontalHeaderItem(FEW_LABELS_COLUMN).text() == "Probe, 1% labels"
    assert table.horizontalHeaderItem(ALL_LABELS_COLUMN).text() == "Probe, all labels"

    def cell(run: str, column: int):
        row = next(i for i in range(table.rowCount()) if table.item(i, 0).text() == run)
        return table.item(row, column)

    assert cell("b-strong", FEW_LABELS_COLUMN).text() == "77.0%"
    assert cell("b-strong", ALL_LABELS_COLUMN).text() == "98.5%"
    assert "14 labelled samples" in cell("b-strong", FEW_LABELS_COLUMN).toolTip()
    assert cell("c-not-evaluated", FEW_LABELS_COLUMN).text() == "–"

    table.sortItems(FEW_LABELS_COLUMN, Qt.SortOrder.DescendingOrder)
    assert [table.item(i, 0).text() for i in range(3)] == ["b-strong", "a-weak", "c-not-evaluated"]
    table.sortItems(ALL_LABELS_COLUMN, Qt.SortOrder.DescendingOrder)
    assert [table.item(i, 0).text() for i in range(3)] == ["a-weak", "b-strong", "c-not-evaluated"]

    assert cli(["runs", "--runs-dir", str(root)]) == 0  # the CLI lists both figures too
    out = capsys.readouterr().out
    assert "probe few labels" in out and "0.770 (1%)" in out and "0.985" in out


def test_the_old_stored_default_gives_way_to_the_shared_folder(qtbot, settings_path, shared_dir, dialog_log):
    from PySide6.QtCore import QStandardPaths

    base = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.AppDataLocation)
    legacy = Path(base) / "runs"  # what earlier versions saved on every close
    assert not any(legacy.glob("*/config.toml"))
    prefs = Prefs.open(settings_path)
    prefs.set("runs_dir", str(legacy))
    prefs.sync()
    window = default_window(qtbot, settings_path)
    assert window.runs_dir == shared_dir
    close_window(qtbot, window)


def test_the_runs_table_names_methods_and_data_as_people_read_them(qtbot, tmp_path):
    from app.tabs.runs_tab import COLUMNS, RunsTab
    from app.workers import JobRunner

    root = tmp_path / "runs"
    for name, method, spec in (
        ("r1", "simclr", "digits"),
        ("r2", "denoising_autoencoder", "series:BasicMotions"),
        ("r3", "vime", "csv:~/data/customers.csv"),
    ):
        run = root / name
        run.mkdir(parents=True)
        cfg = RunConfig()
        cfg.method.name, cfg.data.spec = method, spec
        cfg.save(run / "config.toml")
        write_summary(run, created=f"2026-01-01T00:00:0{name[-1]}", status="completed")
    tab = RunsTab(JobRunner())
    qtbot.addWidget(tab)
    tab.set_runs_dir(root)
    method_col, data_col = COLUMNS.index("Method"), COLUMNS.index("Data")
    shown = {
        tab.table.item(i, 0).text(): (tab.table.item(i, method_col), tab.table.item(i, data_col))
        for i in range(tab.table.rowCount())
    }
    assert shown["r1"][0].text() == "SimCLR" and shown["r1"][1].text() == "Handwritten digits"
    assert shown["r2"][0].text() == "Denoising autoencoder"
    assert shown["r2"][1].text() == "BasicMotions (time series)"
    assert shown["r3"][1].text() == "customers.csv (table)"
    # what the config and the CLI call them is one hover away
    assert "denoising_autoencoder" in shown["r2"][0].toolTip()
    assert "csv:~/data/customers.csv" in shown["r3"][1].toolTip()
    tab.resize(1000, 500)
    tab.show()
    qtbot.waitExposed(tab)
    fm = tab.table.fontMetrics()
    for column, text in ((method_col, "Denoising autoencoder"), (data_col, "BasicMotions (time series)")):
        assert tab.table.columnWidth(column) >= fm.horizontalAdvance(text), text  # whole, on one line
    assert not tab.table.wordWrap()
