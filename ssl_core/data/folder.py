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
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import numpy as np
import torch

from ssl_core.data.base import DataInfo, DataSource, SkippedFile
from ssl_core.data.cache import open_cache
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

T = TypeVar("T")
R = TypeVar("R")


# ---- finding files --------------------------------------------------------------------------------
@dataclass
class FolderScan:
    files: list[Path] = field(default_factory=list)
    skipped: list[SkippedFile] = field(default_factory=list)
    other_files: list[str] = field(default_factory=list)  # non-image files, for the "no images" message
    relative: list[str] = field(default_factory=list)  # of each file, below root, "/"-separated


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
    """All image files below `root` (sorted by relative path), following links without looping."""
    found = FolderScan()
    real_root = root.stat()
    visited = {(real_root.st_dev, real_root.st_ino)}
    # Relative names are built from strings as folders are entered: Path.relative_to on every file
    # cost more than the whole scan of a 20,000-file folder.
    stack: list[tuple[Path, str]] = [(root, "")]
    relative: list[str] = []
    while stack:
        folder, prefix = stack.pop()
        try:
            entries = list(os.scandir(folder))
        except OSError as exc:
            found.skipped.append(SkippedFile(str(folder), f"folder cannot be read ({exc.strerror or exc})"))
            continue
        for entry in entries:
            if _hidden(entry) or entry.name in _IGNORED_DIRS:
                continue
            try:
                if entry.is_dir():  # follows links
                    st = entry.stat()
                    key = (st.st_dev, st.st_ino)
                    if key in visited:  # a link back to a folder already searched (or a loop)
                        log.debug("not searching %s again (already visited)", entry.path)
                        continue
                    visited.add(key)
                    stack.append((Path(entry.path), f"{prefix}{entry.name}/"))
                elif entry.is_file():
                    if is_image_name(entry.name):
                        found.files.append(Path(entry.path))
                        relative.append(prefix + entry.name)
                    else:
                        found.other_files.append(entry.path)
                elif entry.is_symlink() and is_image_name(entry.name) and not os.path.exists(entry.path):
                    found.skipped.append(
                        SkippedFile(entry.path, "broken symbolic link (its target is missing)")
                    )
                elif is_image_name(entry.name):  # a pipe, socket or device: opening it could block forever
                    found.skipped.append(
                        SkippedFile(entry.path, "not a regular file (a pipe, socket or device); not opened")
                    )
            except OSError as exc:
                found.skipped.append(SkippedFile(entry.path, f"cannot be read ({exc.strerror or exc})"))
    order = sorted(range(len(relative)), key=relative.__getitem__)
    found.files = [found.files[i] for i in order]
    found.relative = [relative[i] for i in order]
    return found


# ---- the source -----------------------------------------------------------------------------------
class FolderSource(DataSource):
    """Image files decoded to (C, S, S) uint8, held in memory when small, else decoded on each read."""

    def __init__(
        self,
        files: list[Path],
        labels: torch.Tensor | None,
        info: DataInfo,
        images: torch.Tensor | None = None,
    ):
        self.files = list(files)
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


def default_size(headers: Iterable[ImageHeader]) -> int:
    counts = Counter((h.height, h.width) for h in headers)
    # Most common size; ties go to the larger image so the choice does not depend on file order.
    (height, width), _ = max(counts.items(), key=lambda item: (item[1], item[0][0] * item[0][1], item[0]))
    return max(DEFAULT_MIN_SIZE, min(DEFAULT_MAX_SIZE, height, width))


