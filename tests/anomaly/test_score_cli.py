"""`ssl-core score RUN --data SPEC` writes a CSV of scores and flags; data that does not fit the run is one
line and exit 2; `ssl-core eval RUN --anomaly` prints a table or JSON and its threshold is then the one
`score` flags with."""

import csv
import io
import json

import numpy as np
import pytest

from ssl_core.anomaly import load_result
from ssl_core.cli.main import main

from .conftest import injected_images, injected_series, train_on_normal

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def run_dir(image_file, tmp_path_factory):
    return train_on_normal(tmp_path_factory.mktemp("runs"), f"npz:{image_file}", "autoencoder", 2,
                           "method.backbone=small_cnn")  # fmt: skip


def cli(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def one_line(err: str) -> str:
    lines = [ln for ln in err.strip().splitlines() if ln.strip()]
    assert len(lines) == 1, err
    return lines[0]


def test_score_writes_a_csv_of_every_sample(run_dir, tmp_path, capsys):
    new = injected_images(tmp_path / "new.npz", normal=40, anomalies=10, seed=3)
    out_csv = tmp_path / "scores.csv"
    code, out, err = cli(capsys, "score", run_dir, "--data", f"npz:{new}", "--out", out_csv, "--quiet")
    assert code == 0, err
    with open(out_csv, newline="") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == ["index", "score", "flag"]  # no id column outside tables
    assert [int(r["index"]) for r in rows] == list(range(50))
    scores = np.array([float(r["score"]) for r in rows])
    assert np.isfinite(scores).all() and {r["flag"] for r in rows} <= {"0", "1"}
    # No evaluation saved yet: the default rule on the run's held-out scores.
    assert "Scored 50 samples" in err and "held-out scores" in err
    # Without --out the CSV goes to stdout.
    code, out, err = cli(capsys, "score", run_dir, "--data", f"npz:{new}")
    assert code == 0, err
    assert list(csv.DictReader(io.StringIO(out))) == rows


def test_data_that_does_not_fit_the_run_is_one_line_and_exit_2(run_dir, tmp_path, capsys):
    big = tmp_path / "big.npz"
    np.savez(big, images=np.zeros((5, 16, 16), np.uint8))
    code, out, err = cli(capsys, "score", run_dir, "--data", f"npz:{big}", "--out", tmp_path / "x.csv")
    line = one_line(err)
    assert code == 2 and "(1, 16, 16)" in line and "(1, 8, 8)" in line and out == ""
    assert not (tmp_path / "x.csv").exists()
    waves = injected_series(tmp_path / "waves.npz", normal=10, anomalies=2)
    code, out, err = cli(capsys, "score", run_dir, "--data", f"npz:{waves}")
    line = one_line(err)
    assert code == 2 and "series" in line and "images" in line
    code, out, err = cli(capsys, "score", run_dir, "--data", f"npz:{tmp_path / 'missing.npz'}")
    assert code == 2 and "missing.npz" in one_line(err)


def test_eval_anomaly_prints_a_table_and_json_and_score_uses_its_threshold(run_dir, tmp_path, capsys):
    code, out, err = cli(capsys, "eval", run_dir, "--anomaly", "--anomaly-rate", "0.1", "--seeds", "0", "1",
                         "--quiet")  # fmt: skip
    assert code == 0, err
    for word in ("ROC-AUC", "AP", "precision", "recall", "F1", "threshold", "IsolationForest", "LOF", "PCA",
                 "Autoencoder", "normal classes: 0", "anomalies (", "±"):  # fmt: skip
        assert word in out, word
    code, out, err = cli(capsys, "eval", run_dir, "--anomaly", "--json", "--threshold-rule", "percentile",
                         "--threshold-value", "90", "--seeds", "0", "--no-baselines")  # fmt: skip
    assert code == 0, err
    report = json.loads(out)
    assert report["threshold_rule"] == "percentile" and report["threshold_param"] == 90
    assert set(report["metrics"]) == {"autoencoder"} and report["n_test"] > 0
    assert 0.0 <= report["metrics"]["autoencoder"]["roc_auc"] <= 1.0
    saved = load_result(run_dir)
    assert saved.threshold == pytest.approx(report["threshold"])

    new = injected_images(tmp_path / "new.npz", normal=40, anomalies=10, seed=4)
    code, out, err = cli(capsys, "score", run_dir, "--data", f"npz:{new}")
    assert code == 0 and "anomaly evaluation (percentile 90)" in err
    rows = list(csv.DictReader(io.StringIO(out)))
    flags = [float(r["score"]) > saved.threshold for r in rows]
    assert [r["flag"] == "1" for r in rows] == flags


def test_bad_anomaly_flags_are_one_line_and_exit_2(run_dir, capsys):
    code, out, err = cli(capsys, "eval", run_dir, "--anomaly", "--threshold-rule", "value")
    assert code == 2 and "--threshold-value" in one_line(err)
    code, out, err = cli(capsys, "eval", run_dir, "--anomaly", "--anomaly-rate", "2")
    assert code == 2 and "anomaly rate" in one_line(err)


def test_unlabelled_data_gets_scores_and_a_threshold_but_no_metrics(tmp_path, capsys):
    from sklearn.datasets import load_digits

    from ssl_core.config import RunConfig
    from ssl_core.train.trainer import Trainer

    data = tmp_path / "plain.npz"
    np.savez(data, images=(load_digits().images[:200] * 255 / 16).astype(np.uint8))
    config = RunConfig().with_overrides(
        [f"data.spec='npz:{data}'", "method.name=autoencoder", "method.backbone=small_cnn",
         "train.epochs=1", "train.device=cpu", "data.num_workers=0", f"runs_dir={str(tmp_path / 'runs')!r}"]
    )  # fmt: skip
    run = Trainer(config).run().run_dir
    code, out, err = cli(capsys, "eval", run, "--anomaly", "--json", "--seeds", "0", "--no-baselines")
    assert code == 0, err
    report = json.loads(out)
    assert report["metrics"]["autoencoder"]["roc_auc"] is None and report["n_test"] == 20
    assert any("no labels" in note for note in report["notes"])
    assert load_result(run).is_anomaly is None
    code, out, err = cli(capsys, "eval", run, "--anomaly", "--anomaly-rate", "0.05")
    assert code == 2 and "no labels" in one_line(err)
