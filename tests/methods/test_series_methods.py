"""Methods on time series: the joint-embedding, reconstruction, next-step and CPC methods learn on a
synthetic labelled series set, preview as signals, score anomalies; image-only methods are refused."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score

from ssl_core.config import RunConfig
from ssl_core.data.base import DataInfo, TensorSource
from ssl_core.errors import UserError
from ssl_core.methods import FAMILY_ORDER, METHODS, SSLMethod, StepContext, build_method
from ssl_core.methods.autoregressive import FORECAST_CUT
from ssl_core.models import build_backbone
from ssl_core.train.builder import Components, build_components

CHANNELS, LENGTH, N_SERIES = 6, 64, 192
CLASSES = ("sine", "square", "ramp")
BATCH = 32
CAUSAL_REASON = (
    "Next-step prediction needs a causal backbone (gru or lstm): cnn1d and transformer1d see the future."
)


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def synthetic_series(n: int = N_SERIES, seed: int = 0) -> TensorSource:
    """n series of 6 channels x 64 steps in 3 classes: sine, square and ramp (sawtooth) waves.

    Each series has its own period (12-24 steps) and phase; its channels are the same wave with fixed
    per-channel gains (alternating in sign), lags and offsets, like sensors on one moving part, plus
    noise. Raw values are far from standardised (offset 5, scale ~3), so the input adapter matters.
    """
    g = torch.Generator().manual_seed(seed)
    labels = torch.arange(n) % len(CLASSES)
    steps = torch.arange(LENGTH, dtype=torch.float32).view(1, 1, LENGTH)
    period = 12 + 12 * torch.rand(n, 1, 1, generator=g)
    phase = 2 * math.pi * torch.rand(n, 1, 1, generator=g)
    sign = torch.where(torch.arange(CHANNELS) % 2 == 0, 1.0, -1.0)
    gain = (torch.linspace(0.5, 1.5, CHANNELS) * sign).view(1, CHANNELS, 1)
    lag = torch.linspace(0, math.pi / 2, CHANNELS).view(1, CHANNELS, 1)
    angle = 2 * math.pi * steps / period + phase + lag
    waves = torch.stack(
        [torch.sin(angle), torch.sign(torch.sin(angle)), 2 * ((angle / (2 * math.pi)) % 1.0) - 1]
    )
    clean = gain * waves[labels, torch.arange(n)]
    values = 3 * clean + 5 + 0.2 * torch.randn(n, CHANNELS, LENGTH, generator=g)
    info = DataInfo(
        "synthetic:waves",
        "waves",
        n,
        CHANNELS,
        0,
        0,
        True,
        class_names=list(CLASSES),
        modality="series",
        sample_shape=(CHANNELS, LENGTH),
        sample_dtype="float32",
    )
    return TensorSource(values.float(), labels, info)


@pytest.fixture(scope="module")
def source() -> TensorSource:
    return synthetic_series()


def build(name: str, source: TensorSource, backbone: str = "auto", **overrides) -> Components:
    config = RunConfig()
    config.method.name = name
    config.method.backbone = backbone
    config.method.params = dict(overrides)
    config.data.val_fraction = 0.25
    return build_components(config, source=source)


def train(
    method: SSLMethod, stored: torch.Tensor, steps: int, lr: float = 2e-3, seed: int = 0
) -> tuple[list[float], list[dict[str, float]]]:
    """The trainer's loop in miniature on stored batches (through `method.prepare`): losses and parts."""
    opt = torch.optim.AdamW([p for p in method.parameters() if p.requires_grad], lr=lr, weight_decay=1e-4)
    g = torch.Generator().manual_seed(seed)
    losses, parts = [], []
    method.train()
    for step in range(steps):
        batch = stored[torch.randint(len(stored), (BATCH,), generator=g)]
        ctx = StepContext(step=step, total_steps=steps, epoch=0, generator=g)
        out = method.training_step(method.prepare(batch), ctx)
        assert torch.isfinite(out.loss), f"non-finite loss at step {step}"
        opt.zero_grad(set_to_none=True)
        out.loss.backward()
        opt.step()
        method.after_optimizer_step(ctx)
        losses.append(out.loss.item())
        parts.append({k: float(v) for k, v in out.parts.items()})
    return losses, parts


