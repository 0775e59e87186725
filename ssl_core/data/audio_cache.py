"""On-disk cache of a folder's decoded audio clips, beside the image cache (ssl_core/data/cache.py).

Under the folder's cache directory (`cache_dir()/<sha256 of the folder's path>`, the one `open_cache`
uses) one archive per decode setting, `clips-<rate>hz-<seconds>s-<mode>-max<K>-d<V>.npz`, holds every clip,
the files they came from (names, byte sizes and modification times, as `FileTable` has them), per file the
number of its clips, its rate, length and notes, and the reason each unusable file was skipped. Files are
matched as the image cache matches them (`FolderCache._reusable`: same name, size and mtime; a file modified
within RACY_SECONDS of being looked at only with an equal content digest): unchanged files are reused, new
or changed ones decoded, removed ones dropped. In "keep" mode the channel count depends on every file, so
any change there decodes the folder again. The archive is written atomically; a damaged or foreign one
(zip CRC, shapes, format) is a miss, never an error. `SSL_WORKBENCH_CACHE=off` turns it off with the image
cache.

The generated speech set keeps its own archive in the cache root (audio_speech).
"""

from __future__ import annotations

import io
import json
import logging
import os
import time
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ssl_core.data.audio_read import ReadSettings, settings_key
from ssl_core.data.base import SkippedFile
from ssl_core.data.cache import FileTable, FolderCache, _Index, open_cache
from ssl_core.data.spec import OpenOptions

log = logging.getLogger(__name__)

FORMAT = 1
DECODER_VERSION = 1  # bump when audio_read changes its output (clip rule, resampler settings)
_DAMAGED = (OSError, ValueError, KeyError, EOFError, TypeError, zipfile.BadZipFile, json.JSONDecodeError)


def _stamps(paths: Sequence[str], names: Sequence[str]) -> FileTable | None:
    looked = time.time_ns()
    size, mtime = [], []
    for p in paths:
        try:
            st = os.stat(p)
        except OSError:
            return None  # a file vanished: decode (and report) as usual
        size.append(st.st_size)
        mtime.append(st.st_mtime_ns)
    return FileTable(list(paths), list(names), np.array(size, np.int64), np.array(mtime, np.int64), looked)


def _archive_name(settings: ReadSettings) -> str:
    return f"clips-{settings_key(settings, 0)}-d{DECODER_VERSION}.npz"


@dataclass
class _Stored:
    index: _Index  # names, stamps and content digests of the files it was written for
    counts: np.ndarray  # int64 per file; 0 for a skipped file
    rate: np.ndarray  # int64 per file
    capped: np.ndarray  # bool per file
    clipped: np.ndarray  # bool per file
    seconds: np.ndarray  # float64 per file
    clips: np.ndarray  # (sum(counts), C, T) float32
    starts: np.ndarray  # float32 per clip
    bad: dict[int, str]  # file row -> reason
    channels: int

    def offsets(self) -> np.ndarray:
        return np.concatenate([[0], np.cumsum(self.counts)])


def _load(path: Path, root: str, frames: int) -> _Stored | None:
    try:
        with np.load(path, allow_pickle=False) as npz:
            meta = json.loads(npz["meta"].tobytes())
            if meta.get("format") != FORMAT or meta.get("root") != root:
                return None
            blob = npz["names"].tobytes()
            columns = {
                k: npz[k] for k in ("size", "mtime_ns", "counts", "rate", "capped", "clipped", "seconds")
            }
            clips, starts = npz["clips"], npz["starts"]
            bad = {int(i): str(r) for i, r in meta["bad"]}
            digest = {str(k): str(v) for k, v in meta["digest"].items()}
            channels = int(meta["channels"])
    except FileNotFoundError:
        return None
    except _DAMAGED as exc:
        log.info("ignoring the damaged audio cache %s (%s); it is rebuilt", path, exc)
        return None
    n = blob.count(b"\0") + 1 if blob else 0
    counts = columns["counts"]
    if (
        any(len(c) != n for c in columns.values())
        or clips.dtype != np.float32
        or clips.shape[1:] != (channels, frames)
        or len(clips) != int(counts.sum())
        or len(starts) != len(clips)
    ):
        log.info("ignoring the inconsistent audio cache %s; it is rebuilt", path)
        return None
    index = _Index(blob, columns["size"], columns["mtime_ns"], {"digest": digest}, {})
    return _Stored(
        index,
        counts,
        columns["rate"],
        columns["capped"],
        columns["clipped"],
        columns["seconds"],
        clips,
        starts,
        bad,
        channels,
    )


