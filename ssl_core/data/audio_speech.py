"""`audio:speech`: spoken digits and words SYNTHESISED on this machine by the espeak-ng engine.

The engine is the libespeak-ng bundled in the PyPI wheel `espeakng-loader` (a project dependency), driven
through ctypes: `espeak_Initialize` in synchronous mode, a synth callback collecting the int16 samples at
the engine's rate (22,050 Hz), `espeak_SetVoiceByName` for the voice (a language voice plus a variant,
"en-us+f3"), `espeak_SetParameter` for rate (words per minute) and pitch. Nothing is downloaded.

The set: the ten digits "zero".."nine" and ten command words, each said by every voice of `VOICES` at
every speed of `SPEEDS` and pitch of `PITCHES`. It is generated once (about 2 s) into the cache
(`cache_dir()/speech-e<VERSION>.npz`, raw utterances at the engine's rate, so any sample rate or clip length
reuses it), with progress reported as "Synthesising n/N"; with the cache off it is generated on each open.

Labels: the word. Facet "voice": the voice that said it (for holding out a voice in evaluation).
Groups: one group per (word, voice): the speeds and pitches of one word by one voice are near-copies of
each other, so a split that put one of them in training and another in validation would measure
memorisation rather than generalisation. Groups keep them on one side.

Each utterance is trimmed of leading and trailing silence and centred in its clip (cropped to its centre
when longer than a clip). This is synthetic speech, and the summary says so.
"""

from __future__ import annotations

import ctypes
import io
import json
import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from ssl_core.data.audio_read import ReadSettings, resample
from ssl_core.data.spec import OpenOptions
from ssl_core.errors import UserError

log = logging.getLogger(__name__)

DIGITS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
COMMANDS = ("yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go")
WORDS = DIGITS + COMMANDS
# (espeak voice name, the name people read): language voices with male (m) and female (f) variants.
VOICES = (
    ("en-us", "en-us male"),
    ("en-us+f3", "en-us female"),
    ("en", "en-gb male"),
    ("en+f2", "en-gb female"),
    ("en-gb-x-rp+m3", "en-gb RP male 3"),
    ("en-gb-scotland+f4", "en-gb Scottish female 4"),
    ("en-029+m5", "en Caribbean male 5"),
    ("en-us+m7", "en-us male 7"),
)
SPEEDS = (140, 175, 210)  # words per minute (espeak's default is 175)
PITCHES = (35, 65)  # 0..100 (espeak's default is 50)
VERSION = 1  # of the stored set: bump when WORDS, VOICES, SPEEDS, PITCHES or the synthesis change
SILENCE = 1e-3  # |sample| below this (after scaling to [-1, 1]) is silence when trimming

_AUDIO_OUTPUT_SYNCHRONOUS = 2
_POS_CHARACTER = 1
_ESPEAK_CHARS_UTF8 = 1
_RATE, _PITCH = 1, 3
_INSTALL = "install it with: pip install espeakng-loader"


@dataclass
class Utterances:
    """Raw utterances at the engine's rate: int16 samples joined, with offsets and what each one is."""

    samples: np.ndarray  # int16, all utterances end to end
    offsets: np.ndarray  # int64 (U + 1,)
    word: np.ndarray  # int64 (U,) into words
    voice: np.ndarray  # int64 (U,) into voices
    speed: np.ndarray  # int64 (U,) words per minute
    pitch: np.ndarray  # int64 (U,)
    rate: int
    words: list[str]
    voices: list[str]  # readable names

    def __len__(self) -> int:
        return len(self.word)

    def utterance(self, i: int) -> np.ndarray:
        return self.samples[self.offsets[i] : self.offsets[i + 1]]


