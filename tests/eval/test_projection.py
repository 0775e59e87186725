import threading
import time

import numpy as np
import pytest

from ssl_core.errors import UserError
from ssl_core.eval import Cancelled, exact_knn, project_pca, project_umap, projection, trustworthiness
from ssl_core.eval.projection import (
    EXACT_KNN_MAX_POINTS,
    FAST_EPOCHS,
    choose_knn,
    nndescent_knn,
    precompile_umap,
)


def clustered(n: int, dim: int = 64, classes: int = 10, seed: int = 0) -> np.ndarray:
    """Ten clusters, each a noisy 5-d sheet in 64-d: structure UMAP should keep."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(classes, dim)) * 4
    basis = rng.normal(size=(classes, 5, dim))
    y = rng.integers(0, classes, n)
    z = rng.normal(size=(n, 5))
    x = centres[y] + np.einsum("nk,nkd->nd", z, basis[y]) * 0.7 + rng.normal(size=(n, dim)) * 0.3
    return x.astype(np.float32)


@pytest.fixture(scope="module")
def data5k() -> np.ndarray:
    return clustered(5000)


@pytest.fixture(scope="module")
def compiled() -> float:
    """numba's one-off compilation of umap-learn and the light NN-descent (~20 s), paid once for the file."""
    return precompile_umap()


@pytest.fixture(scope="module")
def fast_run(data5k):
    seen: list[tuple[float, str]] = []
    start = time.perf_counter()
    embedding = project_umap(data5k, seed=0, progress=lambda f, m: seen.append((f, m)))
    return embedding, seen, time.perf_counter() - start


def test_pca_finds_the_main_axis_and_is_deterministic():
    rng = np.random.default_rng(0)
    t = rng.normal(size=200)
    t -= t.mean()  # PCA centres the data
    x = np.stack([3 * t, -3 * t, 0.1 * rng.normal(size=200)], axis=1).astype(np.float32)
    y = project_pca(x)
    assert y.shape == (200, 2) and y.dtype == np.float32
    # The first axis is the (3, -3, 0) direction: coordinates are t * |(3, -3)| up to sign.
    assert abs(np.corrcoef(y[:, 0], t)[0, 1]) > 0.999
    assert np.allclose(np.abs(y[:, 0]), np.abs(t * np.sqrt(18)), atol=0.05)
    assert np.array_equal(y, project_pca(x))
    assert project_pca(x[:, :1]).shape == (200, 2)  # fewer dimensions than components: zero-padded
    wide = rng.normal(size=(10, 40)).astype(np.float32)  # N < D takes the SVD route
    assert np.allclose(np.abs(project_pca(wide)[:, 0]), np.abs(project_pca(wide.astype(np.float64))[:, 0]))


def test_exact_knn_matches_brute_force_and_puts_each_point_first():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(300, 10)).astype(np.float32)
    x[7] = x[3]  # an exact duplicate must not displace the point itself
    idx, dist = exact_knn(x, 6)
    full = np.linalg.norm(x[:, None] - x[None], axis=2)
    assert np.array_equal(idx[:, 0], np.arange(300)) and np.all(dist[:, 0] == 0)
    assert idx[3, 1] == 7 and idx[7, 1] == 3 and dist[3, 1] == 0
    expected = np.sort(full, axis=1)[:, :6]
    np.testing.assert_allclose(dist, expected, atol=1e-4)
    assert np.all(np.diff(dist, axis=1) >= 0)


def test_trustworthiness_of_perfect_and_scrambled_maps():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(400, 2)).astype(np.float32)
    assert trustworthiness(x, x) == pytest.approx(1.0)
    scrambled = rng.permutation(x)
    assert trustworthiness(x, scrambled) < 0.7
    big = rng.normal(size=(3000, 2)).astype(np.float32)
    assert trustworthiness(big, big, max_points=500) == pytest.approx(1.0)  # subsampled path


