"""Config files with unknown keys, wrong types and impossible values, through RunConfig.load and the CLI.

A config is checked as a whole before any data is read or any run folder is made, so every case
here is refused without side effects, except "batch larger than the data" which runs with a warning.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ssl_core.config import RunConfig
from ssl_core.errors import UserError

GROUP = "Bad config files"
pytestmark = pytest.mark.timeout(60)

# Checked by RunConfig.load itself (schema, types, ranges, TOML syntax).
SCHEMA_CASES = [
    ("unknown-top-level-key", "epochs = 5\n", ["unknown key 'epochs'", "known keys are data, method, train"]),
    ("unknown-section", "[optimizer]\nlr = 0.1\n", ["unknown key 'optimizer'"]),
    ("typo-in-section-key", "[train]\nepoch = 5\n", ["unknown key 'epoch'", "epochs"]),
    ("string-for-int", '[train]\nepochs = "ten"\n', ["train.epochs must be int", "'ten'"]),
    ("string-for-bool", '[train]\namp = "yes"\n', ["train.amp must be bool"]),
    ("fraction-for-int", "[train]\nbatch_size = 32.5\n", ["train.batch_size must be int", "32.5"]),
    ("section-not-a-table", 'data = "digits"\n', ["[data] must be a table"]),
    ("params-not-a-table", '[method]\nparams = "fast"\n', ["method.params must be a table"]),
    ("list-for-name", 'name = ["a", "b"]\n', ["name must be a string"]),
    ("zero-batch", "[train]\nbatch_size = 0\n", ["train.batch_size = 0 is out of range", "use 2 to 65536"]),
    ("batch-of-one", "[train]\nbatch_size = 1\n", ["train.batch_size = 1 is out of range"]),
    (
        "negative-image-size",
        "[data]\nimage_size = -8\n",
        ["data.image_size = -8 is out of range", "4 to 1024"],
    ),
    ("tiny-image-size", "[data]\nimage_size = 2\n", ["data.image_size = 2 is out of range"]),
    ("zero-epochs", "[train]\nepochs = 0\n", ["train.epochs = 0 is out of range"]),
    ("negative-max-steps", "[train]\nmax_steps = -1\n", ["train.max_steps = -1 is out of range"]),
    ("zero-checkpoint-interval", "[train]\ncheckpoint_every_epochs = 0\n", ["checkpoint_every_epochs = 0"]),
    ("val-fraction-above-1", "[data]\nval_fraction = 1.5\n", ["data.val_fraction = 1.5 is out of range"]),
    ("zero-lr", "[train]\nlr = 0.0\n", ["train.lr = 0.0 is out of range"]),
    ("two-channels", "[data]\nchannels = 2\n", ["data.channels must be 1 (grayscale) or 3 (colour)"]),
    ("empty-data-spec", '[data]\nspec = ""\n', ["data.spec is empty"]),
    ("broken-toml", "[train\nepochs = 5\n", ["is not valid TOML", "line 1"]),
    ("duplicate-key", "[train]\nepochs = 1\nepochs = 2\n", ["is not valid TOML"]),
    ("not-utf8", b'name = "\xff\xfe"\n', ["is not valid TOML"]),
]


def write_config(path: Path, text: str | bytes) -> Path:
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("text, needles", [c[1:] for c in SCHEMA_CASES], ids=[c[0] for c in SCHEMA_CASES])
def test_bad_config_is_refused(case, tmp_path, cli, tiny_train, text, needles):
    shown = text.decode("latin-1") if isinstance(text, bytes) else text
    case.describe(
        f"config file: {shown.strip()!r}",
        f"RunConfig.load and `ssl-core train --config` refuse it naming the file: {'; '.join(needles)}",
    )
    path = write_config(tmp_path / "bad.toml", text)
    with pytest.raises(UserError) as info:
        RunConfig.load(path)
    message = str(info.value)
    assert str(path) in message and "\n" not in message, message
    for needle in needles:
        assert needle in message, message
    runs = tmp_path / "runs"
    line = cli.assert_refused(cli.run("train", *tiny_train, "--config", path, "--runs-dir", runs), *needles)
    assert not runs.exists()
    case.observe(line.replace(str(tmp_path), "TMP"))


# Valid TOML and schema, refused once the method, backbone, device or data are known (still before training).
BUILD_CASES = [
    (
        "unknown-method-setting",
        '[method]\nname = "simclr"\n[method.params]\ntempreature = 0.2\n',
        ["Unknown setting method.params(simclr).tempreature", "temperature"],
    ),
    (
        "method-setting-out-of-range",
        '[method]\nname = "simclr"\n[method.params]\ntemperature = 50.0\n',
        ["temperature", "out of range"],
    ),
    (
        "mae-patch-does-not-divide-image",
        '[data]\nimage_size = 10\n[method]\nname = "mae"\n[method.params]\npatch_size = 4\n',
        ["not divisible", "patch_size = 4", "10"],
    ),
    (
        "mae-prime-image-size",
        '[data]\nimage_size = 13\n[method]\nname = "mae"\n',
        ["13x13", "patches"],
    ),
    (
        "colorization-on-grayscale-digits",
        '[method]\nname = "colorization"\n',
        ["needs colour images", "digits"],
    ),
    ("unknown-method", '[method]\nname = "simclrr"\n', ["Unknown method 'simclrr'", "simclr"]),
    ("unknown-backbone", '[method]\nbackbone = "resnet9000"\n', ["Unknown backbone 'resnet9000'"]),
    ("missing-gpu", '[train]\ndevice = "cuda:99"\n', ["train.device", "CUDA"]),
    ("nonsense-device", '[train]\ndevice = "gpu please"\n', ["train.device", "not a device name"]),
    ("unknown-data-kind", '[data]\nspec = "s3://bucket/images"\n', ["Unknown data source 's3'"]),
]


@pytest.mark.parametrize("text, needles", [c[1:] for c in BUILD_CASES], ids=[c[0] for c in BUILD_CASES])
def test_config_refused_before_training(case, tmp_path, cli, text, needles):
    case.describe(f"config file: {text.strip()!r}", f"`ssl-core train --config` exit 2: {'; '.join(needles)}")
    runs = tmp_path / "runs"
    path = write_config(tmp_path / "c.toml", f'runs_dir = "{runs}"\n' + text)
    RunConfig.load(path)  # the file itself is valid
    # Only what keeps a mistaken run short is added to the config's own settings.
    result = cli.run("train", "--config", path, "--max-steps", "2", "--set", "data.num_workers=0", "--quiet")
    line = cli.assert_refused(result, *needles)
    assert not runs.exists() or not any(p.is_dir() for p in runs.iterdir())
    case.observe(line.replace(str(tmp_path), "TMP"))


def test_batch_larger_than_the_dataset_runs_with_a_warning(case, tmp_path, cli, tiny_train):
    case.describe(
        "train.batch_size = 4096 on an .npz of 40 images (32 after the validation split)",
        "runs with all 32 images as one batch; a warning says so; exit 0",
    )
    data = tmp_path / "small.npz"
    np.savez(data, images=np.random.default_rng(0).integers(0, 256, (40, 8, 8), dtype=np.uint8))
    config = write_config(
        tmp_path / "c.toml", f'[data]\nspec = "npz:{data}"\n[train]\nbatch_size = 4096\nepochs = 2\n'
    )
    result = cli.run("train", *tiny_train, "--config", config, "--runs-dir", tmp_path / "runs")
    assert result.code == 0, result.err
    warning = next(ln for ln in result.err_lines if ln.startswith("warning:"))
    assert "4096 is larger than the 32 training images; using 32" in warning
    case.observe(f"exit 0; {warning}")


def test_runs_dir_that_cannot_be_created(case, tmp_path, cli, tiny_train):
    case.describe(
        "runs_dir = a path below an existing file", "exit 2: runs_dir ... cannot be created; choose another"
    )
    blocker = tmp_path / "file.txt"
    blocker.write_text("I am a file")
    result = cli.run("train", *tiny_train, "--max-steps", "1", "--runs-dir", blocker / "runs")
    line = cli.assert_refused(result, "runs_dir", "cannot be created", "file.txt")
    case.observe(line.replace(str(tmp_path), "TMP"))


def test_config_path_problems(case, tmp_path, cli):
    case.describe(
        "--config pointing at a missing file, a folder and a named pipe",
        "each refused at once in one line naming the path (the pipe is not opened: no hang)",
    )
    import os

    (tmp_path / "folder.toml").mkdir()
    os.mkfifo(tmp_path / "pipe.toml")
    lines = []
    for name, needle in [
        ("missing.toml", "does not exist"),
        ("folder.toml", "is a folder"),
        ("pipe.toml", "not a regular file"),
    ]:
        lines.append(cli.assert_refused(cli.run("train", "--config", tmp_path / name), name, needle))
    case.observe(" | ".join(line.replace(str(tmp_path), "TMP") for line in lines))


def test_bad_set_overrides(case, cli):
    case.describe(
        "--set without '=', --set into a value (train.epochs.x=1), --set an unknown section",
        "each refused in one line saying how to write it",
    )
    lines = [
        cli.assert_refused(cli.run("train", "--set", "train.epochs"), "key=value"),
        cli.assert_refused(cli.run("train", "--set", "train.epochs.x=1"), "epochs is not a section"),
        cli.assert_refused(cli.run("train", "--set", "trian.epochs=1"), "unknown key 'trian'"),
    ]
    case.observe(" | ".join(lines))


def test_empty_config_means_defaults(case, tmp_path):
    case.describe("an empty config file", "loaded as the default settings (digits, SimCLR)")
    config = RunConfig.load(write_config(tmp_path / "empty.toml", ""))
    assert config == RunConfig()
    case.observe(f"defaults: data {config.data.spec}, method {config.method.name}")
