"""Reading one sound file into clips: soundfile (libsndfile) to decode, soxr to resample.

`read_clips(path, settings)` returns float32 clips (k, C, T) at the run's sample rate, T samples each,
values in [-1, 1]. The file is never loaded whole: one clip's worth of frames is read at a time
(`SoundFile.seek` + `read(frames)`), so a 2-hour recording costs the memory of one clip plus the clips
kept. Clips follow each other from the start of the file; the last, partial piece is zero-padded when
it holds at least half a clip and dropped otherwise (a file shorter than one clip is always kept,
padded). A file with more than `max_clips` clips gives `max_clips` clips spread evenly over its length
(only those are read; the summary notes it).

Resampling uses soxr (libsoxr's high-quality polyphase resampler with a proper anti-aliasing filter), one
clip at a time. Mono mixing averages the channels; "keep" keeps them.

Anything wrong with a file is a `BadAudio` with a one-line reason (callers skip the file in a folder, or
refuse a file given directly, naming it).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".oga", ".aiff", ".aif", ".mp3")
MIN_SAMPLE_RATE = 1000
MAX_SAMPLE_RATE = 768_000
DEFAULT_MAX_CLIPS = 200  # per file; a longer file gives this many clips spread over its length
RESAMPLE_QUALITY = "HQ"


class BadAudio(Exception):
    """A file that cannot be used, with the reason a person reads (no path: the caller adds it)."""


@dataclass(frozen=True)
class ReadSettings:
    sample_rate: int = 16000
    clip_seconds: float = 1.0
    channels_mode: str = "mono"  # "mono" or "keep"
    max_clips: int = DEFAULT_MAX_CLIPS

    @property
    def frames(self) -> int:
        return max(1, int(round(self.clip_seconds * self.sample_rate)))


@dataclass(frozen=True)
class AudioHeader:
    frames: int
    sample_rate: int
    channels: int
    format: str  # e.g. "WAV", "FLAC"
    subtype: str  # e.g. "PCM_16", "FLOAT"

    @property
    def seconds(self) -> float:
        return self.frames / self.sample_rate if self.sample_rate else 0.0


def is_audio_name(name: str) -> bool:
    return name.lower().endswith(AUDIO_SUFFIXES)


def _soundfile():
    import soundfile

    return soundfile


def _reason(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    # libsndfile repeats the path in its messages ("Error opening 'x.wav': ..."): keep the reason.
    if text.startswith("Error opening") and ": " in text:
        text = text.split(": ", 1)[1]
    return text.rstrip(".")


def probe(path: str | Path) -> AudioHeader:
    """The file's header (length, rate, channels, encoding); BadAudio when it is not usable audio."""
    sf = _soundfile()
    try:
        if Path(path).stat().st_size == 0:
            raise BadAudio("is empty (0 bytes)")
        info = sf.info(str(path))
    except BadAudio:
        raise
    except (sf.LibsndfileError, RuntimeError, OSError, ValueError, TypeError) as exc:
        raise BadAudio(
            f"is not a sound file this reader knows: an unknown codec or a damaged header ({_reason(exc)})"
        ) from exc
    header = AudioHeader(
        frames=int(info.frames),
        sample_rate=int(info.samplerate),
        channels=int(info.channels),
        format=str(info.format),
        subtype=str(info.subtype),
    )
    if header.channels < 1:
        raise BadAudio("has no audio channels")
    if not (MIN_SAMPLE_RATE <= header.sample_rate <= MAX_SAMPLE_RATE):
        raise BadAudio(
            f"sample rate {header.sample_rate:,} Hz is outside {MIN_SAMPLE_RATE:,} to {MAX_SAMPLE_RATE:,} Hz"
        )
    if header.frames <= 0:
        raise BadAudio("holds no audio (0 samples)")
    return header


