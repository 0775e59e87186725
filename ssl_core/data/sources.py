"""The registry of data-source kinds and `open_source`, which turns a spec string into a DataSource."""

from __future__ import annotations

from pathlib import Path

from ssl_core.data import arrays, digits, folder, series_source, tvsets
from ssl_core.data.base import DataSource
from ssl_core.data.spec import OpenOptions, ProgressFn, SourceKind, user_path
from ssl_core.errors import UserError
from ssl_core.registry import Registry

DATA_SOURCES: Registry[SourceKind] = Registry("data source")
for _kind in (digits.KIND, folder.KIND, arrays.NPZ_KIND, arrays.NPY_KIND, tvsets.KIND, series_source.KIND):
    DATA_SOURCES.register(_kind.scheme, _kind)

DEFAULT_SPEC = "digits"
_SUFFIX_SCHEMES = {".npz": "npz", ".npy": "npy", ".ts": "series"}


def _known_kinds() -> str:
    return ", ".join(kind.usage for _, kind in DATA_SOURCES.items())


def _infer_from_path(spec: str) -> tuple[str, str] | None:
    """A bare path is accepted for convenience: a folder, an .npz, .npy or .ts (time series) file."""
    try:
        path = user_path(spec)
        if path.is_dir():
            return "folder", spec
        if path.is_file() and path.suffix.lower() in _SUFFIX_SCHEMES:
            return _SUFFIX_SCHEMES[path.suffix.lower()], spec
    except OSError:
        pass
    return None


def parse_spec(spec: str) -> tuple[SourceKind, str]:
    """Split "scheme:argument" and find the scheme's registry entry.

    Besides the schemes, a bare existing path (folder, .npz, .npy, .ts) and a bare torchvision dataset name
    (e.g. "cifar10") are understood.
    """
    text = str(spec or "").strip()
    if not text:
        raise UserError(f"The data spec is empty; use one of: {_known_kinds()}.", field="data.spec")
    scheme, sep, argument = text.partition(":")
    if scheme.lower() in DATA_SOURCES and (sep or not DATA_SOURCES.get(scheme).argument):
        kind = DATA_SOURCES.get(scheme)
        if kind.argument and not argument.strip():
            raise UserError(
                f"{kind.scheme}: needs {kind.argument} after the colon, e.g. {kind.example}",
                field="data.spec",
            )
        return kind, argument
    inferred = _infer_from_path(text)  # also catches Windows paths such as C:\data
    if inferred is not None:
        return DATA_SOURCES.get(inferred[0]), inferred[1]
    if tvsets.find_set(text) is not None:
        return DATA_SOURCES.get("torchvision"), text
    if scheme.lower() in DATA_SOURCES:  # e.g. "folder" alone
        kind = DATA_SOURCES.get(scheme)
        raise UserError(
            f"{kind.scheme}: needs {kind.argument} after a colon, e.g. {kind.example}", field="data.spec"
        )
    looks_like_path = sep == "" and ("/" in text or "\\" in text or Path(text).suffix)
    if looks_like_path:
        raise UserError(
            f"Data {text!r} is not an existing folder or .npz/.npy/.ts file; check the path, or write the kind "
            f"explicitly: {_known_kinds()}.",
            field="data.spec",
        )
    raise UserError(
        f"Unknown data source {scheme!r} in {text!r}; known kinds are: {_known_kinds()} "
        "(e.g. digits, folder:~/pictures, torchvision:CIFAR10, series:BasicMotions).",
        field="data.spec",
    )


def open_source(
    spec: str,
    image_size: int | None = None,
    channels: int | None = None,
    download: bool = False,
    *,
    progress: ProgressFn | None = None,
    modality: str | None = None,
    length: int | None = None,
    missing: str = "refuse",
) -> DataSource:
    """Open the data named by `spec`: uint8 images (N, C, H, W) or float32 time series (N, C, T).

    image_size: resize to a square of this side (None keeps the source's size; folders choose one).
    channels: 1 or 3 (None keeps the source's own; alpha is always dropped).
    download: let torchvision datasets download when missing (never otherwise).
    progress: optional callback (fraction, message) while a folder is scanned and decoded (see ssl_core.progress;
        older (phase, done, total) callbacks still work).
    modality: "image" or "series" where an array is ambiguous (None: inferred).
    length: series are padded or cropped to this many steps (None: the longest series).
    missing: series with NaN/inf are "refuse"d (a message names the file) or "impute"d.
    """
    options = OpenOptions(
        image_size=image_size,
        channels=channels,
        download=download,
        progress=progress,
        modality=modality,
        length=length,
        missing=missing,
    )
    kind, argument = parse_spec(spec)
    return kind.opener(str(spec).strip(), argument, options)
