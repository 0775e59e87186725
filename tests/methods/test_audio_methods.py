"""Methods on audio: masked spectrogram modelling, spectrogram denoising, CPC on waveforms and the
joint-embedding methods learn on generated tones, chirps and pulses with a falling loss and preview in the
audio payload; denoising's reconstruction error flags noise as anomalous; WaveGAN trains its two parts
through the trainer, its samples change, and a stop-then-resume continues both optimizers exactly."""

from __future__ import annotations

import math

import numpy as np
import pytest
import soundfile
import torch
from sklearn.metrics import roc_auc_score

from ssl_core.config import RunConfig
from ssl_core.data.audio_info import audio_info
from ssl_core.data.base import TensorSource
from ssl_core.errors import UserError
from ssl_core.methods import METHODS, SSLMethod, StepContext, _audio
from ssl_core.methods.cpc import latent_steps
from ssl_core.methods.gan import DISCRIMINATOR, GENERATOR
from ssl_core.methods.masked_spectrogram import masked_mse
from ssl_core.methods.setup_check import SetupFacts
from ssl_core.methods.wavegan import PENALTY, WASSERSTEIN
from ssl_core.runs.store import read_metrics
from ssl_core.train.builder import Components, build_components
from ssl_core.train.control import RunControl
from ssl_core.train.events import PreviewReady, StepEnded
from ssl_core.train.live_previews import finished_preview
from ssl_core.train.trainer import Trainer

pytestmark = pytest.mark.usefixtures("one_torch_thread")

SR, SECONDS, N_CLIPS, BATCH = 4000, 0.5, 96, 16
LENGTH = round(SR * SECONDS)
CLASSES = ("tone", "chirp", "pulses")
NEW = ("masked_spectrogram", "spectrogram_denoising", "wavegan")
JOINT = ("simclr", "moco", "byol", "simsiam", "barlow_twins", "vicreg", "nnclr")
SMALL_MEL = {"width": 8}


def waves(n: int, seed: int = 0, kind: str = "sounds") -> tuple[torch.Tensor, torch.Tensor]:
    """(n, 1, LENGTH) clips in [-1, 1] and their labels: steady tones, rising chirps and pulsed tones of
    random pitch (200-1100 Hz) and level, or (kind="noise") white noise at random levels."""
    g = torch.Generator().manual_seed(seed)
    t = torch.arange(LENGTH) / SR
    labels = torch.arange(n) % len(CLASSES)
    pitch = 200 + 900 * torch.rand(n, 1, generator=g)
    level = 0.2 + 0.5 * torch.rand(n, 1, generator=g)
    if kind == "noise":
        return (level * torch.randn(n, LENGTH, generator=g)).clamp(-1, 1).unsqueeze(1), labels
    tone = torch.sin(2 * math.pi * pitch * t)
    chirp = torch.sin(2 * math.pi * (pitch * t + 600 * t * t))
    pulses = tone * (torch.sin(2 * math.pi * 8 * t) > 0).float()
    clips = torch.stack([tone, chirp, pulses])[labels, torch.arange(n)]
    return (level * clips).unsqueeze(1).float(), labels


def synthetic_audio(n: int = N_CLIPS, seed: int = 0) -> TensorSource:
    clips, labels = waves(n, seed)
    return TensorSource(clips, labels, audio_info("sounds", n, 1, SR, SECONDS, CLASSES, n_mels=32))


@pytest.fixture(scope="module")
def source() -> TensorSource:
    return synthetic_audio()


def build(
    name: str, source: TensorSource, backbone: str = "auto", backbone_params=None, **params
) -> Components:
    config = RunConfig()
    config.method.name = name
    config.method.backbone = backbone
    config.method.params = dict(params)
    config.method.backbone_params = dict(backbone_params or {})
    config.data.val_fraction = 0.25
    return build_components(config, source=source)