def test_umap_input_limits_are_user_errors():
    with pytest.raises(UserError, match="limited to 50,000 points"):
        project_umap(np.zeros((50_001, 2), dtype=np.float32))
    with pytest.raises(UserError, match="n_neighbors = 1"):
        project_umap(np.zeros((10, 2), dtype=np.float32), n_neighbors=1)
    bad = np.ones((10, 2), dtype=np.float32)
    bad[0, 0] = np.inf
    with pytest.raises(UserError, match="NaN or infinite"):
        project_pca(bad)
    with pytest.raises(UserError, match="knn = 'annoy' is unknown; use one of auto, exact, nndescent"):
        project_umap(np.zeros((10, 2), dtype=np.float32), knn="annoy")
    with pytest.raises(UserError, match="fast path only"):
        project_umap(np.zeros((10, 2), dtype=np.float32), fast=False, knn="exact")


def test_umap_of_5000_points_completes_with_progress(fast_run, data5k):
    embedding, seen, seconds = fast_run
    assert embedding.shape == (5000, 2) and embedding.dtype == np.float32 and np.isfinite(embedding).all()
    fractions = [f for f, _ in seen]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    messages = " ".join(m for _, m in seen)
    # 5,000 points on a CPU: the exact kNN graph, then the fast path's short optimisation.
    assert "Nearest neighbours 5000/5000" in messages and "NN-descent" not in messages
    assert f"epoch {FAST_EPOCHS}/{FAST_EPOCHS}" in messages
    assert trustworthiness(data5k, embedding) > 0.95
    # How fast is bench/bench_umap.py's to say (fast path >= 3x plain umap-learn at 5,000 points, measured
    # side by side): a wall-clock bound here, numba's first compile included, only measured how loaded the
    # test machine was (31 s on a fresh clone here with two workers, 22 s on CI).
    print(f"UMAP of 5,000 points, first use in this process: {seconds:.1f} s")


def test_umap_cancellation_takes_effect_within_one_second(data5k, fast_run):
    # 500 epochs (the caller's n_epochs wins over the fast path's short default) leave time to cancel.
    cancel = threading.Event()
    optimising = threading.Event()
    outcome: dict[str, object] = {}

    def on_progress(fraction, message):
        if "epoch" in message and not message.endswith(" 0/500"):
            optimising.set()

    def work():
        try:
            project_umap(data5k, seed=1, progress=on_progress, cancel=cancel, n_epochs=500)
            outcome["result"] = "finished"
        except Cancelled:
            outcome["result"] = "cancelled"
        outcome["end"] = time.perf_counter()

    thread = threading.Thread(target=work)
    thread.start()
    assert optimising.wait(60), "UMAP never reached its optimisation epochs"
    time.sleep(0.3)
    asked = time.perf_counter()
    cancel.set()
    thread.join(10)
    assert outcome["result"] == "cancelled"
    assert outcome["end"] - asked < 1.0

    # Cancelling before the start, or during the kNN stage, stops just as promptly.
    with pytest.raises(Cancelled):
        project_umap(data5k, cancel=cancel)


def test_cancel_during_nndescent_stops_before_the_layout(data5k, compiled):
    """NN-descent is one uncancellable call; a cancel asked during it takes effect as it returns."""
    cancel = threading.Event()
    seen: list[str] = []

    def on_progress(fraction, message):
        seen.append(message)
        if "NN-descent" in message:
            cancel.set()

    with pytest.raises(Cancelled):
        project_umap(data5k, knn="nndescent", progress=on_progress, cancel=cancel)
    assert not any("epoch" in m or m.startswith("Building") for m in seen)


def test_fast_path_is_as_trustworthy_as_plain_umap(data5k, fast_run, compiled):
    plain = project_umap(data5k, seed=0, fast=False)
    t_plain = trustworthiness(data5k, plain)
    assert t_plain > 0.9
    for knn, embedding in (
        ("exact", fast_run[0]),
        ("nndescent", project_umap(data5k, seed=0, knn="nndescent")),
    ):
        t_fast = trustworthiness(data5k, embedding)
        assert abs(t_fast - t_plain) <= 0.02, (knn, t_fast, t_plain)


