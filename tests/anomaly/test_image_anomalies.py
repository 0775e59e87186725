"""Anomaly detection on images: runs trained on normal digits score injected anomalies (a bright 3x3
square, or pure noise) above held-out normal digits, and the evaluation compares them with IsolationForest,
LOF and PCA in the same run.

Margins (2-core CPU): the autoencoder (12 epochs) reaches ROC-AUC ~0.89-0.90 over all held-out samples and
~0.77-0.81 on squares alone (noise ~1.0); SimCLR (3 epochs, kNN distance) ~0.89-0.96. The tests ask for
0.8 (0.7 for squares), well above chance (0.5).
"""

import threading

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from ssl_core.anomaly import BASELINES, evaluate_anomalies, format_anomaly_report, load_result
from ssl_core.progress import Cancelled

from .conftest import kind_of, train_on_normal

pytestmark = pytest.mark.usefixtures("one_torch_thread")
NORMAL = 600


@pytest.fixture(scope="module")
def autoencoder_run(image_file, tmp_path_factory):
    return train_on_normal(tmp_path_factory.mktemp("runs"), f"npz:{image_file}", "autoencoder", 12,
                           "method.backbone=small_cnn")  # fmt: skip


@pytest.fixture(scope="module")
def simclr_run(image_file, tmp_path_factory):
    return train_on_normal(tmp_path_factory.mktemp("runs"), f"npz:{image_file}", "simclr", 3,
                           "method.backbone=small_cnn")  # fmt: skip


def pool_auc(result, kinds=("odd", "even")) -> float:
    """ROC-AUC over every held-out sample (calibration and test), anomalies restricted to `kinds`."""
    pool = np.concatenate([result.calib_idx, result.test_idx])
    pool = [i for i in pool if kind_of(i, NORMAL) in ("normal", *kinds)]
    return roc_auc_score(result.is_anomaly[pool], result.scores[pool])


def test_autoencoder_scores_injected_anomalies_higher(autoencoder_run):
    seen = []
    result = evaluate_anomalies(autoencoder_run, progress=lambda f, m: seen.append(f))
    assert result.score_kind == "reconstruction error" and result.samples == "images"
    assert result.normal_classes == ["0"] and result.threshold_rule == "contamination"
    assert pool_auc(result) > 0.8
    assert pool_auc(result, ("odd",)) > 0.7  # bright squares
    assert pool_auc(result, ("even",)) > 0.9  # noise
    assert result.metrics["autoencoder"]["roc_auc"] > 0.75  # the test part, mean over three splits
    # Trained on normal digits only; all 80 anomalies (never trained on) are in the held-out pool.
    assert not result.is_anomaly[result.train_idx].any()
    assert result.is_anomaly[np.concatenate([result.calib_idx, result.test_idx])].sum() == 80
    assert list(result.baselines) == list(BASELINES) and set(result.metrics) == {"autoencoder", *BASELINES}
    for name, row in result.metrics.items():
        assert set(row) == {"roc_auc", "average_precision", "precision", "recall", "f1", "threshold"}, name
        assert 0.5 < row["roc_auc"] <= 1.0, name  # the raw-pixel baselines find these too
    assert seen == sorted(seen) and seen[-1] == 1.0
    text = format_anomaly_report(result)
    for word in ("Autoencoder", "IsolationForest", "LOF", "PCA", "ROC-AUC", "normal classes: 0"):
        assert word in text
    saved = load_result(autoencoder_run)
    assert np.array_equal(saved.scores, result.scores) and saved.metrics == result.metrics


def test_rare_anomalies_are_deterministic(autoencoder_run):
    first = evaluate_anomalies(autoencoder_run, anomaly_rate=0.05, seeds=(0, 1))
    again = evaluate_anomalies(autoencoder_run, anomaly_rate=0.05, seeds=(0, 1))
    assert first.metrics == again.metrics and first.metrics_std == again.metrics_std
    for repeat in first.repeats:
        share = repeat["n_test_anomalies"] / repeat["n_test"]
        assert share == pytest.approx(0.05, abs=0.01)
        assert repeat["n_calib_anomalies"] / repeat["n_calib"] == pytest.approx(0.05, abs=0.01)
    assert first.threshold_param == 0.05  # contamination defaults to the stated anomaly rate
    assert np.array_equal(first.scores, again.scores)


def test_joint_embedding_run_scores_by_knn_distance(simclr_run):
    result = evaluate_anomalies(simclr_run, rule="percentile", value=90, baselines=False)
    assert result.score_kind == "kNN distance" and result.k == 5 and result.baselines == {}
    assert pool_auc(result) > 0.8
    assert result.metrics["simclr"]["roc_auc"] > 0.8
    held_out = np.concatenate([result.calib_idx, result.test_idx])
    # A training sample is not its own neighbour, so training scores are not all zero.
    assert result.scores[result.train_idx].min() > 0 and np.isfinite(result.scores).all()
    assert np.mean(result.scores[result.calib_idx] > result.threshold) == pytest.approx(0.1, abs=0.02)
    assert len(held_out) == len(set(held_out.tolist()))


def test_cancelling_stops_the_evaluation(simclr_run):
    cancel = threading.Event()

    def progress(fraction, message):
        if fraction > 0.05:
            cancel.set()

    with pytest.raises(Cancelled):
        evaluate_anomalies(simclr_run, progress=progress, cancel=cancel)
