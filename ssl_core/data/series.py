"""The finishing step every time-series source shares: a list of series -> one float32 tensor (N, C, T).

A parser (.ts, CSV/TSV, NumPy arrays, the bundled UEA/UCR sets) returns a `RawSeries`: one array
(C, T_i) per series, at its own length, with labels as strings. `finish_series` then
- refuses or imputes NaN/inf values (`OpenOptions.missing`: "refuse" names the file and the count;
  "impute" interpolates linearly along time per channel, fills the edges with the nearest value and sets
  channels without any value to 0),
- brings every series to one length (`OpenOptions.length`, else the longest): a shorter series is padded
  by holding its last value, a longer one is cropped to its first T steps,
- maps the labels to 0..K-1 through the class names (declared order, else sorted),
- and says what it did in the source's notes, with the original lengths in `DataInfo.extra`.
Values stay raw: per-channel standardisation is computed later, on the training split only.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
import torch

from ssl_core.data.base import DataInfo, TensorSource
from ssl_core.data.spec import OpenOptions
from ssl_core.errors import UserError

log = logging.getLogger(__name__)

MISSING_POLICIES = ("refuse", "impute")
MIN_STEPS = 2  # the fewest time steps a series can train on
GOOD_STEPS = 8  # crops and convolutions need some room; fewer works but learns little
MAX_STEPS = 10_000_000


@dataclass
class RawSeries:
    """Series as parsed, before the shared finishing step."""

    series: list[np.ndarray]  # one (C, T_i) float array per series; T_i may differ
    where: str  # the file (or files) named in messages
    name: str
    labels: list[str] | None = None  # one class name per series, or None (unlabelled)
    class_names: list[str] | None = None  # declared order; None: sorted from the labels
    channel_names: list[str] | None = None
    origins: list[str] | None = None  # per series, where it was read ("line 12"), for messages
    notes: list[str] = field(default_factory=list)
    extra: dict = field(default_factory=dict)

    def origin(self, i: int) -> str:
        if self.origins is not None and i < len(self.origins):
            return f"series {i + 1} ({self.origins[i]})"
        return f"series {i + 1}"


def check_series_options(options: OpenOptions) -> None:
    """Refuse a `missing` policy or a `length` that cannot work, naming the config field."""
    if options.missing not in MISSING_POLICIES:
        raise UserError(
            f"data.missing = {options.missing!r} is not a choice; use 'refuse' (stop with a message naming "
            "the file) or 'impute' (fill gaps by linear interpolation along time).",
            field="data.missing",
        )
    length = options.length
    if length is None:
        return
    if isinstance(length, bool) or not isinstance(length, int) or not MIN_STEPS <= length <= MAX_STEPS:
        raise UserError(
            f"data.length = {length!r} is out of range; use a whole number of time steps from {MIN_STEPS} "
            f"to {MAX_STEPS:,} (better {GOOD_STEPS} or more), or leave it empty to use the longest series.",
            field="data.length",
        )


def sorted_class_names(labels: list[str]) -> list[str]:
    """The distinct labels, numerically when every one is a whole number ("2" before "10"), else by text."""
    distinct = set(labels)
    try:
        return sorted(distinct, key=lambda s: (int(s), s))
    except ValueError:
        return sorted(distinct)


def _label_codes(raw: RawSeries, n: int) -> tuple[torch.Tensor | None, list[str]]:
    if raw.labels is None:
        return None, []
    if len(raw.labels) != n:
        raise UserError(
            f"{raw.where}: there are {len(raw.labels):,} labels for {n:,} series; give exactly one label per "
            "series.",
            path=raw.where,
        )
    names = list(raw.class_names) if raw.class_names is not None else sorted_class_names(raw.labels)
    index = {name: k for k, name in enumerate(names)}
    codes = np.empty(n, dtype=np.int64)
    for i, label in enumerate(raw.labels):
        k = index.get(label)
        if k is None:
            shown = ", ".join(names[:20]) + (", ..." if len(names) > 20 else "")
            raise UserError(
                f"{raw.where}: {raw.origin(i)} has the label {label!r}, which is not one of the declared "
                f"classes ({shown}); fix the label or declare the class.",
                path=raw.where,
            )
        codes[i] = k
    return torch.from_numpy(codes), names


def _check_shapes(raw: RawSeries) -> tuple[int, np.ndarray]:
    """The channel count shared by every series and each series' length; refuses anything else."""
    if not raw.series:
        raise UserError(
            f"{raw.where} holds no series; it needs at least 2 (one per line for .ts and wide CSV files).",
            path=raw.where,
        )
    first = raw.series[0]
    channels = int(first.shape[0])
    lengths = np.empty(len(raw.series), dtype=np.int64)
    for i, s in enumerate(raw.series):
        if s.ndim != 2:
            raise ValueError(f"series must be (C, T) arrays, got shape {s.shape}")
        if s.shape[0] != channels:
            raise UserError(
                f"{raw.where}: {raw.origin(i)} has {s.shape[0]} channel(s) but {raw.origin(0)} has "
                f"{channels}; every series needs the same channels.",
                path=raw.where,
            )
        lengths[i] = s.shape[1]
    if channels == 0:
        raise UserError(f"{raw.where}: the series have no channels.", path=raw.where)
    empty = np.flatnonzero(lengths == 0)
    if empty.size:
        raise UserError(
            f"{raw.where}: {raw.origin(int(empty[0]))} has no values"
            + (f" ({empty.size:,} series are empty)" if empty.size > 1 else "")
            + "; remove empty series or fill them in.",
            path=raw.where,
        )
    return channels, lengths