def mean(values: list[float]) -> float:
    return sum(values) / len(values)


def check_signal_preview(preview, kind: str, keys: list[str], n: int) -> None:
    assert preview.kind == kind and preview.payload == "signal"
    assert list(preview.images) == keys
    for key, array in preview.images.items():
        assert tuple(array.shape) == (n, CHANNELS, LENGTH), key
        assert array.dtype == torch.float32 and array.device.type == "cpu", key


_TRAINED: dict[str, tuple[Components, list[float], list[dict[str, float]]]] = {}

# name -> (build overrides, training steps)
RECIPES: dict[str, tuple[dict, int]] = {
    "simclr": ({"proj_hidden_dim": 128}, 40),
    "byol": ({"proj_hidden_dim": 128, "pred_hidden_dim": 128}, 40),
    "vicreg": ({"proj_hidden_dim": 128, "proj_out_dim": 256}, 40),
    "autoencoder": ({}, 60),
    "denoising_autoencoder": ({}, 60),
    "masked_reconstruction": ({}, 60),
    "autoregressive": ({}, 60),
    "cpc": ({}, 60),
}


def trained(name: str, source: TensorSource):
    """The method after a short training run on the synthetic series (once per module)."""
    if name not in _TRAINED:
        overrides, steps = RECIPES[name]
        parts = build(name, source, **overrides)
        stored, _ = source.read(parts.train_idx)
        losses, loss_parts = train(parts.method, stored, steps)
        _TRAINED[name] = parts, losses, loss_parts
    return _TRAINED[name]


def held_out(parts: Components, source: TensorSource) -> torch.Tensor:
    stored, _ = source.read(parts.val_idx)
    return parts.method.prepare(stored)


def auroc(normal: torch.Tensor, anomalous: torch.Tensor) -> float:
    labels = np.r_[np.zeros(len(normal)), np.ones(len(anomalous))]
    return float(roc_auc_score(labels, np.r_[normal.numpy(), anomalous.numpy()]))


# ---- registry --------------------------------------------------------------------------------------
NEW = {"masked_reconstruction": "generative", "autoregressive": "predictive", "cpc": "contrastive"}


@pytest.mark.parametrize("name", list(NEW))
def test_new_specs_are_complete_for_newcomers(name, source):
    spec = METHODS.get(name)
    assert spec.family == NEW[name]
    sentences = [s for s in re.split(r"(?<=[.!?])\s+", spec.description) if s]
    assert 3 <= len(sentences) <= 5, spec.description
    assert spec.paper and spec.summary
    assert "series" in spec.modalities
    for p in spec.params:
        assert len(p.help) > 20, p.name
        assert p.coerce(p.default) == p.default
    assert spec.unavailable_reason(source.info) is None
    assert spec.optim.batch_size <= 256 and spec.optim.optimizer == "adamw"


def test_predictive_family_sits_between_generative_and_pretext():
    assert FAMILY_ORDER.index("generative") + 1 == FAMILY_ORDER.index("predictive")
    assert FAMILY_ORDER.index("predictive") + 1 == FAMILY_ORDER.index("pretext")
    order = METHODS.names()
    assert order.index("masked_reconstruction") < order.index("autoregressive") < order.index("rotation")


@pytest.mark.parametrize("name", ["autoencoder", "denoising_autoencoder"])
def test_reconstruction_methods_serve_both_modalities(name):
    spec = METHODS.get(name)
    assert spec.modalities == ("image", "series", "table")
    assert METHODS.get(name).backbone_for(synthetic_series(6).info) == "gru"
    assert METHODS.get(name).backbone_for(DataInfo("d", "d", 5, 1, 8, 8, True)) == "small_cnn"


@pytest.mark.parametrize("name", ["rotation", "jigsaw", "mae", "colorization", "inpainting"])
def test_image_only_methods_are_refused_on_series(name, source):
    reason = METHODS.get(name).unavailable_reason(source.info)
    assert reason and "series" in reason
    with pytest.raises(UserError, match="series"):
        build(name, source)


