"""Text cells to numbers, for the text formats of series data (.ts, CSV)."""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence

import numpy as np


def parse_numbers(
    tokens: Sequence[str], missing: Collection[str], bad_value: Callable[[int, str], Exception]
) -> np.ndarray:
    """`tokens` as float64, NaN where a token (stripped, lower-cased) is in `missing`.

    NumPy parses the common case in one call; otherwise each token is read with Python's float (which
    accepts a few spellings NumPy does not), and the first one that is no number raises
    `bad_value(index, token)`, an error that names where it is.
    """
    try:
        return np.array(tokens, dtype=np.float64)
    except ValueError:
        pass
    out = np.empty(len(tokens), dtype=np.float64)
    for k, token in enumerate(tokens):
        try:
            out[k] = float(token)
        except ValueError:
            if token.strip().lower() in missing:
                out[k] = np.nan
                continue
            raise bad_value(k, token) from None
    return out