class _Engine:
    """libespeak-ng, initialised once per process; every call under one lock (the library is global)."""

    lock = threading.Lock()
    _instance: _Engine | None = None

    def __init__(self) -> None:
        try:
            import espeakng_loader
        except ImportError as exc:
            raise UserError(
                f"audio:speech synthesises speech with espeak-ng from the package espeakng-loader, which is "
                f"not installed; {_INSTALL}.",
                field="data.spec",
            ) from exc
        try:
            lib = ctypes.CDLL(espeakng_loader.get_library_path())
        except OSError as exc:
            raise UserError(
                f"audio:speech could not load the espeak-ng library ({exc}); reinstall it: "
                "pip install --force-reinstall espeakng-loader.",
                field="data.spec",
            ) from exc
        lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        lib.espeak_Initialize.restype = ctypes.c_int
        lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        lib.espeak_Synth.argtypes = [
            ctypes.c_char_p,
            ctypes.c_size_t,
            ctypes.c_uint,
            ctypes.c_int,
            ctypes.c_uint,
            ctypes.c_uint,
            ctypes.c_void_p,
            ctypes.c_void_p,
        ]
        callback_type = ctypes.CFUNCTYPE(
            ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p
        )
        self._chunks: list[np.ndarray] = []

        def collect(wav, count, events):  # called by the engine, synchronously, on the synthesising thread
            if count > 0 and wav:
                self._chunks.append(np.ctypeslib.as_array(wav, shape=(count,)).copy())
            return 0

        self._callback = callback_type(collect)  # kept referenced while the library may call it
        data = espeakng_loader.get_data_path()
        self.rate = int(lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 0, str(data).encode(), 0))
        if self.rate <= 0:
            raise UserError(
                f"audio:speech: espeak-ng could not start with its data in {data}; reinstall it: "
                "pip install --force-reinstall espeakng-loader.",
                field="data.spec",
            )
        lib.espeak_SetSynthCallback(self._callback)
        self.lib = lib

    @classmethod
    def get(cls) -> _Engine:
        with cls.lock:
            if cls._instance is None:
                cls._instance = cls()
            return cls._instance

    def set_voice(self, name: str) -> bool:
        with self.lock:
            return self.lib.espeak_SetVoiceByName(name.encode()) == 0

    def say(self, text: str, speed: int, pitch: int) -> np.ndarray:
        """int16 samples of `text` in the current voice."""
        with self.lock:
            self._chunks.clear()
            self.lib.espeak_SetParameter(_RATE, int(speed), 0)
            self.lib.espeak_SetParameter(_PITCH, int(pitch), 0)
            raw = text.encode("utf-8") + b"\0"
            self.lib.espeak_Synth(raw, len(raw), 0, _POS_CHARACTER, 0, _ESPEAK_CHARS_UTF8, None, None)
            self.lib.espeak_Synchronize()
            out = np.concatenate(self._chunks) if self._chunks else np.zeros(0, np.int16)
            self._chunks.clear()
        return out.astype(np.int16, copy=False)