@pytest.mark.parametrize("knn", ["exact", "nndescent"])
def test_fast_path_keeps_the_digits_neighbourhoods(knn, compiled):
    """Real data: the digits' raw pixels (1,797 x 64). Plain umap-learn's map has trustworthiness 0.989
    (measured, seed 0); the fast path must stay within 0.02 of it with either kNN graph."""
    from sklearn.datasets import load_digits

    x = load_digits().data.astype(np.float32)
    embedding = project_umap(x, seed=0, knn=knn)
    assert embedding.shape == (1797, 2) and np.isfinite(embedding).all()
    assert trustworthiness(x, embedding) >= 0.989 - 0.02


def test_nndescent_finds_the_exact_neighbours(compiled):
    x = project_pca(clustered(3000, seed=3), 50)
    idx, dist = nndescent_knn(x, 15, seed=0)
    exact_idx, exact_dist = exact_knn(x, 15)
    assert idx.shape == dist.shape == (3000, 15) and idx.dtype == np.int64 and dist.dtype == np.float32
    assert np.array_equal(idx[:, 0], np.arange(3000)) and np.all(dist[:, 0] == 0)
    assert np.all(np.diff(dist, axis=1) >= 0)
    # The distances are the true Euclidean ones of the pairs it returns.
    true = np.linalg.norm(x[:, None, :] - x[idx], axis=2)
    np.testing.assert_allclose(dist, true, rtol=1e-4, atol=1e-4)
    recall = np.mean([len(set(a) & set(b)) / 15 for a, b in zip(idx, exact_idx, strict=True)])
    assert recall >= 0.95, recall
    # Seeded: the same graph again.
    assert np.array_equal(nndescent_knn(x, 15, seed=0)[0], idx)


def test_knn_choice_is_honoured(monkeypatch, compiled):
    calls: list[str] = []
    for name, builder in dict(projection.KNN_BUILDERS).items():

        def spy(*args, name=name, builder=builder):
            calls.append(name)
            return builder(*args)

        monkeypatch.setitem(projection.KNN_BUILDERS, name, spy)
    x = clustered(1200, seed=4)
    for knn in ("exact", "nndescent"):
        calls.clear()
        y = project_umap(x, knn=knn, n_epochs=20)
        assert calls == [knn] and y.shape == (1200, 2)
    # knn pins the fast path even below FAST_MIN_POINTS, where auto would run plain umap-learn.
    calls.clear()
    project_umap(x[:300], knn="nndescent", n_epochs=20)
    assert calls == ["nndescent"]
    calls.clear()
    project_umap(x[:300], n_epochs=20)
    assert calls == []
    # auto: exact up to EXACT_KNN_MAX_POINTS on a CPU, NN-descent above (always exact on CUDA).
    monkeypatch.setattr(projection.torch.cuda, "is_available", lambda: False)
    assert choose_knn(EXACT_KNN_MAX_POINTS) == "exact" and choose_knn(EXACT_KNN_MAX_POINTS + 1) == "nndescent"
    monkeypatch.setattr(projection, "EXACT_KNN_MAX_POINTS", 1000)
    calls.clear()
    project_umap(x, n_epochs=20)
    assert calls == ["nndescent"]
    monkeypatch.setattr(projection.torch.cuda, "is_available", lambda: True)
    assert choose_knn(40_000) == "exact"


def test_precompile_leaves_nothing_to_compile(compiled):
    """After the warm-up a first NN-descent map starts at once (numba compiled ~20 s of code already)."""
    x = clustered(2000, seed=5)
    start = time.perf_counter()
    project_umap(x, knn="nndescent", n_epochs=10)
    assert time.perf_counter() - start < 5.0
    assert precompile_umap() < 5.0  # and a second warm-up is nearly free
