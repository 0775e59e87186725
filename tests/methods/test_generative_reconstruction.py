"""Autoencoder, denoising autoencoder, inpainting and colorization: they learn, preview and score anomalies."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits
from sklearn.metrics import roc_auc_score

from ssl_core.data.base import DataInfo
from ssl_core.errors import UserError
from ssl_core.methods import METHODS, StepContext, build_method
from ssl_core.methods.colorization import gray_input
from ssl_core.models import build_backbone
from ssl_core.models.decoders import ConvDecoder, eval_mode, per_sample_error, pixel_loss

DIGITS_INFO = DataInfo("digits", "digits", 1797, 1, 8, 8, True)
N_TRAIN = 1500
MY_METHODS = (
    "autoencoder",
    "denoising_autoencoder",
    "inpainting",
    "colorization",
    "mae",
    "rotation",
    "jigsaw",
)


# ---- helpers ----------------------------------------------------------------------------------
@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """These tiny models run fastest on one thread; more threads only contend on a shared CPU."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def digits() -> torch.Tensor:
    """sklearn's 8x8 digits as float [0, 1], shape (1797, 1, 8, 8) (bundled with sklearn, no download)."""
    return torch.tensor(load_digits().images, dtype=torch.float32).div(16.0).unsqueeze(1)


def make(
    name: str, info: DataInfo = DIGITS_INFO, overrides: dict | None = None, data: torch.Tensor | None = None
):
    """Build a method as the trainer does: small_cnn normalising with the data's channel statistics."""
    torch.manual_seed(0)
    mean = std = None
    if data is not None:
        mean, std = data.mean(dim=(0, 2, 3)).tolist(), data.std(dim=(0, 2, 3)).clamp_min(1e-3).tolist()
    backbone = build_backbone("small_cnn", info.channels, info.height, mean=mean, std=std)
    return build_method(name, backbone, overrides, info)


def train(
    method, images: torch.Tensor, epochs: int = 2, batch_size: int = 64, lr: float = 2e-3
) -> list[float]:
    """The trainer's loop in miniature; returns the mean loss of each epoch."""
    opt = torch.optim.AdamW(method.parameters(), lr=lr, weight_decay=1e-4)
    g = torch.Generator().manual_seed(0)
    steps = math.ceil(len(images) / batch_size)
    means, step = [], 0
    method.train()
    for epoch in range(epochs):
        order = torch.randperm(len(images), generator=g)
        losses = []
        for i in range(steps):
            ctx = StepContext(step=step, total_steps=steps * epochs, epoch=epoch, generator=g)
            out = method.training_step(images[order[i * batch_size : (i + 1) * batch_size]], ctx)
            assert torch.isfinite(out.loss), f"non-finite loss at step {step}"
            opt.zero_grad()
            out.loss.backward()
            opt.step()
            method.after_optimizer_step(ctx)
            losses.append(out.loss.item())
            step += 1
        means.append(sum(losses) / len(losses))
    return means


def auroc(normal: torch.Tensor, anomalous: torch.Tensor) -> float:
    labels = np.r_[np.zeros(len(normal)), np.ones(len(anomalous))]
    return float(roc_auc_score(labels, np.r_[normal.numpy(), anomalous.numpy()]))


def check_preview(preview, kind: str, keys: list[str], shape: tuple[int, ...]) -> None:
    assert preview.kind == kind
    assert list(preview.images) == keys
    for key, grid in preview.images.items():
        assert tuple(grid.shape) == shape, key
        assert grid.dtype == torch.float32 and grid.device.type == "cpu"
        assert float(grid.min()) >= 0.0 and float(grid.max()) <= 1.0, key


# ---- registry metadata --------------------------------------------------------------------------
@pytest.mark.parametrize("name", MY_METHODS)
def test_spec_is_complete_for_newcomers(name):
    spec = METHODS.get(name)
    assert spec.family == ("pretext" if name in ("rotation", "jigsaw") else "generative")
    sentences = [s for s in re.split(r"(?<=[.!?])\s+", spec.description) if s]
    assert 3 <= len(sentences) <= 5, spec.description
    assert spec.paper and spec.summary
    assert spec.preview_kind == ("prediction" if spec.family == "pretext" else "reconstruction")
    for p in spec.params:
        assert len(p.help) > 20, p.name
        assert p.coerce(p.default) == p.default  # defaults lie inside their own ranges
    assert type(make(name, DataInfo("rgb", "rgb", 10, 3, 16, 16, False))).spec is spec