def _store(cache: FolderCache, path: Path, files: FileTable, decoded) -> None:
    from ssl_core.runs.atomic import atomic_write_bytes

    n = len(files)
    counts = np.zeros(n, np.int64)
    rate, capped, clipped = np.zeros(n, np.int64), np.zeros(n, bool), np.zeros(n, bool)
    seconds = np.zeros(n, np.float64)
    kept = np.asarray(decoded.kept, np.int64)
    if len(kept):
        counts[kept] = np.bincount(decoded.groups, minlength=len(kept))
        rate[kept] = [f.rate for f in decoded.facts]
        capped[kept] = [f.capped for f in decoded.facts]
        clipped[kept] = [f.clipped for f in decoded.facts]
        seconds[kept] = [f.seconds for f in decoded.facts]
    where = {p: i for i, p in enumerate(files.paths)}
    meta = {
        "format": FORMAT,
        "root": str(cache.root),
        "bad": [[where[s.path], s.reason] for s in decoded.skipped if s.path in where],
        "digest": cache._digests_of(files, np.arange(n)),
        "channels": int(decoded.channels),
    }
    buffer = io.BytesIO()
    np.savez(
        buffer,
        names=np.frombuffer(files.blob(), np.uint8),
        size=files.size,
        mtime_ns=files.mtime_ns,
        counts=counts,
        rate=rate,
        capped=capped,
        clipped=clipped,
        seconds=seconds,
        clips=np.ascontiguousarray(decoded.clips, dtype=np.float32),
        starts=np.asarray(decoded.starts, np.float32),
        meta=np.frombuffer(json.dumps(meta).encode("utf-8"), np.uint8),
    )
    try:
        atomic_write_bytes(path, buffer.getvalue())
    except OSError as exc:
        log.warning("could not write the audio cache %s (%s); the folder is decoded each time", path, exc)


def _merge(files: FileTable, stored: _Stored, reuse: dict[int, int], fresh, fresh_rows: list[int]):
    """One Decoded for every row of `files`: rows in `reuse` (row -> stored row) from the cache, the
    others (`fresh_rows`, decoded as `fresh`) from the new decode."""
    from ssl_core.data.audio_decode import Decoded, FileFacts

    offsets = stored.offsets()
    fresh_group: dict[int, int] = {}
    fresh_bad: dict[str, SkippedFile] = {}
    if fresh is not None:
        counts = (
            np.bincount(fresh.groups, minlength=len(fresh.kept)) if len(fresh.kept) else np.zeros(0, np.int64)
        )
        fresh_offsets = np.concatenate([[0], np.cumsum(counts)])
        fresh_group = {fresh_rows[i]: g for g, i in enumerate(fresh.kept)}
        fresh_bad = {s.path: s for s in fresh.skipped}
    clips, starts, kept, facts, skipped = [], [], [], [], []
    for row in range(len(files)):
        if row in reuse:
            j = reuse[row]
            if stored.counts[j] == 0:
                if j in stored.bad:
                    skipped.append(SkippedFile(files.paths[row], stored.bad[j]))
                continue
            a, b = offsets[j], offsets[j + 1]
            clips.append(stored.clips[a:b])
            starts.append(stored.starts[a:b])
            facts.append(
                FileFacts(
                    int(stored.rate[j]),
                    bool(stored.capped[j]),
                    bool(stored.clipped[j]),
                    float(stored.seconds[j]),
                )
            )
        elif row in fresh_group:
            g = fresh_group[row]
            a, b = fresh_offsets[g], fresh_offsets[g + 1]
            clips.append(fresh.clips[a:b])
            starts.append(fresh.starts[a:b])
            facts.append(fresh.facts[g])
        else:
            if files.paths[row] in fresh_bad:
                skipped.append(fresh_bad[files.paths[row]])
            continue
        kept.append(row)
    counts = [len(c) for c in clips]
    channels = stored.channels
    return Decoded(
        clips=np.concatenate(clips) if clips else np.zeros((0, channels, stored.clips.shape[-1]), np.float32),
        groups=np.repeat(np.arange(len(kept), dtype=np.int64), counts),
        starts=np.concatenate(starts).astype(np.float32) if starts else np.zeros(0, np.float32),
        kept=kept,
        skipped=sorted(skipped, key=lambda s: s.path),
        channels=channels,
        facts=facts,
    )


def cached_decode(
    root: Path,
    paths: list[str],
    names: list[str],
    settings: ReadSettings,
    options: OpenOptions,
    decode: Callable[..., object],
):
    """`decode(paths, settings, options, budget_mb=...)` of a folder's files, with the clips of files
    unchanged since they were cached taken from the cache."""
    cache = open_cache(root)
    files = _stamps(paths, names) if isinstance(cache, FolderCache) else None
    budget = options.memory_budget_mb
    if files is None:
        return decode(paths, settings, options, budget_mb=budget)
    path = cache.directory / _archive_name(settings)
    stored = _load(path, str(cache.root), settings.frames)
    cache._digest_racy(files)  # before anything is decoded (see FileTable)
    if stored is not None and stored.index.unchanged(files):
        decoded = _merge(files, stored, {i: i for i in range(len(files))}, None, [])
        options.report("decoding", len(paths), len(paths))
        log.debug("%s: all %d clips from the audio cache", root, len(decoded.clips))
        return decoded
    dst, src = cache._reusable(stored.index, files) if stored is not None else (np.zeros(0, np.int64),) * 2
    reuse = dict(zip(dst.tolist(), src.tolist(), strict=True))
    todo = [i for i in range(len(files)) if i not in reuse]
    if stored is not None and not todo:
        decoded = _merge(files, stored, reuse, None, [])
    elif stored is None or (settings.channels_mode == "keep" and todo) or len(reuse) == 0:
        decoded = decode(paths, settings, options, budget_mb=budget)
    else:
        fresh = decode([paths[i] for i in todo], settings, options, budget_mb=budget)
        if fresh.kept and fresh.channels != stored.channels:
            decoded = decode(paths, settings, options, budget_mb=budget)
        else:
            decoded = _merge(files, stored, reuse, fresh, todo)
            log.debug("%s: %d of %d files from the audio cache", root, len(reuse), len(files))
    _store(cache, path, files, decoded)
    return decoded
