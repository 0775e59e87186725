"""`npz:PATH` and `npy:PATH`: image or time-series arrays saved with NumPy, loaded without pickle.

Images are (N, H, W) or (N, H, W, C) with C in 1, 3, 4, as uint8 or floats in [0, 1]. An .npz may add
integer labels. A channels-first array (N, C, H, W) is recognised when it cannot be channels-last.

Time series are numbers (N, T) (univariate) or (N, C, T):
- an .npz array named 'series' or 'signals' is always series;
- a 2-D float array (N, T) is univariate series (a 2-D integer array is still refused as images);
- a 3-D array under 'images'/'x' (or a 3-D .npy) stays images (N, H, W) unless data.modality = "series",
  which reads it as (N, C, T);
- data.modality = "image" always reads images.
Series go through the shared finishing step (ssl_core/data/series.py): NaN/inf refused or imputed, one
length, float32.

Tables are numbers (N, F): an .npz array named 'table', or any 2-D array (under 'x', 'features', ...,
or an .npy) when data.modality = "table". Every column is numeric, named f0, f1, ...; NaN marks a
missing value (see ssl_core/data/table_source.py).
"""

from __future__ import annotations

import dataclasses
import logging
import zipfile
from pathlib import Path

import numpy as np
import torch

from ssl_core.data.base import DataSource
from ssl_core.data.convert import array_to_uint8
from ssl_core.data.inmemory import in_memory_source, remap_labels
from ssl_core.data.series import RawSeries, finish_series
from ssl_core.data.spec import OpenOptions, SourceKind, require_regular_file, user_path
from ssl_core.data.table_source import table_from_array
from ssl_core.errors import UserError

log = logging.getLogger(__name__)

IMAGE_KEYS = ("images", "x")  # also the table's array when data.modality = "table"
SERIES_KEYS = ("series", "signals")
TABLE_KEYS = ("table", "features")
LABEL_KEYS = ("labels", "y")
_CHANNEL_COUNTS = (1, 3, 4)


def _existing_file(argument: str, scheme: str) -> Path:
    if not argument.strip():
        raise UserError(
            f"{scheme}: needs a file path, e.g. {scheme}:~/data/images.{scheme}", field="data.spec"
        )
    path = user_path(argument)
    return require_regular_file(
        path,
        missing=f"check the path in {scheme}:{argument}.",
        folder=f"{scheme}: expects a .{scheme} file (for a folder of images use folder:{path}).",
        special=f"save the arrays to a .{scheme} file.",
    )


def _too_big(path: Path, what: str, exc: MemoryError) -> UserError:
    return UserError(
        f"{path}: {what} declares more data than can be loaded ({exc}); the file is damaged, or the "
        "arrays are too large for memory - save a smaller subset.",
        path=str(path),
    )


def _check_npy_size(path: Path) -> None:
    """Refuse an .npy whose header declares more bytes than the file holds, before allocating them."""
    with path.open("rb") as fh:
        try:
            version = np.lib.format.read_magic(fh)
        except ValueError:
            return  # not an .npy (maybe an .npz): np.load decides
        try:
            if version == (1, 0):
                shape, _, dtype = np.lib.format.read_array_header_1_0(fh)
            else:
                shape, _, dtype = np.lib.format.read_array_header_2_0(fh)
        except (ValueError, SyntaxError, TypeError):
            return  # np.load reports the damaged header
        declared = int(np.prod(shape, dtype=object)) * dtype.itemsize
        available = path.stat().st_size - fh.tell()
    if dtype.hasobject:
        return  # np.load refuses object arrays with its own message
    if declared > available:
        raise UserError(
            f"{path}: the header declares an array of shape {tuple(shape)} ({declared:,} bytes) but the file "
            f"holds only {available:,} bytes; the file is truncated or damaged. Save it again with NumPy.",
            path=str(path),
        )


def _load(path: Path, scheme: str):
    try:
        _check_npy_size(path)
        return np.load(path, allow_pickle=False)
    except MemoryError as exc:
        raise _too_big(path, "the array", exc) from None
    except ValueError as exc:
        text = str(exc).lower()
        if "object arrays" in text:
            raise UserError(
                f"{path} holds Python objects (dtype=object), which are not loaded for safety; save plain "
                "numeric arrays, e.g. np.savez(path, images=uint8_array, labels=int_array).",
                path=str(path),
            ) from None
        if "pickle" in text:  # not a NumPy file at all: NumPy would fall back to unpickling it
            raise UserError(
                f"{path} is not a NumPy .{scheme} file (and pickled files are not loaded for safety); save the "
                "arrays with np.save or np.savez.",
                path=str(path),
            ) from None
        raise UserError(
            f"{path} is not a valid .{scheme} file ({exc}); re-save it with NumPy.", path=str(path)
        ) from None
    except (OSError, EOFError, zipfile.BadZipFile) as exc:
        raise UserError(
            f"{path} cannot be read as a .{scheme} file ({exc}); re-save it with NumPy.", path=str(path)
        ) from None