# ---- shared pieces -------------------------------------------------------------------------------
@pytest.mark.parametrize("size", [8, 12, 16, 28, 30, 32, 64, (8, 12)])
@pytest.mark.parametrize("channels", [1, 3])
def test_decoder_reaches_any_image_size(size, channels):
    decoder = ConvDecoder(32, channels, size, width=16)
    out = decoder(torch.randn(2, 32))
    h, w = (size, size) if isinstance(size, int) else size
    assert out.shape == (2, channels, h, w)


def test_pixel_losses_match_hand_computed_values():
    logits = torch.zeros(1, 1, 1, 2)  # sigmoid -> 0.5 everywhere
    target = torch.tensor([[[[0.0, 1.0]]]])
    assert pixel_loss(logits, target, "mse").item() == pytest.approx(0.25)
    assert pixel_loss(logits, target, "l1").item() == pytest.approx(0.5)
    assert pixel_loss(logits, target, "bce").item() == pytest.approx(math.log(2.0))
    logits = torch.tensor([[[[0.0, 100.0]]]])  # second pixel predicted exactly
    weight = torch.tensor([[[[0.0, 1.0]]]])
    assert pixel_loss(logits, target, "mse", weight=weight).item() == pytest.approx(0.0, abs=1e-12)
    assert pixel_loss(logits, target, "mse", weight=1 - weight).item() == pytest.approx(0.25)


def test_per_sample_error_counts_only_masked_pixels():
    target = torch.zeros(2, 1, 2, 2)
    recon = torch.tensor([[[[1.0, 0.0], [0.0, 0.0]]], [[[0.5, 0.5], [0.5, 0.5]]]])
    assert per_sample_error(recon, target).tolist() == pytest.approx([0.25, 0.25])
    mask = torch.tensor([[[[True, False], [False, False]]]]).expand(2, -1, -1, -1)
    assert per_sample_error(recon, target, mask).tolist() == pytest.approx([1.0, 0.25])


def test_eval_mode_restores_training_flags():
    net = torch.nn.Sequential(torch.nn.BatchNorm1d(2), torch.nn.Dropout())
    net.train()
    net[1].eval()
    with eval_mode(net):
        assert not any(m.training for m in net.modules())
    assert net.training and net[0].training and not net[1].training


# ---- autoencoder ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def trained_ae(digits):
    method = make("autoencoder", data=digits[:N_TRAIN])
    return method, train(method, digits[:N_TRAIN])


def test_autoencoder_loss_falls_and_beats_the_mean_image(trained_ae, digits):
    method, losses = trained_ae
    assert losses[1] < 0.8 * losses[0]
    held_out = digits[N_TRAIN:]
    with torch.no_grad(), eval_mode(method):
        err = ((method.reconstruct(held_out) - held_out) ** 2).mean().item()
    mean_image_err = ((digits[:N_TRAIN].mean(0) - held_out) ** 2).mean().item()
    assert err < 0.75 * mean_image_err


def test_autoencoder_bce_loss_also_learns(digits):
    method = make("autoencoder", overrides={"loss": "bce"}, data=digits[:N_TRAIN])
    losses = train(method, digits[:N_TRAIN])
    assert losses[1] < losses[0]
    held_out = digits[N_TRAIN:]
    with torch.no_grad(), eval_mode(method):
        err = ((method.reconstruct(held_out) - held_out) ** 2).mean().item()
    assert err < 0.75 * ((digits[:N_TRAIN].mean(0) - held_out) ** 2).mean().item()


def test_autoencoder_preview_is_side_effect_free(trained_ae, digits):
    method, _ = trained_ae
    method.train()
    before = {k: v.clone() for k, v in method.state_dict().items()}
    preview = method.preview(digits[:6], torch.Generator().manual_seed(1))
    check_preview(preview, "reconstruction", ["input", "reconstruction"], (6, 1, 8, 8))
    assert torch.equal(preview.images["input"], digits[:6])
    assert method.training  # restored
    for k, v in method.state_dict().items():  # BatchNorm running statistics untouched
        assert torch.equal(v, before[k]), k


