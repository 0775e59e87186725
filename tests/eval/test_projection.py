import threading
import time

import numpy as np
import pytest

from ssl_core.errors import UserError
from ssl_core.eval import Cancelled, exact_knn, project_pca, project_umap, trustworthiness


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


def test_umap_of_5000_points_completes_with_progress(fast_run, data5k):
    embedding, seen, seconds = fast_run
    assert embedding.shape == (5000, 2) and embedding.dtype == np.float32 and np.isfinite(embedding).all()
    fractions = [f for f, _ in seen]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    messages = " ".join(m for _, m in seen)
    assert "Nearest neighbours" in messages and "epoch 500/500" in messages
    assert trustworthiness(data5k, embedding) > 0.95
    assert seconds < 60


def test_umap_cancellation_takes_effect_within_one_second(data5k, fast_run):
    cancel = threading.Event()
    optimising = threading.Event()
    outcome: dict[str, object] = {}

    def on_progress(fraction, message):
        if "epoch" in message and not message.endswith(" 0/500"):
            optimising.set()

    def work():
        try:
            project_umap(data5k, seed=1, progress=on_progress, cancel=cancel)
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


def test_fast_path_is_as_trustworthy_as_plain_umap(data5k, fast_run):
    fast_embedding = fast_run[0]
    plain = project_umap(data5k, seed=0, fast=False)
    t_plain = trustworthiness(data5k, plain)
    t_fast = trustworthiness(data5k, fast_embedding)
    assert t_plain > 0.9
    assert abs(t_fast - t_plain) <= 0.02, (t_fast, t_plain)
