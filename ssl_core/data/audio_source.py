"""`audio:PATH|sonic-pi|speech`: sound files cut into clips of one length at one sample rate.

audio:~/recordings          a folder of WAV/FLAC/OGG (also AIFF, MP3) files, searched recursively
audio:~/recordings/x.flac   one file (its clips; unlabelled)
audio:~/labels.csv          a CSV of path,label rows (paths relative to the CSV's folder)
audio:sonic-pi              recorded instrument samples of the Debian package sonic-pi-samples (audio_bundled)
audio:speech                spoken digits synthesised on this machine with espeak-ng (audio_speech)

Labels, in this order: class subfolders (two or more first-level folders holding sound; files lying
directly in the folder are then skipped), else file-name prefixes (the text before the first "_" or "-",
used when every file has one and they make two or more classes with on average two files or more each),
else none. The summary says which.

Every file is read by `audio_read.read_clips` (streamed clip by clip, resampled with soxr, mono-mixed or
kept multichannel). Each clip remembers its file: `AudioSource.groups()` gives the file index per clip, and
training splits keep all clips of one file on one side. Files that cannot be used are skipped with a
reason (`info.skipped`); a single file that cannot be used is refused with a UserError naming it.
Decoding many files: audio_decode; labels: audio_labels; decoded clips of a folder are kept in the on-disk
cache (audio_cache), so opening it again decodes only new or changed files.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from ssl_core.data.audio_decode import (
    DEFAULT_MEMORY_MB,
    Decoded,
    decode_files,
    decode_notes,
    estimated_bytes,
    facts_of,
)
from ssl_core.data.audio_info import audio_info
from ssl_core.data.audio_labels import codes, folder_labels, prefix_labels, read_label_csv
from ssl_core.data.audio_read import (
    AUDIO_SUFFIXES,
    BadAudio,
    ReadSettings,
    is_audio_name,
    probe,
    read_clips,
    seconds_text,
)
from ssl_core.data.base import DataInfo, SkippedFile, TensorSource
from ssl_core.data.folder import scan_folder
from ssl_core.data.spec import OpenOptions, SourceKind, user_path
from ssl_core.errors import UserError

log = logging.getLogger(__name__)

CSV_SUFFIXES = (".csv", ".tsv")
MAX_SAMPLE_RATE_SETTING = 96_000
MIN_SAMPLE_RATE_SETTING = 2_000
MAX_CLIP_SECONDS = 30.0
MIN_CLIP_SECONDS = 0.05


class AudioSource(TensorSource):
    """Clips held in memory (N, C, T) float32, with the source file of each clip as its group."""

    def __init__(
        self,
        clips: torch.Tensor,
        labels: torch.Tensor | None,
        info: DataInfo,
        groups: torch.Tensor,
        files: Sequence[str] = (),
        starts: torch.Tensor | None = None,
        facets: dict[str, tuple[torch.Tensor, list[str]]] | None = None,
    ):
        super().__init__(clips, labels, info)
        assert len(groups) == len(clips), (len(groups), len(clips))
        self._groups = groups.long()
        self.files = list(files)  # the source file (or utterance) of each group
        self.starts = starts  # seconds into its file where each clip starts, float32 (N,)
        self._facets = dict(facets or {})

    def groups(self) -> torch.Tensor:
        return self._groups

    def facets(self) -> dict[str, tuple[torch.Tensor, list[str]]]:
        return dict(self._facets)


# ---- settings ------------------------------------------------------------------------------------------
def check_audio_options(options: OpenOptions) -> ReadSettings:
    """The read settings of `options`, or a UserError naming the setting that is out of range."""
    rate, seconds, mode = options.sample_rate, options.clip_seconds, options.audio_channels
    if (
        isinstance(rate, bool)
        or not isinstance(rate, int)
        or not (MIN_SAMPLE_RATE_SETTING <= rate <= MAX_SAMPLE_RATE_SETTING)
    ):
        raise UserError(
            f"data.sample_rate = {rate!r} is out of range; use a whole number of Hz from "
            f"{MIN_SAMPLE_RATE_SETTING:,} to {MAX_SAMPLE_RATE_SETTING:,} (16000 suits speech).",
            field="data.sample_rate",
        )
    if (
        isinstance(seconds, bool)
        or not isinstance(seconds, (int, float))
        or not (MIN_CLIP_SECONDS <= float(seconds) <= MAX_CLIP_SECONDS)
    ):
        raise UserError(
            f"data.clip_seconds = {seconds!r} is out of range; use {MIN_CLIP_SECONDS} to {MAX_CLIP_SECONDS:g} "
            "seconds.",
            field="data.clip_seconds",
        )
    if mode not in ("mono", "keep"):
        raise UserError(
            f"data.audio_channels = {mode!r} is not known; use mono (mix every file to one channel) or keep.",
            field="data.audio_channels",
        )
    if float(options.hop_ms) > float(options.win_ms):
        raise UserError(
            f"data.hop_ms = {options.hop_ms:g} is longer than data.win_ms = {options.win_ms:g}; a spectrogram's "
            "hop must not exceed its window (e.g. 10 ms hop, 25 ms window).",
            field="data.hop_ms",
        )
    return ReadSettings(sample_rate=rate, clip_seconds=float(seconds), channels_mode=mode)


def mel_settings(options: OpenOptions) -> dict:
    return {"n_mels": int(options.n_mels), "win_ms": float(options.win_ms), "hop_ms": float(options.hop_ms)}


# ---- opening -------------------------------------------------------------------------------------------
def _no_audio_error(root: Path, others: Sequence[str], skipped: Sequence[SkippedFile]) -> UserError:
    if skipped:
        first = skipped[0]
        return UserError(
            f"None of the {len(skipped):,} sound file(s) in {root} could be used; for example {first.path}: "
            f"{first.reason}.",
            path=str(root),
        )
    if others:
        return UserError(
            f"No sound files in {root}: found {len(others):,} other file(s) such as {Path(others[0]).name!r}. "
            f"Sound files end in {', '.join(AUDIO_SUFFIXES)}.",
            path=str(root),
        )
    return UserError(
        f"The folder {root} is empty; put sound files in it (or in class subfolders).", path=str(root)
    )


def finish_source(
    spec: str,
    name: str,
    decoded: Decoded,
    settings: ReadSettings,
    options: OpenOptions,
    *,
    file_names: Sequence[str],
    label_names: Sequence[str] | None,
    label_from: str | None,
    origin: str = "files",
    notes: Sequence[str] = (),
    skipped: Sequence[SkippedFile] = (),
) -> AudioSource:
    """The AudioSource of decoded files: labels per clip from each kept file's label name."""
    labels, class_names = None, []
    if label_names is not None:
        per_file = [label_names[i] for i in decoded.kept]
        file_codes, class_names = codes(per_file)
        labels = file_codes[torch.from_numpy(decoded.groups)]
    all_skipped = sorted([*skipped, *decoded.skipped], key=lambda s: s.path)
    info_notes = [*notes, *decode_notes(decoded, settings)]
    info_notes.insert(
        0,
        f"{len(decoded.kept):,} file(s), {seconds_text(decoded.seconds)} of sound"
        + (f"; labels from {_LABEL_WORDS[label_from]}" if label_from else "; unlabelled"),
    )
    info = audio_info(
        name,
        len(decoded.clips),
        decoded.channels,
        settings.sample_rate,
        settings.clip_seconds,
        class_names,
        spec=spec,
        notes=info_notes,
        skipped=all_skipped,
        channels_mode=settings.channels_mode,
        origin=origin,
        files=len(decoded.kept),
        label_from=label_from,
        **mel_settings(options),
    )
    if all_skipped:
        log.info(
            "%s: skipped %d file(s), e.g. %s: %s",
            name,
            len(all_skipped),
            all_skipped[0].path,
            all_skipped[0].reason,
        )
    log.info("opened %s: %d clips from %d files", spec, len(decoded.clips), len(decoded.kept))
    return AudioSource(
        torch.from_numpy(decoded.clips),
        labels,
        info,
        torch.from_numpy(decoded.groups),
        files=[file_names[i] for i in decoded.kept],
        starts=torch.from_numpy(decoded.starts),
    )