def test_autoencoder_scores_noise_and_inverted_digits_as_anomalies(trained_ae, digits):
    method, _ = trained_ae
    clean = digits[N_TRAIN:]
    scores = method.anomaly_scores(clean)
    assert scores.shape == (len(clean),) and not scores.requires_grad
    assert torch.equal(scores, method.anomaly_scores(clean))  # deterministic
    noise = torch.rand(len(clean), 1, 8, 8, generator=torch.Generator().manual_seed(3))
    assert auroc(scores, method.anomaly_scores(noise)) > 0.95
    assert auroc(scores, method.anomaly_scores(1.0 - clean)) > 0.95


def test_autoencoder_encode_gives_backbone_features(trained_ae, digits):
    method, _ = trained_ae
    assert method.encode(digits[:5]).shape == (5, method.backbone.feature_dim)


# ---- denoising autoencoder -----------------------------------------------------------------------
@pytest.mark.parametrize("corruption", ["gaussian", "salt_and_pepper", "mask"])
def test_denoising_autoencoder_removes_its_corruption(corruption, digits):
    method = make("denoising_autoencoder", overrides={"corruption": corruption}, data=digits[:N_TRAIN])
    losses = train(method, digits[:N_TRAIN])
    assert losses[1] < losses[0]

    held_out = digits[N_TRAIN:]
    preview = method.preview(held_out, torch.Generator().manual_seed(5))
    check_preview(
        preview, "reconstruction", ["input", "corrupted", "reconstruction"], (len(held_out), 1, 8, 8)
    )
    corrupted, repaired = preview.images["corrupted"], preview.images["reconstruction"]
    changed = corrupted != held_out
    assert changed.any()
    if corruption == "salt_and_pepper":
        assert set(corrupted[changed].unique().tolist()) <= {0.0, 1.0}
    if corruption == "mask":
        assert (corrupted[changed] == 0).all()
        assert changed.float().mean().item() < 0.25 + 0.05  # at most the masked quarter changes
    # The repaired image is closer to the clean one than the corrupted input was.
    assert ((repaired - held_out) ** 2).mean() < 0.85 * ((corrupted - held_out) ** 2).mean()

    noise = torch.rand(len(held_out), 1, 8, 8, generator=torch.Generator().manual_seed(3))
    assert auroc(method.anomaly_scores(held_out), method.anomaly_scores(noise)) > 0.95


def test_denoising_rejects_an_unknown_corruption():
    with pytest.raises(UserError, match="corruption must be one of gaussian, salt_and_pepper, mask"):
        make("denoising_autoencoder", overrides={"corruption": "blur"})


# ---- inpainting ----------------------------------------------------------------------------------
def test_inpainting_fills_holes_better_than_the_mean_image(digits):
    method = make("inpainting", data=digits[:N_TRAIN])
    losses = train(method, digits[:N_TRAIN])
    assert losses[1] < losses[0]

    held_out = digits[N_TRAIN:]
    preview = method.preview(held_out, torch.Generator().manual_seed(5))
    check_preview(preview, "reconstruction", ["input", "hidden", "reconstruction"], (len(held_out), 1, 8, 8))
    hidden, painted = preview.images["hidden"], preview.images["reconstruction"]
    _, hole = method.hide(held_out, torch.Generator().manual_seed(5))  # the preview's holes, redrawn
    hole = hole.expand_as(held_out)
    share = hole.float().mean().item()
    assert 0.15 < share < 0.35  # region_fraction 0.25, up to rounding of the rectangle's sides
    assert torch.equal(painted[~hole], held_out[~hole])  # only the hole is painted
    assert (hidden[hole] == 0.5).all()

    def hole_error(guess: torch.Tensor) -> float:
        return ((guess - held_out)[hole] ** 2).mean().item()

    assert hole_error(painted) < 0.9 * hole_error(digits[:N_TRAIN].mean(0).expand_as(held_out))

    scores = method.anomaly_scores(held_out)
    assert torch.equal(scores, method.anomaly_scores(held_out))
    noise = torch.rand(len(held_out), 1, 8, 8, generator=torch.Generator().manual_seed(3))
    assert auroc(scores, method.anomaly_scores(noise)) > 0.8


