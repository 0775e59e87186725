"""`ssl-workbench PATH`: a run folder opens the run, a .toml config loads, a data folder or file opens in
Setup, and anything else gets one line on stderr and a dialog naming the path while the app carries on."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from app.launch_target import CONFIG, DATA, MISSING, RUN, UNKNOWN, classify
from app.main import open_path
from ssl_core.config import RunConfig
from tests.app.conftest import launch_app

ROOT = Path(__file__).resolve().parents[2]


def _image_folder(root: Path, count: int = 8) -> Path:
    root.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i in range(count):
        Image.fromarray(rng.integers(0, 255, size=(12, 12, 3), dtype=np.uint8)).save(root / f"{i}.png")
    return root


def _open_data(qtbot, window, path: Path):
    panel = window.setup_tab.data
    with qtbot.waitSignal(panel.loading_changed, timeout=30_000, check_params_cb=lambda busy: not busy):
        target = open_path(window, path)
    return target, panel


def test_classify_names_each_kind(tmp_path, copied_run, monkeypatch):
    images = _image_folder(tmp_path / "pictures")
    config = tmp_path / "exp.toml"
    RunConfig().save(config)
    table = tmp_path / "rows.csv"
    table.write_text("a,b\n1,2\n")
    arrays = tmp_path / "x.npy"
    np.save(arrays, np.zeros((2, 3), dtype=np.float32))
    series = tmp_path / "walk.ts"
    series.write_text("@problemName walk\n")
    assert classify(copied_run).kind == RUN
    assert classify(config).kind == CONFIG
    assert (classify(images).kind, classify(images).spec) == (DATA, f"folder:{images}")
    assert classify(table).spec == f"csv:{table}"
    assert classify(arrays).spec == f"npy:{arrays}"
    assert classify(series).spec == f"series:{series}"
    assert classify(f"file://{table}").spec == f"csv:{table}"  # as some launchers pass it
    # Relative paths become absolute, so the spec still works whatever the app's folder later is.
    monkeypatch.chdir(tmp_path)
    assert classify("rows.csv").path == table and classify("rows.csv").spec == f"csv:{table}"

    missing = classify(tmp_path / "gone")
    assert missing.kind == MISSING and not missing.openable
    assert str(tmp_path / "gone") in missing.message and "does not exist" in missing.message
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    unknown = classify(text)
    assert unknown.kind == UNKNOWN and str(text) in unknown.message
    for what in ("run folder", ".toml", "folder of images", ".npz", ".csv"):
        assert what in unknown.message, unknown.message
    assert "\n" not in unknown.message
    one_image = classify(images / "0.png")
    assert one_image.kind == UNKNOWN and f"open the folder that holds them ({images})" in one_image.message


def test_a_run_folder_opens_the_run(qtbot, window, copied_run, dialog_log):
    target = open_path(window, copied_run)
    assert target.kind == RUN
    assert window.current_run == copied_run
    assert window.tabs.currentWidget() is window.train_tab
    assert copied_run.name in window.windowTitle()
    assert window.setup_tab.method.method() == "simclr"
    qtbot.waitUntil(lambda: not window.runner.running(), timeout=30_000)  # its curves were read
    assert dialog_log.shown == []


def test_a_config_file_loads_as_before(qtbot, window, tmp_path, dialog_log):
    cfg = RunConfig()
    cfg.method.name = "byol"
    cfg.train.epochs = 7
    path = tmp_path / "exp.toml"
    cfg.save(path)
    target = open_path(window, path)
    assert target.kind == CONFIG
    assert window.setup_tab.method.method() == "byol"
    assert window.setup_tab.training.epochs.value() == 7
    assert window.tabs.currentWidget() is window.setup_tab
    assert window.current_run is None
    assert dialog_log.shown == []


def test_a_folder_of_images_opens_in_setup(qtbot, window, tmp_path, dialog_log):
    images = _image_folder(tmp_path / "my pictures")
    window.tabs.setCurrentWidget(window.runs_tab)
    target, panel = _open_data(qtbot, window, images)
    assert target.kind == DATA
    assert panel.spec() == f"folder:{images}" and panel.info.size == 8
    assert window.tabs.currentWidget() is window.setup_tab
    assert dialog_log.shown == []


@pytest.mark.parametrize("suffix", [".npz", ".csv"])
def test_a_data_file_opens_in_setup(qtbot, window, tmp_path, dialog_log, suffix):
    path = tmp_path / f"data{suffix}"
    if suffix == ".npz":
        images = np.random.default_rng(1).integers(0, 255, size=(20, 8, 8), dtype=np.uint8)
        np.savez(path, images=images, labels=np.arange(20) % 2)
    else:
        path.write_text(
            "height,weight,kind\n" + "".join(f"{150 + i},{50 + i % 9},{i % 3}\n" for i in range(40))
        )
    target, panel = _open_data(qtbot, window, path)
    assert target.kind == DATA
    assert panel.spec() == target.spec == f"{suffix[1:]}:{path}"
    assert panel.info.size == (20 if suffix == ".npz" else 40)
    assert dialog_log.shown == []


@pytest.mark.parametrize("name", ["no-such-run", "notes.txt"])
def test_anything_else_is_one_line_and_a_dialog_and_the_app_goes_on(
    qtbot, window, tmp_path, dialog_log, capsys, name
):
    path = tmp_path / name
    if name.endswith(".txt"):
        path.write_text("not data")
    target = open_path(window, path)
    assert target.kind in (MISSING, UNKNOWN)
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("ssl-workbench: Cannot open ") and str(path) in err[0]
    qtbot.waitUntil(lambda: len(dialog_log.shown) == 1, timeout=5_000)
    kind, title, message, _ = dialog_log.shown[0]
    assert kind == "user" and title == "Cannot open this"
    assert str(path) in message and "run folder" in message and ".toml" in message
    # Nothing changed: the data loaded at start stays, and training can start.
    assert window.setup_tab.data.spec() == "digits" and window.current_run is None
    assert window.actions["start"].isEnabled()


def test_the_command_line_says_what_it_cannot_open_and_starts_anyway(tmp_path):
    missing = tmp_path / "elsewhere" / "run-1"
    result = launch_app(missing, tmp_path, tmp_path / "settings.ini", quit_after=1)
    assert result.returncode == 0, result.stderr[-3000:]
    lines = [line for line in result.stderr.splitlines() if line.startswith("ssl-workbench:")]
    assert len(lines) == 1 and f"Cannot open {missing}: it does not exist." in lines[0], result.stderr
    assert "Traceback" not in result.stderr
    assert (tmp_path / "settings.ini").is_file()  # the app started and saved its settings on quitting
