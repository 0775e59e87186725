"""Tables in Setup, offscreen: the inferred columns are listed and can be overridden (which opens the data
again with the override), training on normal rows only reaches the config, and bad table files are
refused in a dialog that names the file and the column."""

from __future__ import annotations

from tests.app.test_series_flow import _open


def _write(path, text: str):
    path.write_text(text)
    return path


def _column_rows(options) -> dict[str, str]:
    table = options.columns
    return {table.item(r, 0).text(): table.item(r, 1).text() for r in range(table.rowCount())}


def test_columns_are_listed_and_overrides_reopen_the_table(qtbot, window, dialog_log, tmp_path):
    path = _write(
        tmp_path / "machines.csv",
        "machine_id,temperature,zone,ok\n"
        + "".join(f"M{i:03d},{20 + i % 7},{i % 4},{'yes' if i % 9 else 'no'}\n" for i in range(60)),
    )
    info = _open(qtbot, window, f"csv:{path}")
    assert info.modality == "table"
    setup = window.setup_tab
    options = setup.data.table_options
    assert options.isVisible() or not window.isVisible()
    rows = _column_rows(options)
    assert rows["temperature"].startswith("numeric") and rows["zone"].startswith("numeric")
    assert rows["machine_id"].startswith("row id")

    # "zone" holds numbers but means a place: use it as categorical; the table opens again with it.
    use = options.columns.cellWidget(list(rows).index("zone"), 2)
    with qtbot.waitSignal(setup.data_info_loaded, timeout=60_000):
        use.setCurrentIndex(use.findData("categorical"))
    qtbot.waitUntil(lambda: not setup.data_loading, timeout=10_000)
    assert _column_rows(options)["zone"].startswith("categorical (4 categories")

    # Train on normal rows only: the config says so, and re-runs the same way from the CLI.
    options.train_on_box.setCurrentIndex(options.train_on_box.findData("normal"))
    cfg = setup.config(str(tmp_path / "runs"))
    assert cfg.data.spec == f"csv:{path}" and cfg.data.categorical == ["zone"]
    assert cfg.data.train_on == "normal" and cfg.data.normal_classes == []
    assert dialog_log.shown == [], dialog_log.shown


def test_bad_table_files_show_a_dialog_naming_the_file(qtbot, window, dialog_log, tmp_path):
    bad = {
        "empty.csv": ("", "empty.csv"),
        "header.csv": ("a,b,label\n", "header.csv"),
        "dup.csv": ("a,b,a\n1,2,3\n", "'a' appears twice"),
    }
    panel = window.setup_tab.data
    for name, (text, needle) in bad.items():
        path = _write(tmp_path / name, text)
        before = len(dialog_log.shown)
        with qtbot.waitSignal(panel.loading_changed, timeout=30_000, check_params_cb=lambda busy: not busy):
            panel.open_spec(f"csv:{path}")
        assert len(dialog_log.shown) == before + 1, name
        kind, _title, message, _ = dialog_log.shown[-1]
        assert kind == "user" and name in message and needle in message, (name, message)
        assert panel.spec() == "digits"
    # A label column the file does not have: the dialog names the column.
    good = _write(tmp_path / "good.csv", "a,b\n1,2\n3,4\n5,6\n")
    panel.table_options.set_options(type("D", (), {"label_column": "diagnosis"})())
    with qtbot.waitSignal(panel.loading_changed, timeout=30_000, check_params_cb=lambda busy: not busy):
        panel.open_spec(f"csv:{good}")
    assert "diagnosis" in dialog_log.shown[-1][2] and "good.csv" in dialog_log.shown[-1][2]
    assert window.actions["start"].isEnabled()
