"""The config schema: one entry per setting, defaults from the dataclasses, and the checks of validate."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import fields

import numpy as np
import pytest

from ssl_core.config import DataConfig, MethodConfig, RunConfig, TrainConfig
from ssl_core.config_schema import SCHEMA, ConfigField, check_config, fields_of
from ssl_core.errors import UserError

SECTIONS = {"data": DataConfig, "method": MethodConfig, "train": TrainConfig}
NUMERIC = [f for f in SCHEMA.values() if f.type in (int, float)]


def _dataclass_keys() -> dict[str, object]:
    out = {}
    for section, cls in SECTIONS.items():
        for f in fields(cls):
            if section == "method" and f.name in ("params", "backbone_params"):  # their own ParamSets
                continue
            out[f"{section}.{f.name}"] = f
    for f in fields(RunConfig):
        if f.name not in SECTIONS:
            out[f.name] = f
    return out


def test_every_setting_has_exactly_one_schema_entry():
    assert set(SCHEMA) == set(_dataclass_keys())
    assert [f.key for f in fields_of("train")] == [k for k in SCHEMA if k.startswith("train.")]


@pytest.mark.parametrize("key", list(_dataclass_keys()))
def test_schema_type_and_optional_match_the_dataclass(key):
    annotation = str(_dataclass_keys()[key].type)
    entry = SCHEMA[key]
    assert annotation.split(" ")[0].split("|")[0].split("[")[0] == entry.type.__name__, annotation
    assert entry.optional == ("None" in annotation), annotation
    assert entry.help and entry.help.endswith("."), "every setting explains itself in a sentence"


def test_defaults_come_from_the_dataclasses_and_pass_their_own_checks():
    cfg = RunConfig()
    for entry in SCHEMA.values():
        assert entry.default == entry.value_of(cfg)
        entry.check(entry.default, "defaults")
    check_config(cfg, "defaults")
    assert SCHEMA["train.epochs"].default == TrainConfig().epochs == 10
    assert SCHEMA["method.backbone"].default == "auto"


def test_value_of_and_set_on_reach_sections_and_top_level():
    cfg = RunConfig()
    SCHEMA["train.epochs"].set_on(cfg, 3)
    SCHEMA["name"].set_on(cfg, "trial")
    assert cfg.train.epochs == 3 and cfg.name == "trial"
    assert SCHEMA["train.epochs"].value_of(cfg) == 3 and SCHEMA["name"].value_of(cfg) == "trial"
    assert SCHEMA["train.epochs"].section == "train" and SCHEMA["name"].section == ""


def _below(entry: ConfigField):
    return entry.low - 1 if entry.type is int else entry.low - max(1e-9, abs(entry.low) * 0.5)


@pytest.mark.parametrize("entry", [f for f in NUMERIC if f.low is not None], ids=lambda f: f.key)
def test_validate_refuses_values_below_the_schema_low(entry):
    cfg = RunConfig()
    value = _below(entry)
    entry.set_on(cfg, value)
    with pytest.raises(UserError) as info:
        cfg.validate("exp.toml")
    expected = f"exp.toml: {entry.key} = {value} is out of range; use {entry.range_text()}."
    assert str(info.value) == expected
    assert info.value.field == entry.key


@pytest.mark.parametrize("entry", [f for f in NUMERIC if f.high is not None], ids=lambda f: f.key)
def test_validate_accepts_the_bounds_and_refuses_above_the_high(entry):
    cfg = RunConfig()
    for bound in (entry.low, entry.high):
        value = entry.type(bound)
        if entry.choices and value not in entry.choices:
            continue
        entry.set_on(cfg, value)
        cfg.validate("bounds")
    entry.set_on(cfg, entry.type(entry.high) + 1)
    with pytest.raises(UserError, match=f"{entry.key} = .* is out of range; use {entry.low} to {entry.high}"):
        cfg.validate("bounds")


def test_range_messages_keep_their_wording():
    cfg = RunConfig()
    cfg.train.epochs = 0
    with pytest.raises(UserError) as info:
        cfg.validate("exp.toml")
    assert str(info.value) == "exp.toml: train.epochs = 0 is out of range; use 1 to 100000."
    cfg = RunConfig()
    cfg.train.batch_size = 1
    with pytest.raises(UserError, match="use 2 to 65536"):
        cfg.validate()
    cfg = RunConfig()
    cfg.data.image_size = 2
    with pytest.raises(UserError, match="data.image_size = 2 is out of range; use 4 to 1024"):
        cfg.validate()


@pytest.mark.parametrize(
    "key, bad, message",
    [
        ("data.channels", 2, "data.channels must be 1 (grayscale) or 3 (colour); got 2."),
        ("data.missing", "drop", "data.missing must be refuse or impute; got 'drop'."),
        ("data.modality", "video", "data.modality must be image, series, table, text or audio; got 'video'."),
        ("data.length", 1, "data.length = 1 is out of range; use 2 or more."),
    ],
)
def test_choices_and_open_ranges_are_checked(key, bad, message):
    cfg = RunConfig()
    SCHEMA[key].set_on(cfg, bad)
    with pytest.raises(UserError) as info:
        cfg.validate("c.toml")
    assert str(info.value) == f"c.toml: {message}"


def test_series_settings_are_accepted():
    cfg = RunConfig.from_dict(
        {"data": {"spec": "digits", "modality": "series", "length": 128, "missing": "impute"}}
    )
    assert (cfg.data.modality, cfg.data.length, cfg.data.missing) == ("series", 128, "impute")
    assert RunConfig.from_dict({"data": {"modality": "image"}}).data.modality == "image"


def test_settings_made_in_code_are_checked_too():
    cfg = RunConfig()
    cfg.train.grad_clip = None
    with pytest.raises(UserError, match="train.grad_clip needs a value"):
        cfg.validate()
    cfg = RunConfig()
    cfg.train.epochs = 2.5
    with pytest.raises(UserError, match="train.epochs must be a whole number; got 2.5"):
        cfg.validate()
    cfg = RunConfig()
    cfg.train.lr = np.float32(0.01)  # numpy numbers are numbers
    cfg.data.image_size = np.int64(32)
    cfg.validate()
    cfg.train.lr = float("nan")
    with pytest.raises(UserError, match="train.lr = nan is out of range"):
        cfg.validate()


def test_describe_says_help_range_and_default():
    text = SCHEMA["train.batch_size"].describe()
    assert SCHEMA["train.batch_size"].help in text
    assert "Range: 2 to 65536." in text and "Default: Method default." in text
    assert "Choices: 1 (grayscale) or 3 (colour)." in SCHEMA["data.channels"].describe()
    assert SCHEMA["train.epochs"].describe().endswith("Default: 10.")
    assert SCHEMA["train.lr"].to_dict()["log_scale"] is True


def test_the_schema_imports_neither_torch_nor_qt():
    code = (
        "import sys, ssl_core.config_schema, ssl_core.config\n"
        "print(sorted(m for m in ('torch', 'PySide6') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