def train(
    method: SSLMethod, stored: torch.Tensor, steps: int, lr: float = 2e-3, seed: int = 0
) -> list[float]:
    """The trainer's loop in miniature (one optimizer per part, stepped in turn): the step losses."""
    parts = method.optimizer_parts()
    groups = {name: part.params for name, part in parts.items()} or {
        None: [p for p in method.parameters() if p.requires_grad]
    }
    optimizers = {name: torch.optim.AdamW(ps, lr=lr, weight_decay=1e-4) for name, ps in groups.items()}
    g = torch.Generator().manual_seed(seed)
    losses = []
    method.train()
    for step in range(steps):
        batch = method.prepare(stored[torch.randint(len(stored), (BATCH,), generator=g)])
        ctx = StepContext(step=step, total_steps=steps, epoch=0, generator=g)
        total = 0.0
        for name, optimizer in optimizers.items():
            out = method.training_step(batch, ctx, part=name) if name else method.training_step(batch, ctx)
            assert torch.isfinite(out.loss), f"non-finite loss at step {step}"
            optimizer.zero_grad(set_to_none=True)
            out.loss.backward()
            optimizer.step()
            total += out.loss.item()
        method.after_optimizer_step(ctx)
        losses.append(total)
    return losses


def mean(values) -> float:
    values = list(values)
    return sum(values) / len(values)


def check_audio_preview(preview, kind: str, n: int, real: str = "") -> None:
    """The audio payload rule: (n, C, T) waveforms in [-1, 1], or (n, C, M, F) arrays named spec...
    (`real`: an array of the data's own clips, of which there may be fewer)."""
    assert preview.kind == kind and preview.payload == "audio"
    assert preview.meta["sample_rate"] == SR and preview.meta["spectrogram"]["n_mels"] == 32
    for name, array in preview.images.items():
        assert array.dtype == torch.float32 and array.device.type == "cpu", name
        rows = len(array) if name == real and 0 < len(array) <= n else n
        if name.startswith("spec"):
            assert array.dim() == 4 and array.shape[:3] == (rows, 1, 32), name
        else:
            assert array.shape == (rows, 1, LENGTH) and array.abs().max() <= 1, name


# ---- the registry ----------------------------------------------------------------------------------------
def test_new_methods_are_audio_only_and_complete_for_newcomers(source):
    for name in NEW:
        spec = METHODS.get(name)
        assert spec.modalities == ("audio",) and spec.family == "generative"
        assert len(spec.description) > 400 and spec.paper and spec.summary.endswith(".")
        assert all(len(p.help) > 40 for p in spec.params), name
        assert spec.backbone_for(source.info) == {
            "masked_spectrogram": "mel_cnn",
            "wavegan": "wavegan_d",
        }.get(name, "mel_cnn")
    for name in (*JOINT, "cpc"):
        assert "audio" in METHODS.get(name).modalities, name
    assert METHODS.get("cpc").backbone_for(source.info) == "wav_cnn"
    reason = METHODS.get("rotation").unavailable_reason(source.info)
    assert reason and "audio" in reason


def test_spectrogram_methods_refuse_a_waveform_backbone_in_words(source):
    for name in ("masked_spectrogram", "spectrogram_denoising"):
        reason = METHODS.get(name).backbone_reason("wav_cnn", source.info)
        assert "mel_cnn" in reason
    assert "wavegan_d" in METHODS.get("wavegan").backbone_reason("mel_cnn", source.info)
    assert "wav_cnn or wav_gru" in METHODS.get("cpc").backbone_reason("mel_cnn", source.info)
    assert METHODS.get("cpc").backbone_reason("wav_gru", source.info) is None
    assert METHODS.get("cpc").backbone_reason("cnn1d") is None  # series backbones as before
    with pytest.raises(UserError, match="waveform backbone \\(wav_cnn or wav_gru\\)"):
        build("cpc", source, "mel_cnn", SMALL_MEL)
    with pytest.raises(UserError, match="snr_low"):
        build("spectrogram_denoising", source, backbone_params=SMALL_MEL, snr_low=30.0, snr_high=10.0)


def test_cpc_counts_an_audio_clip_in_waveform_frames_before_the_backbone_exists(source):
    assert latent_steps(SetupFacts(source.info)) == math.ceil(LENGTH / 80) == 25
    spec = METHODS.get("cpc")
    assert spec.setup_problems({"window": 4}, source.info) == []
    (problem,) = spec.setup_problems({"window": 20}, source.info)
    assert "sounds's clips" in problem.words and "at most 12" in problem.words


# ---- pieces, by hand -------------------------------------------------------------------------------------
def test_patch_masks_hide_exactly_the_asked_share_of_whole_patches():
    mask = _audio.patch_mask(5, 32, 51, (8, 8), 0.5, torch.Generator().manual_seed(0))
    assert mask.shape == (5, 1, 32, 51) and mask.dtype == torch.bool
    grid = mask[:, 0, ::8, ::8]  # one cell per patch: 4 x 7 patches
    assert grid.shape == (5, 4, 7) and (grid.flatten(1).sum(1) == 14).all()
    assert not torch.equal(grid[0], grid[1])  # each clip its own patches
    blocks = mask[:, 0, :, :48].reshape(5, 4, 8, 6, 8)
    assert (blocks.all(dim=(2, 4)) | ~blocks.any(dim=(2, 4))).all()  # whole patches, hidden or not


