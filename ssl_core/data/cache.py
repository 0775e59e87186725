"""On-disk cache of decoded image folders, so that opening a folder a second time skips Pillow.

Layout, under `cache_dir()` (default `~/.cache/ssl-workbench/decoded`; `$SSL_WORKBENCH_CACHE/decoded`
when that variable is set, and no cache at all when it is `off`):

    <sha256 of the folder's absolute path>/
        headers.json                 size and colour of every readable file (what `probe` reads)
        pixels-<C>x<S>-dV.json       the files' paths, byte sizes and mtimes, as columns
        pixels-<C>x<S>-dV-<id>.npy   uint8 (N, C, S, S), row i = file i of the .json above

Every entry is keyed by the file's path, byte size and modification time (nanoseconds), and the pixel
files by the decode settings (channels, size, decoder version) as well. A changed, added or removed
file is decoded again on the next open; the unchanged ones are reused. When nothing changed (the usual
case) the stored columns equal the current ones as whole lists, so a warm open does no per-file work in
Python beyond one stat(). Files that could not be read are not cached (they are tried again), since
some failures depend on settings rather than the file. A file modified within `RACY_SECONDS` of being
looked at could change again without its mtime moving (coarse file-system clocks), so such entries
also keep a content digest, checked on reuse (git's "racily clean" rule). Nothing is evicted: deleting
the cache folder is always safe.

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
FORMAT = 2  # of the index files
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


MISSING = FileKey(-1, -1, False)  # a file that could not be stat'ed (or failed): never matches


def _file_digest(path: str) -> str | None:
    try:
        with open(path, "rb") as fh:
            return hashlib.blake2b(fh.read(), digest_size=16).hexdigest()
    except OSError:
        return None


@dataclass
class Listing:
    """The files an index was written for, as parallel columns (compared as whole lists: fast)."""

    paths: list[str]
    size: list[int]
    mtime_ns: list[int]
    digest: dict[str, str]  # only files that were racy when written

    @classmethod
    def from_index(cls, index: dict) -> Listing | None:
        paths, size, mtime, digest = (index.get(k) for k in ("paths", "size", "mtime_ns", "digest"))
        if not (isinstance(paths, list) and isinstance(size, list) and isinstance(mtime, list)):
            return None
        if not (len(paths) == len(size) == len(mtime)) or not isinstance(digest, dict):
            return None
        return cls(paths, size, mtime, digest)

    def to_index(self) -> dict[str, Any]:
        return {"paths": self.paths, "size": self.size, "mtime_ns": self.mtime_ns, "digest": self.digest}


class FolderCache:
    """The cache of one folder (by its absolute path). Use `open_cache`, which may return a no-op."""

    def __init__(self, root: Path, directory: Path):
        self.root = root
        self.directory = directory
        self._keys: dict[str, FileKey] = {}
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
                self._keys[path] = MISSING
                continue
            racy = looked - st.st_mtime_ns < RACY_SECONDS * 1e9
            self._keys[path] = FileKey(st.st_size, st.st_mtime_ns, racy)
            if racy:
                self._digest(path)

    def _digest(self, path: str) -> str | None:
        if path not in self._digests:
            self._digests[path] = _file_digest(path)
        return self._digests[path]

    def _unchanged(self, stored: Listing, paths: list[str]) -> bool:
        """True when `paths` are exactly the stored files, none modified (the usual warm open)."""
        if stored.digest or stored.paths != paths:
            return False
        keys = [self._keys[p] for p in paths]
        return (
            not any(k.racy for k in keys)
            and stored.size == [k.size for k in keys]
            and stored.mtime_ns == [k.mtime_ns for k in keys]
        )

    def _matches(self, path: str, stored: Listing, j: int) -> bool:
        """True when file `path` is unchanged since it was stored as row `j` of `stored`."""
        key = self._keys[path]
        if key is MISSING or stored.size[j] != key.size or stored.mtime_ns[j] != key.mtime_ns:
            return False
        digest = stored.digest.get(path)
        if digest is not None or key.racy:  # a racy file is trusted only with an equal digest
            return digest is not None and digest == self._digest(path)
        return True

    def _listing(self, paths: list[str], ok: list[bool]) -> Listing:
        """Stamps to store; failed files get MISSING's, so they are tried again next time (some failures
        depend on settings such as Pillow's pixel limit, not on the file)."""
        keys = [self._keys[p] if good else MISSING for p, good in zip(paths, ok, strict=True)]
        digest = {p: d for p, k in zip(paths, keys, strict=True) if k.racy and (d := self._digests.get(p))}
        return Listing(list(paths), [k.size for k in keys], [k.mtime_ns for k in keys], digest)

    def _stale_digests(self, stored: Listing) -> bool:
        """Stored digests of files no longer racy: rewrite the index without them (cheaper next time)."""
        return any(not self._keys.get(p, MISSING).racy for p in stored.digest)

    # ---- headers ---------------------------------------------------------------------------------------
    def headers(
        self, files: Sequence[Path], probe_many: Callable[[list[Path]], list[Header]]
    ) -> list[Header]:
        """The header of every file: cached ones reused, the others from `probe_many` (in order)."""
        paths = [os.fspath(f) for f in files]
        self._look(paths)
        index = self._read_json("headers.json")
        stored = Listing.from_index(index)
        columns = [index.get(k) for k in ("height", "width", "gray")]
        if stored is None or not all(isinstance(c, list) and len(c) == len(stored.paths) for c in columns):
            stored, columns = Listing([], [], [], {}), [[], [], []]
        height, width, gray = columns
        if self._unchanged(stored, paths):
            return [ImageHeader(h, w, g) for h, w, g in zip(height, width, gray, strict=True)]
        row = {p: j for j, p in enumerate(stored.paths)}
        out: list[Header | None] = [None] * len(paths)
        missing = []
        for i, path in enumerate(paths):
            j = row.get(path)
            if j is not None and self._matches(path, stored, j):
                out[i] = ImageHeader(height[j], width[j], gray[j])
            else:
                missing.append(i)
        if missing:
            for i, result in zip(missing, probe_many([files[i] for i in missing]), strict=True):
                out[i] = result
        good = [i for i, h in enumerate(out) if isinstance(h, ImageHeader)]
        good_paths = [paths[i] for i in good]
        if missing or stored.paths != good_paths or self._stale_digests(stored):
            listing = self._listing(good_paths, [True] * len(good))
            headers = [out[i] for i in good]
            self._write_json(
                "headers.json",
                {
                    "format": FORMAT,
                    "root": str(self.root),
                    **listing.to_index(),
                    "height": [h.height for h in headers],
                    "width": [h.width for h in headers],
                    "gray": [h.gray for h in headers],
                },
            )
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
        stored = Listing.from_index(index)
        data = self._read_pixels(index, stored, (channels, size, size)) if stored is not None else None
        if data is None:
            stored = Listing([], [], [], {})
        elif self._unchanged(stored, paths):
            return list(data)
        row = {p: j for j, p in enumerate(stored.paths)}
        out = np.zeros((len(paths), channels, size, size), dtype=np.uint8)
        errors: list[BadImage | None] = [None] * len(paths)
        dst, src, missing = [], [], []
        for i, path in enumerate(paths):
            j = row.get(path)
            if j is not None and self._matches(path, stored, j):
                dst.append(i)
                src.append(j)
            else:
                missing.append(i)
        if dst:
            out[dst] = data[src]
        if missing:
            for i, result in zip(missing, decode_many([files[i] for i in missing]), strict=True):
                if isinstance(result, BadImage):
                    errors[i] = result
                else:
                    out[i] = result
        listing = self._listing(paths, [e is None for e in errors])
        if missing or stored.paths != paths:
            self._write_pixels(name, listing, out)
        elif self._stale_digests(stored):  # same pixels: only the index changes
            self._write_index(name, index["data"], int(index["crc32"]), listing)
        log.debug("%s: %d of %d images from the cache", self.root, len(paths) - len(missing), len(paths))
        return [err if err is not None else out[i] for i, err in enumerate(errors)]

    def _read_pixels(self, index: dict, stored: Listing, shape: tuple[int, int, int]) -> np.ndarray | None:
        data_name = index.get("data")
        if not isinstance(data_name, str) or "/" in data_name or "\\" in data_name:
            return None
        try:
            data = np.load(self.directory / data_name, allow_pickle=False)
            if data.dtype != np.uint8 or data.shape != (len(stored.paths), *shape):
                raise ValueError(f"shape {data.shape}, dtype {data.dtype}")
            if zlib.crc32(data) != index.get("crc32"):
                raise ValueError("CRC-32 mismatch")
        except (OSError, ValueError, EOFError) as exc:
            log.info("ignoring the damaged cache %s (%s); it is rebuilt", self.directory / data_name, exc)
            return None
        return data

    def _write_pixels(self, name: str, listing: Listing, out: np.ndarray) -> None:
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
        if self._write_index(name, data_name, zlib.crc32(out), listing):
            for stale in self.directory.glob(f"{name}-*.npy"):
                if stale.name != data_name:
                    stale.unlink(missing_ok=True)
        else:
            (self.directory / data_name).unlink(missing_ok=True)

    def _write_index(self, name: str, data_name: str, crc: int, listing: Listing) -> bool:
        index = {"format": FORMAT, "root": str(self.root), "data": data_name, "crc32": crc}
        return self._write_json(f"{name}.json", {**index, **listing.to_index()})

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
