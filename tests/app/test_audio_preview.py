"""The "audio" renderer and the audio player, offscreen: waveforms and spectrograms of synthetic chirps, a
spectrogram-only row, a WaveGAN-style grid of samples, play buttons that never raise and never block
(no device, no library, a device that refuses the clip's rate), the theme, and the spectrogram thumbnail
painter."""

from __future__ import annotations

import sys
import time
from types import SimpleNamespace

import numpy as np
import pytest
from PySide6.QtGui import QColor

from app import audio_player as player_module
from app.audio_player import NO_DEVICE, NO_LIBRARY, AudioPlayer, playable
from app.widgets.audio_preview import AudioPreview
from app.widgets.previews import PREVIEW_RENDERERS, PreviewPanel
from app.widgets.sample_thumbnails import AudioThumbnails, thumbnail_painter

RATE = 4000
T = 2000  # half a second


def chirp(f0: float, f1: float, gain: float = 0.5, t: int = T, rate: int = RATE) -> np.ndarray:
    """A sine sweeping from f0 to f1 Hz: its spectrogram is one bright rising (or falling) line."""
    time_s = np.arange(t) / rate
    phase = 2 * np.pi * (f0 * time_s + (f1 - f0) * time_s**2 / (2 * time_s[-1]))
    return (gain * np.sin(phase)).astype(np.float32)


def clips(n: int = 4) -> np.ndarray:
    return np.stack([chirp(150 + 50 * i, 1500) for i in range(n)])[:, None, :]  # (n, 1, T)


def preview(arrays: dict, captions: dict | None = None, meta: dict | None = None, kind="reconstruction"):
    base = {"sample_rate": RATE, "spectrogram": {"n_mels": 32, "win_ms": 32.0, "hop_ms": 8.0}}
    return SimpleNamespace(
        kind=kind, images=arrays, captions=captions or {}, payload="audio", meta={**base, **(meta or {})}
    )


class FakeSoundDevice:
    """What the player uses of sounddevice, recording calls; `device` None: no output device."""

    class PortAudioError(Exception):
        pass

    def __init__(self, device: dict | None = None, refuse_rate: int | None = None, play_seconds: float = 0.0):
        self.device = device
        self.refuse_rate = refuse_rate
        self.play_seconds = play_seconds
        self.calls: list[tuple] = []

    def query_devices(self, kind=None):
        if self.device is None:
            raise self.PortAudioError("Error querying device -1")
        return self.device

    def stop(self):
        self.calls.append(("stop",))

    def play(self, frames, rate):
        if rate == self.refuse_rate:
            raise self.PortAudioError("Invalid sample rate")
        time.sleep(self.play_seconds)  # a slow stream opening: must not hold the GUI thread
        self.calls.append(("play", frames.shape, rate))


SPEAKERS = {"name": "speakers", "max_output_channels": 2, "default_samplerate": 48000.0}


@pytest.fixture
def player(monkeypatch):
    """A fresh application player (so an earlier test's state is not this test's)."""
    fresh = AudioPlayer()
    monkeypatch.setattr(player_module, "_PLAYER", fresh)
    return fresh


def press_and_wait(qtbot, player: AudioPlayer, button) -> str:
    with qtbot.waitSignal(player.done, timeout=10_000):
        button.click()
    return player.last_status