def test_masked_loss_counts_the_hidden_cells_only():
    target = torch.randn(2, 2, 4, 6)
    mask = torch.zeros(2, 1, 4, 6, dtype=torch.bool)
    mask[0, 0, :2, :3] = True  # 6 hidden cells x 2 channels in clip 0, none in clip 1
    prediction = target + 5.0  # wrong everywhere...
    prediction[mask.expand_as(target)] = target[mask.expand_as(target)] + 0.5  # ...but close where hidden
    assert masked_mse(prediction, target, mask).item() == pytest.approx(0.25)


def test_noise_is_added_at_the_drawn_signal_to_noise_ratio():
    clips, _ = waves(64)
    noisy, snr = _audio.add_noise(clips, (0.0, 20.0), torch.Generator().manual_seed(1))
    assert noisy.shape == clips.shape and noisy.abs().max() <= 1
    assert snr.min() >= 0 and snr.max() <= 20 and snr.std() > 3
    measured = 10 * torch.log10(clips.pow(2).mean(dim=(1, 2)) / (noisy - clips).pow(2).mean(dim=(1, 2)))
    assert torch.allclose(measured, snr, atol=1.0)  # within clipping and the noise's own spread


# ---- learning --------------------------------------------------------------------------------------------
# name -> (backbone, backbone settings, method settings, steps, learning rate, how far the late loss must fall)
RECIPES = {
    "masked_spectrogram": ("auto", SMALL_MEL, {"decoder_width": 8}, 25, 2e-3, 0.6),
    "spectrogram_denoising": ("auto", SMALL_MEL, {"decoder_width": 8}, 60, 4e-3, 0.6),
    "cpc-wav_cnn": ("wav_cnn", {"width": 16, "dim": 32}, {}, 30, 4e-3, 0.93),
    "cpc-wav_gru": ("wav_gru", {"width": 16, "dim": 32, "hidden": 32}, {}, 30, 4e-3, 0.9),
    "simclr": ("auto", SMALL_MEL, {"proj_hidden_dim": 64}, 30, 2e-3, 0.98),
    "byol": ("auto", SMALL_MEL, {"proj_hidden_dim": 64, "pred_hidden_dim": 64}, 30, 2e-3, 0.8),
}
_TRAINED: dict[str, tuple[Components, list[float]]] = {}


def trained(key: str, source: TensorSource) -> tuple[Components, list[float]]:
    if key not in _TRAINED:
        backbone, backbone_params, params, steps, lr, _ = RECIPES[key]
        parts = build(key.split("-")[0], source, backbone, backbone_params, **params)
        stored, _ = source.read(parts.train_idx)
        _TRAINED[key] = parts, train(parts.method, stored, steps, lr)
    return _TRAINED[key]


@pytest.mark.parametrize("key", list(RECIPES))
def test_each_audio_method_learns_and_previews_clips(key, source):
    parts, losses = trained(key, source)
    *_, factor = RECIPES[key]
    first, last = mean(losses[:5]), mean(losses[-5:])
    print(key, "loss", round(first, 4), "->", round(last, 4))
    assert last < factor * first
    stored, _ = source.read(parts.val_idx[:6])
    preview = finished_preview(parts.method, parts.method.prepare(stored), torch.Generator().manual_seed(0))
    kind = {"cpc": "prediction", "simclr": "views", "byol": "views"}.get(key.split("-")[0], "reconstruction")
    check_audio_preview(preview, kind, 6)
    features = parts.method.encode(parts.method.prepare(stored))
    assert features.shape == (6, parts.method.feature_dim) and torch.isfinite(features).all()


