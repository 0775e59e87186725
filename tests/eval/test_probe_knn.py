import math

import numpy as np
import pytest

from ssl_core.errors import UserError
from ssl_core.eval import choose_solver, knn_classify, knn_predict, linear_probe, standardise
from ssl_core.eval.metrics import summarise
from ssl_core.eval.probe import TORCH_MIN_ELEMENTS


def blobs(n: int, classes: int = 10, dim: int = 32, spread: float = 6.0, seed: int = 0):
    rng = np.random.default_rng(seed)
    centres = np.random.default_rng(123).normal(size=(classes, dim)) * spread
    y = rng.integers(0, classes, n)
    return (centres[y] + rng.normal(size=(n, dim))).astype(np.float32), y


def test_probe_on_separable_features_is_near_perfect():
    x, y = blobs(600)
    xt, yt = blobs(300, seed=1)
    result = linear_probe(x, y, xt, yt)
    assert result.accuracy > 0.97 and result.train_accuracy > 0.97
    assert result.solver == "sklearn-lbfgs"  # 600 x 32 is far below the torch threshold
    assert result.n_train == 600 and result.n_test == 300 and result.num_classes == 10
    assert np.asarray(result.confusion).sum() == 300
    d = result.to_dict()
    assert d["accuracy"] == result.accuracy and len(d["per_class_accuracy"]) == 10


def test_probe_on_random_labels_is_near_chance():
    rng = np.random.default_rng(0)
    x, xt = rng.normal(size=(500, 32)).astype(np.float32), rng.normal(size=(2000, 32)).astype(np.float32)
    y, yt = rng.integers(0, 10, 500), rng.integers(0, 10, 2000)
    result = linear_probe(x, y, xt, yt)
    assert 0.05 < result.accuracy < 0.15  # chance is 0.10; std over 2,000 samples is ~0.007


def test_sklearn_and_torch_solvers_fit_the_same_model():
    x, y = blobs(400, spread=0.6)  # overlapping classes: the optimum is not trivial
    xt, yt = blobs(400, spread=0.6, seed=1)
    sk = linear_probe(x, y, xt, yt, solver="sklearn")
    th = linear_probe(x, y, xt, yt, solver="torch")
    assert sk.solver == "sklearn-lbfgs" and th.solver.startswith("torch-lbfgs")
    assert 0.3 < sk.accuracy < 0.95
    assert abs(sk.accuracy - th.accuracy) <= 0.01
    agree = np.asarray(sk.confusion) - np.asarray(th.confusion)
    assert np.abs(agree).sum() <= 8  # at most a handful of borderline samples differ


def test_solver_rule_depends_on_size_and_gpu():
    assert choose_solver(1000, 64, gpu_available=False) == "sklearn"
    assert choose_solver(TORCH_MIN_ELEMENTS // 100, 100, gpu_available=False) == "torch"
    assert choose_solver(100, 8, gpu_available=True) == "torch"


def test_standardise_uses_training_statistics_only():
    train = np.array([[0.0, 5.0], [2.0, 5.0]], dtype=np.float32)
    test = np.array([[4.0, 7.0]], dtype=np.float32)
    tr, te = standardise(train, test)
    np.testing.assert_allclose(tr, [[-1.0, 0.0], [1.0, 0.0]])
    np.testing.assert_allclose(te, [[3.0, 2.0]])  # constant column: centred, not scaled


def test_single_class_training_set_predicts_that_class():
    x, _ = blobs(20)
    result = linear_probe(x, np.full(20, 3), x[:4], np.array([3, 3, 1, 3]), num_classes=5)
    assert result.solver == "constant" and result.accuracy == 0.75


def test_summary_per_class_and_confusion_by_hand():
    s = summarise(np.array([0, 0, 1, 2]), np.array([0, 1, 1, 1]), 4)
    assert s.confusion == [[1, 1, 0, 0], [0, 1, 0, 0], [0, 1, 0, 0], [0, 0, 0, 0]]
    assert s.per_class_accuracy == [0.5, 1.0, 0.0, None]  # class 3 has no held-out samples
    assert s.accuracy == 0.5


def test_weighted_knn_by_hand():
    train = np.array([[1.0, 0.0], [0.0, 1.0], [2.0, 2.0]], dtype=np.float32)  # cosine only sees direction
    labels = np.array([0, 1, 1])
    query = np.array([[1.0, 0.2]], dtype=np.float32)
    q = query[0] / np.linalg.norm(query[0])
    s_a, s_b, s_c = q[0], q[1], (q[0] + q[1]) / math.sqrt(2)  # 0.981, 0.196, 0.832
    # k=2: neighbours a (class 0) and c (class 1); a is closer, so class 0 at any temperature.
    assert knn_predict(train, labels, query, k=2, temperature=1.0)[0] == 0
    # k=3, T=1: class 1 collects exp(s_b) + exp(s_c) = 3.51 > exp(s_a) = 2.67.
    assert math.exp(s_b) + math.exp(s_c) > math.exp(s_a)
    assert knn_predict(train, labels, query, k=3, temperature=1.0)[0] == 1
    # k=3, T=0.07 (the default): the sharper weights let the single nearest neighbour win.
    assert math.exp(s_a / 0.07) > math.exp(s_b / 0.07) + math.exp(s_c / 0.07)
    assert knn_predict(train, labels, query, k=3)[0] == 0


def test_knn_result_and_k_capped_by_training_size():
    x, y = blobs(300)
    xt, yt = blobs(100, seed=1)
    result = knn_classify(x, y, xt, yt)
    assert result.k == 20 and result.accuracy > 0.97 and result.temperature == 0.07
    small = knn_classify(x[:5], y[:5], xt, yt, k=50)
    assert small.k == 5
    assert sum(map(sum, small.confusion)) == 100


def test_unlabelled_data_is_refused_with_a_helpful_message():
    x, y = blobs(50)
    for fn in (linear_probe, knn_classify):
        with pytest.raises(UserError, match="has no labels; a probe needs labels — UMAP/PCA still work"):
            fn(x, None, x, y, what="folder:/photos")
    with pytest.raises(UserError, match="folder:/photos has no labels"):
        linear_probe(x, y, x, None, what="folder:/photos")


def test_diverged_features_are_refused():
    x, y = blobs(50)
    bad = x.copy()
    bad[3, 1] = np.nan
    with pytest.raises(UserError, match="NaN or infinite"):
        linear_probe(bad, y, x, y)


def test_knn_rejects_k_below_one():
    x, y = blobs(20)
    with pytest.raises(UserError, match="k = 0"):
        knn_classify(x, y, x, y, k=0)
