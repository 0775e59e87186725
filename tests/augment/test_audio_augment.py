"""Audio augmentation: each waveform op's property, the augmenter's contracts (shapes, dtypes, determinism,
per-sample randomness, precision) and the presets."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from ssl_core.augment import audio_ops as ops
from ssl_core.augment.audio import (
    ALL_OFF,
    AUDIO_VIEW_PRESETS,
    AudioAugment,
    AudioViewRecipe,
    audio_view_pair,
    preset_audio_views,
)
from ssl_core.augment.audio_reference import NumpyAudioAugment, NumpyAudioPairs, speed_change
from ssl_core.errors import UserError

pytestmark = pytest.mark.usefixtures("one_torch_thread")

RATE = 4000
LENGTH = 2000  # 0.5 s at 4 kHz
PRESETS = ("simclr", "moco_v2", "byol", "simsiam", "barlow", "vicreg")


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def tones(freqs, length: int = LENGTH, rate: int = RATE, channels: int = 1) -> torch.Tensor:
    """(len(freqs), channels, length) sines at amplitude 0.5."""
    t = torch.arange(length, dtype=torch.float32) / rate
    f = torch.as_tensor(freqs, dtype=torch.float32).view(-1, 1, 1)
    return (0.5 * torch.sin(2 * math.pi * f * t)).expand(-1, channels, -1).clone()


def clips(n: int = 8, channels: int = 1, seed: int = 0) -> torch.Tensor:
    """Tones of different pitches with noise, so every clip is different."""
    g = gen(seed)
    x = tones(200 + 1500 * torch.rand(n, generator=g), channels=channels)
    return x + 0.05 * torch.randn(x.shape, generator=g)


def rms_db(x: torch.Tensor) -> torch.Tensor:
    return 10 * torch.log10(ops.power(x))


def peak_hz(x: torch.Tensor, rate: int = RATE) -> torch.Tensor:
    """(B,) the strongest frequency of each clip's first channel (Hann-windowed spectrum)."""
    w = torch.hann_window(x.shape[-1], periodic=False)
    spectrum = torch.fft.rfft(x[:, 0].double() * w, n=8 * x.shape[-1]).abs()
    return spectrum.argmax(dim=1).double() * rate / (8 * x.shape[-1])


# ---- the ops ---------------------------------------------------------------------------------------------
def test_gain_changes_rms_by_the_db_given():
    x = clips(4)
    db = torch.tensor([-6.0, -1.5, 0.0, 4.5])
    torch.testing.assert_close(rms_db(ops.gain(x, db)) - rms_db(x), db, atol=1e-4, rtol=0)
    faded = ops.gain(x, torch.zeros(4), torch.full((4,), -20.0))
    start, end = faded[..., :100].abs().amax(-1), faded[..., -100:].abs().amax(-1)
    assert (end < 0.2 * start).all()  # a fade down by 20 dB (x 0.1) over the clip


def test_noise_is_added_at_the_snr_asked_for():
    x = clips(5)
    snr = torch.tensor([0.0, 5.0, 10.0, 20.0, 40.0])
    noisy = ops.add_noise(x, torch.randn(x.shape, generator=gen(1)), snr)
    measured = rms_db(x) - rms_db(noisy - x)
    torch.testing.assert_close(measured, snr, atol=1e-3, rtol=0)
    silent = torch.zeros(1, 1, 100)
    assert torch.equal(ops.add_noise(silent, torch.randn(1, 1, 100), torch.tensor([10.0])), silent)


def test_speeding_up_by_1_1_raises_a_tone_by_10_percent():
    x = tones([500.0, 500.0, 800.0])
    out = ops.speed(x, torch.tensor([1.1, 1.0, 0.9]))
    middle = out[..., 400:1600]  # where every factor still has the sound
    expected = torch.tensor([550.0, 500.0, 720.0], dtype=torch.float64)
    torch.testing.assert_close(peak_hz(middle), expected, atol=4.0, rtol=0)
    kept = ops.power(middle) / ops.power(x[..., 400:1600])
    assert (kept - 1).abs().max() < 0.05  # resampled, not dulled
    torch.testing.assert_close(out[1], x[1], atol=1e-4, rtol=0)  # factor 1 is the identity


