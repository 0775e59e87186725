"""On-disk cache of decoded image folders, so that opening a folder a second time skips Pillow.

Layout, under `cache_dir()` (default `~/.cache/ssl-workbench/decoded`; `$SSL_WORKBENCH_CACHE/decoded`
when that variable is set, and no cache at all when it is `off`):

    <sha256 of the folder's absolute path>/
        headers.npz                  size and colour of every readable file (what `probe` reads)
        pixels-<C>x<S>-dV.npz        the files of the .npy below, and its CRC-32
        pixels-<C>x<S>-dV-<id>.npy   uint8 (N, C, S, S), row i = file i of the .npz above

An index (.npz, uncompressed) holds columns: `names` (the files' paths below the folder, "/"-separated,
joined by NUL, as UTF-8 bytes), `size` and `mtime_ns` (int64), `meta` (JSON bytes: format, folder, content
digests, the data file and its CRC-32) and, in headers.npz, `height`, `width` (int32) and `gray` (bool).

Every entry is keyed by the file's path, byte size and modification time (nanoseconds), and the pixel
files by the decode settings (channels, size, decoder version) as well. A changed, added or removed
file is decoded again on the next open; the unchanged ones are reused. When nothing changed (the usual
case) the stored columns equal the scan's as whole arrays (one bytes comparison for the names, numpy for
the stamps), so a warm open does no per-file work in Python beyond the scan's one stat() per file, and
the pixels are read in chunks straight into one array (checked by CRC-32 while each chunk is in the CPU
cache). Files that could not be read are not cached (they are tried again), since some failures depend
on settings rather than the file. A file modified within `RACY_SECONDS` of being looked at could change
again without its mtime moving (coarse file-system clocks), so such entries also keep a content digest,
checked on reuse (git's "racily clean" rule). Nothing is evicted: deleting the cache folder is always safe.

Writes are atomic (temporary file, then rename; the .npy first, then the index that names it), so a
crash leaves the previous cache or the new one. Anything unreadable - a damaged index, a truncated or
altered .npy (CRC-32 check), a wrong shape, an index of another format (FORMAT) - is treated as a miss
and rebuilt; a cache folder that cannot be written only costs the speed-up (a logged warning). The cache
never makes opening a folder fail.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import logging
import os
import secrets
import tempfile
import zipfile
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ssl_core.data.imagefile import BadImage, ImageHeader

log = logging.getLogger(__name__)

CACHE_ENV = "SSL_WORKBENCH_CACHE"
DISABLED_VALUES = frozenset({"off", "0", "none", "false", "no"})
FORMAT = 3  # of the index files (3: numpy columns in .npz; 2 was JSON lists). Other formats are rebuilt.
DECODER_VERSION = 1  # bump when imagefile.decode changes its output (resampling, conversion)
RACY_SECONDS = 2.0
HEADERS_INDEX = "headers.npz"

_RACY_NS = int(RACY_SECONDS * 1e9)
_CHUNK = 1 << 20  # pixels are read and CRC'd in pieces that stay in the CPU cache between the two
# What reading a damaged index can raise (np.load of an .npz goes through zipfile).
_DAMAGED = (OSError, ValueError, KeyError, EOFError, TypeError, zipfile.BadZipFile)

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


# ---- what the files look like now ---------------------------------------------------------------------
def _join(names: Sequence[str]) -> bytes:
    # NUL cannot occur in a file name; surrogateescape keeps undecodable (non-UTF-8) names round-tripping.
    return "\0".join(names).encode("utf-8", "surrogateescape")


def _split(blob: bytes) -> list[str]:
    return blob.decode("utf-8", "surrogateescape").split("\0") if blob else []


@dataclass(eq=False)
class FileTable:
    """Files as columns, as a folder scan saw them.

    The stamps come from one stat() per file taken BEFORE anything is decoded, so that a file changed
    while being decoded is stored with its older stamp and decoded again next time, never the reverse.
    """

    paths: list[str]  # to open: the folder joined with the name below it
    names: list[str]  # below the folder, "/"-separated: what the cache is keyed by
    size: np.ndarray  # int64 bytes
    mtime_ns: np.ndarray  # int64
    looked_ns: int  # time.time_ns() before the first of these files was stat'ed
    _blob: bytes | None = field(default=None, init=False, repr=False)

    def __len__(self) -> int:
        return len(self.paths)

    def take(self, rows: np.ndarray | Sequence[int]) -> FileTable:
        rows = np.asarray(rows, dtype=np.int64)
        picked = rows.tolist()
        return FileTable(
            [self.paths[i] for i in picked],
            [self.names[i] for i in picked],
            self.size[rows],
            self.mtime_ns[rows],
            self.looked_ns,
        )

    def blob(self) -> bytes:
        """All names as one bytes object: comparing it with a stored one compares every name at once."""
        if self._blob is None:
            self._blob = _join(self.names)
        return self._blob

    def racy(self) -> np.ndarray:
        """Files modified within RACY_SECONDS of being looked at: their next change might keep the mtime."""
        return self.mtime_ns > self.looked_ns - _RACY_NS


@dataclass
class HeaderTable:
    """The header of every row of a FileTable, as columns; rows that could not be probed are in `bad`
    (their columns hold 0)."""

    height: np.ndarray  # int32, after EXIF rotation
    width: np.ndarray  # int32
    gray: np.ndarray  # bool
    bad: dict[int, BadImage] = field(default_factory=dict)

    @classmethod
    def empty(cls, n: int) -> HeaderTable:
        return cls(np.zeros(n, np.int32), np.zeros(n, np.int32), np.zeros(n, bool))

    def __len__(self) -> int:
        return len(self.height)

    def fill(self, rows: Sequence[int], results: Sequence[Header]) -> None:
        for i, result in zip(rows, results, strict=True):
            if isinstance(result, BadImage):
                self.bad[i] = result
            else:
                self.height[i], self.width[i], self.gray[i] = result.height, result.width, result.gray

    def take(self, rows: np.ndarray) -> HeaderTable:
        """The good rows `rows` (none of them in `bad`)."""
        return HeaderTable(self.height[rows], self.width[rows], self.gray[rows])


def _fill_pixels(
    out: np.ndarray, rows: Sequence[int], results: Sequence[Decoded], errors: dict[int, BadImage]
) -> None:
    for i, result in zip(rows, results, strict=True):
        if isinstance(result, BadImage):
            errors[i] = result
        else:
            out[i] = result


def _file_digest(path: str) -> str | None:
    try:
        with open(path, "rb") as fh:
            return hashlib.blake2b(fh.read(), digest_size=16).hexdigest()
    except OSError:
        return None


# ---- the stored index ---------------------------------------------------------------------------------
@dataclass
class _Index:
    """A stored index: the files it was written for, and its extra columns."""

    blob: bytes
    size: np.ndarray
    mtime_ns: np.ndarray
    meta: dict[str, Any]
    columns: dict[str, np.ndarray]

    @property
    def digest(self) -> dict[str, str]:  # only files that were racy when written
        return self.meta["digest"]

    def unchanged(self, files: FileTable) -> bool:
        """True when `files` are exactly the stored files, none modified (the usual warm open)."""
        return (
            not self.digest
            and self.blob == files.blob()
            and np.array_equal(self.size, files.size)
            and np.array_equal(self.mtime_ns, files.mtime_ns)
            and not files.racy().any()
        )


def _empty_index(columns: Sequence[str] = ()) -> _Index:
    empty = np.zeros(0, np.int64)
    return _Index(b"", empty, empty, {"digest": {}}, {c: np.zeros(0, np.int32) for c in columns})


def _valid_meta(meta: Any, root: str) -> bool:
    return (
        isinstance(meta, dict)
        and meta.get("format") == FORMAT
        and meta.get("root") == root
        and isinstance(meta.get("digest"), dict)
        and all(isinstance(k, str) and isinstance(v, str) for k, v in meta["digest"].items())
    )


class FolderCache:
    """The cache of one folder (by its absolute path). Use `open_cache`, which may return a no-op."""

    def __init__(self, root: Path, directory: Path):
        self.root = root
        self.directory = directory
        self._digests: dict[str, str | None] = {}  # by name below the root

    # ---- matching stored rows with the files now ------------------------------------------------------
    def _digest_racy(self, files: FileTable) -> None:
        """Digest the racy files before any of them is probed or decoded (see FileTable)."""
        for i in np.flatnonzero(files.racy()).tolist():
            self._digest(files, i)

    def _digest(self, files: FileTable, i: int) -> str | None:
        name = files.names[i]
        if name not in self._digests:
            self._digests[name] = _file_digest(files.paths[i])
        return self._digests[name]

    def _reusable(self, stored: _Index, files: FileTable) -> tuple[np.ndarray, np.ndarray]:
        """(rows of `files`, their rows in `stored`) for the files unchanged since they were stored."""
        where = {name: j for j, name in enumerate(_split(stored.blob))}
        j = np.fromiter((where.get(n, -1) for n in files.names), np.int64, len(files))
        ok = j >= 0
        ok[ok] = (stored.size[j[ok]] == files.size[ok]) & (stored.mtime_ns[j[ok]] == files.mtime_ns[ok])
        # A racy file, or one stored with a digest, is trusted only with an equal digest.
        check = files.racy()
        if stored.digest:
            check |= np.fromiter((n in stored.digest for n in files.names), bool, len(files))
        for i in np.flatnonzero(ok & check).tolist():
            digest = stored.digest.get(files.names[i])
            ok[i] = digest is not None and digest == self._digest(files, i)
        rows = np.flatnonzero(ok)
        return rows, j[rows]

    def _stale_digests(self, stored: _Index, files: FileTable) -> bool:
        """Stored digests of files no longer racy: rewrite the index without them (cheaper next time)."""
        if not stored.digest:
            return False
        racy = {files.names[i] for i in np.flatnonzero(files.racy()).tolist()}
        return any(name not in racy for name in stored.digest)

    def _digests_of(self, files: FileTable, rows: np.ndarray) -> dict[str, str]:
        racy = files.racy()
        return {
            files.names[i]: d
            for i in rows.tolist()
            if racy[i] and (d := self._digests.get(files.names[i])) is not None
        }

    # ---- headers ---------------------------------------------------------------------------------------
    def headers(self, files: FileTable, probe_many: Callable[[list[int]], list[Header]]) -> HeaderTable:
        """The header of every file: cached ones reused, the others from `probe_many` (rows, in order)."""
        columns = ("height", "width", "gray")
        stored = self._read_index(HEADERS_INDEX, columns) or _empty_index(columns)
        if stored.unchanged(files):
            c = stored.columns
            return HeaderTable(c["height"], c["width"], c["gray"])
        self._digest_racy(files)
        dst, src = self._reusable(stored, files)
        out = HeaderTable.empty(len(files))
        for c in columns:
            getattr(out, c)[dst] = stored.columns[c][src]
        todo = np.ones(len(files), bool)
        todo[dst] = False
        missing = np.flatnonzero(todo).tolist()
        if missing:
            out.fill(missing, probe_many(missing))
        usable = np.ones(len(files), bool)
        usable[list(out.bad)] = False
        good = np.flatnonzero(usable)
        kept = files.take(good) if out.bad else files
        if missing or stored.blob != kept.blob() or self._stale_digests(stored, files):
            self._write_index(
                HEADERS_INDEX,
                kept,
                kept.size,
                kept.mtime_ns,
                {"digest": self._digests_of(files, good)},
                {c: getattr(out, c)[good] for c in columns},
            )
        log.debug("%s: %d of %d headers from the cache", self.root, len(dst), len(files))
        return out

    # ---- pixels ----------------------------------------------------------------------------------------
    def decoded(
        self,
        files: FileTable,
        size: int,
        channels: int,
        decode_many: Callable[[list[int]], list[Decoded]],
    ) -> tuple[np.ndarray, dict[int, BadImage]]:
        """Every file decoded to (channels, size, size) uint8, as one (N, C, S, S) array, and the
        BadImage of each row that could not be decoded (its row holds zeros).

        Cached rows are reused; the rest come from `decode_many` (rows, in order). The cache is
        rewritten when anything changed (a new, changed or removed file).
        """
        name = f"pixels-{channels}x{size}-d{DECODER_VERSION}"
        shape = (channels, size, size)
        stored = self._read_index(f"{name}.npz", ())
        data = self._read_pixels(stored, shape) if stored is not None else None
        if stored is None or data is None:
            stored, data = _empty_index(), np.zeros((0, *shape), np.uint8)
        elif stored.unchanged(files):
            return data, {}
        self._digest_racy(files)
        dst, src = self._reusable(stored, files)
        out = np.zeros((len(files), *shape), dtype=np.uint8)
        out[dst] = data[src]
        todo = np.ones(len(files), bool)
        todo[dst] = False
        missing = np.flatnonzero(todo).tolist()
        errors: dict[int, BadImage] = {}
        if missing:
            _fill_pixels(out, missing, decode_many(missing), errors)
        # Rows that failed are stored with impossible stamps, so they are tried again next time (some
        # failures depend on settings such as Pillow's pixel limit, not on the file).
        ok = np.ones(len(files), bool)
        ok[list(errors)] = False
        stamps = np.where(ok, files.size, -1), np.where(ok, files.mtime_ns, -1)
        meta = {"digest": self._digests_of(files, np.flatnonzero(ok))}
        if missing or stored.blob != files.blob():
            self._write_pixels(name, files, stamps, meta, out)
        elif self._stale_digests(stored, files):  # same pixels: only the index changes
            meta.update(data=stored.meta["data"], crc32=stored.meta["crc32"])
            self._write_index(f"{name}.npz", files, *stamps, meta, {})
        log.debug("%s: %d of %d images from the cache", self.root, len(dst), len(files))
        return out, errors

    def _read_pixels(self, stored: _Index, shape: tuple[int, int, int]) -> np.ndarray | None:
        data_name = stored.meta.get("data")
        if not isinstance(data_name, str) or "/" in data_name or "\\" in data_name:
            return None
        path = self.directory / data_name
        try:
            with open(path, "rb") as fh:
                version = np.lib.format.read_magic(fh)
                if version == (1, 0):
                    found, fortran, dtype = np.lib.format.read_array_header_1_0(fh)
                elif version == (2, 0):
                    found, fortran, dtype = np.lib.format.read_array_header_2_0(fh)
                else:
                    raise ValueError(f"npy version {version}")
                if dtype != np.uint8 or fortran or found != (len(stored.size), *shape):
                    raise ValueError(f"shape {found}, dtype {dtype}")
                # Read straight into the array that becomes the images tensor (no second copy).
                data = np.empty(found, dtype=np.uint8)
                view = memoryview(data).cast("B")
                crc, pos = 0, 0
                while pos < len(view):
                    n = fh.readinto(view[pos : pos + _CHUNK])
                    if not n:
                        raise EOFError(f"truncated after {pos:,} of {len(view):,} bytes")
                    crc = zlib.crc32(view[pos : pos + n], crc)
                    pos += n
                if fh.read(1):
                    raise ValueError("longer than its header says")
            if crc != stored.meta.get("crc32"):
                raise ValueError("CRC-32 mismatch")
        except FileNotFoundError:
            log.info("the cache %s is missing; it is rebuilt", path)
            return None
        except (OSError, ValueError, EOFError) as exc:
            log.info("ignoring the damaged cache %s (%s); it is rebuilt", path, exc)
            return None
        return data

    def _write_pixels(
        self, name: str, files: FileTable, stamps: tuple[np.ndarray, np.ndarray], meta: dict, out: np.ndarray
    ) -> None:
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
        meta = {**meta, "data": data_name, "crc32": zlib.crc32(out)}
        if self._write_index(f"{name}.npz", files, *stamps, meta, {}):
            for stale in self.directory.glob(f"{name}-*.npy"):
                if stale.name != data_name:
                    stale.unlink(missing_ok=True)
        else:
            (self.directory / data_name).unlink(missing_ok=True)

    # ---- index files -----------------------------------------------------------------------------------
    def _read_index(self, name: str, columns: Sequence[str]) -> _Index | None:
        path = self.directory / name
        try:
            loaded = np.load(path, allow_pickle=False)
            if not isinstance(loaded, np.lib.npyio.NpzFile):
                raise ValueError("not an .npz archive")
            with loaded as npz:
                meta = json.loads(npz["meta"].tobytes())
                blob = npz["names"].tobytes()
                size, mtime = npz["size"], npz["mtime_ns"]
                extra = {c: npz[c] for c in columns}
        except FileNotFoundError:
            return None
        except _DAMAGED as exc:
            log.info("ignoring the damaged cache file %s (%s); it is rebuilt", path, exc)
            return None
        if not _valid_meta(meta, str(self.root)):
            return None  # another format or folder: rebuilt, no need to tell anyone
        n = blob.count(b"\0") + 1 if blob else 0
        arrays = (size, mtime, *extra.values())
        if not all(a.ndim == 1 and len(a) == n and a.dtype.kind in "biu" for a in arrays) or not (
            size.dtype == mtime.dtype == np.int64
        ):
            log.info("ignoring the inconsistent cache file %s; it is rebuilt", path)
            return None
        return _Index(blob, size, mtime, meta, extra)

    def _write_index(
        self,
        name: str,
        files: FileTable,
        size: np.ndarray,
        mtime_ns: np.ndarray,
        meta: dict,
        columns: dict[str, np.ndarray],
    ) -> bool:
        from ssl_core.runs.atomic import atomic_write_bytes

        meta = {"format": FORMAT, "root": str(self.root), **meta}
        buffer = io.BytesIO()
        np.savez(
            buffer,
            names=np.frombuffer(files.blob(), np.uint8),
            size=np.asarray(size, np.int64),
            mtime_ns=np.asarray(mtime_ns, np.int64),
            meta=np.frombuffer(json.dumps(meta).encode("utf-8"), np.uint8),
            **columns,
        )
        path = self.directory / name
        try:
            atomic_write_bytes(path, buffer.getvalue())
        except OSError as exc:  # DiskWriteError is an OSError too
            log.warning("could not write the image cache file %s (%s)", path, exc)
            return False
        with contextlib.suppress(OSError):  # the index of format 2, if any: now unused
            path.with_suffix(".json").unlink(missing_ok=True)
        return True


class NoCache:
    """Stands in for FolderCache when caching is off: everything is probed and decoded."""

    def headers(self, files: FileTable, probe_many: Callable[[list[int]], list[Header]]) -> HeaderTable:
        rows = list(range(len(files)))
        out = HeaderTable.empty(len(files))
        out.fill(rows, probe_many(rows))
        return out

    def decoded(
        self,
        files: FileTable,
        size: int,
        channels: int,
        decode_many: Callable[[list[int]], list[Decoded]],
    ) -> tuple[np.ndarray, dict[int, BadImage]]:
        rows = list(range(len(files)))
        out = np.zeros((len(files), channels, size, size), dtype=np.uint8)
        errors: dict[int, BadImage] = {}
        _fill_pixels(out, rows, decode_many(rows), errors)
        return out, errors


def open_cache(root: Path) -> FolderCache | NoCache:
    """The cache of the folder `root`, or a no-op when caching is off (`SSL_WORKBENCH_CACHE=off`)."""
    base = cache_dir()
    if base is None:
        return NoCache()
    absolute = Path(os.path.abspath(root))
    key = hashlib.sha256(os.fsencode(absolute)).hexdigest()[:24]
    return FolderCache(absolute, base / key)