# ---- colorization --------------------------------------------------------------------------------
def coloured_shapes(n: int, seed: int = 0) -> torch.Tensor:
    """(n, 3, 8, 8) dark images with one shape whose colour follows its shape: horizontal bars red,
    vertical bars green, squares blue (each with random brightness and position)."""
    g = torch.Generator().manual_seed(seed)
    palette = torch.tensor([[1.0, 0.15, 0.1], [0.1, 1.0, 0.2], [0.15, 0.3, 1.0]])
    images = torch.full((n, 3, 8, 8), 0.05)
    kinds = torch.randint(3, (n,), generator=g)
    pos = torch.randint(0, 6, (n, 2), generator=g)
    bright = 0.6 + 0.4 * torch.rand(n, generator=g)
    for i in range(n):
        r, c = pos[i].tolist()
        colour = (palette[kinds[i]] * bright[i]).view(3, 1, 1)
        if kinds[i] == 0:
            images[i, :, r, 1:7] = colour[:, :, 0]
        elif kinds[i] == 1:
            images[i, :, 1:7, c] = colour[:, :, 0]
        else:
            images[i, :, r : r + 3, c : c + 3] = colour
    return images


def test_colorization_is_unavailable_on_grayscale_data():
    spec = METHODS.get("colorization")
    reason = spec.unavailable_reason(DIGITS_INFO)
    assert reason and "colour" in reason and "1 channel" in reason
    assert spec.unavailable_reason(DataInfo("rgb", "rgb", 10, 3, 8, 8, False)) is None
    with pytest.raises(UserError, match="needs colour images"):
        make("colorization")


def test_colorization_learns_colours_from_shapes():
    info = DataInfo("shapes", "shapes", 900, 3, 8, 8, False)
    images = coloured_shapes(900)
    train_set, held_out = images[:700], images[700:]
    method = make("colorization", info, data=train_set)
    losses = train(method, train_set, epochs=3, batch_size=32)
    assert losses[-1] < 0.5 * losses[0]

    preview = method.preview(held_out[:8], torch.Generator().manual_seed(0))
    check_preview(preview, "reconstruction", ["input", "grayscale", "reconstruction"], (8, 3, 8, 8))
    gray = preview.images["grayscale"]
    assert torch.allclose(gray[:, 0], gray[:, 1]) and torch.allclose(gray[:, 1], gray[:, 2])

    # Colouring beats leaving the image gray, and swapped colours look anomalous.
    gray_err = per_sample_error(gray_input(held_out), held_out).mean()
    scores = method.anomaly_scores(held_out)
    assert scores.mean() < 0.3 * gray_err
    assert (
        auroc(scores, method.anomaly_scores(held_out[:, [1, 2, 0]])) > 0.95
    )  # red -> blue, green -> red, ...


def test_colorization_backbone_only_ever_sees_gray():
    info = DataInfo("rgb", "rgb", 4, 3, 8, 8, False)
    method = make("colorization", info).eval()
    images = coloured_shapes(4, seed=1)
    feats = method.encode(images)
    assert feats.shape == (4, method.backbone.feature_dim)
    # A colour change that keeps the luma (0.299 R + 0.587 G + 0.114 B) leaves the features unchanged.
    shift = torch.tensor([0.587, -0.2989, 0.0]).view(1, 3, 1, 1) * 0.1
    recoloured = images + shift
    assert not torch.allclose(recoloured, images)
    assert torch.allclose(feats, method.encode(recoloured), atol=1e-6)


def test_colorization_keeps_an_alpha_channel_out_of_the_colours():
    info = DataInfo("rgba", "rgba", 4, 4, 8, 8, False)
    method = make("colorization", info)
    images = torch.rand(4, 4, 8, 8)
    gray = gray_input(images)
    assert torch.equal(gray[:, 3], images[:, 3])
    out = method.training_step(images, StepContext(0, 1, 0, torch.Generator()))
    assert torch.isfinite(out.loss)
    check_preview(
        method.preview(images, torch.Generator()),
        "reconstruction",
        ["input", "grayscale", "reconstruction"],
        (4, 3, 8, 8),
    )
