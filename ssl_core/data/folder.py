"""`folder:PATH`: a folder of image files, searched recursively.

Layout: when images sit in two or more subfolders, the first subfolder below PATH names the class
(PATH/cat/x.png -> "cat", PATH/cat/2019/y.png -> "cat"); images lying directly in PATH are then skipped
and reported, since they have no class. Otherwise (a flat folder, or a single subfolder) the images are
unlabelled. Hidden files and folders (and macOS `__MACOSX` debris) are ignored; symbolic links are
followed, each real folder at most once, so link loops end.

Defaults: channels = 1 when every image is grayscale (by its mode or a gray palette), else 3. Size = a
square whose side is the shorter side of the most common image size, capped at 64 (at least 4), so a
folder of 28x28 scans stays 28x28 while a folder of photos becomes 64x64. Each image's shorter side is
resized to that and the centre is cropped.

Files that cannot be used (empty, not an image, truncated, too many pixels, broken links, pipes) are skipped
and listed in `info.skipped` with the reason. Folders whose decoded images fit in `EAGER_DECODE_BYTES`
are decoded fully when opened, so every damaged file is caught then; larger folders only have their
headers checked and are decoded while streaming, where a file that fails gives a black image and a
logged warning instead of stopping training.
"""

from __future__ import annotations

import logging
import os
import stat
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar, overload

import numpy as np
import torch

from ssl_core.data.base import DataInfo, DataSource, SkippedFile
from ssl_core.data.cache import FileTable, HeaderTable, open_cache
from ssl_core.data.imagefile import IMAGE_EXTENSIONS, BadImage, ImageHeader, decode, is_image_name, probe
from ssl_core.data.spec import OpenOptions, SourceKind, user_path
from ssl_core.errors import UserError

log = logging.getLogger(__name__)

DEFAULT_MAX_SIZE = 64
DEFAULT_MIN_SIZE = 4
EAGER_DECODE_BYTES = 512 << 20  # decoded folders up to this size are decoded (and fully checked) on open
_IGNORED_DIRS = frozenset({"__MACOSX"})
# The stat module defines this constant on every OS; only Windows has the attribute (elsewhere, asking
# would cost one stat() per file for nothing).
_WINDOWS_HIDDEN = getattr(stat, "FILE_ATTRIBUTE_HIDDEN", 0) if os.name == "nt" else 0
# For names not starting with "." (hidden ones are skipped first), `name.lower().endswith(...)` agrees
# with imagefile.is_image_name and costs a third of it; the scan tests every name it meets.
_IMAGE_SUFFIXES = tuple(sorted(IMAGE_EXTENSIONS))

T = TypeVar("T")
R = TypeVar("R")


class PathList(Sequence[Path]):
    """File paths kept as strings, each made a Path only when asked for: building 20,000 Path objects
    costs more than the rest of opening a cached folder."""

    __slots__ = ("_paths",)

    def __init__(self, paths: Iterable[str | os.PathLike[str]]):
        self._paths = [os.fspath(p) for p in paths]

    @classmethod
    def of_strings(cls, paths: list[str]) -> PathList:
        """Wraps `paths` without copying them (the caller hands the list over)."""
        out = cls.__new__(cls)
        out._paths = paths
        return out

    def __len__(self) -> int:
        return len(self._paths)

    @overload
    def __getitem__(self, i: int) -> Path: ...
    @overload
    def __getitem__(self, i: slice) -> PathList: ...
    def __getitem__(self, i):
        if isinstance(i, slice):
            return PathList.of_strings(self._paths[i])
        return Path(self._paths[i])

    def __iter__(self) -> Iterator[Path]:
        return map(Path, self._paths)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, PathList):
            return self._paths == other._paths
        if isinstance(other, Sequence) and not isinstance(other, str):
            return len(other) == len(self) and all(
                Path(a) == b for a, b in zip(self._paths, other, strict=True)
            )
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # mutable-looking sequence, like list

    def __repr__(self) -> str:
        return f"PathList({self._paths!r})"

    def strings(self) -> list[str]:
        """The paths as strings (no Path objects built)."""
        return list(self._paths)


