import numpy as np
import pytest

from ssl_core.eval.neighbors import CosineIndex, nearest_neighbors


def test_hand_computed_neighbours_by_cosine_not_distance():
    x = np.array(
        [
            [1.0, 0.0],  # 0: the query
            [10.0, 1.0],  # 1: far away but almost the same direction: cos = 10/sqrt(101) = 0.995
            [0.0, 1.0],  # 2: orthogonal: cos 0
            [1.0, 1.0],  # 3: 45 degrees: cos 0.7071
            [-1.0, 0.0],  # 4: opposite: cos -1
        ],
        dtype=np.float32,
    )
    idx, sims = nearest_neighbors(x, 0, k=3)
    assert idx.tolist() == [1, 3, 2]
    np.testing.assert_allclose(sims, [10 / np.sqrt(101), np.sqrt(0.5), 0.0], atol=1e-6)
    assert idx.dtype == np.int64 and sims.dtype == np.float32


def test_query_excluded_but_duplicates_kept_and_ties_by_index():
    x = np.array([[0.0, 2.0], [3.0, 0.0], [0.0, 1.0], [0.0, 5.0], [1.0, 0.0]], dtype=np.float32)
    idx, sims = nearest_neighbors(x, 2, k=4)
    # rows 0 and 3 point the same way as row 2 (cos 1): a tie, broken by the lower index
    assert idx.tolist() == [0, 3, 1, 4]
    np.testing.assert_allclose(sims, [1, 1, 0, 0], atol=1e-6)


def test_matches_brute_force_sort_on_random_data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(500, 16)).astype(np.float32)
    index = CosineIndex(x)
    normed = x / np.linalg.norm(x, axis=1, keepdims=True)
    for q in (0, 17, 499, -1):
        sims = normed @ normed[q]
        sims[q % 500] = -np.inf
        expected = np.argsort(-sims, kind="stable")[:10]
        got, got_sims = index.query(q, 10)
        assert got.tolist() == expected.tolist()
        np.testing.assert_allclose(got_sims, sims[expected], rtol=1e-5)


def test_k_larger_than_the_data_and_degenerate_rows():
    x = np.array([[1.0, 0.0], [0.0, 0.0], [np.nan, 1.0]], dtype=np.float32)
    idx, sims = nearest_neighbors(x, 0, k=10)
    assert idx.tolist() == [1, 2][: len(idx)] and len(idx) == 2  # everyone else, at most N - 1
    assert sims[0] == 0.0  # a zero vector is similar to nothing
    assert sims[1] == -np.inf  # a diverged row comes last
    assert nearest_neighbors(x[:1], 0, k=5)[0].size == 0
    with pytest.raises(IndexError, match="out of range for 3"):
        nearest_neighbors(x, 3, k=1)
    with pytest.raises(ValueError, match=r"\(N, D\)"):
        CosineIndex(np.zeros(5))
