"""Detection metrics by hand and against scikit-learn, threshold rules, the calibration/test split, kNN
distances and the saved result."""

import numpy as np
import pytest
from sklearn.metrics import (
    average_precision_score,
    f1_score,
    precision_recall_curve,
    precision_score,
    recall_score,
    roc_auc_score,
    roc_curve,
)

from ssl_core.anomaly import AnomalyResult, ThresholdRule, curves, knn_distances, threshold_metrics
from ssl_core.anomaly.metrics import detection_metrics, mean_std, ranking_metrics
from ssl_core.anomaly.result import load_result, save_result
from ssl_core.anomaly.split import calibration_split, heldout_pool, with_anomaly_rate
from ssl_core.anomaly.workflow import AnomalySettings, measure_split
from ssl_core.errors import UserError

# The classic example: ranked by score the labels read 1, 0, 1, 0.
SCORES = np.array([0.1, 0.4, 0.35, 0.8])
LABELS = np.array([False, False, True, True])


def test_ranking_metrics_by_hand_and_against_sklearn():
    got = ranking_metrics(SCORES, LABELS)
    # ROC-AUC: of the 4 (anomaly, normal) pairs, 3 rank the anomaly higher (0.35 < 0.4 does not).
    assert got["roc_auc"] == pytest.approx(0.75)
    # AP: recall steps of 1/2 at precision 1/1 (0.8) and 2/3 (0.35): 0.5 * 1 + 0.5 * 2/3.
    assert got["average_precision"] == pytest.approx(0.5 + 1 / 3)
    assert got["roc_auc"] == pytest.approx(roc_auc_score(LABELS, SCORES))
    assert got["average_precision"] == pytest.approx(average_precision_score(LABELS, SCORES))
    rng = np.random.default_rng(0)
    s, y = rng.normal(size=200), rng.random(200) < 0.1
    s[y] += 1.0
    got = ranking_metrics(s, y)
    assert got["roc_auc"] == pytest.approx(roc_auc_score(y, s))
    assert got["average_precision"] == pytest.approx(average_precision_score(y, s))


def test_threshold_metrics_by_hand_and_against_sklearn():
    got = threshold_metrics(SCORES, LABELS, 0.38)  # flags 0.4 (normal) and 0.8 (anomaly)
    assert (got["tp"], got["fp"], got["tn"], got["fn"]) == (1, 1, 1, 1)
    assert got["precision"] == got["recall"] == got["f1"] == pytest.approx(0.5)
    assert threshold_metrics(SCORES, LABELS, 0.4)["fp"] == 0  # strictly above the threshold
    rng = np.random.default_rng(1)
    s, y = rng.normal(size=300), rng.random(300) < 0.2
    s[y] += 1.5
    for t in (-1.0, 0.5, 1.2, 10.0):
        got, pred = threshold_metrics(s, y, t), s > t
        assert got["precision"] == pytest.approx(precision_score(y, pred, zero_division=0))
        assert got["recall"] == pytest.approx(recall_score(y, pred, zero_division=0))
        assert got["f1"] == pytest.approx(f1_score(y, pred, zero_division=0))
    nothing = threshold_metrics(SCORES, LABELS, 1.0)
    assert nothing["precision"] == nothing["recall"] == nothing["f1"] == 0.0


def test_one_class_has_no_ranking_metrics_and_curves_match_sklearn():
    assert ranking_metrics(SCORES, np.zeros(4, bool)) == {"roc_auc": None, "average_precision": None}
    got = curves(SCORES, LABELS)
    fpr, tpr, _ = roc_curve(LABELS, SCORES)
    precision, recall, _ = precision_recall_curve(LABELS, SCORES)
    np.testing.assert_allclose(got["roc"][0], fpr)
    np.testing.assert_allclose(got["roc"][1], tpr)
    np.testing.assert_allclose(got["pr"][0], recall)
    np.testing.assert_allclose(got["pr"][1], precision)
    assert len(curves(SCORES, np.ones(4, bool))["roc"][0]) == 0
    means, stds = mean_std([detection_metrics(SCORES, LABELS, 0.38), detection_metrics(SCORES, LABELS, 0.9)])
    assert means["threshold"] == pytest.approx(0.64) and stds["threshold"] == pytest.approx(0.26)
    assert means["f1"] == pytest.approx(0.25) and stds["roc_auc"] == 0.0