# ---- finding files --------------------------------------------------------------------------------
@dataclass
class FolderScan:
    """What a scan found: the image files as columns (sorted by `relative`), plus what was skipped."""

    paths: list[str] = field(default_factory=list)  # root joined with the names below it
    relative: list[str] = field(default_factory=list)  # of each file, below root, "/"-separated
    size: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))  # bytes, from the scan's stat
    mtime_ns: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    group: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))  # index in tops; -1: in root
    tops: list[str] = field(default_factory=list)  # the folders directly below root
    looked_ns: int = 0  # time.time_ns() before the first stat()
    skipped: list[SkippedFile] = field(default_factory=list)
    other_files: list[str] = field(default_factory=list)  # non-image files, for the "no images" message

    @property
    def files(self) -> PathList:
        return PathList.of_strings(self.paths)

    def table(self) -> FileTable:
        return FileTable(self.paths, self.relative, self.size, self.mtime_ns, self.looked_ns)


def _hidden(entry: os.DirEntry) -> bool:
    if entry.name.startswith("."):
        return True
    if _WINDOWS_HIDDEN:
        try:
            return bool(entry.stat(follow_symlinks=False).st_file_attributes & _WINDOWS_HIDDEN)
        except (OSError, AttributeError):
            return False
    return False


def scan_folder(root: Path) -> FolderScan:
    """All image files below `root` (sorted by relative path), following links without looping.

    Each image file is stat'ed once here (size and mtime: what the cache compares); other entries are
    classified by DirEntry.is_dir/is_file, which need no stat() of their own where the OS reports
    entry types (Linux, macOS, Windows). Nothing per file is built beyond strings and ints.
    """
    found = FolderScan(looked_ns=time.time_ns())
    real_root = root.stat()
    visited = {(real_root.st_dev, real_root.st_ino)}
    # (folder, its name below root + "/", index of its top-level folder in found.tops or -1)
    stack: list[tuple[str, str, int]] = [(os.fspath(root), "", -1)]
    paths: list[str] = []
    relative: list[str] = []
    size: list[int] = []
    mtime: list[int] = []
    group: list[int] = []
    while stack:
        folder, prefix, top = stack.pop()
        try:
            with os.scandir(folder) as it:
                entries = list(it)
        except OSError as exc:
            found.skipped.append(SkippedFile(folder, f"folder cannot be read ({exc.strerror or exc})"))
            continue
        for entry in entries:
            name = entry.name
            if name[0] == "." or name in _IGNORED_DIRS or (_WINDOWS_HIDDEN and _hidden(entry)):
                continue
            try:
                if entry.is_dir():  # follows links
                    st = entry.stat()
                    key = (st.st_dev, st.st_ino)
                    if key in visited:  # a link back to a folder already searched (or a loop)
                        log.debug("not searching %s again (already visited)", entry.path)
                        continue
                    visited.add(key)
                    if top < 0:
                        found.tops.append(name)
                    stack.append((entry.path, f"{prefix}{name}/", top if top >= 0 else len(found.tops) - 1))
                elif entry.is_file():
                    if name.lower().endswith(_IMAGE_SUFFIXES):
                        st = entry.stat()
                        paths.append(entry.path)
                        relative.append(prefix + name)
                        size.append(st.st_size)
                        mtime.append(st.st_mtime_ns)
                        group.append(top)
                    else:
                        found.other_files.append(entry.path)
                elif entry.is_symlink() and is_image_name(name) and not os.path.exists(entry.path):
                    found.skipped.append(
                        SkippedFile(entry.path, "broken symbolic link (its target is missing)")
                    )
                elif is_image_name(name):  # a pipe, socket or device: opening it could block forever
                    found.skipped.append(
                        SkippedFile(entry.path, "not a regular file (a pipe, socket or device); not opened")
                    )
            except OSError as exc:
                found.skipped.append(SkippedFile(entry.path, f"cannot be read ({exc.strerror or exc})"))
    order = sorted(range(len(relative)), key=relative.__getitem__)
    found.paths = [paths[i] for i in order]
    found.relative = [relative[i] for i in order]
    rows = np.array(order, dtype=np.int64)
    found.size = np.array(size, dtype=np.int64)[rows]
    found.mtime_ns = np.array(mtime, dtype=np.int64)[rows]
    found.group = np.array(group, dtype=np.int64)[rows]
    return found


# ---- the source -----------------------------------------------------------------------------------
class FolderSource(DataSource):
    """Image files decoded to (C, S, S) uint8, held in memory when small, else decoded on each read."""

    def __init__(
        self,
        files: Sequence[Path],
        labels: torch.Tensor | None,
        info: DataInfo,
        images: torch.Tensor | None = None,
    ):
        self.files: Sequence[Path] = files if isinstance(files, PathList) else list(files)
        self._labels = labels
        self.info = info
        self._images = images

    @property
    def in_memory(self) -> bool:
        return self._images is not None

    def labels(self) -> torch.Tensor | None:
        return self._labels

    def read(self, indices):
        idx = torch.as_tensor(indices, dtype=torch.long).cpu()
        labels = self._labels[idx] if self._labels is not None else None
        if self._images is not None:
            return self._images[idx], labels
        c, h, w = self.info.image_shape
        out = np.zeros((len(idx), c, h, w), dtype=np.uint8)
        for row, i in enumerate(idx.tolist()):
            try:
                out[row] = decode(self.files[i], h, c)
            except BadImage as exc:  # only reachable for large folders (header-checked only)
                log.warning("%s: %s; a black image is used in its place", self.files[i], exc)
        return torch.from_numpy(out), labels