def test_waveforms_and_spectrograms_of_every_clip(qtbot, player, monkeypatch):
    monkeypatch.setitem(sys.modules, "sounddevice", FakeSoundDevice(device=None))
    assert PREVIEW_RENDERERS["audio"] is AudioPreview
    panel = PreviewPanel(4)
    qtbot.addWidget(panel)
    panel.resize(1000, 700)
    panel.show()
    waves = clips(6)
    quiet = waves * 0.05
    names = [f"chirp {i}" for i in range(6)]
    panel.show_preview(preview({"input": waves, "reconstruction": quiet}, {"input": names}))
    r = panel.renderer
    assert isinstance(r, AudioPreview)
    assert r.rows() == ["input", "reconstruction"] and r.columns() == 4
    assert r.captions("input") == names[:4]
    # the waveform is drawn as it is, on a time axis in seconds
    curve = r.cell("input", 1).curves[0]
    assert np.allclose(curve.yData, waves[1, 0]) and curve.xData[-1] == pytest.approx((T - 1) / RATE)
    # the chirp rises: the brightest row of the spectrogram is higher up (smaller y) at the end
    image = r.cell("input", 0).spectrogram()
    assert image.height() == 32 and image.width() > 20
    arr = np.array([[QColor(image.pixel(x, y)).lightness() for x in range(image.width())] for y in range(32)])
    start, end = arr[:, 3].argmax(), arr[:, -4].argmax()
    assert end < start - 5, (start, end)
    # one colour scale per column: the quiet reconstruction of a clip is darker than the clip
    bright = np.mean(
        [QColor(image.pixel(x, y)).lightness() for x in range(0, image.width(), 3) for y in range(32)]
    )
    q_image = r.cell("reconstruction", 0).spectrogram()
    dim = np.mean(
        [QColor(q_image.pixel(x, y)).lightness() for x in range(0, q_image.width(), 3) for y in range(32)]
    )
    assert dim < bright - 5, (dim, bright)
    assert len(r.play_buttons()) == 8 and all(b.isVisibleTo(r) for b in r.play_buttons())
    # a new preview of the same shape reuses the cells (live previews update in place)
    cells = dict(r.cells)
    panel.show_preview(preview({"input": waves[::-1], "reconstruction": quiet}))
    assert r.cells == cells and np.allclose(r.cell("input", 0).curves[0].yData, waves[5, 0])


def test_play_without_a_device_says_so_and_raises_nothing(qtbot, player, monkeypatch):
    monkeypatch.setitem(sys.modules, "sounddevice", FakeSoundDevice(device=None))
    r = AudioPreview(4)
    qtbot.addWidget(r)
    r.show()
    r.show_preview(preview({"input": clips(2)}))
    button = r.play_buttons()[0]
    assert "sound" in button.toolTip().lower() or "sounddevice" in button.toolTip()
    assert press_and_wait(qtbot, player, button) == NO_DEVICE
    qtbot.waitUntil(lambda: r.status_text() == NO_DEVICE, timeout=5_000)
    assert button.isVisible() and button.isEnabled()  # the button stays; pressing again is harmless
    assert press_and_wait(qtbot, player, r.play_buttons()[1]) == NO_DEVICE


def test_play_without_the_library_says_so(qtbot, player, monkeypatch):
    monkeypatch.setitem(sys.modules, "sounddevice", None)  # import sounddevice -> ImportError
    r = AudioPreview(4)
    qtbot.addWidget(r)
    r.show_preview(preview({"input": clips(1)}))
    assert press_and_wait(qtbot, player, r.play_buttons()[0]) == NO_LIBRARY


def test_playing_stops_the_clip_before_and_never_blocks(qtbot, player, monkeypatch):
    fake = FakeSoundDevice(device=SPEAKERS, play_seconds=0.4)
    monkeypatch.setitem(sys.modules, "sounddevice", fake)
    started = time.perf_counter()
    player.play(clips(1)[0], RATE, "first")
    assert time.perf_counter() - started < 0.1  # returned before the stream "opened"
    qtbot.waitUntil(lambda: player.last_status.startswith("Playing first"), timeout=10_000)
    fake.play_seconds = 0.0
    with qtbot.waitSignal(player.done, timeout=10_000):
        player.play(np.stack([chirp(200, 400)] * 7), RATE, "seven channels")
    assert player.last_status == "Playing seven channels (0.5 s)"
    assert fake.calls == [("stop",), ("play", (T, 1), RATE), ("stop",), ("play", (T, 1), RATE)]


def test_a_device_refusing_the_rate_gets_its_own(qtbot, player, monkeypatch):
    fake = FakeSoundDevice(device=SPEAKERS, refuse_rate=RATE)
    monkeypatch.setitem(sys.modules, "sounddevice", fake)
    with qtbot.waitSignal(player.done, timeout=10_000):
        player.play(chirp(300, 300), RATE, "tone")
    assert fake.calls[-1] == ("play", (T * 12, 1), 48000), fake.calls
    assert player.last_status.startswith("Playing tone")


def test_playable_frames():
    frames = playable(np.array([[0.5, np.nan, 2.0], [-3.0, 0.0, np.inf]], dtype=np.float32))
    assert frames.shape == (3, 2) and frames.dtype == np.float32
    assert np.array_equal(frames, [[0.5, -1.0], [0.0, 0.0], [1.0, 0.0]])


