"""Sound files that are empty, truncated, of an unknown codec, hours long, 8-bit, 32-bit float, 7-channel, or
at rates from 8 kHz to 192 kHz, through `ssl-core data audio:PATH`.

A single bad file is refused with one line naming it (exit 2, no traceback); in a folder it is skipped and
listed with its reason, and the good files open. A 2-hour file is read clip by clip (never whole): its
clips are capped and spread over the file, in little memory and time. All sound is generated here.
"""

from __future__ import annotations

import struct
import time
import tracemalloc

import numpy as np
import pytest
import soundfile as sf
import torch

from ssl_core.data import open_source

GROUP = "Bad audio"
pytestmark = pytest.mark.timeout(120)


def tone(freq: float, seconds: float, rate: int, amp: float = 0.5, channels: int = 1) -> np.ndarray:
    t = np.arange(int(round(seconds * rate))) / rate
    wave = (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)
    return wave if channels == 1 else np.tile(wave[:, None], (1, channels))


def wav_with_codec(tag: int, rate: int = 8000) -> bytes:
    """A WAV whose fmt chunk names codec `tag` (e.g. 0x1234, which no decoder knows) over 1,000 samples."""
    data = b"\x00\x01" * 1000
    fmt = struct.pack("<HHIIHH", tag, 1, rate, rate * 2, 2, 16)
    body = (
        b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", len(data)) + data
    )
    return b"RIFF" + struct.pack("<I", len(body)) + body


