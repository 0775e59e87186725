"""Masked autoencoder and its ViT: patching, masking, patch-size rules, learning, previews, anomaly scores."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits
from sklearn.metrics import roc_auc_score

from ssl_core.data.base import DataInfo
from ssl_core.errors import UserError
from ssl_core.methods import StepContext, build_method
from ssl_core.methods.mae import MAE, resolve_patch_size
from ssl_core.models import build_backbone
from ssl_core.models.vit import ViTEncoder, patchify, random_masking, sincos_pos_embed_2d, unpatchify

DIGITS_INFO = DataInfo("digits", "digits", 1797, 1, 8, 8, True)
N_TRAIN = 1500
SMALL = {"embed_dim": 64, "depth": 2, "num_heads": 2, "decoder_dim": 64, "decoder_depth": 1}


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """These tiny models run fastest on one thread; more threads only contend on a shared CPU."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def digits() -> torch.Tensor:
    return torch.tensor(load_digits().images, dtype=torch.float32).div(16.0).unsqueeze(1)


def make(
    info: DataInfo = DIGITS_INFO, overrides: dict | None = None, data: torch.Tensor | None = None
) -> MAE:
    torch.manual_seed(0)
    mean = std = None
    if data is not None:
        mean, std = data.mean(dim=(0, 2, 3)).tolist(), data.std(dim=(0, 2, 3)).clamp_min(1e-3).tolist()
    backbone = build_backbone("small_cnn", info.channels, info.height, mean=mean, std=std)
    return build_method("mae", backbone, {**SMALL, **(overrides or {})}, info)


def train(
    method, images: torch.Tensor, epochs: int = 2, batch_size: int = 32, lr: float = 2e-3
) -> list[float]:
    opt = torch.optim.AdamW(method.parameters(), lr=lr, weight_decay=0.05)
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
            assert torch.isfinite(out.loss)
            opt.zero_grad()
            out.loss.backward()
            opt.step()
            method.after_optimizer_step(ctx)
            losses.append(out.loss.item())
            step += 1
        means.append(sum(losses) / len(losses))
    return means


@pytest.fixture(scope="module")
def trained(digits):
    method = make(data=digits[:N_TRAIN])
    return method, train(method, digits[:N_TRAIN])


# ---- ViT pieces ---------------------------------------------------------------------------------
def test_patchify_round_trips_and_orders_patches_row_major():
    x = torch.arange(2 * 3 * 4 * 6, dtype=torch.float32).view(2, 3, 4, 6)
    patches = patchify(x, 2)
    assert patches.shape == (2, 6, 12)
    # Patch 1 is the second in the top row: rows 0-1, columns 2-3; its first pixel is (0, 2), channel 0.
    assert patches[0, 1, 0] == x[0, 0, 0, 2]
    assert patches[0, 1, :3].tolist() == x[0, :, 0, 2].tolist()  # channels innermost
    assert torch.equal(unpatchify(patches, 2, 3, (2, 3)), x)


def test_sincos_position_embedding_is_distinct_and_bounded():
    pe = sincos_pos_embed_2d(16, 3, 4)
    assert pe.shape == (12, 16)
    assert pe.abs().max() <= 1.0
    assert torch.cdist(pe, pe).add(torch.eye(12)).min() > 0.1  # every position is different
    assert torch.equal(pe[0, :4], torch.zeros(4))  # sin(0) for the first row's row-half


def test_random_masking_hides_the_requested_share_per_sample():
    g = torch.Generator().manual_seed(0)
    ids_keep, ids_restore, mask = random_masking(5, 16, 0.75, g, "cpu")
    assert ids_keep.shape == (5, 4) and mask.shape == (5, 16)
    assert mask.sum(dim=1).tolist() == [12.0] * 5
    for b in range(5):  # the kept ids are exactly the unmasked patches
        assert sorted(ids_keep[b].tolist()) == torch.nonzero(mask[b] == 0).flatten().tolist()
    assert len({tuple(row) for row in mask.tolist()}) > 1  # different samples, different masks
    assert torch.equal(
        torch.arange(16).expand(5, -1).gather(1, ids_restore).argsort(1).argsort(1), ids_restore
    )
    # Extreme ratios still leave something to see and something to predict.
    _, _, mask = random_masking(2, 4, 0.99, g, "cpu")
    assert mask.sum(dim=1).tolist() == [3.0, 3.0]


# ---- patch size rules ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("size", "patch"), [(8, 2), (16, 4), (28, 4), (32, 4), (64, 8), (96, 8), (224, 16), (30, 3)]
)
def test_automatic_patch_size_suits_the_image_size(size, patch):
    assert resolve_patch_size(0, size, size) == patch


