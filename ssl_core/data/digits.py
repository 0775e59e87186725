"""`digits`: scikit-learn's bundled 8x8 handwritten digits (1,797 images, 10 classes), no download."""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch

from ssl_core.data.base import DataSource
from ssl_core.data.inmemory import in_memory_source
from ssl_core.data.spec import OpenOptions, SourceKind
from ssl_core.errors import UserError


@lru_cache(maxsize=1)
def _digits_arrays() -> tuple[np.ndarray, np.ndarray]:
    """(1797, 8, 8) uint8 and (1797,) int64, read once per process (the GUI reopens digits often)."""
    from sklearn.datasets import load_digits  # imported here: sklearn is slow to import

    bunch = load_digits()
    # Pixel values are 0..16; spread them over 0..255.
    images = np.rint(bunch.images * (255.0 / 16.0)).astype(np.uint8)
    images.flags.writeable = False
    labels = bunch.target.astype(np.int64)
    labels.flags.writeable = False
    return images, labels


def open_digits(spec: str, argument: str, options: OpenOptions) -> DataSource:
    if argument.strip():
        raise UserError(
            f"{spec}: digits takes nothing after the colon; write just: digits", field="data.spec"
        )
    images, labels = _digits_arrays()
    return in_memory_source(
        torch.from_numpy(images.copy()).unsqueeze(1),
        torch.from_numpy(labels.copy()),
        [str(i) for i in range(10)],
        spec=spec,
        name="digits",
        options=options,
        notes=["scikit-learn's bundled handwritten digits (values 0..16 scaled to 0..255)"],
        mirror_safe=False,  # a mirrored 2 or 7 is not a digit
    )


KIND = SourceKind(
    scheme="digits",
    title="Handwritten digits (built in)",
    description="1,797 labelled 8x8 grayscale digits bundled with scikit-learn: small enough to train in "
    "seconds on a laptop, so it is the default for trying methods out.",
    example="digits",
    argument="",
    browse="",
    opener=open_digits,
)