def test_speed_up_is_anti_aliased():
    # 1.8 kHz played 1.25x faster would be 2.25 kHz, above the 2 kHz Nyquist: without a low-pass it
    # would fold back to 1.75 kHz. It is removed instead.
    x = tones([1800.0])
    out = ops.speed(x, torch.tensor([1.25]))
    assert float(ops.power(out[..., 300:1700])) < 1e-3 * float(ops.power(x))
    low = ops.speed(tones([300.0]), torch.tensor([1.25]))  # well below the new Nyquist: kept
    assert float(ops.power(low[..., 400:1600])) > 0.9 * float(ops.power(tones([300.0])))


def test_shift_moves_the_peak():
    x = torch.zeros(3, 2, 100)
    x[:, :, 40] = 1.0
    zero = ops.shift(x, torch.tensor([10.0, -15.0, 70.0]), "zero")
    assert zero[:, 0].argmax(dim=1).tolist() == [50, 25, 0] and float(zero[2].abs().sum()) == 0.0
    circular = ops.shift(x, torch.tensor([10.0, -15.0, 70.0]), "circular")
    assert circular[:, 1].argmax(dim=1).tolist() == [50, 25, 10]
    with pytest.raises(ValueError, match="mode"):
        ops.shift(x, torch.zeros(3), "reflect")


def test_crop_keeps_a_window_in_place_and_silences_the_rest():
    x = torch.ones(2, 1, 100)
    out = ops.crop(x, torch.tensor([10.0, 0.0]), torch.tensor([30.0, 100.0]))
    assert out[0, 0, 10:40].eq(1).all() and out[0, 0, :10].eq(0).all() and out[0, 0, 40:].eq(0).all()
    assert torch.equal(out[1], x[1])


def test_mixup_keeps_the_clip_dominant():
    x = clips(6)
    loud = x.clone()
    loud[3] *= 10.0  # a loud partner is loudness-matched first, so it cannot drown its partner's clip
    partners = ops.cyclic_partners(torch.randperm(6, generator=gen(2)))
    assert not torch.equal(partners, torch.arange(6)) and (partners != torch.arange(6)).all()
    assert sorted(partners.tolist()) == list(range(6))
    mixed = ops.mix(loud, loud[partners], torch.full((6,), 0.4))
    own = (mixed * loud).flatten(1).sum(1) / loud.flatten(1).norm(dim=1)
    other = (mixed * loud[partners]).flatten(1).sum(1) / loud[partners].flatten(1).norm(dim=1)
    assert (own.abs() > other.abs()).all()
    torch.testing.assert_close(ops.mix(x, x[partners], torch.zeros(6)), x)


def test_low_pass_removes_above_and_keeps_below_the_cutoff():
    x = tones([300.0, 1500.0])
    out = ops.low_pass(x, torch.tensor([0.25, 0.25]))  # cutoff at 1 kHz (0.25 of 4 kHz)
    assert float(ops.power(out[:1])) > 0.95 * float(ops.power(x[:1]))
    assert float(ops.power(out[1:])) < 1e-4 * float(ops.power(x[1:]))
    assert ops.fft_size(16256) == 16384 and ops.fft_size(16000) == 16000


# ---- the augmenter ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("preset", PRESETS)
def test_every_preset_gives_two_batched_views(preset):
    first, second = audio_view_pair(preset, channels=2, sample_rate=RATE, length=LENGTH)
    x = clips(6, channels=2)
    a, b = first(x, gen(0)), second(x, gen(1))
    assert a.shape == b.shape == x.shape and a.dtype == b.dtype == torch.float32
    assert torch.isfinite(a).all() and not torch.equal(a, x) and not torch.equal(a, b)