_LABEL_WORDS = {
    "folders": "class subfolders",
    "prefix": "file-name prefixes (the text before the first _ or -)",
    "csv": "the CSV's label column",
    "word": "the spoken word",
}


def open_audio_folder(spec: str, root: Path, options: OpenOptions, settings: ReadSettings) -> AudioSource:
    scan = scan_folder(root)
    audio = sorted(p for p in scan.other_files if is_audio_name(os.path.basename(p)))
    others = [p for p in scan.other_files if not is_audio_name(os.path.basename(p))] + scan.paths
    relative = [Path(os.path.relpath(p, root)).as_posix() for p in audio]
    order = sorted(range(len(audio)), key=relative.__getitem__)
    audio, relative = [audio[i] for i in order], [relative[i] for i in order]
    if not audio:
        raise _no_audio_error(root, others, [s for s in scan.skipped if is_audio_name(s.path)])
    skipped = [s for s in scan.skipped]
    tops, by_folder = folder_labels(relative)
    label_names, label_from = None, None
    if by_folder:
        in_root = [i for i, t in enumerate(tops) if t is None]
        skipped += [
            SkippedFile(
                audio[i],
                "lies directly in the data folder while class subfolders exist; move it into a class "
                "subfolder to use it",
            )
            for i in in_root
        ]
        keep = [i for i, t in enumerate(tops) if t is not None]
        audio, relative = [audio[i] for i in keep], [relative[i] for i in keep]
        label_names, label_from = [tops[i] for i in keep], "folders"
    else:
        label_names = prefix_labels(relative)
        label_from = "prefix" if label_names is not None else None
    decoded = decode_cached(root, audio, relative, settings, options)
    if not decoded.kept:
        raise _no_audio_error(root, others, [*skipped, *decoded.skipped])
    return finish_source(
        spec,
        root.resolve().name or str(root),
        decoded,
        settings,
        options,
        file_names=relative,
        label_names=label_names,
        label_from=label_from,
        skipped=skipped,
    )