def synthesise(
    words: Sequence[str] = WORDS,
    voices: Sequence[tuple[str, str]] = VOICES,
    speeds: Sequence[int] = SPEEDS,
    pitches: Sequence[int] = PITCHES,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[Utterances, list[str]]:
    """Every word in every voice, speed and pitch; (utterances, notes on voices that were unavailable)."""
    engine = _Engine.get()
    samples, offsets, word_ix, voice_ix, speed_col, pitch_col = [], [0], [], [], [], []
    notes, names = [], []
    total = len(words) * len(voices) * len(speeds) * len(pitches)
    done = 0
    for voice, readable in voices:
        if not engine.set_voice(voice):
            notes.append(f"the espeak-ng voice {voice!r} is not available; left out")
            done += len(words) * len(speeds) * len(pitches)
            if progress is not None:
                progress(done, total)
            continue
        v = len(names)
        names.append(readable)
        for w, word in enumerate(words):
            for speed in speeds:
                for pitch in pitches:
                    wave = engine.say(word, speed, pitch)
                    done += 1
                    if progress is not None:
                        progress(done, total)
                    if not len(wave):
                        continue
                    samples.append(wave)
                    offsets.append(offsets[-1] + len(wave))
                    word_ix.append(w)
                    voice_ix.append(v)
                    speed_col.append(speed)
                    pitch_col.append(pitch)
    if not word_ix:
        raise UserError("audio:speech: espeak-ng produced no sound for any voice; reinstall espeakng-loader.")
    utterances = Utterances(
        samples=np.concatenate(samples),
        offsets=np.array(offsets, np.int64),
        word=np.array(word_ix, np.int64),
        voice=np.array(voice_ix, np.int64),
        speed=np.array(speed_col, np.int64),
        pitch=np.array(pitch_col, np.int64),
        rate=engine.rate,
        words=list(words),
        voices=names,
    )
    return utterances, notes


# ---- the cached set ------------------------------------------------------------------------------------
def _cache_path():
    from ssl_core.data.cache import cache_dir

    base = cache_dir()
    return None if base is None else base / f"speech-e{VERSION}.npz"


def _load(path) -> tuple[Utterances, list[str]] | None:
    try:
        with np.load(path, allow_pickle=False) as npz:
            meta = json.loads(npz["meta"].tobytes())
            if meta.get("version") != VERSION:
                return None
            u = Utterances(
                samples=npz["samples"],
                offsets=npz["offsets"],
                word=npz["word"],
                voice=npz["voice"],
                speed=npz["speed"],
                pitch=npz["pitch"],
                rate=int(meta["rate"]),
                words=list(meta["words"]),
                voices=list(meta["voices"]),
            )
            notes = list(meta.get("notes", []))
    except FileNotFoundError:
        return None
    except Exception as exc:  # a damaged archive of any kind is a miss: it is generated again
        log.info("ignoring the damaged speech cache %s (%s); it is generated again", path, exc)
        return None
    n = len(u.word)
    if len(u.offsets) != n + 1 or int(u.offsets[-1]) != len(u.samples) or u.samples.dtype != np.int16:
        return None
    if not all(len(c) == n for c in (u.voice, u.speed, u.pitch)):
        return None
    return u, notes


def _store(path, u: Utterances, notes: list[str]) -> None:
    from ssl_core.runs.atomic import atomic_write_bytes

    meta = {"version": VERSION, "rate": u.rate, "words": u.words, "voices": u.voices, "notes": notes}
    buffer = io.BytesIO()
    np.savez(
        buffer,
        samples=u.samples,
        offsets=u.offsets,
        word=u.word,
        voice=u.voice,
        speed=u.speed,
        pitch=u.pitch,
        meta=np.frombuffer(json.dumps(meta).encode("utf-8"), np.uint8),
    )
    try:
        atomic_write_bytes(path, buffer.getvalue())
    except OSError as exc:
        log.warning("could not store the synthesised speech in %s (%s); it is generated each time", path, exc)


def speech_set(options: OpenOptions) -> tuple[Utterances, list[str], bool]:
    """(the utterances, notes, whether they came from the cache): generated once, then read back."""
    path = _cache_path()
    if path is not None:
        stored = _load(path)
        if stored is not None:
            return (*stored, True)
    utterances, notes = synthesise(progress=lambda done, total: options.report("synthesising", done, total))
    if path is not None:
        _store(path, utterances, notes)
    return utterances, notes, False


# ---- utterances to clips -------------------------------------------------------------------------------
def trim(wave: np.ndarray) -> np.ndarray:
    """Leading and trailing silence cut away (an all-silent wave is kept whole)."""
    loud = np.flatnonzero(np.abs(wave) > SILENCE)
    return wave[loud[0] : loud[-1] + 1] if len(loud) else wave


def centred(wave: np.ndarray, frames: int) -> np.ndarray:
    """`wave` centred in `frames` samples: zero-padded both sides, or its centre when longer."""
    out = np.zeros(frames, np.float32)
    if len(wave) >= frames:
        start = (len(wave) - frames) // 2
        out[:] = wave[start : start + frames]
    else:
        start = (frames - len(wave)) // 2
        out[start : start + len(wave)] = wave
    return out


def utterance_clips(u: Utterances, settings: ReadSettings) -> tuple[np.ndarray, int]:
    """(clips (U, 1, T) float32 at the settings' rate, how many utterances were longer than a clip)."""
    frames = settings.frames
    clips = np.zeros((len(u), 1, frames), np.float32)
    cropped = 0
    for i in range(len(u)):
        wave = trim(u.utterance(i).astype(np.float32) / 32768.0)
        wave = resample(wave[:, None], u.rate, settings.sample_rate)[:, 0]
        cropped += len(wave) > frames
        clips[i, 0] = centred(np.clip(wave, -1.0, 1.0), frames)
    return clips, cropped


def open_speech(spec: str, options: OpenOptions, settings: ReadSettings):
    from ssl_core.data.audio_info import audio_info
    from ssl_core.data.audio_source import AudioSource, mel_settings

    utterances, voice_notes, cached = speech_set(options)
    clips, cropped = utterance_clips(utterances, settings)
    n_voices = len(utterances.voices)
    pair = utterances.word * n_voices + utterances.voice
    _, groups = np.unique(pair, return_inverse=True)
    notes = [
        "SYNTHETIC speech: spoken digits and words generated on this machine by the espeak-ng engine "
        f"(espeakng-loader), {len(utterances.words)} words x {n_voices} voices x {len(SPEEDS)} speeds x "
        f"{len(PITCHES)} pitches; not recordings of people",
        f"voices: {', '.join(utterances.voices)} (a second labelling, 'voice')",
        "labels: the spoken word; groups: one per (word, voice), so the speeds and pitches of one word in "
        "one voice stay on one side of a split",
        f"each utterance trimmed of silence and centred in a {settings.clip_seconds:g} s clip, resampled from "
        f"{utterances.rate:,} Hz to {settings.sample_rate:,} Hz (soxr)",
        "read from the cache"
        if cached
        else "generated now" + ("" if _cache_path() is None else " and cached"),
        *voice_notes,
    ]
    if cropped:
        notes.append(
            f"{cropped:,} utterance(s) longer than a clip: their centre {settings.clip_seconds:g} s kept"
        )
    info = audio_info(
        "Synthetic speech (espeak-ng)",
        len(clips),
        1,
        settings.sample_rate,
        settings.clip_seconds,
        utterances.words,
        spec=spec,
        notes=notes,
        channels_mode=settings.channels_mode,
        origin="synthetic",
        files=len(utterances),
        label_from="word",
        hold_out=("voice", "file"),
        **mel_settings(options),
    )
    names = [
        f"{utterances.words[w]} / {utterances.voices[v]} / {s} wpm / pitch {p}"
        for w, v, s, p in zip(
            utterances.word.tolist(),
            utterances.voice.tolist(),
            utterances.speed.tolist(),
            utterances.pitch.tolist(),
            strict=True,
        )
    ]
    group_names = [""] * int(groups.max() + 1)
    for i, g in enumerate(groups.tolist()):
        if not group_names[g]:
            word, voice = names[i].split(" / ")[:2]
            group_names[g] = f"{word} / {voice}"
    source = AudioSource(
        torch.from_numpy(clips),
        torch.from_numpy(utterances.word.copy()),
        info,
        torch.from_numpy(groups.astype(np.int64)),
        files=group_names,
        starts=torch.zeros(len(clips)),
        facets={"voice": (torch.from_numpy(utterances.voice.copy()), list(utterances.voices))},
    )
    source.utterances = names  # what each clip is, for hover texts
    return source
