"""embed_run reuses what it can: the caller's opened data source, and anomaly scores per checkpoint."""

import numpy as np
import pytest

from ssl_core.config import RunConfig
from ssl_core.eval import anomaly as anomaly_module
from ssl_core.eval import embed_run, load_embedding
from ssl_core.train import builder
from ssl_core.train.trainer import Trainer


@pytest.fixture(scope="module")
def autoencoder_run(tmp_path_factory):
    config = RunConfig().with_overrides(
        [
            "data.spec=digits",
            "method.name=autoencoder",
            "method.backbone=small_cnn",
            "train.epochs=1",
            "train.max_steps=2",
            "train.batch_size=128",
            "train.device=cpu",
            "data.num_workers=0",
            f"runs_dir={str(tmp_path_factory.mktemp('runs'))!r}",
        ]
    )
    result = Trainer(config).run()
    assert result.status == "completed", result.message
    return result.run_dir


def _count_calls(monkeypatch, module, name: str) -> list[int]:
    calls: list[int] = []
    real = getattr(module, name)

    def counted(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(module, name, counted)
    return calls


def test_the_source_comes_back_and_is_not_opened_again(autoencoder_run, monkeypatch):
    opened = _count_calls(monkeypatch, builder, "open_source")
    first = embed_run(autoencoder_run, projection="none")
    assert len(opened) == 1
    assert first.source is not None and len(first.source) == first.embeddings.shape[0] == 1797
    assert "source" not in first.to_dict()  # metadata only; nothing of the source is saved

    second = embed_run(autoencoder_run, projection="pca", source=first.source)
    assert len(opened) == 1  # the caller's source was used
    assert second.source is first.source
    np.testing.assert_array_equal(second.embeddings, first.embeddings)
    assert second.projection.shape == (1797, 2)
    assert load_embedding(autoencoder_run).source is None


def test_anomaly_scores_are_cached_per_checkpoint(autoencoder_run, monkeypatch):
    first = embed_run(autoencoder_run, projection="none")
    key = first.checkpoint_key
    path = autoencoder_run / "eval" / f"anomaly-{key}.npy"
    assert path.is_file() and first.anomaly.shape == (1797,)

    # Scores are computed by ssl_core.eval.anomaly (shared with the anomaly evaluation): count calls there.
    scored = _count_calls(monkeypatch, anomaly_module, "anomaly_scores")
    again = embed_run(autoencoder_run, projection="none", source=first.source)
    assert scored == []  # read back, not recomputed
    np.testing.assert_array_equal(again.anomaly, first.anomaly)
    assert load_embedding(autoencoder_run).anomaly.shape == (1797,)

    # a damaged or truncated file is recomputed (and rewritten), never trusted
    np.save(path, first.anomaly[:10], allow_pickle=False)
    fixed = embed_run(autoencoder_run, projection="none", source=first.source)
    assert scored  # recomputed
    np.testing.assert_allclose(fixed.anomaly, first.anomaly, rtol=1e-5)
    assert np.load(path, allow_pickle=False).shape == (1797,)