def _layout(
    root: Path, files: list[Path], relative: list[str] | None = None
) -> tuple[list[Path], list[str] | None, list[SkippedFile]]:
    """Split files into (kept files, class of each or None when unlabelled, skipped top-level files).

    `relative` ("/"-separated names below root, as FolderScan keeps them) saves recomputing them.
    """
    if relative is None:
        relative = [f.relative_to(root).as_posix() for f in files]
    parts = [r.split("/", 1) for r in relative]
    classes = {p[0] for p in parts if len(p) > 1}
    if len(classes) < 2:
        return files, None, []
    kept, names, skipped = [], [], []
    for f, p in zip(files, parts, strict=True):
        if len(p) > 1:
            kept.append(f)
            names.append(p[0])
        else:
            skipped.append(
                SkippedFile(
                    str(f),
                    "lies directly in the data folder while class subfolders exist; move it into "
                    "a class subfolder to use it",
                )
            )
    return kept, names, skipped


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


def open_folder(spec: str, argument: str, options: OpenOptions) -> DataSource:
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
    if not scan.files:
        raise _no_images_error(root, scan)
    skipped = list(scan.skipped)
    files, class_of, top_level = _layout(root, scan.files, scan.relative)
    skipped += top_level

    # 1. headers: size and colour of every file, cheap.
    good: list[tuple[Path, str | None, ImageHeader]] = []
    # Headers and pixels of unchanged files come from the on-disk cache (data/cache.py).
    cache = open_cache(root)
    probed = cache.headers(files, lambda todo: list(_parallel(_try(probe), todo, options, "scanning")))
    for i, result in enumerate(probed):
        if isinstance(result, BadImage):
            skipped.append(SkippedFile(str(files[i]), str(result)))
        else:
            good.append((files[i], class_of[i] if class_of else None, result))
    if not good:
        raise _unreadable_error(root, skipped)

    headers = [h for _, _, h in good]
    channels = options.channels or (1 if all(h.gray for h in headers) else 3)
    size = options.image_size or default_size(headers)
    sizes = {(h.height, h.width) for h in headers}
    notes = []
    if options.image_size is None and sizes != {(size, size)}:
        notes.append(f"resized to {size}x{size} (shorter side, then centre crop)")

    # 2. pixels: decode now when the result is small enough to keep; this also finds truncated files.
    images = None
    if len(good) * channels * size * size <= EAGER_DECODE_BYTES:
        paths = [p for p, _, _ in good]
        decoded = cache.decoded(
            paths,
            size,
            channels,
            lambda todo: list(
                _parallel(_try(lambda p: decode(p, size, channels)), todo, options, "decoding")
            ),
        )
        kept = []
        for item, result in zip(good, decoded, strict=True):
            if isinstance(result, BadImage):
                skipped.append(SkippedFile(str(item[0]), str(result)))
            else:
                kept.append((item, result))
        if not kept:
            raise _unreadable_error(root, skipped)
        good = [item for item, _ in kept]
        images = torch.from_numpy(np.stack([arr for _, arr in kept]))
    else:
        notes.append("decoded while streaming (too large to hold decoded in memory)")

    labels, class_names = None, []
    if class_of is not None:
        class_names = sorted({c for _, c, _ in good if c is not None})
        index = {c: i for i, c in enumerate(class_names)}
        labels = torch.tensor([index[c] for _, c, _ in good], dtype=torch.long)
        notes.append("labels from class subfolders")
    if skipped:  # one line, not one per file: a folder may hold thousands of bad files
        log.info(
            "%s: skipped %d file(s), e.g. %s: %s", root, len(skipped), skipped[0].path, skipped[0].reason
        )
    info = DataInfo(
        spec=spec,
        name=root.resolve().name or str(root),
        size=len(good),
        channels=channels,
        height=size,
        width=size,
        has_labels=labels is not None,
        class_names=class_names,
        skipped=skipped,
        native_size=next(iter(sizes)) if len(sizes) == 1 else None,
        notes=notes,
    )
    return FolderSource([p for p, _, _ in good], labels, info, images)


KIND = SourceKind(
    scheme="folder",
    title="Image folder",
    description="PNG, JPEG, BMP, GIF, TIFF or WebP files, searched recursively. Class subfolders "
    "(PATH/cat/..., PATH/dog/...) give labels; a flat folder is unlabelled.",
    example="folder:~/pictures/pets",
    argument="PATH",
    browse="folder",
    opener=open_folder,
)
