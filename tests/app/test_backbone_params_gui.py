"""Setup's backbone settings: a form under the backbone box for a backbone that has settings (the table
MLPs), hidden otherwise, carried by the config snapshot and restored by load_config."""

from __future__ import annotations


def test_mlp_width_reaches_the_config_and_comes_back(qtbot, window):
    setup = window.setup_tab
    panel = setup.method
    panel.set_method("simclr")
    assert panel.backbone_settings.isHidden()  # digits: the small CNN has no settings
    assert setup.snapshot("runs").method.backbone_params == {}

    with qtbot.waitSignal(setup.data_info_loaded, timeout=60_000):
        setup.data.open_spec("table:wine")
    box = panel.backbone
    box.setCurrentIndex(box.findData("mlp"))
    assert not panel.backbone_settings.isHidden()
    width = panel.backbone_params.editor("width")
    assert width.value() == 256 and (width.minimum(), width.maximum()) == (16, 4096)
    with qtbot.waitSignal(setup.changed):
        width.setValue(64)
    cfg = setup.snapshot("runs")
    assert cfg.data.spec == "table:wine"
    assert cfg.method.backbone == "mlp" and cfg.method.backbone_params == {"width": 64}
    setup.config("runs")  # a valid run

    box.setCurrentIndex(box.findData("mlp_small"))  # its own settings, with its own defaults
    assert panel.backbone_params.editor("width").value() == 128
    assert setup.snapshot("runs").method.backbone_params == {}
    box.setCurrentIndex(box.findData("mlp"))  # edits are remembered per backbone
    assert setup.snapshot("runs").method.backbone_params == {"width": 64}


def test_a_loaded_config_shows_its_settings_once_its_table_is_open(qtbot, window):
    setup = window.setup_tab
    panel = setup.method
    cfg = setup.snapshot("runs")  # the digits
    cfg.data.spec = "table:wine"
    cfg.method.backbone = "auto"  # the MLP on a table
    cfg.method.backbone_params = {"width": 32, "depth": 1}
    with qtbot.waitSignal(setup.data_info_loaded, timeout=60_000):
        setup.load_config(cfg)
        assert setup.snapshot("runs").method.backbone_params == cfg.method.backbone_params  # meanwhile
    assert not panel.backbone_settings.isHidden()
    assert panel.backbone_params.editor("depth").value() == 1
    assert setup.config("runs").method.backbone_params == {"width": 32, "depth": 1}

    with qtbot.waitSignal(setup.data_info_loaded, timeout=60_000):
        setup.data.open_spec("digits")  # the small CNN: no settings, none in the config
    assert panel.backbone_settings.isHidden() and setup.config("runs").method.backbone_params == {}