def decode_cached(
    root: Path, paths: list[str], names: list[str], settings: ReadSettings, options: OpenOptions
) -> Decoded:
    from ssl_core.data.audio_cache import cached_decode

    return cached_decode(root, paths, names, settings, options, decode_files)


def open_audio_csv(spec: str, path: Path, options: OpenOptions, settings: ReadSettings) -> AudioSource:
    paths, labels, skipped = read_label_csv(path)
    if not paths:
        detail = f"; for example {skipped[0].path}: {skipped[0].reason}" if skipped else ""
        raise UserError(f"{path} lists no sound file that exists{detail}.", path=str(path))
    decoded = decode_files(paths, settings, options, budget_mb=options.memory_budget_mb)
    if not decoded.kept:
        raise _no_audio_error(path, [], [*skipped, *decoded.skipped])
    labelled = [labels[i] for i in decoded.kept]
    label_names: list[str] | None = None
    if all(v is not None for v in labelled) and len(set(labelled)) >= 2:
        label_names = [v or "" for v in labels]
    notes = (
        []
        if label_names is not None
        else ["the CSV gives fewer than 2 labels (or some rows none): unlabelled"]
    )
    return finish_source(
        spec,
        path.stem,
        decoded,
        settings,
        options,
        file_names=paths,
        label_names=label_names,
        label_from="csv" if label_names is not None else None,
        notes=notes,
        skipped=skipped,
    )


def open_audio_file(spec: str, path: Path, options: OpenOptions, settings: ReadSettings) -> AudioSource:
    """One sound file: its clips, unlabelled; a file that cannot be used is refused, naming it."""
    try:
        header = probe(path)
        channels = header.channels if settings.channels_mode == "keep" else 1
        if (
            estimated_bytes([header], settings, channels)
            > (options.memory_budget_mb or DEFAULT_MEMORY_MB) << 20
        ):
            raise BadAudio(
                "is too long to hold as clips in the memory budget; use shorter clips or a lower rate"
            )
        clips = read_clips(path, settings, channels)
    except BadAudio as exc:
        raise UserError(
            f"{path}: {exc}; check that it plays in a media player, or convert it to WAV or FLAC.",
            path=str(path),
        ) from exc
    decoded = Decoded(
        clips.clips,
        np.zeros(len(clips.clips), np.int64),
        clips.starts.astype(np.float32),
        [0],
        channels=clips.clips.shape[1],
        facts=[facts_of(clips)],
    )
    return finish_source(
        spec, path.stem, decoded, settings, options, file_names=[str(path)], label_names=None, label_from=None
    )


def open_audio(spec: str, argument: str, options: OpenOptions):
    settings = check_audio_options(options)
    text = argument.strip()
    if not text:
        raise UserError(
            "audio: needs a folder, a sound file, a CSV, or sonic-pi or speech, e.g. audio:speech",
            field="data.spec",
        )
    path = user_path(text)
    from ssl_core.data.audio_bundled import BUNDLED, open_bundled

    if text.lower() in BUNDLED and not path.exists():
        return open_bundled(spec, text.lower(), options, settings)
    if not path.exists():
        raise UserError(
            f"{path} does not exist; check the path in {spec}, or use a bundled set: "
            f"{', '.join('audio:' + b for b in BUNDLED)}.",
            path=str(path),
        )
    if path.is_dir():
        return open_audio_folder(spec, path, options, settings)
    if not path.is_file():
        raise UserError(
            f"{path} is not a regular file (a pipe, socket or device); save the sound to a file.",
            path=str(path),
        )
    if path.suffix.lower() in CSV_SUFFIXES:
        return open_audio_csv(spec, path, options, settings)
    return open_audio_file(spec, path, options, settings)


KIND = SourceKind(
    scheme="audio",
    title="Audio",
    noun="audio",
    description="Sound cut into clips of one length at one sample rate: a folder of WAV, FLAC or OGG files "
    "(class subfolders or file-name prefixes such as drum_1.wav give labels), one file, a CSV of path,label "
    "rows; or bundled demo sound: sonic-pi (recorded instrument samples) or speech (spoken digits "
    "synthesised on this machine).",
    example="audio:speech",
    argument="PATH|sonic-pi|speech",
    browse="folder",
    file_pattern="*.wav *.flac *.ogg *.csv",
    choices=("sonic-pi", "speech"),
    opener=open_audio,
)