def test_spectrogram_rows_and_a_wavegan_grid(qtbot, player):
    r = AudioPreview(8)
    qtbot.addWidget(r)
    r.resize(900, 700)
    r.show()
    spec = np.random.default_rng(0).normal(-5, 2, size=(3, 1, 32, 40)).astype(np.float32)
    r.show_preview(preview({"input": clips(3), "spec_reconstruction": spec}))
    cell = r.cell("spec_reconstruction", 0)
    assert cell.wave is None and not cell.play_button.isVisibleTo(r) and not cell.plot.isVisibleTo(r)
    assert cell.spectrogram().size().toTuple() == (40, 32)
    assert len(r.play_buttons()) == 3
    # a generator's samples: one row of eight clips wraps into a grid four wide
    samples = np.stack([chirp(100 * (i + 1), 100 * (i + 1)) for i in range(8)])[:, None]
    r.show_preview(preview({"samples": samples}, kind="samples"))
    assert r.rows() == ["samples"] and r.columns() == 8 and len(r.play_buttons()) == 8
    positions = {r.grid.getItemPosition(r.grid.indexOf(r.cell("samples", i)))[:2] for i in range(8)}
    assert positions == {(1 + i // 4, i % 4) for i in range(8)}
    assert r.cell("spec_reconstruction", 0) is None and r.cells[(1, 0)].isHidden()
    # rows of unequal length: the shorter row leaves its last cells empty
    r.show_preview(preview({"input": clips(3), "guess": clips(2)}))
    assert r.columns() == 3 and r.cell("guess", 2) is None and r.cell("input", 2) is not None
    assert len(r.play_buttons()) == 5
    # real clips are drawn like an untouched input (grey), what the generator made in colour
    from app.theme import current_colors

    r.show_preview(preview({"real": clips(2), "samples": clips(2)}, kind="samples"))
    grey = QColor(current_colors().muted)
    assert r.cell("real", 0).curves[0].opts["pen"].color() == grey
    assert r.cell("samples", 0).curves[0].opts["pen"].color() != grey
    # an ordered strip keeps both ends where fewer columns are shown
    r.max_samples = 4
    strip = np.stack([chirp(100 + 50 * i, 100 + 50 * i) for i in range(8)])[:, None]
    r.show_preview(preview({"interpolation": strip}, {"interpolation": [f"{i}" for i in range(8)]},
                           meta={"strip_rows": ["interpolation"]}))  # fmt: skip
    assert r.captions("interpolation") == ["0", "2", "5", "7"]


def test_theme_recolours_the_waveforms(qtbot, player):
    from app.theme import DARK, LIGHT, theme_manager

    r = AudioPreview(4)
    qtbot.addWidget(r)
    r.show_preview(preview({"input": clips(2)}))
    manager = theme_manager()
    try:
        manager.set_mode("dark")
        assert r.cell("input", 0).plot.backgroundBrush().color() == QColor(DARK.plot_bg)
    finally:
        manager.set_mode("light")
    assert r.cell("input", 0).plot.backgroundBrush().color() == QColor(LIGHT.plot_bg)


def test_thumbnails_are_spectrograms_scaled_by_the_data(qapp):
    from ssl_core.data.audio_info import audio_info

    info = audio_info("tones", 4, 1, RATE, T / RATE, n_mels=24)
    waves = clips(4)
    painter = thumbnail_painter("audio", waves, info=info)
    assert isinstance(painter, AudioThumbnails) and painter.settings["sample_rate"] == RATE
    assert painter.settings["n_mels"] == 24
    loud, quiet = painter.paint(np.stack([waves[0], waves[0] * 0.01]), 96, 60)
    assert loud.size().toTuple() == (96, 60)

    def brightness(image):
        return np.mean(
            [QColor(image.pixel(x, y)).lightness() for x in range(0, 96, 2) for y in range(0, 60, 2)]
        )

    assert brightness(quiet) < brightness(loud) - 3  # one loudness scale for the whole data
    assert thumbnail_painter("audio").paint(waves[:1], 40, 24)[0].size().toTuple() == (40, 24)
