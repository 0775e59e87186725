"""On-disk cache of decoded image folders, so that opening a folder a second time skips Pillow.

Layout, under `cache_dir()` (default `~/.cache/ssl-workbench/decoded`; `$SSL_WORKBENCH_CACHE/decoded`
when that variable is set, and no cache at all when it is `off`):

    <sha256 of the folder's absolute path>/
        headers.json                 size and colour of every readable file (what `probe` reads)
        pixels-<C>x<S>-dV.json       one row per file: path, byte size, mtime, (digest)
        pixels-<C>x<S>-dV-<id>.npy   uint8 (N, C, S, S), row i = file i of the .json above

Every entry is keyed by the file's path, byte size and modification time (nanoseconds), and the pixel
files by the decode settings (channels, size, decoder version) as well. A changed, added or removed
file is decoded again on the next open; the unchanged ones are reused. Files that could not be read
are not cached (they are tried again), since some failures depend on settings rather than the file.
A file modified within
`RACY_SECONDS` of being looked at could change again without its mtime moving (coarse file-system
clocks), so such entries also keep a content digest, checked on reuse (git's "racily clean" rule).

Writes are atomic (temporary file, then rename; the .npy first, then the .json that names it), so a
crash leaves the previous cache or the new one. Anything unreadable - a damaged .json, a truncated or
altered .npy (CRC-32 check), a wrong shape - is treated as a miss and rebuilt; a cache folder that cannot
be written only costs the speed-up (a logged warning). The cache never makes opening a folder fail.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import secrets
import tempfile
import time
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ssl_core.data.imagefile import BadImage, ImageHeader

log = logging.getLogger(__name__)

CACHE_ENV = "SSL_WORKBENCH_CACHE"
DISABLED_VALUES = frozenset({"off", "0", "none", "false", "no"})
FORMAT = 1
DECODER_VERSION = 1  # bump when imagefile.decode changes its output (resampling, conversion)
RACY_SECONDS = 2.0

Decoded = np.ndarray | BadImage
Header = ImageHeader | BadImage


def cache_dir() -> Path | None:
    """Where decoded folders are cached, or None when caching is turned off."""
    value = os.environ.get(CACHE_ENV, "").strip()
    if value.lower() in DISABLED_VALUES:
        return None
    if value:
        return Path(value).expanduser() / "decoded"
    base = os.environ.get("XDG_CACHE_HOME", "").strip()
    return (Path(base) if base else Path.home() / ".cache") / "ssl-workbench" / "decoded"


@dataclass(frozen=True)
class FileKey:
    size: int
    mtime_ns: int
    racy: bool  # modified within RACY_SECONDS of being looked at: check the digest as well


def _file_digest(path: str) -> str | None:
    try:
        with open(path, "rb") as fh:
            return hashlib.blake2b(fh.read(), digest_size=16).hexdigest()
    except OSError:
        return None


class FolderCache:
    """The cache of one folder (by its absolute path). Use `open_cache`, which may return a no-op."""

    def __init__(self, root: Path, directory: Path):
        self.root = root
        self.directory = directory
        self._keys: dict[str, FileKey | None] = {}
        self._digests: dict[str, str | None] = {}

    # ---- what the files look like now -----------------------------------------------------------------
    def _look(self, paths: list[str]) -> None:
        """Stat (and, when racy, digest) every file BEFORE anything is decoded, so that a file changed
        during decoding is stored with its older stamp and decoded again next time, never the reverse."""
        for path in paths:
            if path in self._keys:
                continue
            looked = time.time_ns()
            try:
                st = os.stat(path)
            except OSError:
                self._keys[path] = None
                continue
            racy = looked - st.st_mtime_ns < RACY_SECONDS * 1e9
            self._keys[path] = FileKey(st.st_size, st.st_mtime_ns, racy)
            if racy:
                self._digest(path)

    def _digest(self, path: str) -> str | None:
        if path not in self._digests:
            self._digests[path] = _file_digest(path)
        return self._digests[path]

    def _matches(self, path: str, entry: list[Any]) -> bool:
        """entry = [size, mtime_ns, digest or None] as stored; True when the file is unchanged."""
        key = self._keys.get(path)
        if key is None or entry[0] != key.size or entry[1] != key.mtime_ns:
            return False
        if entry[2] is not None or key.racy:  # a racy file is trusted only with an equal digest
            return entry[2] is not None and entry[2] == self._digest(path)
        return True

    def _stamp(self, path: str) -> list[Any] | None:
        """[size, mtime_ns, digest or None] to store for a file, or None when it could not be stat'ed."""
        key = self._keys.get(path)
        if key is None:
            return None
        return [key.size, key.mtime_ns, self._digests.get(path) if key.racy else None]

    # ---- headers ---------------------------------------------------------------------------------------
    def headers(
        self, files: Sequence[Path], probe_many: Callable[[list[Path]], list[Header]]
    ) -> list[Header]:
        """The header of every file: cached ones reused, the others from `probe_many` (in order)."""
        paths = [os.fspath(f) for f in files]
        self._look(paths)
        old = self._read_json("headers.json").get("files", {})
        out: list[Header | None] = [None] * len(paths)
        missing = []
        for i, path in enumerate(paths):
            entry = old.get(path)
            if isinstance(entry, list) and len(entry) == 6 and self._matches(path, entry[:3]):
                out[i] = ImageHeader(entry[3], entry[4], entry[5])
            else:
                missing.append(i)
        if missing:
            for i, result in zip(missing, probe_many([files[i] for i in missing]), strict=True):
                out[i] = result
        if missing or len(old) != len(paths):  # something changed: store what is true now
            entries = {}
            for path, result in zip(paths, out, strict=True):
                stamp = self._stamp(path)
                if stamp is not None and isinstance(result, ImageHeader):
                    entries[path] = [*stamp, result.height, result.width, result.gray]
            self._write_json("headers.json", {"format": FORMAT, "root": str(self.root), "files": entries})
        log.debug("%s: %d of %d headers from the cache", self.root, len(paths) - len(missing), len(paths))
        return out  # type: ignore[return-value]

    # ---- pixels ----------------------------------------------------------------------------------------
    def decoded(
        self,
        files: Sequence[Path],
        size: int,
        channels: int,
        decode_many: Callable[[list[Path]], list[Decoded]],
    ) -> list[Decoded]:
        """Every file decoded to (channels, size, size) uint8, or the BadImage it raised, in order.

        Cached rows are reused; the rest come from `decode_many`. The cache is rewritten when anything
        changed (a new, changed or removed file).
        """
        paths = [os.fspath(f) for f in files]
        self._look(paths)
        name = f"pixels-{channels}x{size}-d{DECODER_VERSION}"
        index = self._read_json(f"{name}.json")
        data = self._read_pixels(index, (channels, size, size))
        rows_by_path = {}
        if data is not None:
            rows_by_path = {row[0]: (i, row) for i, row in enumerate(index["rows"]) if isinstance(row, list)}
        out = np.zeros((len(paths), channels, size, size), dtype=np.uint8)
        errors: list[BadImage | None] = [None] * len(paths)
        dst, src, missing = [], [], []
        for i, path in enumerate(paths):
            hit = rows_by_path.get(path)
            if hit is not None and len(hit[1]) == 4 and self._matches(path, hit[1][1:4]):
                dst.append(i)
                src.append(hit[0])
            else:
                missing.append(i)
        if dst:
            if src == list(range(len(src))) and len(src) == len(data):
                out[dst] = data  # the usual warm open: same files, same order, one copy
            else:
                out[dst] = data[src]
        if missing:
            for i, result in zip(missing, decode_many([files[i] for i in missing]), strict=True):
                if isinstance(result, BadImage):
                    errors[i] = result
                else:
                    out[i] = result
        if missing or data is None or len(rows_by_path) != len(paths) or dst != src:
            self._write_pixels(name, paths, out, errors)  # something changed: store what is true now
        log.debug("%s: %d of %d images from the cache", self.root, len(paths) - len(missing), len(paths))
        return [err if err is not None else out[i] for i, err in enumerate(errors)]

    def _read_pixels(self, index: dict, shape: tuple[int, int, int]) -> np.ndarray | None:
        rows, data_name = index.get("rows"), index.get("data")
        if (
            not isinstance(rows, list)
            or not isinstance(data_name, str)
            or "/" in data_name
            or "\\" in data_name
        ):
            return None
        try:
            data = np.load(self.directory / data_name, mmap_mode="r", allow_pickle=False)
            if data.dtype != np.uint8 or data.shape != (len(rows), *shape):
                raise ValueError(f"shape {data.shape}, dtype {data.dtype}")
            data = np.array(data)  # one read; the copy is what the caller keeps anyway
            if zlib.crc32(data) != index.get("crc32"):
                raise ValueError("CRC-32 mismatch")
        except (OSError, ValueError, EOFError) as exc:
            log.info("ignoring the damaged cache %s (%s); it is rebuilt", self.directory / data_name, exc)
            return None
        return data

    def _write_pixels(
        self, name: str, paths: list[str], out: np.ndarray, errors: list[BadImage | None]
    ) -> None:
        rows = []
        for path, err in zip(paths, errors, strict=True):
            stamp = self._stamp(path)
            # Files that failed (or vanished) get a stamp that never matches: they are tried again next
            # time, since some failures depend on settings (Pillow's pixel limit), not on the file.
            rows.append([path, *(stamp if stamp is not None and err is None else [-1, -1, None])])
        data_name = f"{name}-{secrets.token_hex(6)}.npy"
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{data_name}.", suffix=".tmp", dir=self.directory)
            try:
                with os.fdopen(fd, "wb") as fh:
                    np.lib.format.write_array(fh, out, allow_pickle=False)
                    fh.flush()
                    os.fsync(fh.fileno())
                os.replace(tmp, self.directory / data_name)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        except OSError as exc:
            log.warning(
                "could not write the image cache in %s (%s); the folder is decoded each time",
                self.directory,
                exc,
            )
            return
        index = {
            "format": FORMAT,
            "root": str(self.root),
            "data": data_name,
            "crc32": zlib.crc32(out),
            "rows": rows,
        }
        if self._write_json(f"{name}.json", index):
            for stale in self.directory.glob(f"{name}-*.npy"):
                if stale.name != data_name:
                    stale.unlink(missing_ok=True)
        else:
            (self.directory / data_name).unlink(missing_ok=True)

    # ---- json files ------------------------------------------------------------------------------------
    def _read_json(self, name: str) -> dict:
        path = self.directory / name
        try:
            value = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            log.info("ignoring the damaged cache file %s (%s); it is rebuilt", path, exc)
            return {}
        if (
            not isinstance(value, dict)
            or value.get("format") != FORMAT
            or value.get("root") != str(self.root)
        ):
            return {}
        return value

    def _write_json(self, name: str, value: dict) -> bool:
        from ssl_core.runs.atomic import atomic_write_text

        try:
            atomic_write_text(self.directory / name, json.dumps(value, separators=(",", ":")))
            return True
        except OSError as exc:  # DiskWriteError is an OSError too
            log.warning("could not write the image cache file %s (%s)", self.directory / name, exc)
            return False


class NoCache:
    """Stands in for FolderCache when caching is off: everything is probed and decoded."""

    def headers(
        self, files: Sequence[Path], probe_many: Callable[[list[Path]], list[Header]]
    ) -> list[Header]:
        return probe_many(list(files))

    def decoded(
        self,
        files: Sequence[Path],
        size: int,
        channels: int,
        decode_many: Callable[[list[Path]], list[Decoded]],
    ) -> list[Decoded]:
        return decode_many(list(files))


def open_cache(root: Path) -> FolderCache | NoCache:
    """The cache of the folder `root`, or a no-op when caching is off (`SSL_WORKBENCH_CACHE=off`)."""
    base = cache_dir()
    if base is None:
        return NoCache()
    absolute = Path(os.path.abspath(root))
    key = hashlib.sha256(os.fsencode(absolute)).hexdigest()[:24]
    return FolderCache(absolute, base / key)