def test_presets_cover_the_joint_embedding_names_and_differ_in_strength():
    assert set(PRESETS) <= set(AUDIO_VIEW_PRESETS.names())
    simclr, moco, byol = (preset_audio_views(n)[0] for n in ("simclr", "moco_v2", "byol"))
    assert simclr.speed_range[1] > moco.speed_range[1] and simclr.gain_db[1] > moco.gain_db[1]
    assert simclr.noise_snr_db[0] < moco.noise_snr_db[0] and simclr.crop_scale[0] < moco.crop_scale[0]
    assert byol.mixup_p == 1.0 and byol.mixup_ratio == 0.4 and byol.fade_db > 0  # BYOL-A
    with pytest.raises(UserError, match="augmentation preset"):
        preset_audio_views("mixmatch")


def test_views_are_deterministic_given_the_seed_and_differ_per_sample():
    aug = AudioAugment(AudioViewRecipe(), 1, RATE)
    x = clips(1).expand(8, -1, -1).clone()  # eight copies of one clip
    a, b, c = aug(x, gen(5)), aug(x, gen(5)), aug(x, gen(6))
    assert torch.equal(a, b) and not torch.equal(a, c)
    distinct = {tuple(v.flatten()[::97].tolist()) for v in a}
    assert len(distinct) == 8  # every copy got its own view


def test_gain_view_changes_loudness_within_the_range_and_per_sample():
    aug = AudioAugment(ALL_OFF.replace(gain_p=1.0, gain_db=(-6.0, 6.0)), 1, RATE)
    x = clips(32)
    change = rms_db(aug(x, gen(0))) - rms_db(x)
    assert change.min() >= -6.001 and change.max() <= 6.001 and change.std() > 2.0


def test_noise_view_snr_is_within_the_range():
    aug = AudioAugment(ALL_OFF.replace(noise_p=1.0, noise_snr_db=(10.0, 20.0)), 1, RATE)
    x = clips(32)
    snr = rms_db(x) - rms_db(aug(x, gen(0)) - x)
    assert snr.min() > 9.0 and snr.max() < 21.0 and snr.max() - snr.min() > 5.0


def test_probability_zero_changes_nothing_and_one_changes_everything():
    x = clips(16)
    off = AudioAugment(ALL_OFF, 1, RATE)(x, gen(0))
    assert torch.equal(off, x) and off is not x
    aug = AudioAugment(ALL_OFF.replace(noise_p=0.5), 1, RATE)
    changed = (aug(x, gen(3)) != x).flatten(1).any(1)
    assert 0 < int(changed.sum()) < 16


def test_crop_view_respects_the_scale_and_the_minimum_length():
    recipe = ALL_OFF.replace(crop_p=1.0, crop_scale=(0.5, 0.7))
    aug = AudioAugment(recipe, 1, RATE)
    x = torch.ones(32, 1, LENGTH)
    kept = aug(x, gen(0)).ne(0).flatten(1).sum(1).float() / LENGTH
    assert kept.min() >= 0.5 - 1e-3 and kept.max() <= 0.7 + 1e-3
    short = ALL_OFF.replace(crop_p=1.0, crop_scale=(0.05, 1.0)).scaled_for(RATE, 800)  # 0.2 s clips
    assert short.crop_scale[0] == pytest.approx(0.5)  # at least 0.1 s
    assert short.scaled_for(RATE, 800) == short
    assert ALL_OFF.replace(crop_scale=(0.5, 1.0)).scaled_for(16000, 16000).crop_scale == (0.5, 1.0)


def test_mixup_view_mixes_in_other_clips_of_the_batch():
    aug = AudioAugment(ALL_OFF.replace(mixup_p=1.0, mixup_ratio=0.4), 1, RATE)
    x = tones([300.0, 600.0, 900.0, 1200.0])
    out = aug(x, gen(0))
    spectra = torch.fft.rfft(out[:, 0].double()).abs()
    for i, f in enumerate([300, 600, 900, 1200]):
        own = float(spectra[i, int(f * LENGTH / RATE)])
        others = [float(spectra[i, int(g * LENGTH / RATE)]) for g in (300, 600, 900, 1200) if g != f]
        assert own > max(others)  # the clip stays the loudest sound
        assert max(others) > 0.01 * own  # and another clip was mixed in
    one = aug(x[:1], gen(0))  # a batch of one has nobody to mix with
    torch.testing.assert_close(one, x[:1])