# The other joint-embedding methods: name -> (backbone settings, method settings, steps, learning rate, clips,
# first step of the baseline). MoCo starts with a queue of random unit vectors, easy negatives, so its baseline
# starts after the queue (256 keys, 32 a step) has turned over. It learns slowly on these clips: its keys come
# from an encoder that trails the online one, and on top of its views SpecAugment can hide a tone's only band,
# so within a test's budget its fall with SpecAugment on is within the batches' noise (1-4%). Here it trains
# without SpecAugment, at a gentler learning rate, for more steps, on more clips than its queue holds
# (it learns with SpecAugment too, only more slowly).
JOINT_RECIPES = {
    "moco": ({**SMALL_MEL, "spec_augment": False}, {"queue_size": 256}, 60, 5e-4, 640, 10),
    "simsiam": (SMALL_MEL, {}, 30, 2e-3, N_CLIPS, 0),
    "barlow_twins": (SMALL_MEL, {}, 30, 2e-3, N_CLIPS, 0),
    "vicreg": (SMALL_MEL, {}, 30, 2e-3, N_CLIPS, 0),
    "nnclr": (SMALL_MEL, {"queue_size": 256}, 30, 2e-3, N_CLIPS, 0),
}


@pytest.mark.parametrize("name", list(JOINT_RECIPES))
def test_every_joint_embedding_method_learns_on_clips(name, source):
    backbone_params, params, steps, lr, clips, first = JOINT_RECIPES[name]
    data = source if clips == N_CLIPS else synthetic_audio(clips)
    parts = build(name, data, "auto", backbone_params, **params)
    losses = train(parts.method, data.read(parts.train_idx)[0], steps, lr)
    assert all(math.isfinite(v) for v in losses)
    span = 10 if name == "moco" else 5  # MoCo's per-step losses are noisier around a slow fall
    start, last = mean(losses[first : first + span]), mean(losses[-span:])
    print(name, "loss", round(start, 4), "->", round(last, 4))
    # Each loss has its own scale: a drop of 2% of the start at least (SimSiam starts near 0: an absolute
    # margin instead).
    assert last < start - max(0.02 * abs(start), 0.05), f"{name}: {start:.4f} -> {last:.4f}"
    stored, _ = data.read(parts.val_idx[:4])
    preview = finished_preview(parts.method, parts.method.prepare(stored), torch.Generator().manual_seed(0))
    check_audio_preview(preview, "views", 4)


@pytest.mark.parametrize("name", ["moco", "nnclr"])
def test_a_queue_longer_than_the_clips_is_flagged_in_the_datas_own_words(name, source):
    parts = build(name, source, "auto", SMALL_MEL)  # the default queues outgrow 96 clips
    (warning,) = [w for w in parts.method.setup_warnings if "queue_size" in w]
    assert "96 clips of sounds" in warning and "samples" not in warning


def test_cpc_picks_the_true_future_above_chance(source):
    parts, _ = trained("cpc-wav_gru", source)
    stored, _ = source.read(parts.train_idx[:BATCH])
    with torch.no_grad():
        out = parts.method.training_step(
            parts.method.prepare(stored), StepContext(0, 1, 0, torch.Generator())
        )
    assert out.parts["cpc_acc"] > 4 / (BATCH * 8)  # chance: one in (batch x anchors)
    preview = parts.method.preview(parts.method.prepare(stored[:4]), torch.Generator())
    context, future = preview.images["context"], preview.images["future"]
    assert torch.isfinite(context).all() and (context[..., -80:] == 0).all()  # silence, not NaN, for audio
    assert (future[..., :80] == 0).all()


def test_masked_preview_keeps_visible_patches_and_fills_hidden_ones(source):
    parts, _ = trained("masked_spectrogram", source)
    stored, _ = source.read(parts.val_idx[:4])
    images = parts.method.preview(parts.method.prepare(stored), torch.Generator().manual_seed(3)).images
    spec, masked, rebuilt = (
        images["spectrogram input"],
        images["spectrogram masked"],
        images["spectrogram reconstruction"],
    )
    same = masked == spec
    assert torch.equal(rebuilt[same], spec[same])  # visible cells pass through
    hidden = ~same
    # the guesses are nearer the truth than the flat fill the network saw
    assert (rebuilt[hidden] - spec[hidden]).abs().mean() < (masked[hidden] - spec[hidden]).abs().mean()


def test_masked_anomaly_scores_do_not_depend_on_the_batch(source):
    parts, _ = trained("masked_spectrogram", source)
    method = parts.method
    clips = method.prepare(source.read(parts.val_idx[:6])[0])
    scores = method.anomaly_scores(clips)
    assert scores.shape == (6,) and torch.isfinite(scores).all() and (scores > 0).all()
    assert torch.allclose(method.anomaly_scores(clips[3:]), scores[3:], rtol=1e-4)
    assert torch.allclose(method.anomaly_scores(clips), scores)