# ---- opening --------------------------------------------------------------------------------------
def _parallel(fn: Callable[[T], R], items: list[T], options: OpenOptions, phase: str) -> Iterator[R]:
    """fn over items in order on a thread pool (Pillow releases the GIL while decoding)."""
    workers = max(1, min(8, os.cpu_count() or 1))
    total = len(items)
    step = max(1, total // 100)
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="ssl-data") as pool:
        for done, result in enumerate(pool.map(fn, items), start=1):
            if done % step == 0 or done == total:
                options.report(phase, done, total)
            yield result


def _try(fn: Callable[[Path], R]) -> Callable[[Path], R | BadImage]:
    def run(path: Path) -> R | BadImage:
        try:
            return fn(path)
        except BadImage as exc:
            return exc

    return run


def _sizes(height: np.ndarray, width: np.ndarray) -> dict[tuple[int, int], int]:
    """How many images have each (height, width), counted with numpy (no object per file)."""
    pairs = (height.astype(np.int64) << 32) | width.astype(np.int64)
    values, counts = np.unique(pairs, return_counts=True)
    return {(int(v >> 32), int(v & 0xFFFFFFFF)): int(c) for v, c in zip(values, counts, strict=True)}


def _default_size_of(sizes: dict[tuple[int, int], int]) -> int:
    # Most common size; ties go to the larger image so the choice does not depend on file order.
    (height, width), _ = max(sizes.items(), key=lambda item: (item[1], item[0][0] * item[0][1], item[0]))
    return max(DEFAULT_MIN_SIZE, min(DEFAULT_MAX_SIZE, height, width))


def _layout(scan: FolderScan) -> tuple[FileTable, np.ndarray | None, list[SkippedFile]]:
    """Split the scan into (kept files, class of each as an index in scan.tops or None when unlabelled,
    skipped top-level files)."""
    table = scan.table()
    classes = np.unique(scan.group)
    if np.count_nonzero(classes >= 0) < 2:
        return table, None, []
    in_root = scan.group < 0
    if not in_root.any():
        return table, scan.group, []
    skipped = [
        SkippedFile(
            scan.paths[i],
            "lies directly in the data folder while class subfolders exist; move it into "
            "a class subfolder to use it",
        )
        for i in np.flatnonzero(in_root).tolist()
    ]
    kept = np.flatnonzero(~in_root)
    return table.take(kept), scan.group[kept], skipped


def _no_images_error(root: Path, scan: FolderScan) -> UserError:
    if not scan.other_files and not scan.skipped:
        return UserError(
            f"The folder {root} is empty; put image files in it (or in class subfolders).", path=str(root)
        )
    if not scan.other_files:
        return UserError(
            f"No usable images in {root}: {scan.skipped[0].path}: {scan.skipped[0].reason}.", path=str(root)
        )
    example = Path(scan.other_files[0]).name
    return UserError(
        f"No image files in {root}: found {len(scan.other_files):,} other file(s) such as {example!r}. "
        f"Supported image files end in {', '.join(sorted(IMAGE_EXTENSIONS))}.",
        path=str(root),
    )


def _unreadable_error(root: Path, skipped: list[SkippedFile]) -> UserError:
    first = skipped[0]
    return UserError(
        f"None of the {len(skipped):,} image file(s) in {root} could be read; for example "
        f"{first.path}: {first.reason}.",
        path=str(root),
    )


def _skipped(files: FileTable, bad: dict[int, BadImage]) -> list[SkippedFile]:
    return [SkippedFile(files.paths[i], str(bad[i])) for i in sorted(bad)]


def _without(n: int, bad: dict[int, BadImage]) -> np.ndarray:
    keep = np.ones(n, bool)
    keep[list(bad)] = False
    return np.flatnonzero(keep)


def open_folder(spec: str, argument: str, options: OpenOptions) -> DataSource:
    return _open_folder(spec, argument, options)