def test_views_ignore_autocast_and_keep_float64():
    aug = AudioAugment(AudioViewRecipe(), 1, RATE)
    x = clips(4)
    ref = aug(x, gen(0))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert torch.equal(aug(x, gen(0)), ref)
    out64 = aug(x.double(), gen(0))
    assert out64.dtype == torch.float64
    torch.testing.assert_close(out64.float(), ref, atol=1e-4, rtol=1e-4)


def test_bad_recipes_and_shapes_are_refused():
    with pytest.raises(UserError, match="mixup_ratio"):
        AudioViewRecipe(mixup_ratio=0.5)
    with pytest.raises(UserError, match="speed_range"):
        AudioViewRecipe(speed_range=(1.2, 0.9))
    with pytest.raises(UserError, match="shift_mode"):
        AudioViewRecipe(shift_mode="reflect")
    with pytest.raises(ValueError, match=r"waveforms \(B, 1, T\)"):
        AudioAugment(AudioViewRecipe(), 1, RATE)(torch.zeros(2, 100), gen(0))
    assert AudioViewRecipe(gain_db=[-1.0, 1.0]).gain_db == (-1.0, 1.0)  # lists from config files


def test_read_at_is_keys_cubic_with_silence_outside():
    a = ops.CUBIC_A
    x = torch.randn(3, 2, 50, generator=gen(4))
    pos = torch.rand(3, 80, generator=gen(5), dtype=torch.float64) * 70 - 10  # some outside the clip

    def weight(d: torch.Tensor) -> torch.Tensor:
        d = d.abs()
        near = ((a + 2) * d - (a + 3)) * d * d + 1
        far = ((a * d - 5 * a) * d + 8 * a) * d - 4 * a
        return torch.where(d <= 1, near, torch.where(d < 2, far, torch.zeros_like(d)))

    below = pos.floor()
    expected = torch.zeros(3, 2, 80, dtype=torch.float64)
    for k in (-1, 0, 1, 2):
        j = below.long() + k
        inside = ((j >= 0) & (j < 50)).unsqueeze(1)
        taps = torch.gather(x.double(), 2, j.clamp(0, 49).unsqueeze(1).expand(-1, 2, -1)) * inside
        expected += taps * weight(pos - below - k).unsqueeze(1)
    torch.testing.assert_close(ops.read_at(x, pos.float()), expected.float(), atol=1e-5, rtol=0)
    whole = torch.arange(50.0).expand(3, -1)
    assert torch.equal(ops.read_at(x, whole), x)  # whole samples read themselves exactly


def test_views_on_chosen_rows_equal_views_of_the_whole_batch(monkeypatch):
    # On a CPU each op computes only the samples it hits; on an accelerator it computes all of them and
    # keeps the hit ones with torch.where. Same draws (no noise: that draws per hit sample on a CPU),
    # same views.
    x = clips(12, channels=2)
    for name in ("simclr", "byol"):
        recipe = preset_audio_views(name)[0].replace(noise_p=0.0).scaled_for(RATE, LENGTH)
        aug = AudioAugment(recipe, 2, RATE)
        rows = aug(x, gen(7))
        monkeypatch.setattr(ops, "rows_only", lambda _: False)
        whole = aug(x, gen(7))
        monkeypatch.undo()
        torch.testing.assert_close(rows, whole, atol=1e-6, rtol=0)
    noisy = AudioAugment(ALL_OFF.replace(noise_p=0.5, noise_snr_db=(10.0, 10.0)), 2, RATE)
    out = noisy(x, gen(1))
    hit = (out != x).flatten(1).any(1)
    snr = rms_db(x[hit]) - rms_db(out[hit] - x[hit])
    assert 0 < int(hit.sum()) < 12 and torch.allclose(snr, torch.full_like(snr, 10.0), atol=1e-3)