def test_denoising_reconstruction_error_flags_noise_as_anomalous(source):
    parts, _ = trained("spectrogram_denoising", source)
    method = parts.method
    normal, _ = source.read(parts.val_idx)
    noise, _ = waves(len(normal), seed=7, kind="noise")
    scores_normal = method.anomaly_scores(method.prepare(normal))
    scores_noise = method.anomaly_scores(method.prepare(noise))
    assert scores_normal.shape == (len(normal),) and torch.isfinite(scores_normal).all()
    labels = np.r_[np.zeros(len(normal)), np.ones(len(noise))]
    auroc = roc_auc_score(labels, np.r_[scores_normal.numpy(), scores_noise.numpy()])
    print("denoising anomaly AUROC, noise vs sounds:", auroc)
    assert auroc > 0.9 and scores_noise.mean() > scores_normal.mean()


# ---- WaveGAN through the trainer -------------------------------------------------------------------------
@pytest.fixture(scope="module")
def sound_folder(tmp_path_factory):
    """24 WAV files of tones, chirps and pulses at 4 kHz, named by class prefix (tone_0.wav, ...)."""
    folder = tmp_path_factory.mktemp("sounds")
    clips, labels = waves(24, seed=3)
    for i, (clip, label) in enumerate(zip(clips, labels.tolist(), strict=True)):
        soundfile.write(folder / f"{CLASSES[label]}_{i}.wav", clip[0].numpy(), SR, subtype="PCM_16")
    return folder


def wavegan_config(runs_dir, folder, *overrides: str) -> RunConfig:
    base = [
        f"data.spec='audio:{folder}'",
        f"data.sample_rate={SR}",
        f"data.clip_seconds={SECONDS}",
        "data.n_mels=32",
        "data.num_workers=0",
        "method.name=wavegan",
        "method.params.generator_width=8",
        "method.params.latent_dim=16",
        "method.backbone_params.width=8",
        "train.batch_size=8",
        "train.device=cpu",
        f"runs_dir={str(runs_dir)!r}",
    ]
    return RunConfig().with_overrides(base + list(overrides))


def test_wavegan_trains_both_parts_and_its_samples_change(tmp_path, sound_folder):
    trainer = Trainer(
        wavegan_config(tmp_path, sound_folder, "train.max_steps=6", "train.seed=2"), preview_interval_s=0.0
    )
    previews = []
    trainer.events.subscribe(lambda e: previews.append(e) if isinstance(e, PreviewReady) else None)
    result = trainer.run()
    assert result.status == "completed", result.message
    records = read_metrics(result.run_dir)
    assert len(records) == 6
    for r in records:
        assert set(r["parts"]) == {DISCRIMINATOR, GENERATOR, WASSERSTEIN, PENALTY}
        assert all(math.isfinite(v) for v in r["parts"].values())
        assert r["loss"] == pytest.approx(r["parts"][DISCRIMINATOR] + r["parts"][GENERATOR], rel=1e-5)
    first, last = previews[0].preview, previews[-1].preview
    assert list(last.images) == ["real", "samples", "more samples", "interpolation"]
    check_audio_preview(last, "samples", 8, real="real")
    assert torch.equal(first.images["real"], last.images["real"])
    assert (first.images["samples"] - last.images["samples"]).abs().mean() > 1e-3


def test_wavegan_stop_then_resume_continues_both_optimizers_exactly(tmp_path, sound_folder):
    overrides = ("train.max_steps=5", "train.seed=4")
    full = Trainer(wavegan_config(tmp_path / "a", sound_folder, *overrides)).run()
    assert full.status == "completed", full.message
    full_records = read_metrics(full.run_dir)
    control = RunControl()
    first = Trainer(wavegan_config(tmp_path / "b", sound_folder, *overrides), control)
    first.events.subscribe(lambda e: control.stop() if isinstance(e, StepEnded) and e.step == 2 else None)
    assert first.run().status == "stopped"
    saved = torch.load(first.run_dir / "checkpoints" / "last.pt", weights_only=True)
    assert list(saved["optimizers"]) == [DISCRIMINATOR, GENERATOR] and saved["step"] == 2
    resumed = Trainer.resume(first.run_dir).run()
    assert resumed.status == "completed" and resumed.step == 5
    records = read_metrics(first.run_dir)
    assert [r["step"] for r in records] == list(range(1, 6))
    for name in (DISCRIMINATOR, GENERATOR):
        assert [r["parts"][name] for r in records] == pytest.approx(
            [r["parts"][name] for r in full_records], rel=1e-4, abs=1e-5
        )
