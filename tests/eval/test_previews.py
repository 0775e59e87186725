import numpy as np
import pytest
import torch

from ssl_core.config import RunConfig
from ssl_core.eval.previews import preview_images
from ssl_core.runs.store import load_run
from ssl_core.train.trainer import Trainer


def _config(runs_dir, method: str) -> RunConfig:
    return RunConfig().with_overrides(
        [
            "data.spec=digits",
            f"method.name={method}",
            "method.backbone=small_cnn",
            "train.epochs=1",
            "train.max_steps=3",
            "train.batch_size=128",
            "train.device=cpu",
            "data.num_workers=0",
            f"runs_dir={str(runs_dir)!r}",
        ]
    )


@pytest.fixture(scope="module")
def autoencoder_run(tmp_path_factory):
    result = Trainer(_config(tmp_path_factory.mktemp("runs"), "autoencoder")).run()
    assert result.status == "completed", result.message
    return result.run_dir


def test_views_of_a_config_show_the_originals_first(tmp_path):
    config = _config(tmp_path, "simclr")
    torch.manual_seed(123)
    before = torch.rand(3)
    torch.manual_seed(123)
    preview = preview_images(config, n=5, seed=1)
    assert torch.equal(torch.rand(3), before)  # the caller's random stream was left alone
    assert preview.kind == "views"
    assert list(preview.images) == ["original", "view 1", "view 2"]
    original = preview.images["original"]
    assert original.shape[0] == 5 and original.dtype == torch.float32
    for images in preview.images.values():
        assert images.shape == original.shape
        assert float(images.min()) >= 0.0 and float(images.max()) <= 1.0
    # the originals are the first held-out images, untouched
    from ssl_core.train.builder import build_components

    parts = build_components(config)
    expected, _ = parts.source.read(parts.val_idx[:5])
    torch.testing.assert_close(original, expected.float() / 255.0)
    assert not torch.equal(preview.images["view 1"], original)
    assert not torch.equal(preview.images["view 1"], preview.images["view 2"])

    # the same seed draws the same views; another seed new views of the same images
    again = preview_images(config, n=5, seed=1, source=parts.source)
    other = preview_images(config, n=5, seed=2, source=parts.source)
    torch.testing.assert_close(again.images["view 1"], preview.images["view 1"])
    torch.testing.assert_close(other.images["original"], original)
    assert not torch.equal(other.images["view 1"], preview.images["view 1"])


def test_reconstructions_of_a_run_use_its_trained_weights(autoencoder_run):
    trained = preview_images(autoencoder_run, n=4)
    assert trained.kind == "reconstruction"
    assert "original" not in trained.images  # the method's own rows already start with the input
    assert "reconstruction" in trained.images
    loaded = load_run(autoencoder_run)
    assert loaded.method.training is False
    same = preview_images(loaded, n=4)
    torch.testing.assert_close(same.images["reconstruction"], trained.images["reconstruction"])
    assert loaded.method.training is False  # the mode it came in with is restored
    untrained = preview_images(loaded.config, n=4)
    change = np.abs(untrained.images["reconstruction"].numpy() - trained.images["reconstruction"].numpy())
    assert change.mean() > 1e-4  # three steps of training already moved the output


def test_unknown_input_is_refused_with_what_to_pass():
    with pytest.raises(TypeError, match="run folder, a LoadedRun or a RunConfig"):
        preview_images(42)
