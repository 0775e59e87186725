"""Backbone settings (`method.backbone_params`): the MLPs' width, depth and dropout with ranges and help,
their checks, the config round trip, the CLI listing, and a run with a narrow MLP that reloads."""

from __future__ import annotations

import json

import pytest

from ssl_core.cli.main import main
from ssl_core.config import RunConfig
from ssl_core.errors import UserError
from ssl_core.models.backbones import BACKBONES, build_backbone
from tests.modalities.test_table_modality import F, table_info

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_mlps_have_width_depth_dropout_with_ranges_and_the_rest_none():
    for name, width, depth in (("mlp", 256, 3), ("mlp_small", 128, 2)):
        spec = BACKBONES.get(name)
        by_name = {p.name: p for p in spec.params}
        assert list(by_name) == ["width", "depth", "dropout"]
        assert spec.params.defaults() == {"width": width, "depth": depth, "dropout": 0.1}
        assert (by_name["width"].low, by_name["width"].high) == (16, 4096)
        assert (by_name["depth"].low, by_name["depth"].high) == (1, 8)
        assert (by_name["dropout"].low, by_name["dropout"].high) == (0.0, 0.9)
        assert all(p.help.endswith(".") for p in spec.params)
        assert [p["name"] for p in spec.to_dict()["params"]] == ["width", "depth", "dropout"]
    for name in ("small_cnn", "resnet18", "cnn1d"):
        assert BACKBONES.get(name).params.names() == [] and BACKBONES.get(name).to_dict()["params"] == []


def test_build_backbone_passes_the_settings_to_the_network():
    info = table_info(10)
    net = build_backbone("mlp", F, F, modality="table", info=info, params={"width": 64, "depth": 1}).net
    assert (net.width, net.depth, net.dropout, net.feature_dim) == (64, 1, 0.1, 64)
    small = build_backbone("mlp_small", F, F, modality="table", info=info, params={"dropout": 0.0}).net
    assert (small.width, small.depth, small.dropout) == (128, 2, 0.0)  # its own defaults stay
    assert build_backbone("mlp", F, F, modality="table", info=info, params={}).feature_dim == 256


@pytest.mark.parametrize(
    ("name", "params", "needles"),
    [
        ("mlp", {"width": 8}, ["method.backbone_params.width", "16 to 4096"]),
        ("mlp", {"depth": 9}, ["method.backbone_params.depth", "1 to 8"]),
        ("mlp", {"dropout": 0.95}, ["method.backbone_params.dropout", "0.0 to 0.9"]),
        ("mlp", {"depth": 2.5}, ["method.backbone_params.depth", "int"]),
        ("mlp", {"heads": 4}, ["method.backbone_params.heads", "width, depth, dropout"]),
        ("small_cnn", {"width": 64}, ["small_cnn backbone takes no settings", "width", "mlp"]),
    ],
)
def test_bad_settings_are_user_errors_naming_the_field(name, params, needles):
    modality, info = ("table", table_info(10)) if name == "mlp" else ("image", None)
    with pytest.raises(UserError) as caught:
        build_backbone(name, 1 if info is None else F, 8, modality=modality, info=info, params=params)
    message = str(caught.value)
    assert all(n in message for n in needles), message
    assert caught.value.field.startswith("method.backbone_params")


def test_config_round_trips_through_toml_and_set(tmp_path):
    cfg = RunConfig().with_overrides(["method.backbone=mlp", "method.backbone_params.width=512"])
    assert cfg.method.backbone_params == {"width": 512}
    path = tmp_path / "run.toml"
    cfg.save(path)
    assert "[method.backbone_params]" in path.read_text()
    again = RunConfig.load(path)
    assert again.method.backbone_params == {"width": 512} and again.to_dict() == cfg.to_dict()
    assert RunConfig().method.backbone_params == {}
    with pytest.raises(UserError, match="method.backbone_params must be a table"):
        RunConfig.from_dict({"method": {"backbone_params": 3}})


def test_cli_lists_the_settings(capsys):
    assert main(["backbones"]) == 0
    out = capsys.readouterr().out
    assert "method.backbone_params" in out and "16 to 4096" in out and "dropout" in out
    assert main(["backbones", "--json"]) == 0
    specs = {s["name"]: s for s in json.loads(capsys.readouterr().out)}
    assert {p["name"]: p["default"] for p in specs["mlp_small"]["params"]}["width"] == 128
    assert specs["small_cnn"]["params"] == []


def test_a_run_with_a_narrow_mlp_reloads_and_evaluates(tmp_path):
    from ssl_core.eval.evaluate import evaluate_run
    from ssl_core.runs.store import load_run
    from ssl_core.train.builder import build_components
    from ssl_core.train.trainer import Trainer

    cfg = RunConfig.from_dict(
        {
            "data": {"spec": "table:wine", "num_workers": 0},
            "method": {"name": "scarf", "backbone": "auto", "backbone_params": {"width": 64, "depth": 2}},
            "train": {"epochs": 1, "max_steps": 2, "batch_size": 32, "device": "cpu"},
            "runs_dir": str(tmp_path),
        }
    )
    result = Trainer(cfg).run()
    assert result.status == "completed", result
    run = load_run(result.run_dir)
    assert run.config.method.backbone_params == {"width": 64, "depth": 2}
    assert run.method.backbone.name == "mlp" and run.method.backbone.feature_dim == 64
    report = evaluate_run(result.run_dir, fractions=(1.0,), seeds=(0,), include_baselines=False).to_dict()
    assert report["backbone"] == "mlp" and report["features"]["pretrained"]["dim"] == 64

    bad = RunConfig.from_dict({**cfg.to_dict(), "method": {"name": "scarf", "backbone_params": {"width": 1}}})
    with pytest.raises(UserError, match="method.backbone_params.width"):
        build_components(bad, source=run.source)
