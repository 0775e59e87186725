import numpy as np
import pytest
import torch
from torch import nn

from ssl_core.data.base import DataInfo
from ssl_core.errors import UserError
from ssl_core.eval import anomaly_scores, has_anomaly_scores
from ssl_core.methods import build_method
from ssl_core.models.backbones import build_backbone

INFO = DataInfo("digits", "digits", 64, 1, 8, 8, has_labels=False)


class MeanBrightness(nn.Module):
    """A stand-in 'reconstruction' whose score is easy to compute by hand: distance from mid-grey."""

    def __init__(self):
        super().__init__()
        self.calls: list[int] = []

    def anomaly_scores(self, images: torch.Tensor) -> torch.Tensor:
        self.calls.append(images.shape[0])
        assert not self.training and images.dtype == torch.float32 and images.max() <= 1.0
        return (images - 0.5).pow(2).flatten(1).mean(1)


def test_scores_are_computed_in_batches_on_unit_range_images():
    images = torch.zeros(10, 1, 2, 2, dtype=torch.uint8)
    images[3] = 255
    images[7] = 128
    model = MeanBrightness().train()
    scores = anomaly_scores(model, images, batch_size=4, device="cpu")
    assert model.calls == [4, 4, 2] and model.training
    expected = np.full(10, 0.25, dtype=np.float32)
    expected[3] = 0.25
    expected[7] = (128 / 255 - 0.5) ** 2
    np.testing.assert_allclose(scores, expected, rtol=1e-5, atol=1e-8)
    assert scores.dtype == np.float32 and scores.shape == (10,)


def test_autoencoder_scores_unusual_images_higher():
    torch.manual_seed(0)
    method = build_method("autoencoder", build_backbone("small_cnn", 1, 8), None, INFO)
    assert has_anomaly_scores(method)
    g = torch.Generator().manual_seed(0)
    # Train briefly on images that are dark everywhere; a bright image is then the anomaly.
    normal = (torch.rand(64, 1, 8, 8, generator=g) * 60).to(torch.uint8)
    opt = torch.optim.Adam(method.parameters(), lr=3e-3)
    x = normal.float() / 255
    for _ in range(60):
        opt.zero_grad()
        loss = ((method.reconstruct(x) - x) ** 2).mean()
        loss.backward()
        opt.step()
    odd = torch.full((4, 1, 8, 8), 230, dtype=torch.uint8)
    scores = anomaly_scores(method, torch.cat([normal[:16], odd]), batch_size=8, device="cpu")
    assert scores[16:].min() > 5 * scores[:16].max()
    assert method.training  # mode restored


def test_methods_without_reconstruction_are_refused():
    method = build_method("simclr", build_backbone("small_cnn", 1, 8), None, INFO)
    with pytest.raises(UserError, match="SimCLR does not rebuild its input, so it gives no anomaly scores"):
        anomaly_scores(method, torch.zeros(2, 1, 8, 8, dtype=torch.uint8))
