"""Tables end to end, as a person uses them: a messy CSV trains from the CLI and its run reloads and
scores, and every bundled table trains with the autoencoder, VIME, SCARF and a joint-embedding method."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from ssl_core.cli.main import main
from ssl_core.config import RunConfig
from ssl_core.runs.store import read_metrics
from ssl_core.train.trainer import Trainer

pytestmark = pytest.mark.usefixtures("one_torch_thread")
TRAIN = ["train", "--device", "cpu", "--set", "data.num_workers=0", "--quiet"]


def mixed_csv(path, rows: int = 240, seed: int = 0):
    """Numeric, categorical, boolean, missing values, an id column and a label, as exported spreadsheets are."""
    rng = np.random.default_rng(seed)
    with open(path, "w", newline="") as f:
        out = csv.writer(f)
        out.writerow(["customer_id", "age", "income", "city", "member", "visits", "segment"])
        for i in range(rows):
            segment = "a" if i % 3 else "b"
            age = rng.normal(40 if segment == "a" else 60, 5)
            income = "" if i % 11 == 0 else f"{rng.normal(50_000, 9_000):.2f}"
            city = ["Paris", "Lyon", "Nice", "Lille"][int(rng.integers(0, 4))] if i % 13 else ""
            member = "yes" if rng.random() < 0.4 else "no"
            visits = int(rng.poisson(3 if segment == "a" else 9))
            out.writerow([f"C{i:05d}", f"{age:.1f}", income, city, member, visits, segment])
    return path


def run_cli(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_a_messy_csv_trains_from_the_cli_and_its_run_scores_new_rows(capsys, tmp_path):
    data = mixed_csv(tmp_path / "customers.csv")
    runs = tmp_path / "runs"
    code, out, err = run_cli(
        capsys,
        *TRAIN,
        "--data",
        f"csv:{data}",
        "--method",
        "autoencoder",
        "--set",
        "train.epochs=4",
        "--set",
        "data.label_column=segment",
        "--runs-dir",
        str(runs),
    )
    assert code == 0, err
    run_dir = out.strip().splitlines()[-1]
    losses = [m["loss"] for m in read_metrics(run_dir) if "loss" in m]
    assert losses and np.mean(losses[-3:]) < np.mean(losses[:3])

    code, out, err = run_cli(capsys, "data", f"csv:{data}", "--json")
    assert code == 0, err
    schema = json.loads(out)["extra"]["table"]
    kinds = {c["name"]: c["kind"] for c in schema["columns"]}
    assert kinds["age"] == "numeric" and kinds["city"] == "categorical" and kinds["member"] == "boolean"
    assert "customer_id" not in kinds and schema["id_column"] == "customer_id"

    fresh = mixed_csv(tmp_path / "new_customers.csv", rows=30, seed=5)
    scores = tmp_path / "scores.csv"
    code, out, err = run_cli(capsys, "score", run_dir, "--data", f"csv:{fresh}", "--out", str(scores))
    assert code == 0, err
    with open(scores, newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 30 and rows[0]["customer_id"] == "C00000"
    assert all(np.isfinite(float(r["score"])) for r in rows)

    # The same file without a column the run was trained on: one line naming the column, exit 2.
    with open(fresh, newline="") as f:
        table = list(csv.reader(f))
    broken = tmp_path / "no_income.csv"
    with open(broken, "w", newline="") as f:
        csv.writer(f).writerows([row[:2] + row[3:] for row in table])
    code, out, err = run_cli(capsys, "score", run_dir, "--data", f"csv:{broken}", "--out", str(scores))
    lines = [ln for ln in err.strip().splitlines() if ln.strip()]
    assert code == 2 and len(lines) == 1 and "income" in lines[0], err


@pytest.mark.parametrize(
    ("table", "method"),
    [
        ("wine", "autoencoder"),
        ("breast_cancer", "vime"),
        ("wine", "scarf"),
        ("breast_cancer", "simclr"),
        ("shuttle", "denoising_autoencoder"),
    ],
)
def test_bundled_tables_train_and_the_loss_falls(tmp_path, table, method):
    cfg = RunConfig().with_overrides(
        [
            f"data.spec='table:{table}'",
            f"method.name={method}",
            "train.device=cpu",
            "data.num_workers=0",
            "train.max_steps=60",
            "train.batch_size=64",
            f"runs_dir={str(tmp_path / 'runs')!r}",
        ]
    )
    result = Trainer(cfg).run()
    assert result.status == "completed", result.message
    losses = [m["loss"] for m in read_metrics(result.run_dir) if "loss" in m]
    assert len(losses) >= 10 and np.all(np.isfinite(losses))
    assert np.mean(losses[-5:]) < np.mean(losses[:5]), losses


def test_an_npz_array_is_read_as_table_rows_when_asked(capsys, tmp_path):
    rng = np.random.default_rng(1)
    path = tmp_path / "readings.npz"
    np.savez(path, x=rng.normal(size=(200, 6)).astype(np.float32), y=rng.integers(0, 2, 200))
    code, out, err = run_cli(capsys, "data", f"npz:{path}", "--modality", "table", "--json")
    assert code == 0, err
    info = json.loads(out)
    assert info["modality"] == "table" and info["sample_shape"] == [6] and info["size"] == 200
    code, out, err = run_cli(
        capsys,
        *TRAIN,
        "--data",
        f"npz:{path}",
        "--modality",
        "table",
        "--method",
        "autoencoder",
        "--set",
        "train.epochs=2",
        "--runs-dir",
        str(tmp_path / "runs"),
    )
    assert code == 0, err