# ---- joint-embedding methods (no per-method change for series) -----------------------------------------
@pytest.mark.parametrize("name", ["simclr", "byol", "vicreg"])
def test_joint_methods_learn_on_series(name, source):
    parts, losses, _ = trained(name, source)
    assert parts.backbone_name == "cnn1d"
    assert mean(losses[-10:]) < mean(losses[:5]) - max(0.02 * abs(mean(losses[:5])), 0.05), losses
    x = held_out(parts, source)[:4]
    check_signal_preview(
        parts.method.preview(x, torch.Generator().manual_seed(0)), "views", ["view 1", "view 2"], 4
    )


# ---- autoencoder and denoising ---------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["autoencoder", "denoising_autoencoder", "masked_reconstruction"])
def test_reconstruction_losses_fall_on_series(name, source):
    _, losses, _ = trained(name, source)
    assert mean(losses[-10:]) < 0.75 * mean(losses[:5]), (losses[:5], losses[-10:])


def test_autoencoder_rebuilds_series_better_than_their_mean(source):
    parts, _, _ = trained("autoencoder", source)
    method = parts.method
    x = held_out(parts, source)
    preview = method.preview(x[:5], torch.Generator().manual_seed(0))
    check_signal_preview(preview, "reconstruction", ["input", "reconstruction"], 5)
    assert torch.equal(preview.images["input"], x[:5])
    # Standardised series: always answering the mean (0) costs about 1; the rebuild does clearly better.
    with torch.no_grad():
        err = (method.reconstruct(x) - x).pow(2).mean().item()
    assert err < 0.7 * x.pow(2).mean().item()


@pytest.mark.parametrize("name", ["autoencoder", "denoising_autoencoder", "masked_reconstruction"])
def test_reconstruction_anomaly_scores_flag_noise(name, source):
    parts, _, _ = trained(name, source)
    x = held_out(parts, source)
    scores = parts.method.anomaly_scores(x)
    assert scores.shape == (len(x),) and not scores.requires_grad
    assert torch.equal(scores, parts.method.anomaly_scores(x))  # deterministic
    noise = torch.randn(x.shape, generator=torch.Generator().manual_seed(3))
    assert auroc(scores, parts.method.anomaly_scores(noise)) > 0.9


def test_denoising_previews_its_corruption(source):
    parts, _, _ = trained("denoising_autoencoder", source)
    x = held_out(parts, source)[:6]
    preview = parts.method.preview(x, torch.Generator().manual_seed(0))
    check_signal_preview(preview, "reconstruction", ["input", "corrupted", "reconstruction"], 6)
    noise = preview.images["corrupted"] - x
    assert 0.2 < noise.std().item() < 0.4  # gaussian noise_std 0.3, in units of each channel's spread


def test_denoising_masks_whole_time_windows_of_series(source):
    parts = build("denoising_autoencoder", source, corruption="mask", mask_ratio=0.5, mask_patch=4)
    stored, _ = source.read(parts.train_idx)
    losses, _ = train(parts.method, stored, 20)
    assert mean(losses[-5:]) < mean(losses[:3])
    x = held_out(parts, source)[:4]
    corrupted = parts.method.preview(x, torch.Generator().manual_seed(1)).images["corrupted"]
    hidden = (corrupted == 0).all(dim=1)  # (n, T): a hidden step is hidden in every channel
    assert hidden.float().mean().item() == pytest.approx(0.5, abs=0.01)
    for row in hidden:  # windows of 4 steps, aligned to multiples of 4
        assert torch.equal(row.view(-1, 4), row.view(-1, 4)[:, :1].expand(-1, 4))


def test_corruptions_series_lack_are_refused_when_built(source):
    with pytest.raises(UserError, match=r"salt_and_pepper.*series.*gaussian, mask"):
        build("denoising_autoencoder", source, corruption="salt_and_pepper")
    with pytest.raises(UserError, match="standardised"):
        build("autoencoder", source, loss="bce")


