"""Playing a clip through the sound card, off the GUI thread, degrading to a line of text without one.

One player per application (`audio_player()`), so a clip that starts stops the one before it wherever it
was started (a preview's play button, a click on the embedding map). Playback uses `sounddevice`
(PortAudio through cffi: a small, well-kept wheel; Qt Multimedia is not in PySide6-Essentials and the
Addons wheel is several hundred MB for one feature). The library, and PortAudio with it, is imported only
when a clip is first played, on the player's own thread: opening an output stream can take a moment
(PortAudio probes the host's audio back ends), and `sd.play` itself returns at once, the sound going on
in PortAudio's callback thread.

Nothing here raises: without the package, without PortAudio (the Debian package libportaudio2) or without
an output device (a server, Xvfb, CI) `status` says so in a few words ("No audio device") and the
button stays where it is.
"""

from __future__ import annotations

import importlib.util
import logging
import queue
import threading
from typing import Any

import numpy as np
from PySide6.QtCore import QObject, Signal

log = logging.getLogger(__name__)

NO_DEVICE = "No audio device"
NO_LIBRARY = "No audio playback: the sounddevice package is not installed"
NO_PORTAUDIO = "No audio playback: PortAudio (libportaudio2) is not installed"
MAX_PLAY_CHANNELS = 2  # a clip with more channels is mixed down to mono for the speakers


def playback_note() -> str:
    """A tooltip line on what playing needs, without loading PortAudio (cheap: a module lookup)."""
    try:
        missing = importlib.util.find_spec("sounddevice") is None
    except (ImportError, ValueError):  # a half-imported or stand-in module: decided when it plays
        missing = False
    if missing:
        return (
            "Playing needs the Python package sounddevice and PortAudio (pip install sounddevice; "
            "Debian: apt install libportaudio2)."
        )
    return "Plays through the default sound output; without one, the status line says so."


def playable(wave: Any) -> np.ndarray:
    """A clip as PortAudio takes it: float32 frames (T, C) in [-1, 1], at most two channels (more: mixed to
    mono); NaN and inf silenced. Accepts (T,) or (C, T) arrays and tensors."""
    if hasattr(wave, "detach"):
        wave = wave.detach().cpu().numpy()
    arr = np.asarray(wave, dtype=np.float32)
    if arr.ndim == 1:
        arr = arr[None]
    arr = arr.reshape(-1, arr.shape[-1])
    if arr.shape[0] > MAX_PLAY_CHANNELS:
        arr = arr.mean(axis=0, keepdims=True)
    arr = np.nan_to_num(arr, nan=0.0, posinf=0.0, neginf=0.0)
    return np.ascontiguousarray(np.clip(arr, -1.0, 1.0).T)


def resample_linear(frames: np.ndarray, rate: int, target: int) -> np.ndarray:
    """(T, C) frames at `rate` -> at `target` Hz by linear interpolation (only for a device that refuses
    the clip's own rate: listening, not analysis)."""
    t = frames.shape[0]
    n = max(1, int(round(t * target / rate)))
    x_new = np.arange(n) * (rate / target)
    x_old = np.arange(t)
    cols = [np.interp(x_new, x_old, frames[:, c]) for c in range(frames.shape[1])]
    return np.ascontiguousarray(np.stack(cols, axis=1).astype(np.float32))


class AudioPlayer(QObject):
    """Plays clips on a thread of its own; `status` carries a short line for a status label ("Playing
    <what> (1.0 s)", "No audio device", ...). `play` returns at once."""

    status = Signal(str)
    done = Signal()  # a request was handled (played, stopped or refused): tests wait on it

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._requests: queue.SimpleQueue = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._sd: Any = None  # the sounddevice module, once loaded
        self._unavailable = ""  # why playing cannot work at all (no package, no PortAudio)
        self.last_status = ""

    # ---- the GUI side ----------------------------------------------------------------------------
    def play(self, wave: Any, sample_rate: int, what: str = "clip") -> None:
        """Play a (T,) or (C, T) clip at `sample_rate` Hz, stopping the one playing before."""
        try:
            frames = playable(wave)
        except (TypeError, ValueError) as exc:  # not a waveform: say so, as a line
            self._emit(f"Cannot play {what}: {exc}")
            return
        if frames.size == 0 or int(sample_rate) <= 0:
            self._emit(f"Cannot play {what}: it is empty")
            return
        self._submit(("play", frames, int(sample_rate), str(what)))

    def stop(self) -> None:
        self._submit(("stop",))

    def _submit(self, request: tuple) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._serve, name="audio-player", daemon=True)
                self._thread.start()
        self._requests.put(request)

    def _emit(self, text: str) -> None:
        self.last_status = text
        self.status.emit(text)
        self.done.emit()

    # ---- the player's thread ---------------------------------------------------------------------
    def _serve(self) -> None:
        while True:
            request = self._requests.get()
            while True:  # only the newest of requests that piled up matters
                try:
                    request = self._requests.get_nowait()
                except queue.Empty:
                    break
            try:
                text = self._handle(request)
            except Exception as exc:  # PortAudio's errors, whatever the host: a line, never a crash
                log.debug("Audio playback failed", exc_info=True)
                text = f"Cannot play: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"
            self._emit(text)

    def _load(self) -> Any:
        if self._sd is not None or self._unavailable:
            return self._sd
        try:
            import sounddevice
        except ImportError:
            self._unavailable = NO_LIBRARY
        except OSError:  # the package is there, the PortAudio library it loads is not
            self._unavailable = NO_PORTAUDIO
        else:
            self._sd = sounddevice
        return self._sd

    def _handle(self, request: tuple) -> str:
        sd = self._load()
        if sd is None:
            return self._unavailable
        if request[0] == "stop":
            sd.stop()
            return "Stopped"
        _, frames, rate, what = request
        sd.stop()  # the clip before, wherever it was started
        try:
            device = sd.query_devices(kind="output")
        except (sd.PortAudioError, ValueError):
            return NO_DEVICE
        if not device or int(device.get("max_output_channels", 0)) < 1:
            return NO_DEVICE
        if frames.shape[1] > int(device["max_output_channels"]):
            frames = np.ascontiguousarray(frames.mean(axis=1, keepdims=True))
        try:
            sd.play(frames, rate)
        except sd.PortAudioError:  # e.g. a device that refuses the clip's rate: its own rate then
            target = int(device.get("default_samplerate") or 48000)
            if target == rate:
                raise
            sd.play(resample_linear(frames, rate, target), target)
        return f"Playing {what} ({frames.shape[0] / rate:.1f} s)"


_PLAYER: AudioPlayer | None = None


def audio_player() -> AudioPlayer:
    """The application's one player (made on first use, on the GUI thread)."""
    global _PLAYER
    if _PLAYER is None:
        _PLAYER = AudioPlayer()
    return _PLAYER
