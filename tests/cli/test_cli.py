"""The CLI as a person uses it: clear one-line errors with exit code 2, tables, and runs."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ssl_core.cli.main import main
from ssl_core.runs.store import read_metrics, read_summary

TRAIN = ["train", "--backbone", "small_cnn", "--device", "cpu", "--set", "data.num_workers=0", "--quiet"]


def run_cli(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def assert_user_error(code, err, *needles):
    assert code == 2
    lines = [ln for ln in err.strip().splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    for needle in needles:
        assert needle in lines[0], lines[0]


def test_methods_table_and_json(capsys):
    code, out, _ = run_cli(capsys, "methods")
    assert code == 0
    for name in ("simclr", "moco", "byol", "simsiam", "barlow_twins", "vicreg"):
        assert name in out
    code, out, _ = run_cli(capsys, "methods", "--json")
    specs = json.loads(out)
    simclr = next(s for s in specs if s["name"] == "simclr")
    assert simclr["family"] == "contrastive" and simclr["params"] and simclr["description"]


def test_backbones_and_data(capsys):
    code, out, _ = run_cli(capsys, "backbones")
    assert code == 0 and "small_cnn" in out and "resnet18" in out
    code, out, _ = run_cli(capsys, "data", "digits", "--json")
    info = json.loads(out)
    assert code == 0 and info["size"] == 1797 and info["has_labels"]


def test_train_prints_run_dir_and_runs_lists_it(capsys, tmp_path):
    runs = tmp_path / "runs"
    code, out, err = run_cli(
        capsys,
        *TRAIN,
        "--data",
        "digits",
        "--method",
        "byol",
        "--epochs",
        "1",
        "--max-steps",
        "3",
        "--runs-dir",
        str(runs),
    )
    assert code == 0, err
    run_dir = Path(out.strip().splitlines()[-1])
    assert run_dir.parent == runs and (run_dir / "checkpoints" / "last.pt").is_file()
    code, out, _ = run_cli(capsys, "runs", "--runs-dir", str(runs))
    assert run_dir.name in out and "byol" in out and "completed" in out


@pytest.mark.parametrize(
    "make_args, needles",
    [
        (lambda p: ["--data", f"folder:{p / 'missing'}"], ["missing"]),
        (lambda p: ["--data", f"folder:{p / 'empty'}"], ["empty"]),
        (lambda p: ["--data", f"folder:{p / 'texts'}"], ["texts"]),
        (lambda p: ["--data", f"npz:{p / 'noimages.npz'}"], ["noimages.npz"]),
        (lambda p: ["--data", f"npz:{p / 'mismatch.npz'}"], ["mismatch.npz"]),
        (lambda p: ["--method", "simclrr"], ["Unknown method 'simclrr'", "simclr"]),
        (lambda p: ["--set", "temperature=50"], ["temperature", "out of range"]),
        (lambda p: ["--epochs", "0"], ["train.epochs", "out of range"]),
        (lambda p: ["--config", str(p / "nope.toml")], ["nope.toml"]),
    ],
    ids=[
        "missing-path",
        "empty-folder",
        "no-images",
        "npz-without-images",
        "label-mismatch",
        "unknown-method",
        "hyperparameter-range",
        "zero-epochs",
        "missing-config",
    ],
)
def test_bad_input_gives_one_line_and_exit_2(capsys, tmp_path, make_args, needles):
    (tmp_path / "empty").mkdir()
    (tmp_path / "texts").mkdir()
    (tmp_path / "texts" / "notes.txt").write_text("hello")
    np.savez(tmp_path / "noimages.npz", weights=np.zeros(3))
    np.savez(tmp_path / "mismatch.npz", images=np.zeros((10, 8, 8), np.uint8), labels=np.zeros(7, np.int64))
    code, _, err = run_cli(capsys, *TRAIN, "--runs-dir", str(tmp_path / "runs"), *make_args(tmp_path))
    assert_user_error(code, err, *needles)


def test_resume_of_a_missing_run(capsys, tmp_path):
    code, _, err = run_cli(capsys, "resume", str(tmp_path / "nope"))
    assert_user_error(code, err, "nope", "does not exist")


def test_corrupt_file_is_skipped_and_training_proceeds(capsys, tmp_path):
    folder = tmp_path / "imgs"
    rng = np.random.default_rng(0)
    for cls in ("a", "b"):
        (folder / cls).mkdir(parents=True)
        for i in range(12):
            Image.fromarray(rng.integers(0, 255, (12, 12, 3), dtype=np.uint8)).save(folder / cls / f"{i}.png")
    (folder / "a" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    code, out, err = run_cli(
        capsys,
        *TRAIN,
        "--data",
        f"folder:{folder}",
        "--method",
        "simclr",
        "--epochs",
        "1",
        "--batch-size",
        "8",
        "--runs-dir",
        str(tmp_path / "runs"),
    )
    assert code == 0, err
    assert "broken.png" in err
    run_dir = Path(out.strip().splitlines()[-1])
    assert read_summary(run_dir)["data_info"]["size"] == 24


def _cli(*args):
    return [sys.executable, "-m", "ssl_core", *args]


def test_sigkill_mid_epoch_leaves_a_resumable_run(tmp_path):
    runs = tmp_path / "runs"
    # Small batches make an epoch long enough to kill the process in the middle of one.
    args = _cli(
        *TRAIN,
        "--data",
        "digits",
        "--method",
        "simclr",
        "--epochs",
        "3",
        "--batch-size",
        "32",
        "--runs-dir",
        str(runs),
    )
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    deadline = time.time() + 120
    run_dir = None
    try:
        while time.time() < deadline:
            dirs = list(runs.glob("*")) if runs.exists() else []
            if dirs and (dirs[0] / "checkpoints" / "last.pt").exists():
                run_dir = dirs[0]
                steps_per_epoch = read_summary(run_dir)["steps_per_epoch"]
                if len(read_metrics(run_dir)) >= steps_per_epoch + 5:  # well into epoch 2
                    break
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(30)
    assert run_dir is not None, "no checkpoint appeared in time"
    from ssl_core.runs.store import list_runs, load_run

    assert list_runs(runs)[0].status == "interrupted"
    loaded = load_run(run_dir)  # loadable whatever happened to the process
    assert loaded.step == steps_per_epoch
    done = subprocess.run(
        _cli("resume", str(run_dir), "--quiet"), capture_output=True, text=True, env=env, timeout=300
    )
    assert done.returncode == 0, done.stderr
    total = 3 * steps_per_epoch
    assert [r["step"] for r in read_metrics(run_dir)] == list(range(1, total + 1))
    assert read_summary(run_dir)["status"] == "completed"