def truncated_flac(path) -> bytes:
    sf.write(path, tone(440, 4.0, 16000), 16000, format="FLAC")
    content = path.read_bytes()
    return content[: len(content) // 2]


def nan_wav(path) -> bytes:
    wave = tone(440, 1.0, 8000)
    wave[4000] = np.nan
    sf.write(path, wave, 8000, subtype="FLOAT")
    return path.read_bytes()


def empty_wav(path) -> bytes:
    sf.write(path, np.zeros(0, np.float32), 8000)
    return path.read_bytes()


REFUSED = [
    # id, file name, content maker (path -> bytes), words the one-line message must contain
    ("zero-length-wav", "empty.wav", lambda p: b"", ["is empty (0 bytes)"]),
    ("wav-of-no-samples", "silent.wav", empty_wav, ["holds no audio"]),
    ("truncated-flac", "cut.flac", truncated_flac, ["cannot be decoded", "truncated"]),
    ("unknown-codec-wav", "codec.wav", lambda p: wav_with_codec(0x1234), ["unknown codec"]),
    (
        "not-sound-at-all",
        "photo.wav",
        lambda p: b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8,
        ["unknown codec"],
    ),
    ("nan-in-float-wav", "nan.wav", nan_wav, ["NaN"]),
]


@pytest.mark.parametrize("name, make, needles", [r[1:] for r in REFUSED], ids=[r[0] for r in REFUSED])
def test_bad_sound_file_is_refused(case, tmp_path, cli, name, make, needles):
    path = tmp_path / name
    path.write_bytes(make(path))
    case.describe(
        f"`ssl-core data audio:{name}` ({path.stat().st_size:,} bytes)",
        f"exit 2, one line naming {name} and saying: {', '.join(needles)}",
    )
    line = cli.assert_refused(cli.run("data", f"audio:{path}"), str(path), *needles)
    case.observe(line.replace(str(tmp_path), "TMP"))


def test_bad_files_in_a_folder_are_skipped_with_their_reasons(case, tmp_path, cli):
    case.describe(
        "`ssl-core data audio:FOLDER` with 4 good tones and each of the refused files above",
        "exit 0; the good files open as clips, each bad file is listed under skipped with its reason",
    )
    folder = tmp_path / "mixed"
    folder.mkdir()
    for k in range(4):
        sf.write(folder / f"good{k}.wav", tone(300 + 100 * k, 1.0, 16000), 16000)
    for _, name, make, _ in REFUSED:
        (folder / name).write_bytes(make(tmp_path / f"tmp-{name}"))
    result = cli.run("data", f"audio:{folder}")
    assert result.code == 0, result.err
    assert "clips:    4 of 1 s" in result.out and f"skipped:  {len(REFUSED)} file(s)" in result.out
    for _, name, _, needles in REFUSED:
        line = next(ln for ln in result.out.splitlines() if ln.strip().startswith(str(folder / name)))
        assert needles[0].lower() in line.lower(), line
    case.observe(f"opened 4 clips; skipped {len(REFUSED)} files, each with its reason")


def test_a_folder_of_only_bad_files_is_refused(case, tmp_path, cli):
    case.describe(
        "`ssl-core data audio:FOLDER` holding only a zero-length and a truncated file", "exit 2, one line"
    )
    folder = tmp_path / "bad"
    folder.mkdir()
    (folder / "a.wav").write_bytes(b"")
    (folder / "b.flac").write_bytes(truncated_flac(tmp_path / "b.flac"))
    line = cli.assert_refused(cli.run("data", f"audio:{folder}"), str(folder), "none of the 2 sound file(s)")
    case.observe(line.replace(str(tmp_path), "TMP"))


def sparse_wav(path, seconds: int, rate: int = 8000) -> None:
    """A 16-bit mono WAV of `seconds` of silence written in an instant: a short file whose header is made
    to claim the full length, then extended (sparsely) to it."""
    sf.write(path, tone(440, 1.0, rate), rate, subtype="PCM_16")
    data_bytes = seconds * rate * 2
    content = bytearray(path.read_bytes())
    at = content.index(b"data")
    content[at + 4 : at + 8] = struct.pack("<I", data_bytes)
    content[4:8] = struct.pack("<I", at + 8 + data_bytes - 8)
    path.write_bytes(bytes(content[: at + 8 + 2 * rate]))
    with open(path, "r+b") as fh:
        fh.truncate(at + 8 + data_bytes)


def test_a_two_hour_file_is_streamed_into_capped_clips(case, tmp_path, cli):
    case.describe(
        "`ssl-core data audio:long.wav`, a 2-hour 8 kHz recording (115 MB, 230 MB as float32)",
        "opens in seconds with 200 one-second clips spread over the 2 hours and a note; memory a few MB "
        "beyond the clips (the file is never loaded whole)",
    )
    path = tmp_path / "long.wav"
    sparse_wav(path, 2 * 3600)
    assert sf.info(str(path)).duration == 7200
    tracemalloc.start()
    start = time.perf_counter()
    try:
        source = open_source(f"audio:{path}")
        seconds = time.perf_counter() - start
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert len(source) == 200 and source.info.sample_shape == (1, 16000)
    starts = source.starts.numpy()
    assert starts[0] == 0 and starts[-1] > 7000 and np.all(np.diff(starts) > 30)
    clips_bytes = 200 * 16000 * 4
    assert peak < clips_bytes + 24 * 2**20, peak
    assert seconds < 30, seconds
    assert any("at most 200 clips per file" in n for n in source.info.notes)
    result = cli.run("data", f"audio:{path}")
    assert result.code == 0 and "200 clips" in result.out
    case.observe(
        f"{len(source)} clips from 0 s to {starts[-1]:.0f} s in {seconds:.1f} s, peak {peak / 2**20:.0f} MB "
        f"traced ({clips_bytes / 2**20:.0f} MB of it the clips)"
    )


@pytest.mark.parametrize(
    "label, subtype, amp",
    [("8-bit", "PCM_U8", 0.5), ("32-bit float", "FLOAT", 0.5), ("32-bit float beyond 1", "FLOAT", 2.5)],
)
def test_8_bit_and_float_files_open(case, tmp_path, label, subtype, amp):
    case.describe(f"a {label} WAV of a 440 Hz tone (peak {amp})", "opens; values in [-1, 1]; clipping noted")
    path = tmp_path / "x.wav"
    sf.write(path, tone(440, 1.0, 8000, amp=amp), 8000, subtype=subtype)
    source = open_source(f"audio:{path}")
    wave = source.read(torch.arange(len(source)))[0]
    peak = float(wave.abs().max())
    assert peak <= 1.0 and abs(peak - min(amp, 1.0)) < 0.05
    assert any("clipped" in n for n in source.info.notes) == (amp > 1)
    case.observe(f"{len(source)} clip, peak {peak:.2f}" + (", clipping noted" if amp > 1 else ""))


def test_a_seven_channel_file_is_mixed_or_kept(case, tmp_path):
    case.describe("a 7-channel 48 kHz WAV", "mono: 1 channel (averaged); keep: 7 channels")
    path = tmp_path / "surround.wav"
    wave = tone(440, 1.0, 48000, amp=1.0, channels=7) * np.linspace(0.1, 0.7, 7, dtype=np.float32)
    sf.write(path, wave, 48000)
    mono = open_source(f"audio:{path}")
    kept = open_source(f"audio:{path}", audio_channels="keep")
    assert mono.info.sample_shape == (1, 16000) and kept.info.sample_shape == (7, 16000)
    levels = kept.read([0])[0][0].abs().amax(dim=1)
    assert torch.allclose(levels, torch.linspace(0.1, 0.7, 7), atol=0.02)
    assert abs(float(mono.read([0])[0].abs().max()) - 0.4) < 0.02
    case.observe("mono: 1 x 16,000; keep: 7 x 16,000 with each channel's level")


def test_rates_from_8_to_192_khz(case, tmp_path):
    rates = (8000, 16000, 22050, 44100, 48000, 96000, 176400, 192000)
    case.describe(
        f"one WAV per rate ({', '.join(f'{r // 1000}k' for r in rates)}), a 1 kHz tone", "all 16 kHz, 1 kHz"
    )
    for rate in rates:
        sf.write(tmp_path / f"r{rate}.wav", tone(1000, 1.0, rate), rate)
    source = open_source(f"audio:{tmp_path}")
    wave = source.read(torch.arange(len(source)))[0][:, 0].numpy()
    assert wave.shape == (len(rates), 16000)
    for row in wave:
        spectrum = np.abs(np.fft.rfft(row))
        assert abs(np.fft.rfftfreq(16000, 1 / 16000)[spectrum.argmax()] - 1000) <= 1
    case.observe(f"{len(rates)} files, each one 16 kHz clip peaking at 1 kHz")
