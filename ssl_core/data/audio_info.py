"""The DataInfo of audio clips, in one place, so sources and tests describe audio the same way.

A stored audio sample is a float32 waveform (C, T) in [-1, 1] at the run's sample rate, with
T = round(clip_seconds * sample_rate). The audio facts live in `info.extra["audio"]`:

    sample_rate    int, Hz
    clip_seconds   float
    channels_mode  "mono" (mixed down) or "keep" (the files' own channels)
    n_mels, win_ms, hop_ms   the log-mel front end's settings (64, 25.0, 10.0)
    origin         "recorded" (bundled recordings), "synthetic" (generated here) or "files" (the user's)
    files          how many source files (or utterances) the clips came from
    label_from     "folders", "prefix", "csv", "word" or None
"""

from __future__ import annotations

from ssl_core.data.base import DataInfo
from ssl_core.errors import UserError

DEFAULT_SAMPLE_RATE = 16000
DEFAULT_CLIP_SECONDS = 1.0
DEFAULT_N_MELS = 64
DEFAULT_WIN_MS = 25.0
DEFAULT_HOP_MS = 10.0
CHANNEL_MODES = ("mono", "keep")
ORIGINS = ("recorded", "synthetic", "files")
LABEL_ORIGINS = ("folders", "prefix", "csv", "word", None)


def clip_frames(sample_rate: int, clip_seconds: float) -> int:
    """Samples in one clip: round(clip_seconds * sample_rate), at least 1."""
    return max(1, int(round(float(clip_seconds) * int(sample_rate))))


def audio_extra(
    sample_rate: int,
    clip_seconds: float,
    *,
    channels_mode: str = "mono",
    n_mels: int = DEFAULT_N_MELS,
    win_ms: float = DEFAULT_WIN_MS,
    hop_ms: float = DEFAULT_HOP_MS,
    origin: str = "files",
    files: int = 0,
    label_from: str | None = None,
) -> dict:
    """The `info.extra["audio"]` dict of the shared contract."""
    if channels_mode not in CHANNEL_MODES:
        raise ValueError(f"channels_mode must be one of {CHANNEL_MODES}, not {channels_mode!r}")
    if origin not in ORIGINS:
        raise ValueError(f"origin must be one of {ORIGINS}, not {origin!r}")
    if label_from not in LABEL_ORIGINS:
        raise ValueError(f"label_from must be one of {LABEL_ORIGINS}, not {label_from!r}")
    return {
        "sample_rate": int(sample_rate),
        "clip_seconds": float(clip_seconds),
        "channels_mode": channels_mode,
        "n_mels": int(n_mels),
        "win_ms": float(win_ms),
        "hop_ms": float(hop_ms),
        "origin": origin,
        "files": int(files),
        "label_from": label_from,
    }


def audio_info(
    name: str,
    n: int,
    channels: int,
    sample_rate: int,
    clip_seconds: float,
    class_names=(),
    **extra,
) -> DataInfo:
    """A DataInfo for `n` audio clips of `channels` x round(clip_seconds * sample_rate) float32 samples.

    Keyword arguments fill `extra["audio"]` (channels_mode, n_mels, win_ms, hop_ms, origin, files,
    label_from); `hold_out` (default ("file",)) lists what evaluation can hold out (`extra["hold_out"]`);
    also accepted: `spec` (default "audio:<name>"), `notes`, `skipped`, `has_labels`
    (default: whether there are class names) and `extra` (more top-level extra keys).
    """
    spec = extra.pop("spec", None) or f"audio:{name}"
    notes = list(extra.pop("notes", ()) or ())
    skipped = list(extra.pop("skipped", ()) or ())
    more = dict(extra.pop("extra", None) or {})
    # What `ssl-core eval --hold-out` (and the Evaluate tab) can hold out for these clips: whole files
    # always (every clip knows its file), plus second labellings such as the synthetic speech's voice.
    more["hold_out"] = list(extra.pop("hold_out", ("file",)))
    class_names = [str(c) for c in class_names]
    has_labels = bool(extra.pop("has_labels", bool(class_names)))
    extra.setdefault("files", n)
    info_extra = {**more, "audio": audio_extra(sample_rate, clip_seconds, **extra)}
    return DataInfo(
        spec=spec,
        name=name,
        size=int(n),
        channels=int(channels),
        height=0,
        width=0,
        has_labels=has_labels,
        class_names=class_names,
        skipped=skipped,
        notes=notes,
        mirror_safe=False,  # a reversed waveform is a different sound
        modality="audio",
        sample_shape=(int(channels), clip_frames(sample_rate, clip_seconds)),
        sample_dtype="float32",
        extra=info_extra,
    )


def audio_settings(info) -> dict:
    """`info.extra["audio"]` with the log-mel defaults filled in: {"sample_rate", "clip_seconds", "n_mels",
    "win_ms", "hop_ms"}; the modality, the audio networks and the methods all read the settings here.
    A UserError when the data carries no sample rate (it was not opened as audio)."""
    extra = getattr(info, "extra", None) or {}
    found = dict(extra.get("audio") or {}) if isinstance(extra, dict) else {}
    if not found.get("sample_rate"):
        raise UserError(
            f"{getattr(info, 'name', None) or 'The data'} has no sample rate, which audio needs; open it as "
            "audio (audio:PATH) so its clips carry their sample rate.",
            field="data.spec",
        )
    rate = int(found["sample_rate"])
    shape = getattr(info, "sample_shape", None) or ()
    length = int(shape[-1]) if shape else 0
    return {
        "sample_rate": rate,
        "clip_seconds": float(found.get("clip_seconds") or length / rate),
        "n_mels": int(found.get("n_mels") or DEFAULT_N_MELS),
        "win_ms": float(found.get("win_ms") or DEFAULT_WIN_MS),
        "hop_ms": float(found.get("hop_ms") or DEFAULT_HOP_MS),
    }