def test_threshold_rules_on_calibration_scores():
    calib = np.arange(1.0, 101.0)  # 1..100
    contamination = ThresholdRule.checked("contamination", 0.1)
    t = contamination.threshold(calib)
    assert t == pytest.approx(np.quantile(calib, 0.9)) and np.mean(calib > t) == pytest.approx(0.1)
    assert ThresholdRule.checked("percentile", 90).threshold(calib) == pytest.approx(t)
    assert ThresholdRule.checked("contamination").value == 0.05  # the default
    assert ThresholdRule.checked("contamination", None, anomaly_rate=0.02).value == 0.02  # the stated rate
    assert ThresholdRule.checked("percentile").value == 95.0
    fixed = ThresholdRule.checked("value", 80.5)
    assert fixed.threshold(calib) == 80.5
    # A baseline gets the share the value flags among the method's calibration scores (20 of 100).
    other = fixed.for_baseline(calib)
    assert other.rule == "contamination" and other.value == pytest.approx(0.2)
    assert np.mean(calib * 7 > other.threshold(calib * 7)) == pytest.approx(0.2)
    assert ThresholdRule.checked("percentile", 50).threshold(np.array([1.0, np.nan, 3.0])) == 2.0


@pytest.mark.parametrize(
    ("rule", "value", "field"),
    [
        ("median", None, "threshold_rule"),
        ("value", None, "threshold_value"),
        ("contamination", 1.5, "threshold_value"),
        ("percentile", 101, "threshold_value"),
    ],
)
def test_bad_threshold_rules_are_user_errors(rule, value, field):
    with pytest.raises(UserError) as info:
        ThresholdRule.checked(rule, value)
    assert info.value.field == field


def test_settings_refuse_bad_rates_fractions_seeds_and_k():
    for kwargs, field in [
        ({"anomaly_rate": 1.0}, "anomaly_rate"),
        ({"calib_fraction": 0.0}, "calib_fraction"),
        ({"seeds": []}, "seeds"),
        ({"k": 0}, "k"),
    ]:
        args = {"rule": "contamination", "value": None, "anomaly_rate": None, "seeds": [0], "calib_fraction": 0.5,
                "k": 5} | kwargs  # fmt: skip
        with pytest.raises(UserError) as info:
            AnomalySettings.checked(**args)
        assert info.value.field == field


def test_calibration_and_test_parts_partition_the_held_out_samples_stratified_and_seeded():
    n = 1000
    is_anomaly = np.zeros(n, bool)
    is_anomaly[::10] = True  # 100 anomalies
    train = np.arange(0, 600)
    pool = heldout_pool(n, train)
    assert np.array_equal(pool, np.arange(600, 1000))
    calib, test = calibration_split(pool, is_anomaly, 0.5, seed=3)
    assert len(np.intersect1d(calib, test)) == 0
    assert np.array_equal(np.sort(np.concatenate([calib, test])), pool)
    assert is_anomaly[calib].sum() == is_anomaly[test].sum() == 20  # 40 held-out anomalies, split evenly
    again = calibration_split(pool, is_anomaly, 0.5, seed=3)
    assert np.array_equal(again[0], calib) and np.array_equal(again[1], test)
    assert not np.array_equal(calibration_split(pool, is_anomaly, 0.5, seed=4)[0], calib)
    # Rare anomalies: 5% of the part, drawn from its own anomalies; normal samples all stay.
    rare = with_anomaly_rate(test, is_anomaly, 0.05, np.random.default_rng(0))
    assert set(rare) <= set(test) and (~is_anomaly[rare]).sum() == (~is_anomaly[test]).sum()
    assert is_anomaly[rare].sum() == round(0.05 * 180 / 0.95) == 9
    # A rate above the part's own keeps every anomaly.
    assert np.array_equal(with_anomaly_rate(test, is_anomaly, 0.5, np.random.default_rng(0)), test)


