"""audio:PATH: every format read, resampled without aliasing, cut into clips that know their file, labelled
from folders, name prefixes or a CSV, cached; the summary says what was done. All sound is generated here."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
import torch

from ssl_core.data import describe, open_source
from ssl_core.data.audio_info import audio_info
from ssl_core.data.audio_read import ReadSettings, clip_starts, read_clips
from ssl_core.data.base import TensorSource
from ssl_core.errors import UserError


def tone(freq: float, seconds: float, rate: int, amp: float = 0.5) -> np.ndarray:
    t = np.arange(int(round(seconds * rate))) / rate
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def write(path, wave, rate, **kw):
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, wave, rate, **kw)
    return path


def peak_hz(wave: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(wave * np.hanning(len(wave))))
    return float(np.fft.rfftfreq(len(wave), 1 / rate)[spectrum.argmax()])


def test_audio_info_follows_the_contract():
    info = audio_info("t", 5, 2, 4000, 0.5, ["a", "b"], origin="synthetic", label_from="word", files=3)
    assert info.modality == "audio" and info.sample_shape == (2, 2000) and info.sample_dtype == "float32"
    assert info.has_labels and info.class_names == ["a", "b"] and info.size_hint == 2000
    assert info.extra["audio"] == {
        "sample_rate": 4000,
        "clip_seconds": 0.5,
        "channels_mode": "mono",
        "n_mels": 64,
        "win_ms": 25.0,
        "hop_ms": 10.0,
        "origin": "synthetic",
        "files": 3,
        "label_from": "word",
    }
    source = TensorSource(torch.zeros(5, 2, 2000), None, info)
    assert source.groups() is None and source.facets() == {}


@pytest.mark.parametrize(
    "name, kw",
    [
        ("pcm16.wav", {"subtype": "PCM_16"}),
        ("pcm24.wav", {"subtype": "PCM_24"}),
        ("u8.wav", {"subtype": "PCM_U8"}),
        ("float.wav", {"subtype": "FLOAT"}),
        ("x.flac", {}),
        ("x.ogg", {"format": "OGG", "subtype": "VORBIS"}),
    ],
)
def test_every_format_reads_as_the_same_tone(tmp_path, name, kw):
    path = write(tmp_path / name, tone(440, 1.0, 8000), 8000, **kw)
    source = open_source(f"audio:{path}", sample_rate=8000, clip_seconds=0.5)
    wave, labels = source.read(torch.arange(len(source)))
    assert wave.shape == (2, 1, 4000) and wave.dtype == torch.float32 and labels is None
    assert abs(float(wave.abs().max()) - 0.5) < 0.03
    assert abs(peak_hz(wave[0, 0].numpy(), 8000) - 440) < 5
    assert source.groups().tolist() == [0, 0]


def test_resampling_keeps_a_1khz_tone_and_removes_what_the_new_rate_cannot_hold(tmp_path):
    write(tmp_path / "a_1k.wav", tone(1000, 1.0, 44100), 44100)
    write(tmp_path / "b_12k.wav", tone(12000, 1.0, 44100), 44100)  # above 16 kHz's Nyquist (8 kHz)
    one = read_clips(tmp_path / "a_1k.wav", ReadSettings(16000, 1.0)).clips[0, 0]
    assert abs(peak_hz(one, 16000) - 1000) < 2
    inner = one[200:-200]  # away from the clip's edges
    assert abs(np.sqrt(np.mean(inner**2)) - 0.5 / np.sqrt(2)) < 0.01  # the tone's level is kept
    high = read_clips(tmp_path / "b_12k.wav", ReadSettings(16000, 1.0)).clips[0, 0]
    # a naive resampler folds 12 kHz to 4 kHz at nearly full level; an anti-aliased one leaves ~nothing
    assert np.sqrt(np.mean(high[200:-200] ** 2)) < 1e-3


def test_rates_from_8_to_192_khz_all_become_16_khz(tmp_path):
    for rate in (8000, 11025, 22050, 32000, 44100, 48000, 96000, 192000):
        write(tmp_path / f"r{rate}.wav", tone(500, 0.5, rate), rate)
    source = open_source(f"audio:{tmp_path}", sample_rate=16000, clip_seconds=0.5)
    wave, _ = source.read(torch.arange(len(source)))
    assert wave.shape == (8, 1, 8000)
    for row in wave[:, 0].numpy():
        assert abs(peak_hz(row, 16000) - 500) < 3
    assert any("resampled from 8,000, 11,025" in n for n in source.info.notes)


def test_clips_follow_each_other_and_the_last_piece_is_padded_or_dropped(tmp_path):
    settings = ReadSettings(4000, 1.0)
    for seconds, expected in ((3.7, 4), (3.3, 3), (0.2, 1), (1.0, 1)):
        path = write(tmp_path / f"f{seconds}.wav", tone(300, seconds, 4000), 4000)
        got = read_clips(path, settings)
        assert len(got.clips) == expected, seconds
        assert got.starts.tolist() == [float(k) for k in range(expected)]
    padded = read_clips(tmp_path / "f3.7.wav", settings).clips[-1, 0]
    assert np.abs(padded[: int(0.6 * 4000)]).max() > 0.4 and np.abs(padded[int(0.75 * 4000) :]).max() == 0
    spans, capped = clip_starts(100 * 4000, 4000, ReadSettings(4000, 1.0, max_clips=5))
    assert capped and [s for s, _ in spans] == [0, 80000, 160000, 240000, 320000]


def test_groups_labels_from_class_folders_and_root_files_skipped(tmp_path):
    for cls, freq in (("low", 200), ("high", 900)):
        for k in range(3):
            write(tmp_path / cls / f"take{k}.wav", tone(freq, 2.0 + k, 4000), 4000)
    write(tmp_path / "stray.wav", tone(500, 1.0, 4000), 4000)
    source = open_source(f"audio:{tmp_path}", sample_rate=4000, clip_seconds=1.0)
    assert (
        source.info.class_names == ["high", "low"] and source.info.extra["audio"]["label_from"] == "folders"
    )
    assert source.info.extra["audio"]["files"] == 6 and len(source) == 2 * (2 + 3 + 4)
    groups, labels = source.groups(), source.labels()
    assert groups.tolist() == sorted(groups.tolist()) and int(groups.max()) == 5
    for g in range(6):  # every clip of a file has the file's label
        assert len(set(labels[groups == g].tolist())) == 1
    assert [s.path for s in source.info.skipped] == [str(tmp_path / "stray.wav")]
    text = describe(source)
    for needle in (
        "clips:    18 of 1 s at 4,000 Hz",
        "files:    6",
        "labels from: class subfolders",
        "stray.wav",
    ):
        assert needle in text


def test_labels_from_name_prefixes_only_when_they_repeat(tmp_path):
    for name in ("drum_a", "drum-b", "bass_a", "bass_b", "bass_c"):
        write(tmp_path / "p" / f"{name}.flac", tone(300, 0.5, 8000), 8000)
    source = open_source(f"audio:{tmp_path / 'p'}", sample_rate=8000, clip_seconds=0.5)
    assert source.info.class_names == ["bass", "drum"] and source.labels().tolist() == [0, 0, 0, 1, 1]
    assert "labels from: file-name prefixes" in describe(source)
    for name in ("kick_a", "snare_b", "hat_c"):  # every prefix once: not labels
        write(tmp_path / "q" / f"{name}.wav", tone(300, 0.5, 8000), 8000)
    plain = open_source(f"audio:{tmp_path / 'q'}", sample_rate=8000, clip_seconds=0.5)
    assert not plain.info.has_labels and plain.info.extra["audio"]["label_from"] is None


def test_labels_from_a_csv_with_missing_rows_skipped(tmp_path):
    for k in range(4):
        write(tmp_path / "snd" / f"{k}.wav", tone(200 + 100 * k, 1.0, 8000), 8000)
    (tmp_path / "list.csv").write_text(
        "path,label\nsnd/0.wav,cat\nsnd/1.wav,dog\nsnd/2.wav,cat\nsnd/3.wav,dog\nsnd/gone.wav,dog\n"
    )
    source = open_source(f"audio:{tmp_path / 'list.csv'}", sample_rate=8000, clip_seconds=1.0)
    assert source.info.class_names == ["cat", "dog"] and source.labels().tolist() == [0, 1, 0, 1]
    assert source.info.extra["audio"]["label_from"] == "csv"
    assert len(source.info.skipped) == 1 and "list.csv line 6 but not found" in source.info.skipped[0].reason


def test_keep_channels_upmixes_mono_and_mono_mode_averages(tmp_path):
    left, right = tone(300, 1.0, 8000), tone(300, 1.0, 8000, amp=0.1)
    write(tmp_path / "a_stereo.wav", np.stack([left, right], 1), 8000)
    write(tmp_path / "b_mono.wav", left, 8000)
    kept = open_source(f"audio:{tmp_path}", sample_rate=8000, clip_seconds=1.0, audio_channels="keep")
    wave, _ = kept.read([0, 1])
    assert wave.shape == (2, 2, 8000) and kept.info.extra["audio"]["channels_mode"] == "keep"
    assert abs(float(wave[0, 1].abs().max()) - 0.1) < 0.01 and torch.equal(wave[1, 0], wave[1, 1])
    mono = open_source(f"audio:{tmp_path}", sample_rate=8000, clip_seconds=1.0)
    assert abs(float(mono.read([0])[0].abs().max()) - 0.3) < 0.01  # (0.5 + 0.1) / 2


def test_a_folder_is_decoded_once_then_read_from_the_cache(tmp_path, monkeypatch):
    for k in range(3):
        write(tmp_path / "c" / f"x{k}.wav", tone(300 + 50 * k, 1.5, 8000), 8000)
    import os
    import time

    old = time.time() - 60  # not "racy": modified well before being looked at
    for p in (tmp_path / "c").iterdir():
        os.utime(p, (old, old))
    first = open_source(f"audio:{tmp_path / 'c'}", sample_rate=8000, clip_seconds=1.0)

    def no_decoding(*args, **kwargs):
        raise AssertionError("decoded again")

    monkeypatch.setattr("ssl_core.data.audio_decode.read_clips", no_decoding)
    again = open_source(f"audio:{tmp_path / 'c'}", sample_rate=8000, clip_seconds=1.0)
    assert torch.equal(first.read(torch.arange(len(first)))[0], again.read(torch.arange(len(again)))[0])
    assert torch.equal(first.groups(), again.groups()) and again.info.notes == first.info.notes
    with pytest.raises(AssertionError, match="decoded again"):  # other settings: decoded
        open_source(f"audio:{tmp_path / 'c'}", sample_rate=4000, clip_seconds=1.0)


def test_bad_settings_and_missing_paths_are_user_errors(tmp_path):
    write(tmp_path / "a.wav", tone(300, 1.0, 8000), 8000)
    with pytest.raises(UserError, match="data.sample_rate"):
        open_source(f"audio:{tmp_path}", sample_rate=100)
    with pytest.raises(UserError, match="data.clip_seconds"):
        open_source(f"audio:{tmp_path}", clip_seconds=0)
    with pytest.raises(UserError, match="data.audio_channels"):
        open_source(f"audio:{tmp_path}", audio_channels="stereo")
    with pytest.raises(UserError, match="does not exist"):
        open_source(f"audio:{tmp_path / 'nope'}")
    (tmp_path / "e").mkdir()
    with pytest.raises(UserError, match="is empty"):
        open_source(f"audio:{tmp_path / 'e'}")
    (tmp_path / "e" / "notes.txt").write_text("hi")
    with pytest.raises(UserError, match="No sound files"):
        open_source(f"audio:{tmp_path / 'e'}")


def test_config_keys_reach_the_source(tmp_path):
    from ssl_core.config import RunConfig
    from ssl_core.train.builder import open_config_source

    write(tmp_path / "a.wav", tone(300, 2.0, 8000), 8000)
    config = RunConfig().with_overrides(
        [f"data.spec=audio:{tmp_path}", "data.sample_rate=4000", "data.clip_seconds=0.5", "data.n_mels=32"]
    )
    config.validate()
    source = open_config_source(config)
    assert source.info.sample_shape == (1, 2000) and source.info.extra["audio"]["n_mels"] == 32
    with pytest.raises(UserError, match="data.hop_ms"):
        open_config_source(config.with_overrides(["data.hop_ms=30"]))
    with pytest.raises(UserError, match="data.sample_rate"):
        RunConfig().with_overrides(["data.sample_rate=500"]).validate()


def test_the_cache_reuses_unchanged_files_and_decodes_only_new_or_changed_ones(tmp_path, monkeypatch):
    import os
    import time

    import ssl_core.data.audio_decode as audio_decode

    folder = tmp_path / "d"
    for k in range(4):
        write(folder / f"x{k}.wav", tone(200 + 100 * k, 1.0 + k, 8000), 8000)
    (folder / "broken.wav").write_bytes(b"")

    def age(path):
        old = time.time() - 60
        os.utime(path, (old, old))

    for p in folder.iterdir():
        age(p)
    open_source(f"audio:{folder}", sample_rate=8000, clip_seconds=1.0)
    write(folder / "x1.wav", tone(1000, 3.0, 8000), 8000)  # changed
    write(folder / "x9.wav", tone(1500, 2.0, 8000), 8000)  # added
    (folder / "x3.wav").unlink()  # removed
    age(folder / "x1.wav")
    age(folder / "x9.wav")
    decoded_now = []
    real = audio_decode.read_clips

    def counting(path, *args, **kwargs):
        decoded_now.append(os.path.basename(path))
        return real(path, *args, **kwargs)

    monkeypatch.setattr(audio_decode, "read_clips", counting)
    cached = open_source(f"audio:{folder}", sample_rate=8000, clip_seconds=1.0)
    assert sorted(decoded_now) == ["x1.wav", "x9.wav"]
    monkeypatch.setenv("SSL_WORKBENCH_CACHE", "off")
    plain = open_source(f"audio:{folder}", sample_rate=8000, clip_seconds=1.0)
    assert torch.equal(cached.read(torch.arange(len(cached)))[0], plain.read(torch.arange(len(plain)))[0])
    assert torch.equal(cached.groups(), plain.groups()) and cached.files == plain.files
    assert torch.equal(cached.starts, plain.starts) and cached.info.notes == plain.info.notes
    assert [s.path for s in cached.info.skipped] == [str(folder / "broken.wav")]
    assert cached.info.skipped == plain.info.skipped