def _open_folder(
    spec: str, argument: str, options: OpenOptions, mark: Callable[[str], None] = lambda phase: None
) -> DataSource:
    """open_folder; `mark(phase)` is called as each phase ends (bench/bench_data_cache.py times them)."""
    if not argument.strip():
        raise UserError("folder: needs a path, e.g. folder:~/pictures", field="data.spec")
    root = user_path(argument)
    if not root.exists():
        raise UserError(f"The folder {root} does not exist; check the path in {spec}.", path=str(root))
    if not root.is_dir():
        hint = (
            f" (for arrays use {root.suffix.lstrip('.')}:{root})"
            if root.suffix.lower() in (".npz", ".npy")
            else ""
        )
        raise UserError(f"{root} is a file, but folder: expects a folder of images{hint}.", path=str(root))

    scan = scan_folder(root)
    if not scan.paths:
        raise _no_images_error(root, scan)
    skipped = list(scan.skipped)
    mark("scan the folder")
    files, group, top_level = _layout(scan)
    skipped += top_level
    mark("class layout")

    # 1. headers: size and colour of every file, cheap. Headers and pixels of unchanged files come from
    # the on-disk cache (data/cache.py); the rest from Pillow, on a thread pool.
    cache = open_cache(root)

    def probe_rows(rows: list[int]) -> list[ImageHeader | BadImage]:
        return list(_parallel(_try(probe), [Path(files.paths[i]) for i in rows], options, "scanning"))

    headers: HeaderTable = cache.headers(files, probe_rows)
    if headers.bad:
        skipped += _skipped(files, headers.bad)
        good = _without(len(files), headers.bad)
        if not len(good):
            raise _unreadable_error(root, skipped)
        files, headers = files.take(good), headers.take(good)
        group = group[good] if group is not None else None
    mark("headers from the cache")

    channels = options.channels or (1 if headers.gray.all() else 3)
    sizes = _sizes(headers.height, headers.width)
    size = options.image_size or _default_size_of(sizes)
    notes = []
    if options.image_size is None and set(sizes) != {(size, size)}:
        notes.append(f"resized to {size}x{size} (shorter side, then centre crop)")

    # 2. pixels: decode now when the result is small enough to keep; this also finds truncated files.
    images = None
    if len(files) * channels * size * size <= EAGER_DECODE_BYTES:

        def decode_rows(rows: list[int]) -> list[np.ndarray | BadImage]:
            todo = [Path(files.paths[i]) for i in rows]
            return list(_parallel(_try(lambda p: decode(p, size, channels)), todo, options, "decoding"))

        pixels, bad = cache.decoded(files, size, channels, decode_rows)
        mark("pixels from the cache")
        if bad:
            skipped += _skipped(files, bad)
            good = _without(len(files), bad)
            if not len(good):
                raise _unreadable_error(root, skipped)
            files, pixels = files.take(good), pixels[good]
            group = group[good] if group is not None else None
        images = torch.from_numpy(pixels)  # shares the array: no copy of the pixels
        mark("to one tensor")
    else:
        notes.append("decoded while streaming (too large to hold decoded in memory)")

    labels, class_names = None, []
    if group is not None:
        used = np.unique(group)
        class_names = sorted(scan.tops[g] for g in used.tolist())
        position = {name: k for k, name in enumerate(class_names)}
        lookup = np.zeros(len(scan.tops), np.int64)
        lookup[used] = [position[scan.tops[g]] for g in used.tolist()]
        labels = torch.from_numpy(lookup[group])
        notes.append("labels from class subfolders")
    if skipped:  # one line, not one per file: a folder may hold thousands of bad files
        log.info(
            "%s: skipped %d file(s), e.g. %s: %s", root, len(skipped), skipped[0].path, skipped[0].reason
        )
    info = DataInfo(
        spec=spec,
        name=root.resolve().name or str(root),
        size=len(files),
        channels=channels,
        height=size,
        width=size,
        has_labels=labels is not None,
        class_names=class_names,
        skipped=skipped,
        native_size=next(iter(sizes)) if len(sizes) == 1 else None,
        notes=notes,
    )
    source = FolderSource(PathList.of_strings(files.paths), labels, info, images)
    mark("sizes, labels, description")
    return source


KIND = SourceKind(
    scheme="folder",
    title="Image folder",
    noun="image folder",
    description="PNG, JPEG, BMP, GIF, TIFF or WebP files, searched recursively. Class subfolders "
    "(PATH/cat/..., PATH/dog/...) give labels; a flat folder is unlabelled.",
    example="folder:~/pictures/pets",
    argument="PATH",
    browse="folder",
    opener=open_folder,
)