def clip_starts(frames: int, sample_rate: int, settings: ReadSettings) -> tuple[list[tuple[int, int]], bool]:
    """(start, stop) native frames of each clip of a file, and whether the file was capped.

    Clip k covers [round(k * L), round((k + 1) * L)) with L = clip_seconds * native rate."""
    length = settings.clip_seconds * sample_rate
    full = int(frames // length) if length > 0 else 0
    tail = frames - int(round(full * length))
    count = full + (1 if (full == 0 and frames > 0) or tail >= length / 2 else 0)
    capped = count > settings.max_clips
    chosen = range(count)
    if capped:
        chosen = sorted({int(i * count / settings.max_clips) for i in range(settings.max_clips)})
    spans = [(int(round(k * length)), min(frames, int(round((k + 1) * length)))) for k in chosen]
    return spans, capped


def resample(block: np.ndarray, rate_in: int, rate_out: int) -> np.ndarray:
    """(frames, C) float32 from `rate_in` to `rate_out` Hz with soxr (anti-aliased)."""
    if rate_in == rate_out or len(block) == 0:
        return block
    import soxr

    out = soxr.resample(block, rate_in, rate_out, quality=RESAMPLE_QUALITY)
    return np.asarray(out, dtype=np.float32).reshape(-1, block.shape[1])


@dataclass
class FileClips:
    clips: np.ndarray  # float32 (k, C, T)
    header: AudioHeader
    capped: bool  # more clips than max_clips: spread over the file
    clipped: bool  # float samples beyond +-1 were clipped
    starts: np.ndarray  # float64 (k,): seconds into the file where each clip starts


def read_clips(path: str | Path, settings: ReadSettings, channels: int | None = None) -> FileClips:
    """The file as clips (k, C, T) float32 at settings.sample_rate; BadAudio when it cannot be used.

    `channels` (keep mode): the channel count wanted; a mono file is repeated onto every channel, other
    mismatches are refused. Mono mode averages the file's channels."""
    sf = _soundfile()
    header = probe(path)
    spans, capped = clip_starts(header.frames, header.sample_rate, settings)
    out_channels = 1 if settings.channels_mode == "mono" else (channels or header.channels)
    if settings.channels_mode != "mono" and header.channels not in (1, out_channels):
        raise BadAudio(
            f"has {header.channels} channels where the other files have {out_channels}; "
            "set data.audio_channels to mono to mix every file down to one channel"
        )
    target = settings.frames
    clips = np.zeros((len(spans), out_channels, target), dtype=np.float32)
    clipped = False
    done_frames = 0
    try:
        with sf.SoundFile(str(path)) as fh:
            for row, (start, stop) in enumerate(spans):
                if start != done_frames:
                    fh.seek(start)
                block = fh.read(stop - start, dtype="float32", always_2d=True)
                done_frames = start + len(block)
                if len(block) == 0:
                    if row == 0:
                        raise BadAudio("holds no decodable audio (the file may be truncated)")
                    clips = clips[:row]
                    break
                if not np.isfinite(block).all():
                    raise BadAudio(
                        "holds NaN or infinite samples; save it again as integer PCM or finite floats"
                    )
                if np.abs(block).max(initial=0.0) > 1.0:
                    clipped = True
                    np.clip(block, -1.0, 1.0, out=block)
                if settings.channels_mode == "mono":
                    block = block.mean(axis=1, keepdims=True)
                block = resample(block, header.sample_rate, settings.sample_rate)
                take = min(target, len(block))
                clips[row, :, :take] = block[:take].T
    except BadAudio:
        raise
    except (sf.LibsndfileError, RuntimeError, OSError, ValueError, TypeError, MemoryError) as exc:
        raise BadAudio(f"cannot be decoded ({_reason(exc)}); the file may be damaged or truncated") from exc
    if not len(clips):
        raise BadAudio("holds no decodable audio (the file may be truncated)")
    np.clip(clips, -1.0, 1.0, out=clips)  # resampling can overshoot a full-scale edge slightly
    starts = np.array([start for start, _ in spans[: len(clips)]], dtype=np.float64) / header.sample_rate
    return FileClips(clips=clips, header=header, capped=capped, clipped=clipped, starts=starts)


def describe_rate_change(rates: set[int], target: int) -> str | None:
    """A note on resampling, e.g. 'resampled from 44,100 Hz to 16,000 Hz (soxr, anti-aliased)'."""
    others = sorted(r for r in rates if r != target)
    if not others:
        return None
    shown = ", ".join(f"{r:,}" for r in others)
    return f"resampled from {shown} Hz to {target:,} Hz (soxr, high quality, anti-aliased)"


def seconds_text(seconds: float) -> str:
    if seconds >= 3600:
        return f"{seconds / 3600:.1f} h"
    if seconds >= 60:
        return f"{seconds / 60:.1f} min"
    return f"{seconds:.2f} s" if seconds < 10 else f"{seconds:.0f} s"


def settings_key(settings: ReadSettings, channels: int) -> str:
    """The decode settings as a short text, for cache file names."""
    clip = f"{settings.clip_seconds:g}".replace(".", "p")
    return f"{settings.sample_rate}hz-{clip}s-{settings.channels_mode}{channels}-max{settings.max_clips}"