def test_thresholds_come_from_calibration_scores_and_metrics_from_test_scores():
    rng = np.random.default_rng(0)
    n = 400
    is_anomaly = rng.random(n) < 0.2
    scores = rng.normal(size=n) + 2.0 * is_anomaly
    baseline = -scores  # an inverted detector, on its own scale
    pool = np.arange(100, n)
    settings = AnomalySettings.checked("contamination", 0.2, None, [7], 0.5, 5)
    out = measure_split(7, pool, is_anomaly, {"m": scores, "B": baseline}, "m", settings)
    calib, test = out["calib_idx"], out["test_idx"]
    assert len(np.intersect1d(calib, test)) == 0 and len(calib) + len(test) == len(pool)
    row = out["metrics"]["m"]
    assert row["threshold"] == pytest.approx(np.quantile(scores[calib], 0.8))
    assert row == detection_metrics(scores[test], is_anomaly[test], row["threshold"])
    assert out["metrics"]["B"]["threshold"] == pytest.approx(np.quantile(baseline[calib], 0.8))
    assert out["metrics"]["B"]["roc_auc"] < 0.5 < row["roc_auc"]
    # Test scores do not move the threshold; calibration scores do not move the metrics' ranking.
    shifted = scores.copy()
    shifted[test] += 100.0
    moved = measure_split(7, pool, is_anomaly, {"m": shifted}, "m", settings)["metrics"]["m"]
    assert moved["threshold"] == pytest.approx(row["threshold"]) and moved["recall"] == 1.0
    # Labels never set a threshold: unlabelled data gets the same one on the same (unstratified) part.
    plain = measure_split(7, pool, None, {"m": scores}, "m", settings)
    assert plain["metrics"]["m"]["threshold"] == pytest.approx(np.quantile(scores[plain["calib_idx"]], 0.8))
    assert "roc_auc" not in plain["metrics"]["m"]


def test_knn_distances_by_hand_skip_the_sample_itself():
    reference = np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]], np.float32)
    queries = np.array([[2.0, 0.0], [0.0, -3.0]], np.float32)  # lengths do not matter (L2-normalised)
    got = knn_distances(reference, queries, k=2)
    # (1,0): neighbours at distance 0 and sqrt(2); (0,-1): sqrt(2) and sqrt(2).
    np.testing.assert_allclose(got, [np.sqrt(2) / 2, np.sqrt(2)], rtol=1e-5)
    own = knn_distances(reference, reference, k=1, self_index=np.array([0, 1, 2]))
    np.testing.assert_allclose(own, [np.sqrt(2)] * 3, rtol=1e-5)


def test_result_round_trips_through_dicts_and_files(tmp_path):
    rng = np.random.default_rng(0)
    n = 12
    result = AnomalyResult(
        run_dir=str(tmp_path), method="autoencoder", method_title="Autoencoder",
        score_kind="reconstruction error", checkpoint_key="abc", scores=rng.random(n).astype(np.float32),
        is_anomaly=rng.random(n) < 0.3, train_idx=np.arange(6), calib_idx=np.array([6, 8, 10]),
        test_idx=np.array([7, 9, 11]), threshold=0.5, threshold_rule="contamination", threshold_param=0.05,
        baselines={"IsolationForest": rng.random(n).astype(np.float32), "PCA": rng.random(n).astype(np.float32)},
        metrics={"autoencoder": {"roc_auc": 0.9, "average_precision": None, "precision": 1.0, "recall": 0.5,
                                 "f1": 2 / 3, "threshold": 0.5}},
        seeds=[0], normal_classes=["0"], class_names=["0", "1"], anomaly_rate=0.05,
    )  # fmt: skip
    back = AnomalyResult.from_dict(result.to_dict())
    _same(back, result)
    path = save_result(result)
    assert path.name == "anomaly.json" and path.parent.name == "eval"
    loaded = load_result(tmp_path)
    _same(loaded, result)
    assert list(loaded.baselines) == ["IsolationForest", "PCA"]
    assert np.array_equal(loaded.flags, result.scores > 0.5)
    (tmp_path / "eval" / "anomaly_arrays.npz").write_bytes(b"damaged")
    assert load_result(tmp_path) is None


def _same(a: AnomalyResult, b: AnomalyResult) -> None:
    for name in ("scores", "is_anomaly", "train_idx", "calib_idx", "test_idx"):
        assert np.array_equal(getattr(a, name), getattr(b, name)), name
        assert getattr(a, name).dtype == getattr(b, name).dtype, name
    assert a.baselines.keys() == b.baselines.keys()
    assert all(np.array_equal(a.baselines[k], b.baselines[k]) for k in a.baselines)
    assert a.to_dict(arrays=False) == b.to_dict(arrays=False)