def _member(npz, key: str, path: Path) -> np.ndarray:
    try:
        return npz[key]
    except MemoryError as exc:
        raise _too_big(path, f"array {key!r}", exc) from None
    except ValueError as exc:  # object arrays inside an npz only fail when the member is read
        if "object arrays" in str(exc).lower() or "pickle" in str(exc).lower():
            raise UserError(
                f"{path}: array {key!r} holds Python objects (dtype=object); save it as a numeric array.",
                path=str(path),
            ) from None
        raise UserError(f"{path}: array {key!r} cannot be read ({exc}).", path=str(path)) from None
    except (OSError, EOFError, zipfile.BadZipFile) as exc:
        raise UserError(
            f"{path}: array {key!r} is damaged ({exc}); re-save the file.", path=str(path)
        ) from None


def _to_nchw(arr: np.ndarray, where: str) -> tuple[np.ndarray, bool]:
    """Return the array as (N, C, H, W) and whether it was channels-first already."""
    if arr.dtype.kind in "OUSVMmc":
        raise UserError(
            f"{where}: images have dtype {arr.dtype}, which is not an image type; save them as uint8 "
            "(0..255) or float (0..1).",
            path=where,
        )
    if arr.ndim == 3:
        return arr[:, None], False
    if arr.ndim == 4:
        if arr.shape[3] in _CHANNEL_COUNTS:
            return arr.transpose(0, 3, 1, 2), False
        if arr.shape[1] in _CHANNEL_COUNTS:
            return arr, True
        raise UserError(
            f"{where}: images of shape {tuple(arr.shape)} have {arr.shape[3]} channels; the last axis must "
            "be 1, 3 or 4 channels, as in (N, H, W, C).",
            path=where,
        )
    raise UserError(
        f"{where}: images must be a 3-D (N, H, W) or 4-D (N, H, W, C) array; got {arr.ndim}-D with "
        f"shape {tuple(arr.shape)}.",
        path=where,
    )


def arrays_source(
    images: np.ndarray, labels: np.ndarray | None, *, spec: str, name: str, where: str, options: OpenOptions
) -> DataSource:
    nchw, channels_first = _to_nchw(images, where)
    n = nchw.shape[0]
    if n == 0:
        raise UserError(
            f"{where}: the images array holds zero samples; it needs at least 2 images.", path=where
        )
    if nchw.shape[2] == 0 or nchw.shape[3] == 0:
        raise UserError(
            f"{where}: images have zero height or width (shape {tuple(images.shape)}).", path=where
        )
    notes = []
    if channels_first:
        notes.append("read as channels-first (N, C, H, W)")
    label_tensor, class_names = None, []
    if labels is not None:
        if len(labels) != n:
            raise UserError(
                f"{where}: there are {len(labels):,} labels for {n:,} images; give exactly one label per image.",
                path=where,
            )
        label_tensor, class_names = remap_labels(labels, where)
    pixels = torch.from_numpy(np.ascontiguousarray(array_to_uint8(nchw, where)))
    return in_memory_source(
        pixels, label_tensor, class_names, spec=spec, name=name, options=options, notes=notes
    )


def _wants_series(arr: np.ndarray, options: OpenOptions) -> bool:
    """An array that is not named as series: series when asked for, or when it is 2-D floats."""
    if options.modality == "series":
        return True
    return options.modality is None and arr.ndim == 2 and arr.dtype.kind == "f"


def series_arrays_source(
    values: np.ndarray, labels: np.ndarray | None, *, spec: str, name: str, where: str, options: OpenOptions
) -> DataSource:
    """Numbers (N, T) or (N, C, T) -> a float32 series source through the shared finishing step."""
    if values.dtype.kind not in "biuf":
        raise UserError(
            f"{where}: series have dtype {values.dtype}, which is not numeric; save them as float32 numbers.",
            path=where,
        )
    if values.ndim not in (2, 3):
        raise UserError(
            f"{where}: time series must be a 2-D (N, T) or 3-D (N, C, T) array; got {values.ndim}-D with "
            f"shape {tuple(values.shape)}.",
            path=where,
        )
    n = values.shape[0]
    notes = ["read as univariate series (N, T)" if values.ndim == 2 else "read as series (N, C, T)"]
    nct = values[:, None, :] if values.ndim == 2 else values
    label_names, class_names = None, None
    if labels is not None:
        if len(labels) != n:
            raise UserError(
                f"{where}: there are {len(labels):,} labels for {n:,} series; give exactly one label per series.",
                path=where,
            )
        if labels.ndim == 1 and labels.dtype.kind == "U":  # class names as text: fine for series
            label_names = [str(v).strip() for v in labels.tolist()]
        else:
            codes, class_names = remap_labels(labels, where)
            label_names = [class_names[k] for k in codes.tolist()]
    raw = RawSeries(
        series=[np.asarray(nct[i], dtype=np.float32) for i in range(n)],
        where=where,
        name=name,
        labels=label_names,
        class_names=class_names,
        notes=notes,
    )
    return finish_series(raw, spec=spec, options=options)