def _count_missing(series: list[np.ndarray]) -> tuple[int, int, list[int]]:
    """(NaN count, infinite count, indices of the series holding either)."""
    nan = inf = 0
    bad: list[int] = []
    for i, s in enumerate(series):
        finite = np.isfinite(s)
        if finite.all():
            continue
        k_nan = int(np.isnan(s).sum())
        nan += k_nan
        inf += int(s.size - finite.sum()) - k_nan
        bad.append(i)
    return nan, inf, bad


def impute_series(values: np.ndarray) -> tuple[np.ndarray, int]:
    """Fill NaN/inf in one (C, T) series: linear in time, edges held, all-missing channels 0.

    Returns the filled float32 copy and how many channels had no value at all.
    """
    out = np.array(values, dtype=np.float32, copy=True)
    steps = np.arange(out.shape[1])
    empty_channels = 0
    for c in range(out.shape[0]):
        row = out[c]
        good = np.isfinite(row)
        if good.all():
            continue
        if not good.any():
            row[:] = 0.0
            empty_channels += 1
            continue
        # np.interp holds the first/last known value beyond the edges: the nearest value.
        row[~good] = np.interp(steps[~good], steps[good], row[good].astype(np.float64))
    return out, empty_channels


def _missing_words(nan: int, inf: int) -> str:
    parts = ([f"{nan:,} NaN"] if nan else []) + ([f"{inf:,} infinite"] if inf else [])
    return " and ".join(parts) + " value" + ("" if nan + inf == 1 else "s")


def _handle_missing(raw: RawSeries, options: OpenOptions, notes: list[str], extra: dict) -> list[np.ndarray]:
    series = raw.series
    nan, inf, bad = _count_missing(series)
    if not bad:
        return series
    what = f"{_missing_words(nan, inf)} in {len(bad):,} series"
    if options.missing != "impute":
        raise UserError(
            f"{raw.where}: {what}, the first in {raw.origin(bad[0])}; clean them or use "
            "--set data.missing=impute to fill them by linear interpolation along time.",
            path=raw.where,
        )
    series = list(series)
    empty_channels = 0
    for i in bad:
        series[i], k = impute_series(series[i])
        empty_channels += k
    note = f"imputed {what} (linear interpolation along time, edges hold the nearest value)"
    if empty_channels:
        note += f"; {empty_channels:,} channel(s) without any value set to 0"
    notes.append(note)
    extra["imputed"] = nan + inf
    return series


def _to_length(series: list[np.ndarray], channels: int, length: int) -> np.ndarray:
    out = np.empty((len(series), channels, length), dtype=np.float32)
    for i, s in enumerate(series):
        t = s.shape[1]
        if t >= length:
            out[i] = s[:, :length]
        else:
            out[i, :, :t] = s
            out[i, :, t:] = s[:, t - 1 : t]  # hold the last value
    return out


def finish_series(raw: RawSeries, *, spec: str, options: OpenOptions) -> TensorSource:
    """Parsed series -> a TensorSource of float32 (N, C, T), labels 0..K-1, and notes saying what changed."""
    check_series_options(options)
    channels, lengths = _check_shapes(raw)
    n = len(raw.series)
    shortest, longest = int(lengths.min()), int(lengths.max())
    length = options.length if options.length is not None else longest
    if length < MIN_STEPS:
        raise UserError(
            f"{raw.where}: every series has a single time step; at least {MIN_STEPS} steps are needed "
            f"(better {GOOD_STEPS} or more). Check that the file is laid out as expected: one row per series "
            "(wide) or one row per time step with an id column (long).",
            path=raw.where,
        )
    labels, class_names = _label_codes(raw, n)
    notes = list(raw.notes)
    extra = dict(raw.extra)
    extra["lengths"] = [shortest, longest]
    if raw.channel_names:
        extra["channel_names"] = list(raw.channel_names)
    series = _handle_missing(raw, options, notes, extra)
    if shortest != longest:
        notes.append(f"original lengths vary from {shortest:,} to {longest:,} steps")
    padded, cropped = int((lengths < length).sum()), int((lengths > length).sum())
    if padded:
        notes.append(f"{padded:,} of {n:,} series padded to {length:,} steps by holding their last value")
    if cropped:
        notes.append(f"{cropped:,} of {n:,} series cropped to their first {length:,} steps")
    extra["padded"], extra["cropped"] = padded, cropped
    values = _to_length(series, channels, length)
    if not np.isfinite(values).all():  # finite float64 values beyond the float32 range
        raise UserError(
            f"{raw.where}: some values are too large for float32 (beyond ±3.4e38); rescale the data.",
            path=raw.where,
        )
    info = DataInfo(
        spec=spec,
        name=raw.name,
        size=n,
        channels=channels,
        height=0,
        width=0,
        has_labels=labels is not None,
        class_names=class_names,
        notes=notes,
        modality="series",
        sample_shape=(channels, length),
        sample_dtype="float32",
        extra=extra,
    )
    log.info("opened %s: %d series, %d channel(s) x %d steps", spec, n, channels, length)
    return TensorSource(torch.from_numpy(values), labels, info)