# ---- masked reconstruction -------------------------------------------------------------------------------
def test_masked_reconstruction_hides_time_patches_and_fills_them(source):
    parts, _, _ = trained("masked_reconstruction", source)
    method = parts.method
    assert method.hparams["mask_patch"] == 3  # about T / 20
    x = held_out(parts, source)
    preview = method.preview(x, torch.Generator().manual_seed(2))
    check_signal_preview(preview, "reconstruction", ["input", "masked", "reconstruction"], len(x))
    masked, rebuilt = preview.images["masked"], preview.images["reconstruction"]
    hidden = masked.isnan()
    assert torch.equal(hidden, hidden[:, :1].expand_as(hidden))  # whole steps, all channels
    assert hidden[:, 0].float().mean().item() == pytest.approx(0.5, abs=0.05)
    assert torch.equal(masked[~hidden], x[~hidden])
    assert torch.equal(rebuilt[~hidden], x[~hidden])  # visible values are shown as they were
    # The gaps are filled far better than with each channel's mean (0 after standardisation).
    assert (rebuilt - x)[hidden].pow(2).mean() < 0.5 * x[hidden].pow(2).mean()


def test_masked_reconstruction_visible_weight_and_features_decoder(source):
    parts = build("masked_reconstruction", source, visible_weight=0.1, decoder="features", mask_patch=8)
    assert parts.method.hparams["mask_patch"] == 8
    stored, _ = source.read(parts.train_idx)
    x = parts.method.prepare(stored[:BATCH])
    out = parts.method.training_step(x, StepContext(0, 1, 0, torch.Generator().manual_seed(0)))
    assert set(out.parts) == {"hidden"} and torch.isfinite(out.loss)
    with pytest.raises(UserError, match="mask_patch"):
        build("masked_reconstruction", source, mask_patch=40)


def test_masked_reconstruction_works_on_images():
    from sklearn.datasets import load_digits

    images = torch.tensor(load_digits().images[:512], dtype=torch.float32).div(16.0).unsqueeze(1)
    info = DataInfo("digits", "digits", len(images), 1, 8, 8, True)
    torch.manual_seed(0)
    backbone = build_backbone("small_cnn", 1, 8, mean=[images.mean().item()], std=[images.std().item()])
    method = build_method("masked_reconstruction", backbone, None, info)
    assert method.hparams["mask_patch"] == 2 and not method.per_step
    losses, _ = train(method, images, 40)
    assert mean(losses[-10:]) < 0.8 * mean(losses[:5])
    preview = method.preview(images[:4], torch.Generator().manual_seed(0))
    assert preview.payload == "image_grid" and list(preview.images) == ["input", "masked", "reconstruction"]
    for array in preview.images.values():
        assert array.shape == (4, 1, 8, 8) and array.min() >= 0.0 and array.max() <= 1.0
    assert method.anomaly_scores(images[:10]).shape == (10,)
    with pytest.raises(UserError, match="per-step"):
        build_method("masked_reconstruction", backbone, {"decoder": "per_step"}, info)


# ---- next-step prediction ---------------------------------------------------------------------------------
def test_autoregressive_picks_a_causal_backbone_and_refuses_others(source):
    spec = METHODS.get("autoregressive")
    assert spec.backbone_for(source.info) == "gru"
    assert spec.backbone_reason("gru", source.info) is None
    assert spec.backbone_reason("lstm", source.info) is None
    assert spec.backbone_reason("cnn1d", source.info) == CAUSAL_REASON
    assert spec.backbone_reason("transformer1d", source.info) == CAUSAL_REASON
    with pytest.raises(UserError, match=re.escape(CAUSAL_REASON)):
        build("autoregressive", source, backbone="cnn1d")
    # Asking builds tiny networks; that must not move the global random stream of a seeded run.
    from ssl_core.methods.autoregressive import _is_causal

    _is_causal.cache_clear()
    state = torch.random.get_rng_state()
    spec.backbone_reason("transformer1d", source.info)
    assert torch.equal(state, torch.random.get_rng_state())


def test_autoregressive_learns_to_predict_the_next_step(source):
    parts, losses, _ = trained("autoregressive", source)
    assert parts.backbone_name == "gru"
    assert mean(losses[-10:]) < 0.5 * mean(losses[:5])
    x = held_out(parts, source)
    hold_last = (x[..., :-1] - x[..., 1:]).pow(2).mean().item()  # predict "no change"
    with torch.no_grad():
        error = parts.method.anomaly_scores(x)
    assert error.shape == (len(x),)
    assert error.mean().item() < 0.8 * hold_last