def _pick(keys: list[str], wanted: tuple[str, ...]) -> str | None:
    lower = {k.lower(): k for k in keys}
    return next((lower[w] for w in wanted if w in lower), None)


def _open(
    arr: np.ndarray, labels: np.ndarray | None, spec: str, path: Path, options: OpenOptions, *, series: bool
) -> DataSource:
    if options.modality == "table":
        opener = table_from_array
    else:
        opener = series_arrays_source if series else arrays_source
    return opener(arr, labels, spec=spec, name=path.stem, where=str(path), options=options)


def open_npz(spec: str, argument: str, options: OpenOptions) -> DataSource:
    path = _existing_file(argument, "npz")
    loaded = _load(path, "npz")
    if isinstance(loaded, np.ndarray):  # a plain .npy file given as npz:
        return _open(loaded, None, spec, path, options, series=_wants_series(loaded, options))
    with loaded as npz:
        keys = list(npz.files)
        label_key = _pick(keys, LABEL_KEYS)
        table_key = _pick(keys, TABLE_KEYS) if options.modality in (None, "table") else None
        if table_key is not None:  # named as a table: always a table
            values = _member(npz, table_key, path)
            labels = _member(npz, label_key, path) if label_key is not None else None
            return _open(
                values, labels, spec, path, dataclasses.replace(options, modality="table"), series=False
            )
        series_key = _pick(keys, SERIES_KEYS) if options.modality not in ("image", "table") else None
        if series_key is not None:  # named as series: always series
            values = _member(npz, series_key, path)
            labels = _member(npz, label_key, path) if label_key is not None else None
            return _open(values, labels, spec, path, options, series=True)
        image_key = _pick(keys, IMAGE_KEYS)
        others = [k for k in keys if k != label_key]
        if image_key is None and len(others) == 1:  # np.savez(path, array) names it arr_0
            image_key = others[0]
            log.info("%s: using array %r as the data", path, image_key)
        if image_key is None:
            found = ", ".join(repr(k) for k in keys) or "no arrays"
            if options.modality == "table":
                raise UserError(
                    f"{path} has no table: expected an array named 'table' (or 'features', 'x'), found {found}. "
                    "Save with np.savez(path, table=array, y=labels).",
                    path=str(path),
                )
            if options.modality == "series":
                raise UserError(
                    f"{path} has no series: expected an array named 'series' (or 'signals', 'x'), found {found}. "
                    "Save with np.savez(path, series=array, labels=array).",
                    path=str(path),
                )
            raise UserError(
                f"{path} has no images: expected an array named 'images' (or 'x'; 'series' for time series), "
                f"found {found}. Save with np.savez(path, images=array, labels=array).",
                path=str(path),
            )
        values = _member(npz, image_key, path)
        labels = _member(npz, label_key, path) if label_key is not None else None
    return _open(values, labels, spec, path, options, series=_wants_series(values, options))


def open_npy(spec: str, argument: str, options: OpenOptions) -> DataSource:
    path = _existing_file(argument, "npy")
    loaded = _load(path, "npy")
    if not isinstance(loaded, np.ndarray):
        loaded.close()
        raise UserError(
            f"{path} is an .npz archive, not a single array; use npz:{path} instead.", path=str(path)
        )
    return _open(loaded, None, spec, path, options, series=_wants_series(loaded, options))


NPZ_KIND = SourceKind(
    scheme="npz",
    title="NumPy archive (.npz)",
    noun="NumPy archive",
    description="Images as an array 'images' (or 'x') of shape (N, H, W) or (N, H, W, C), uint8 or floats in "
    "[0, 1], with optional integer 'labels' (or 'y'). Time series as an array 'series' of shape (N, T) or "
    "(N, C, T).",
    example="npz:~/data/cells.npz",
    argument="PATH",
    browse="file",
    file_pattern="*.npz",
    opener=open_npz,
)

NPY_KIND = SourceKind(
    scheme="npy",
    title="NumPy array (.npy)",
    noun="NumPy array",
    description="One unlabelled image array of shape (N, H, W) or (N, H, W, C), uint8 or floats in [0, 1]; "
    "a 2-D float array (N, T) is read as time series.",
    example="npy:~/data/patches.npy",
    argument="PATH",
    browse="file",
    file_pattern="*.npy",
    opener=open_npy,
)