def test_views_do_not_write_into_the_input():
    x = clips(8)
    before = x.clone()
    for name in PRESETS:
        first, _ = audio_view_pair(name, 1, RATE, LENGTH)
        first(x, gen(0))
        assert torch.equal(x, before)


# ---- the per-sample NumPy reference (the benchmark's baseline) -----------------------------------------------
def _reference_views(recipe: AudioViewRecipe, x: torch.Tensor, seed: int = 0) -> torch.Tensor:
    aug, rng = NumpyAudioAugment(recipe, x.shape[1]), np.random.default_rng(seed)
    return torch.from_numpy(np.stack([aug(clip, rng) for clip in x.numpy()]))


def test_reference_gain_and_noise_have_the_engines_statistics():
    x = clips(64)
    gain = ALL_OFF.replace(gain_p=1.0, gain_db=(-6.0, 6.0))
    noise = ALL_OFF.replace(noise_p=1.0, noise_snr_db=(10.0, 20.0))
    for out in (AudioAugment(gain, 1, RATE)(x, gen(0)), _reference_views(gain, x)):
        change = rms_db(out) - rms_db(x)  # U(-6, 6): mean 0, std 3.46
        assert change.min() >= -6.001 and change.max() <= 6.001 and abs(float(change.std()) - 3.46) < 0.8
    for out in (AudioAugment(noise, 1, RATE)(x, gen(0)), _reference_views(noise, x)):
        snr = rms_db(x) - rms_db(out - x)
        assert snr.min() > 9.0 and snr.max() < 21.0 and abs(float(snr.mean()) - 15.0) < 1.5


def test_reference_speed_change_matches_the_engine():
    x = tones([500.0])
    reference = torch.from_numpy(speed_change(x[0].numpy(), 1.1)).unsqueeze(0)
    engine = ops.speed(x, torch.tensor([1.1]))
    middle = slice(400, 1600)  # (the reference centres to a whole sample: its phase differs a little)
    assert (
        float(peak_hz(reference[..., middle]))
        == float(peak_hz(engine[..., middle]))
        == pytest.approx(550, abs=4)
    )
    assert float(ops.power(reference[..., middle])) == pytest.approx(
        float(ops.power(engine[..., middle])), rel=0.05
    )
    sound = engine[0, 0].ne(0).nonzero().flatten()
    assert 80 <= int(sound[0]) <= 100 and 1900 <= int(sound[-1]) <= 1920  # 1 / 1.1 of the clip, centred
    assert reference[0, 0, :85].abs().max() == 0 and reference[0, 0, -85:].abs().max() == 0


def test_reference_pairs_are_clips_for_a_dataloader():
    pairs = NumpyAudioPairs(clips(6, channels=2).numpy(), preset_audio_views("byol"), seed=0)
    first, second = pairs[1]
    assert len(pairs) == 6 and first.shape == second.shape == (2, LENGTH) and first.dtype == torch.float32
    assert not torch.equal(first, second)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_views_on_cuda_are_deterministic_and_never_wait_for_the_device():
    first, _ = audio_view_pair("simclr", 1, RATE, LENGTH)
    x = clips(8).cuda()
    g = torch.Generator(device="cuda")
    out = first(x, g.manual_seed(0))  # warm-up (cuFFT plans)
    torch.cuda.set_sync_debug_mode("error")
    try:
        again = first(x, g.manual_seed(0))
        byol, _ = audio_view_pair("byol", 1, RATE, LENGTH)
        byol(x, g)
    finally:
        torch.cuda.set_sync_debug_mode("default")
    assert out.device.type == "cuda" and out.shape == x.shape and torch.isfinite(out).all()
    assert torch.equal(again, out)
    cpu = first(clips(8), torch.Generator().manual_seed(0))
    assert cpu.shape == out.shape  # (CUDA and CPU generators draw different numbers)