def test_autoregressive_forecast_preview(source):
    parts, _, _ = trained("autoregressive", source)
    x = held_out(parts, source)[:5]
    preview = parts.method.preview(x, torch.Generator())
    check_signal_preview(preview, "forecast", ["history", "truth", "prediction"], 5)
    cut = round(FORECAST_CUT * LENGTH)
    history, truth, prediction = (preview.images[k] for k in ("history", "truth", "prediction"))
    assert torch.equal(history[..., :cut], x[..., :cut]) and history[..., cut:].isnan().all()
    assert truth[..., :cut].isnan().all() and torch.equal(truth[..., cut:], x[..., cut:])
    assert prediction[..., :cut].isnan().all() and prediction[..., cut:].isfinite().all()
    assert len(preview.captions["prediction"]) == 5
    # Fed back on itself for 26 steps, it still beats drawing a flat line at each channel's mean.
    assert (prediction - x)[..., cut:].pow(2).mean() < x[..., cut:].pow(2).mean()


def test_autoregressive_multi_step_horizon(source):
    parts = build("autoregressive", source, backbone="lstm", horizon=3)
    stored, _ = source.read(parts.train_idx)
    losses, loss_parts = train(parts.method, stored, 15)
    assert mean(losses[-5:]) < mean(losses[:3])
    assert set(loss_parts[-1]) == {"next_step"}
    x = parts.method.prepare(stored[:3])
    preview = parts.method.preview(x, torch.Generator())
    assert preview.images["prediction"][..., round(FORECAST_CUT * LENGTH) :].isfinite().all()
    with pytest.raises(UserError, match="horizon"):
        build("autoregressive", synthetic_series(6), horizon=64)


# ---- CPC -----------------------------------------------------------------------------------------------
def test_cpc_learns_to_pick_the_true_future(source):
    parts, losses, loss_parts = trained("cpc", source)
    method = parts.method
    assert parts.backbone_name == "cnn1d" and method.window == 4 and method.max_ahead == 4
    assert mean(losses[-10:]) < 0.7 * mean(losses[:5])
    accuracy = [p["cpc_acc"] for p in loss_parts]
    chance = 1.0 / (BATCH * int(method.hparams["anchors"]))
    assert mean(accuracy[:3]) < 0.1
    assert mean(accuracy[-10:]) > max(0.3, 50 * chance)
    assert {k.split(".")[0] for k in method.state_dict()} >= {"backbone", "context", "predictors"}
    assert method.encode(held_out(parts, source)[:3]).shape == (3, method.feature_dim)


def test_cpc_preview_shows_context_and_predicted_span(source):
    parts, _, _ = trained("cpc", source)
    x = held_out(parts, source)[:6]
    preview = parts.method.preview(x, torch.Generator())
    check_signal_preview(preview, "prediction", ["input", "context", "future"], 6)
    context, future = preview.images["context"], preview.images["future"]
    seen = int(context[0, 0].isfinite().sum())
    span = future[0, 0].isfinite()
    # 16 pooled steps of 4: the context ends at a window edge and the future spans K = 4 windows after it.
    assert seen % 4 == 0 and 0 < seen < LENGTH
    assert span.nonzero().flatten().tolist() == list(range(seen, seen + 16))
    assert torch.equal(context[..., :seen], x[..., :seen]) and context[..., seen:].isnan().all()
    assert all(
        re.fullmatch(r"picked the true future [0-4]/4 times out of 96 latents", c)
        for c in preview.captions["future"]
    )


@pytest.mark.parametrize("backbone", ["gru", "transformer1d"])
def test_cpc_runs_on_other_series_backbones(backbone, source):
    parts = build("cpc", source, backbone=backbone, prediction_steps=6)
    method = parts.method
    stored, _ = source.read(parts.train_idx)
    losses, loss_parts = train(method, stored, 8)
    assert all(math.isfinite(v) for v in losses) and 0.0 <= loss_parts[-1]["cpc_acc"] <= 1.0
    assert method.max_ahead == 6
    preview = method.preview(method.prepare(stored[:3]), torch.Generator())
    assert preview.images["future"].isfinite().any()


def test_cpc_refuses_a_window_that_leaves_too_few_steps(source):
    with pytest.raises(UserError, match="window"):
        build("cpc", source, window=40)
