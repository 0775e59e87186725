"""bench/bench_audio.py runs end to end in --quick mode on generated sounds: it prints its tables with finite
ratios, writes only its own section, hands run_all its target, says which ISA and precision it ran with, and
its per-clip reference applies the engine's recipe (each op checked on one clip)."""

from __future__ import annotations

import math
import sys

import numpy as np
import pytest

from tests.bench.test_bench_smoke import EARLIER, load, results, run_quick  # noqa: F401 - fixture

NAME = "bench_audio"


def test_audio_bench_quick(results, tmp_path, capsys):  # noqa: F811
    text, targets = run_quick(NAME, results, tmp_path, "--device", "cpu", "--workers", "0")
    printed = capsys.readouterr().out
    assert "clips of shape (1, 2000) at 4000 Hz" in printed
    rows = [line for line in text.splitlines() if line.startswith("| mel_cnn | 8 | 1 x 2,000 |")]
    assert len(rows) == 1
    speedup = float(rows[0].rstrip(" |").rsplit("|", 1)[1].strip().strip("*").rstrip("x"))
    assert math.isfinite(speedup) and speedup > 0
    for heading in ("### Where the gain comes from", "### Views only"):
        assert heading in text
    assert "engine: AudioAugment x 2 on the resident batch" in text
    assert "ISA in use: ATen kernels" in text and "oneDNN" in text and "engine precision" in text
    engine, reference = (
        float(v) for v in text.split("clips: engine ", 1)[1].split(" (")[0].split(", reference ")
    )
    assert 0.5 < engine / reference < 2.0  # the same recipe makes views of the same loudness
    assert [t["target"] for t in targets] == ["simclr mel_cnn: engine >= 2x per-clip augmentation DataLoader"]
    assert isinstance(targets[0]["met"], bool) and targets[0]["measured"].endswith("workers)")


def test_generated_sounds_are_seeded_and_in_range():
    bench = load(NAME)
    rng = np.random.default_rng
    for kind in bench.KINDS:
        a = bench.generated_sound(kind, 0.5, 4000, rng(1))
        assert a.shape == (2000,) and a.dtype == np.float32 and np.abs(a).max() <= 1.0
        assert np.array_equal(a, bench.generated_sound(kind, 0.5, 4000, rng(1)))
        assert np.sqrt(np.mean(a**2)) > 0.01  # a sound, not silence


def _one_op(**on):
    from ssl_core.augment.audio import ALL_OFF

    return ALL_OFF.replace(**on)


def test_per_clip_reference_does_each_op_of_the_recipe():
    bench = load(NAME)
    t = np.arange(4000) / 4000
    clip = (0.5 * np.sin(2 * np.pi * 100 * t))[None].astype(np.float32)
    other = np.ascontiguousarray(0.1 * clip[:, ::-1])  # mixup's partner: the one other clip of the set
    data = bench.PerClipViews(other[None], (_one_op(), _one_op()), seed=0)
    rng = np.random.default_rng(0)
    rms = float(np.sqrt(np.mean(clip**2)))
    assert np.array_equal(data.view(clip, _one_op(), rng), clip)  # everything off: the clip itself
    gained = data.view(clip, _one_op(gain_p=1.0, gain_db=(6.0, 6.0)), rng)
    assert np.allclose(gained, clip * 10 ** (6 / 20), atol=1e-6)
    noisy = data.view(clip, _one_op(noise_p=1.0, noise_snr_db=(10.0, 10.0)), rng)
    noise_power = np.mean((noisy - clip) ** 2)
    assert 10 * np.log10(rms**2 / noise_power) == pytest.approx(10.0, abs=1e-3)
    cropped = data.view(clip, _one_op(crop_p=1.0, crop_scale=(0.25, 0.25)), rng)
    assert np.count_nonzero(cropped) <= 1000 and np.count_nonzero(cropped) > 900
    shifted = data.view(clip, _one_op(shift_p=1.0, shift_max=0.1), rng)
    assert np.allclose(np.abs(shifted).max(), np.abs(clip).max(), atol=1e-3)
    faster = bench._speed(clip.astype(np.float64), 1.25)  # 100 Hz played 1.25x faster: 125 Hz
    spectrum = np.abs(np.fft.rfft(faster[0]))
    assert np.argmax(spectrum) == 125 and np.count_nonzero(faster[0, :300]) < 300  # silence at the ends
    mixed = data.view(clip, _one_op(mixup_p=1.0, mixup_ratio=0.4), rng)
    assert np.sqrt(np.mean(mixed**2)) <= rms + 1e-6 and not np.array_equal(mixed, clip)


def test_run_all_runs_it():
    assert "bench_audio.py" in load("run_all").SCRIPTS


def test_isa_note_when_onednn_is_held_below_native_bf16(monkeypatch):
    """ONEDNN_MAX_CPU_ISA=AVX2 on a bf16 CPU: the engine still picks bf16, and the section says it is emulated."""
    import torch

    bench = load(NAME)
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "AVX2")
    monkeypatch.setattr(sys.modules["_common"], "onednn_isa", lambda: "Intel AVX2")
    monkeypatch.setattr(
        sys.modules["_common"], "training_autocast_dtype", lambda device, amp=True: torch.bfloat16
    )
    bullet, warning = bench.isa_facts(torch.device("cpu"))
    assert "ONEDNN_MAX_CPU_ISA=AVX2" in bullet and "bfloat16 autocast" in bullet and "emulated" in warning
    monkeypatch.setattr(sys.modules["_common"], "training_autocast_dtype", lambda device, amp=True: None)
    bullet, warning = bench.isa_facts(torch.device("cpu"))
    assert "engine precision: float32 (no autocast)" in bullet and warning == ""
