"""Decoding many sound files into one set of clips: headers first (cheap), a memory check, then every file
on a small thread pool (libsndfile and soxr release the GIL), with progress ("Scanning n/N", "Decoding
n/N"). Files that cannot be used are skipped with their reason; nothing here raises for one bad file.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from ssl_core.data.audio_read import (
    AudioHeader,
    BadAudio,
    FileClips,
    ReadSettings,
    describe_rate_change,
    probe,
    read_clips,
)
from ssl_core.data.base import SkippedFile
from ssl_core.data.spec import OpenOptions
from ssl_core.errors import UserError

DEFAULT_MEMORY_MB = 2048


@dataclass(frozen=True)
class FileFacts:
    """What reading one file found, for the summary's notes (and the cache, per file)."""

    rate: int  # its own sample rate
    capped: bool  # longer than max_clips clips: those spread over it
    clipped: bool  # float samples beyond +-1 were clipped
    seconds: float  # its length


@dataclass
class Decoded:
    """The usable files of a set, decoded: clips concatenated, the file (group) of each clip."""

    clips: np.ndarray  # (N, C, T) float32
    groups: np.ndarray  # (N,) int64: index into `kept`
    starts: np.ndarray  # (N,) float32 seconds
    kept: list[int]  # indices (into the paths given) of the files that gave clips
    skipped: list[SkippedFile] = field(default_factory=list)
    channels: int = 1
    facts: list[FileFacts] = field(default_factory=list)  # of each kept file

    @property
    def rates(self) -> set[int]:
        return {f.rate for f in self.facts}

    @property
    def capped(self) -> int:
        return sum(f.capped for f in self.facts)

    @property
    def clipped(self) -> int:
        return sum(f.clipped for f in self.facts)

    @property
    def seconds(self) -> float:
        return float(sum(f.seconds for f in self.facts))


def facts_of(result: FileClips) -> FileFacts:
    return FileFacts(
        result.header.sample_rate, bool(result.capped), bool(result.clipped), result.header.seconds
    )


def _workers() -> int:
    return max(1, min(4, os.cpu_count() or 1))


def _map(fn: Callable, items: list, options: OpenOptions, phase: str) -> list:
    total = len(items)
    step = max(1, total // 100)
    out = []
    with ThreadPoolExecutor(max_workers=_workers(), thread_name_prefix="ssl-audio") as pool:
        for done, result in enumerate(pool.map(fn, items), start=1):
            if done % step == 0 or done == total:
                options.report(phase, done, total)
            out.append(result)
    return out


def _try(fn: Callable) -> Callable:
    def run(item):
        try:
            return fn(item)
        except BadAudio as exc:
            return exc

    return run


def _keep_channels(headers: list[AudioHeader]) -> int:
    """Keep mode: the most common channel count (ties: the larger), mono files being upmixed to it."""
    counts = Counter(h.channels for h in headers)
    multi = {c: n for c, n in counts.items() if c > 1} or counts
    return max(multi.items(), key=lambda item: (item[1], item[0]))[0]


def estimated_bytes(headers: Sequence[AudioHeader], settings: ReadSettings, channels: int) -> int:
    total = 0
    for h in headers:
        clips = max(1, round(h.seconds / settings.clip_seconds))
        total += min(clips, settings.max_clips)
    return total * channels * settings.frames * 4


def decode_files(
    paths: Sequence[str], settings: ReadSettings, options: OpenOptions, *, budget_mb: int | None = None
) -> Decoded:
    """Probe, then decode, every file; the unusable ones are skipped with their reason."""
    headers = _map(_try(probe), list(paths), options, "scanning")
    skipped = [SkippedFile(paths[i], str(h)) for i, h in enumerate(headers) if isinstance(h, BadAudio)]
    good = [i for i, h in enumerate(headers) if not isinstance(h, BadAudio)]
    if not good:
        return Decoded(
            np.zeros((0, 1, settings.frames), np.float32), np.zeros(0, np.int64), np.zeros(0), [], skipped
        )
    channels = 1 if settings.channels_mode == "mono" else _keep_channels([headers[i] for i in good])
    budget = (budget_mb or DEFAULT_MEMORY_MB) << 20
    need = estimated_bytes([headers[i] for i in good], settings, channels)
    if need > budget:
        raise UserError(
            f"The {len(good):,} sound files would take about {need / 2**20:,.0f} MB as clips, more than the "
            f"memory budget of {budget >> 20:,} MB; use shorter clips (data.clip_seconds), a lower "
            "data.sample_rate, mono, fewer files, or raise data.memory_budget_mb.",
            field="data.memory_budget_mb",
        )
    results = _map(_try(lambda i: read_clips(paths[i], settings, channels)), good, options, "decoding")
    parts, groups, starts, kept = [], [], [], []
    out = Decoded(np.zeros(0), np.zeros(0), np.zeros(0), kept, skipped, channels=channels)
    for i, result in zip(good, results, strict=True):
        if isinstance(result, BadAudio):
            skipped.append(SkippedFile(paths[i], str(result)))
            continue
        assert isinstance(result, FileClips)
        group = len(kept)
        kept.append(i)
        parts.append(result.clips)
        groups.append(np.full(len(result.clips), group, np.int64))
        starts.append(result.starts)
        out.facts.append(facts_of(result))
    skipped.sort(key=lambda s: s.path)
    if parts:
        out.clips = np.concatenate(parts)
        out.groups = np.concatenate(groups)
        out.starts = np.concatenate(starts).astype(np.float32)
    else:
        out.clips = np.zeros((0, channels, settings.frames), np.float32)
        out.groups = np.zeros(0, np.int64)
    return out


def decode_notes(decoded: Decoded, settings: ReadSettings) -> list[str]:
    notes = []
    rate = describe_rate_change(decoded.rates, settings.sample_rate)
    if rate:
        notes.append(rate)
    if settings.channels_mode == "mono":
        notes.append("mixed to mono (the channels averaged)")
    notes.append(
        f"cut into {settings.clip_seconds:g} s clips; a last piece of at least half a clip is zero-padded, "
        "a shorter one dropped (a file shorter than one clip is kept, padded)"
    )
    if decoded.capped:
        notes.append(
            f"{decoded.capped:,} long file(s) gave {settings.max_clips} clips each, spread evenly over the file "
            f"(at most {settings.max_clips} clips per file)"
        )
    if decoded.clipped:
        notes.append(f"{decoded.clipped:,} file(s) held float samples beyond +-1: clipped to [-1, 1]")
    return notes