def test_mae_refuses_an_image_size_its_patch_does_not_divide():
    info = DataInfo("x", "x", 10, 1, 30, 30, False)
    with pytest.raises(UserError) as err:
        make(info, {"patch_size": 4})
    message = str(err.value)
    assert "data.image_size = 30" in message and "patch_size = 4" in message
    assert "divisible" in message
    with pytest.raises(UserError, match="data.image_size"):
        resolve_patch_size(0, 13, 13)  # prime: no patch of 2 px or more fits


def test_mae_checks_head_counts_with_a_clear_message():
    with pytest.raises(UserError, match="embed_dim = 64 must be a multiple of 4 and of num_heads = 3"):
        make(overrides={"num_heads": 3})


# ---- the method ---------------------------------------------------------------------------------
def test_mae_replaces_the_backbone_with_its_vit(trained, digits):
    method, _ = trained
    assert isinstance(method.backbone, ViTEncoder)
    assert method.backbone.patch_size == 2 and method.backbone.grid == (4, 4)
    assert not any(name.startswith("backbone.net") for name, _ in method.named_parameters())
    assert method.feature_dim == 64
    assert method.encode(digits[:5]).shape == (5, 64)
    # The ViT kept the run's input normalisation.
    assert method.backbone.mean.flatten().item() == pytest.approx(digits[:N_TRAIN].mean().item(), rel=1e-5)


def test_mae_loss_falls_and_predicts_hidden_pixels_better_than_a_constant(trained, digits):
    method, losses = trained
    assert losses[1] < 0.9 * losses[0]
    held_out = digits[N_TRAIN:]
    predicted, hidden = method.reconstruct(held_out, torch.Generator().manual_seed(0))
    assert predicted.shape == held_out.shape and hidden.shape == (len(held_out), 1, 8, 8)
    assert hidden.float().mean().item() == pytest.approx(0.75)
    hidden = hidden.expand_as(held_out)

    def hidden_mse(guess: torch.Tensor) -> float:
        return ((guess - held_out)[hidden] ** 2).mean().item()

    # The dataset's mean pixel everywhere: what a model that learned nothing about digits would say.
    constant = torch.full_like(held_out, digits[:N_TRAIN].mean().item())
    assert hidden_mse(predicted) < 0.7 * hidden_mse(constant)


def test_mae_preview_pastes_visible_patches_back(trained, digits):
    method, _ = trained
    images = digits[N_TRAIN : N_TRAIN + 6]
    preview = method.preview(images, torch.Generator().manual_seed(0))
    assert preview.kind == "reconstruction"
    assert list(preview.images) == ["input", "masked", "reconstruction"]
    for grid in preview.images.values():
        assert grid.shape == (6, 1, 8, 8) and grid.min() >= 0 and grid.max() <= 1
    masked, recon = preview.images["masked"], preview.images["reconstruction"]
    # The preview's masks, redrawn from the same seed.
    _, pixel_mask = method.reconstruct(images, torch.Generator().manual_seed(0))
    assert pixel_mask.float().mean().item() == pytest.approx(0.75)
    assert torch.equal(recon[~pixel_mask], images[~pixel_mask])
    assert (masked[pixel_mask] == 0.5).all()
    assert not torch.equal(recon[pixel_mask], images[pixel_mask])  # hidden ones are predicted


def test_mae_anomaly_scores_flag_noise(trained, digits):
    method, _ = trained
    clean = digits[N_TRAIN:]
    scores = method.anomaly_scores(clean)
    assert scores.shape == (len(clean),) and torch.equal(scores, method.anomaly_scores(clean))
    noise = torch.rand(len(clean), 1, 8, 8, generator=torch.Generator().manual_seed(3))
    labels = np.r_[np.zeros(len(clean)), np.ones(len(noise))]
    assert roc_auc_score(labels, np.r_[scores.numpy(), method.anomaly_scores(noise).numpy()]) > 0.95


def test_mae_norm_pix_loss_trains_and_previews_in_pixel_units(digits):
    method = make(overrides={"norm_pix_loss": True}, data=digits[:N_TRAIN])
    losses = train(method, digits[:600], epochs=2)
    assert losses[1] < losses[0]
    preview = method.preview(digits[:4], torch.Generator().manual_seed(0))
    assert preview.images["reconstruction"].min() >= 0 and preview.images["reconstruction"].max() <= 1


def test_mae_runs_on_colour_images_of_other_sizes():
    info = DataInfo("rgb", "rgb", 8, 3, 32, 32, False)
    method = make(info)
    assert method.backbone.patch_size == 4 and method.backbone.num_patches == 64
    images = torch.rand(4, 3, 32, 32)
    out = method.training_step(images, StepContext(0, 1, 0, torch.Generator()))
    out.loss.backward()
    assert torch.isfinite(out.loss)
    assert method.anomaly_scores(images).shape == (4,)
