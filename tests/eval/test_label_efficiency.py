import numpy as np
import pytest

from ssl_core.errors import UserError
from ssl_core.eval import label_efficiency, stratified_subsample
from ssl_core.eval.label_efficiency import check_fractions


def blobs(n: int, classes: int = 5, dim: int = 16, spread: float = 1.0, seed: int = 0):
    rng = np.random.default_rng(seed)
    centres = np.random.default_rng(7).normal(size=(classes, dim)) * spread
    y = rng.integers(0, classes, n)
    return (centres[y] + rng.normal(size=(n, dim))).astype(np.float32), y


def test_subsample_is_stratified_with_at_least_one_per_class():
    labels = np.repeat([0, 1, 2], [200, 50, 7])
    idx = stratified_subsample(labels, 0.1, seed=0)
    counts = np.bincount(labels[idx], minlength=3)
    assert counts.tolist() == [20, 5, 1]  # round(0.7) = 1 for the 7-image class
    tiny = stratified_subsample(labels, 0.001, seed=0)
    assert np.bincount(labels[tiny], minlength=3).tolist() == [1, 1, 1]
    assert len(np.unique(idx)) == len(idx) and np.all(np.diff(idx) > 0)
    assert np.array_equal(stratified_subsample(labels, 1.0, seed=5), np.arange(len(labels)))


def test_subsample_depends_on_seed_and_is_reproducible():
    labels = np.repeat(np.arange(4), 100)
    a = stratified_subsample(labels, 0.1, seed=0)
    assert np.array_equal(a, stratified_subsample(labels, 0.1, seed=0))
    assert not np.array_equal(a, stratified_subsample(labels, 0.1, seed=1))


@pytest.mark.parametrize("bad", [0, 0.0, -0.1, 1.5, 2, float("nan")])
def test_bad_fractions_are_refused_naming_the_value(bad):
    with pytest.raises(UserError) as info:
        check_fractions([0.1, bad])
    assert repr(bad) in str(info.value) and "(0, 1]" in str(info.value)


def test_fraction_that_is_not_a_number_and_empty_list():
    with pytest.raises(UserError, match="'ten' is not a number"):
        check_fractions(["ten"])
    with pytest.raises(UserError, match="at least one label fraction"):
        check_fractions([])


def test_label_efficiency_rises_with_labels_and_reports_mean_and_std():
    x, y = blobs(1000)
    xt, yt = blobs(500, seed=1)
    seen = []
    out = label_efficiency(x, y, xt, yt, fractions=(0.01, 0.1, 1.0), seeds=(0, 1, 2), k=5,
                           progress=lambda f, m: seen.append(f))  # fmt: skip
    assert out["fractions"] == [0.01, 0.1, 1.0] and out["seeds"] == [0, 1, 2] and out["k"] == 5
    rows = {r["fraction"]: r for r in out["rows"]}
    assert rows[0.01]["labels_used"] == 10  # 2 per class (round(0.01 * ~200) = 2) x 5 classes
    assert rows[1.0]["labels_used"] == 1000 and rows[1.0]["runs"] == 1 and rows[1.0]["probe"]["std"] == 0
    assert rows[0.1]["runs"] == 3 and len(rows[0.1]["probe"]["values"]) == 3
    values = rows[0.1]["knn"]["values"]
    assert rows[0.1]["knn"]["mean"] == pytest.approx(np.mean(values))
    assert rows[0.1]["knn"]["std"] == pytest.approx(np.std(values, ddof=1))
    for kind in ("probe", "knn"):
        assert rows[0.01][kind]["mean"] < rows[1.0][kind]["mean"]
        assert rows[1.0][kind]["mean"] > 0.8  # chance is 0.2
    assert seen[-1] == 1.0 and len(seen) == 7  # 3 + 3 seeded runs, 1 run with all labels


def test_label_efficiency_refuses_unlabelled_data_and_bad_fractions():
    x, y = blobs(50)
    with pytest.raises(
        UserError, match="npz:/data/x.npz has no labels; a probe needs labels — UMAP/PCA still work"
    ):
        label_efficiency(x, None, x, y, what="npz:/data/x.npz")
    with pytest.raises(UserError, match="1.5"):
        label_efficiency(x, y, x, y, fractions=(0.1, 1.5))
    with pytest.raises(UserError, match="seed"):
        label_efficiency(x, y, x, y, seeds=())
