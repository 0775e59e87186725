"""`digits`: scikit-learn's bundled 8x8 handwritten digits (1,797 images, 10 classes), no download."""

from __future__ import annotations

import numpy as np
import torch

from ssl_core.data.base import DataSource
from ssl_core.data.inmemory import in_memory_source
from ssl_core.data.spec import OpenOptions, SourceKind
from ssl_core.errors import UserError


def open_digits(spec: str, argument: str, options: OpenOptions) -> DataSource:
    if argument.strip():
        raise UserError(f"{spec}: digits takes nothing after the colon; write just: digits", field="data.spec")
    from sklearn.datasets import load_digits  # imported here: sklearn is slow to import

    bunch = load_digits()
    # Pixel values are 0..16; spread them over 0..255.
    images = np.rint(bunch.images * (255.0 / 16.0)).astype(np.uint8)
    labels = torch.from_numpy(bunch.target.astype(np.int64))
    return in_memory_source(
        torch.from_numpy(images).unsqueeze(1),
        labels,
        [str(i) for i in range(10)],
        spec=spec,
        name="digits",
        options=options,
        notes=["scikit-learn's bundled handwritten digits (values 0..16 scaled to 0..255)"],
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
