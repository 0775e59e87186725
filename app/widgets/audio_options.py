"""The Setup panel's options for audio: the sample rate clips are resampled to, a clip's length, mono or
the files' own channels, and the log-mel front end's mel bins, window and hop.

Each editor is built from the config schema's field (data.sample_rate, data.clip_seconds,
data.audio_channels, data.n_mels, data.win_ms, data.hop_ms: its title, help text as the tooltip, range or
choices), so a GUI session saved as a config file re-runs in the CLI. Changing one opens the data again
(`reopen`), so the summary and the spectrogram thumbnails show what training will get.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QDoubleSpinBox, QFormLayout, QLabel, QSpinBox, QWidget

from ssl_core.config_schema import SCHEMA


@dataclass(frozen=True)
class _Fallback:
    """What a setting is where the config schema does not (yet) describe it."""

    title: str
    help: str
    type: type
    default: Any
    low: float | None = None
    high: float | None = None
    choices: tuple = ()
    choice_words: tuple = ()
    step: float | None = None


FALLBACK: dict[str, _Fallback] = {
    "data.sample_rate": _Fallback(
        "Sample rate (Hz)",
        "Audio: every file is resampled to this rate (anti-aliased) before it is cut into clips.",
        int, 16000, 4000, 192000,
    ),
    "data.clip_seconds": _Fallback(
        "Clip length (s)",
        "Audio: each file is cut into clips of this many seconds (a short file is padded with silence).",
        float, 1.0, 0.1, 30.0, step=0.25,
    ),
    "data.audio_channels": _Fallback(
        "Channels",
        "Audio: mix every file down to mono, or keep the files' own channels (they must all have the same).",
        str, "mono", choices=("mono", "keep"), choice_words=("mono (mixed down)", "keep the files' channels"),
    ),
    "data.n_mels": _Fallback(
        "Mel bins", "Audio: how many mel frequency bands the log-mel spectrogram has.", int, 64, 8, 256
    ),
    "data.win_ms": _Fallback(
        "Window (ms)", "Audio: the spectrogram's analysis window, in milliseconds.", float, 25.0, 2.0, 200.0,
        step=5.0,
    ),
    "data.hop_ms": _Fallback(
        "Hop (ms)", "Audio: the step between spectrogram frames, in milliseconds.", float, 10.0, 1.0, 100.0,
        step=1.0,
    ),
}  # fmt: skip
KEYS = tuple(FALLBACK)


def _field(key: str) -> Any:
    """The schema's field for a key, or its fallback description."""
    return SCHEMA.get(key) or FALLBACK[key]


def _default(key: str) -> Any:
    field = SCHEMA.get(key)
    if field is not None:
        try:
            return field.default
        except AttributeError:  # the schema knows the key before the config's dataclass does
            pass
    return FALLBACK[key].default


def _tip(field: Any) -> str:
    text = field.describe() if hasattr(field, "describe") else field.help
    return f"<p>{html.escape(text, quote=False)}</p>"


def audio_extra(info: Any) -> dict:
    """What an audio source put in its DataInfo (the contract's extra["audio"])."""
    extra = getattr(info, "extra", None) or {}
    audio = extra.get("audio")
    return audio if isinstance(audio, dict) else {}


class AudioOptions(QWidget):
    """Sample rate, clip length, channels, mel bins, window and hop for loaded audio."""

    reopen = Signal()  # the data must be opened again with the new options

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("audio_options")
        form = QFormLayout(self)
        form.setContentsMargins(0, 0, 0, 0)
        self.boxes: dict[str, QWidget] = {}
        for key in KEYS:
            field = _field(key)
            box = self._editor(key, field)
            box.setObjectName("audio_" + key.split(".", 1)[1])
            tip = _tip(field)
            box.setToolTip(tip)
            label = QLabel(field.title)
            label.setToolTip(tip)
            form.addRow(label, box)
            self.boxes[key] = box
        self.set_values({})

    def _editor(self, key: str, field: Any) -> QWidget:
        if field.choices:
            box = QComboBox()
            words = field.choice_words or field.choices
            for value, word in zip(field.choices, words, strict=True):
                box.addItem(str(word)[:1].upper() + str(word)[1:], value)
            box.currentIndexChanged.connect(lambda _: self.reopen.emit())
            return box
        if field.type is int:
            box = QSpinBox()
            box.setRange(int(field.low if field.low is not None else 1), int(field.high or 1_000_000))
            if key == "data.sample_rate":
                box.setSingleStep(1000)
        else:
            box = QDoubleSpinBox()
            box.setDecimals(2)
            box.setRange(float(field.low if field.low is not None else 0.0), float(field.high or 1e6))
            box.setSingleStep(float(field.step or 0.5))
        box.setKeyboardTracking(False)  # typing 22050 does not reopen at 2, 22, 220, 2205
        box.valueChanged.connect(lambda _: self.reopen.emit())
        return box

    # ---- values ----------------------------------------------------------------------------------
    def _get(self, key: str) -> Any:
        box = self.boxes[key]
        if isinstance(box, QComboBox):
            return box.currentData()
        if isinstance(box, QSpinBox):
            return int(box.value())
        return round(float(box.value()), 4)

    def _set(self, key: str, value: Any) -> None:
        box = self.boxes[key]
        box.blockSignals(True)
        if isinstance(box, QComboBox):
            box.setCurrentIndex(max(0, box.findData(value)))
        elif isinstance(box, QSpinBox):
            box.setValue(int(value))
        else:
            box.setValue(float(value))
        box.blockSignals(False)

    def set_values(self, values: dict[str, Any]) -> None:
        """Show settings by config name (sample_rate, ...); missing ones show their defaults."""
        for key in KEYS:
            name = key.split(".", 1)[1]
            value = values.get(name)
            self._set(key, _default(key) if value is None else value)

    def options(self) -> dict[str, Any]:
        """Every audio setting as the config's [data] holds it."""
        return {key.split(".", 1)[1]: self._get(key) for key in KEYS}

    def open_options(self) -> dict[str, Any]:
        """Only the settings a person changed from the defaults (open_source's keyword arguments)."""
        return {name: value for name, value in self.options().items() if value != _default(f"data.{name}")}

    def set_options(self, data: Any) -> None:
        """Show a config's [data] audio settings (applied when the audio opens)."""
        self.set_values({key.split(".", 1)[1]: getattr(data, key.split(".", 1)[1], None) for key in KEYS})

    # ---- showing loaded audio ----------------------------------------------------------------------
    def set_info(self, info: Any) -> None:
        """Show the settings the opened audio was read with (its DataInfo's extra["audio"]), so the boxes
        say what training will get. (The data summary says what the sound is: recorded, synthetic, files.)"""
        extra = audio_extra(info)
        self.set_values({"audio_channels": extra.get("channels_mode"), **extra})
