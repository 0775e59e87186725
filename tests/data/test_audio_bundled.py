"""audio:sonic-pi (the Debian package's recorded samples, skipped where it is not installed) and
audio:speech (spoken words synthesised here with espeak-ng: labels, the voice facet, groups, the cache)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ssl_core.data import describe, open_source, split_indices
from ssl_core.data.audio_bundled import SONIC_PI_DIRS, sonic_pi_dir
from ssl_core.data.audio_read import ReadSettings
from ssl_core.data.audio_speech import synthesise, utterance_clips
from ssl_core.errors import UserError

HAS_SONIC_PI = any(d.is_dir() and any(d.glob("*.flac")) for d in SONIC_PI_DIRS)


@pytest.mark.skipif(not HAS_SONIC_PI, reason="the Debian package sonic-pi-samples is not installed")
def test_sonic_pi_samples_are_recorded_sound_labelled_by_prefix():
    source = open_source("audio:sonic-pi", sample_rate=8000, clip_seconds=1.0)
    audio = source.info.extra["audio"]
    assert audio["origin"] == "recorded" and audio["label_from"] == "prefix" and audio["files"] == 165
    for name in ("ambient", "bass", "drum", "guitar", "tabla"):
        assert name in source.info.class_names
    groups, labels = source.groups(), source.labels()
    assert int(groups.max()) + 1 == 165 and len(source) >= 165
    wave, _ = source.read(torch.arange(len(source)))
    assert wave.shape[1:] == (1, 8000) and float(wave.abs().max()) <= 1.0 and float(wave.abs().mean()) > 1e-3
    train, val = split_indices(len(source), 0.2, 0, labels, groups=groups)
    assert not set(groups[train].tolist()) & set(groups[val].tolist())
    assert "recorded sound" in describe(source)


def test_sonic_pi_missing_is_one_line_saying_how_to_install(monkeypatch, tmp_path):
    monkeypatch.setattr("ssl_core.data.audio_bundled.SONIC_PI_DIRS", (tmp_path / "none",))
    with pytest.raises(UserError, match=r"apt-get install sonic-pi-samples") as err:
        sonic_pi_dir()
    assert "\n" not in str(err.value)


def test_espeak_says_words_in_several_voices():
    voices = (("en-us", "en-us male"), ("en-us+f3", "en-us female"), ("no-such-voice", "x"))
    seen = []
    u, notes = synthesise(
        ("one", "seven"), voices, (140, 210), (50,), progress=lambda d, t: seen.append((d, t))
    )
    assert len(u) == 2 * 2 * 2 and u.voices == ["en-us male", "en-us female"] and u.rate == 22050
    assert any("no-such-voice" in n for n in notes) and seen[-1] == (12, 12)
    lengths = np.diff(u.offsets)
    assert (lengths > 0.2 * u.rate).all() and (lengths < 1.5 * u.rate).all()
    # the slower speed says the same word in more samples; the voices differ
    slow, fast = u.utterance(0), u.utterance(1)
    assert len(slow) > len(fast)
    assert not np.array_equal(u.utterance(0)[:2000], u.utterance(4)[:2000])
    clips, cropped = utterance_clips(u, ReadSettings(8000, 1.0))
    assert clips.shape == (8, 1, 8000) and cropped == 0
    centre = np.abs(clips[:, 0, 3000:5000]).max(axis=1)
    assert (centre > 0.05).all()  # centred in the clip


def test_speech_set_is_generated_once_with_progress_then_read_from_the_cache(monkeypatch):
    messages = []
    source = open_source(
        "audio:speech", sample_rate=8000, clip_seconds=1.0, progress=lambda f, m: messages.append(m)
    )
    info = source.info
    assert info.extra["audio"]["origin"] == "synthetic" and info.extra["audio"]["label_from"] == "word"
    assert "zero" in info.class_names and "nine" in info.class_names and len(info.class_names) == 20
    codes, names = source.facets()["voice"]
    assert len(names) >= 6 and codes.shape == (len(source),)
    # groups: one per (word, voice)
    labels, groups = source.labels(), source.groups()
    pairs = {(int(labels[i]), int(codes[i])) for i in range(len(source))}
    assert int(groups.max()) + 1 == len(pairs)
    for g in range(0, int(groups.max()) + 1, 17):
        members = groups == g
        assert len(set(labels[members].tolist())) == 1 and len(set(codes[members].tolist())) == 1
    text = describe(source)
    assert "SYNTHETIC" in text and "voice:" in text
    if messages:  # the cache may already hold it (another test of this session)
        assert any(m.startswith("Synthesising") for m in messages)

    def no_synthesis(*args, **kwargs):
        raise AssertionError("synthesised again")

    monkeypatch.setattr("ssl_core.data.audio_speech.synthesise", no_synthesis)
    again = open_source("audio:speech", sample_rate=8000, clip_seconds=1.0)
    assert torch.equal(again.read([0, 5])[0], source.read([0, 5])[0])
    assert any("read from the cache" in n for n in again.info.notes)
