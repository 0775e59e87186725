"""The teacher's flow on audio, offscreen: the Open menu's audio entries (recorded and synthetic demo sound,
a folder), a folder of generated WAV tones, chirps and noise bursts in class subfolders opened through the
data panel, the audio options (sample rate, clip length) reopening it, a contrastive method on the log-mel
CNN trained a few steps with waveform and spectrogram previews, play buttons harmless without an audio
device, a spectrogram thumbnail on the embedding map's hover and a click that plays the clip, evaluation
against the log-mel-statistics baseline; then WaveGAN's grid of generated clips changing as it trains, and a
spectrogram method's rebuilt spectrograms."""

from __future__ import annotations

import wave

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog

from app.audio_player import NO_DEVICE, NO_LIBRARY, NO_PORTAUDIO, audio_player
from tests.app.conftest import train_and_wait

FILE_RATE = 8000  # the files' own rate; the run resamples them to RATE
RATE = 4000
CLASSES = ("chirp", "noise", "tone")
PER_CLASS = 12
NOT_PLAYING = (NO_DEVICE, NO_LIBRARY, NO_PORTAUDIO)  # what a machine without sound says (CI, Xvfb)


def write_wav(path, samples: np.ndarray, rate: int = FILE_RATE) -> None:
    """A 16-bit PCM mono WAV (the standard library's writer: no audio package needed to make test data)."""
    pcm = (np.clip(samples, -1, 1) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as fh:
        fh.setnchannels(1)
        fh.setsampwidth(2)
        fh.setframerate(rate)
        fh.writeframes(pcm.tobytes())


def sound(kind: str, rng: np.random.Generator, seconds: float = 1.0, rate: int = FILE_RATE) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    gain = rng.uniform(0.3, 0.8)
    if kind == "tone":  # a steady pitch
        return gain * np.sin(2 * np.pi * rng.uniform(250, 600) * t)
    if kind == "chirp":  # a pitch sweeping up
        f0, f1 = rng.uniform(200, 400), rng.uniform(1200, 1800)
        return gain * np.sin(2 * np.pi * (f0 * t + (f1 - f0) * t**2 / (2 * seconds)))
    bursts = (np.sin(2 * np.pi * rng.uniform(3, 6) * t) > 0).astype(np.float64)  # noise, on and off
    return gain * 0.6 * rng.standard_normal(len(t)) * bursts


def write_folder(root, per_class: int = PER_CLASS, seed: int = 0):
    """root/<class>/<class>_<i>.wav: one second each, so 0.5-second clips give two clips per file."""
    rng = np.random.default_rng(seed)
    for kind in CLASSES:
        (root / kind).mkdir(parents=True)
        for i in range(per_class):
            write_wav(root / kind / f"{kind}_{i}.wav", sound(kind, rng))
    return root


def _audio_kind():
    from ssl_core.data import DATA_SOURCES

    return DATA_SOURCES.get("audio")


def test_audio_setup_train_listen_embeddings_evaluate(qtbot, window, dialog_log, monkeypatch, tmp_path):
    setup, panel = window.setup_tab, window.setup_tab.method
    data = setup.data
    # ---- the Open menu offers audio: recorded and synthetic demo sound, said as such, and a folder ------
    data.engine_loaded()
    data._refresh_open_menu()
    menu = next(m for m in data._kind_menus if m.objectName() == "open_audio")
    entries = [a.text() for a in menu.actions() if not a.isSeparator()]
    assert entries == [
        "Recorded sound (sonic-pi samples)",
        "Synthetic speech (espeak-ng, generated on this machine)",
        "Open a folder…",
    ], entries
    assert [a.data() for a in menu.actions()[:2]] == ["audio:sonic-pi", "audio:speech"]

    # ---- Setup: a folder of WAV files in class subfolders, opened through the panel --------------------
    folder = write_folder(tmp_path / "sounds")
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a, **k: str(folder))
    with qtbot.waitSignal(data.loading_changed, timeout=60_000, check_params_cb=lambda busy: not busy):
        assert data.browse(_audio_kind()) is not None
    assert dialog_log.shown == [], dialog_log.shown
    info = data.info
    assert info.modality == "audio" and info.class_names == list(CLASSES)
    assert info.extra["audio"]["sample_rate"] == 16000 and info.size == 3 * PER_CLASS  # 1 s clips
    assert not data.audio_options.isHidden() and data.text_options.isHidden()
    assert data.colour_row.isHidden() and data.series_row.isHidden() and data.table_options.isHidden()
    assert data.samples_caption.text() == "Sample clips" and data.thumbnails.count() == 12
    # the options reopen the folder: 4 kHz, half-second clips (two per file)
    options = data.audio_options
    with qtbot.waitSignal(setup.data_info_loaded, timeout=60_000):
        options.boxes["data.sample_rate"].setValue(RATE)
    qtbot.waitUntil(lambda: not data.loading, timeout=30_000)
    with qtbot.waitSignal(setup.data_info_loaded, timeout=60_000):
        options.boxes["data.clip_seconds"].setValue(0.5)
    qtbot.waitUntil(lambda: not data.loading, timeout=30_000)
    info = data.info
    assert info.extra["audio"]["sample_rate"] == RATE and info.sample_shape == (1, RATE // 2)
    assert info.size == 2 * 3 * PER_CLASS
    assert dialog_log.shown == [], dialog_log.shown

    panel.set_method("simclr")
    assert panel.available("simclr")
    panel.set_backbone("mel_cnn", {"width": 8})
    setup.training.epochs.setValue(20)
    setup.training.max_steps.setValue(12)
    setup.training.batch_size.setValue(32)
    setup.training.seed.setValue(0)
    cfg = setup.config(str(tmp_path / "runs"))
    assert (cfg.data.sample_rate, cfg.data.clip_seconds, cfg.data.audio_channels) == (RATE, 0.5, "mono")
    assert cfg.data.length is None  # a series' length is not an audio setting

    # ---- Train: the live preview shows the views as waveforms and spectrograms, each playable ----------
    train = window.train_tab
    train_and_wait(qtbot, window, timeout=180_000)
    assert dialog_log.shown == [], dialog_log.shown
    live = train.live_preview.renderer
    assert type(live).__name__ == "AudioPreview", type(live).__name__
    assert "view 1" in live.rows() and "view 2" in live.rows() and live.columns() >= 1
    cell = live.cell("view 1", 0)
    assert cell.wave is not None and cell.wave.shape == (1, RATE // 2)
    assert cell.spectrogram().height() == info.extra["audio"]["n_mels"]
    buttons = live.play_buttons()
    assert len(buttons) == len(live.rows()) * live.columns()
    player = audio_player()
    with qtbot.waitSignal(player.done, timeout=30_000):
        qtbot.mouseClick(buttons[0], Qt.MouseButton.LeftButton)
    assert player.last_status in NOT_PLAYING or player.last_status.startswith("Playing"), player.last_status
    qtbot.waitUntil(lambda: live.status_text() == player.last_status, timeout=5_000)
    assert dialog_log.shown == [], dialog_log.shown

    # ---- Views: on-demand previews are clips too ---------------------------------------------------------
    views = window.views_tab
    with qtbot.waitSignal(window.runner.idle, timeout=60_000):
        window.compute_views()
    assert type(views.renderer()).__name__ == "AudioPreview"
    assert views.rows()[-2:] == ["view 1", "view 2"] and views.columns() == 8
    assert "spectrogram" in views.explain.text()

    # ---- Embeddings: hover shows the clip's spectrogram, a click plays it ------------------------------
    emb = window.embeddings_tab
    emb.projection.setCurrentIndex(emb.projection.findData("pca"))
    window.tabs.setCurrentWidget(emb)
    qtbot.waitUntil(lambda: emb.result is not None and not emb.busy, timeout=120_000)
    assert emb.scatter.point_count() == info.size and emb.result.is_audio
    assert emb.result.sample_rate == RATE
    emb._hovered(3)
    row = int(emb.result.projections["pca"][0][3])
    pixmap = emb.hover_image.pixmap()
    assert not emb.hover_image.isHidden() and pixmap is not None and not pixmap.isNull()
    assert pixmap.width() > pixmap.height()  # a spectrogram, wider than tall
    assert f"clip #{row}" in emb.hover_text.text() and "click to play" in emb.hover_text.text()
    assert not emb.audio_status.isHidden()
    with qtbot.waitSignal(player.done, timeout=30_000):
        emb._clicked(3)
    assert emb.neighbours.count() == 1 + 8
    qtbot.waitUntil(lambda: emb.audio_status.text() == player.last_status, timeout=5_000)
    neighbour = int(emb._grid_rows[id(emb.neighbours)][1])
    with qtbot.waitSignal(player.done, timeout=30_000):  # a neighbour's thumbnail plays that clip
        emb.neighbours.clicked.emit(1)
    assert player.last_status in NOT_PLAYING or f"#{neighbour} " in player.last_status, player.last_status

    # ---- Evaluate: pretrained, random init and the log-mel-statistics baseline --------------------------
    ev = window.evaluate_tab
    window.tabs.setCurrentWidget(ev)
    with qtbot.waitSignal(ev.evaluated, timeout=180_000):
        qtbot.mouseClick(ev.button, Qt.MouseButton.LeftButton)
    for key in ("pretrained", "random_init", "raw_input"):
        assert ev.view.accuracy(key, "probe") is not None, key
    assert ev.view.title("raw_input").lower() == "log-mel statistics"
    assert ev.view.confusion.shape == (3, 3)
    qtbot.waitUntil(lambda: not ev.busy)
    assert dialog_log.shown == [], dialog_log.shown
    # ... and tested on whole files held out in turn (no file's clips on both sides)
    box = ev.hold_out_box
    assert box.isVisibleTo(ev)
    assert [box.itemText(i) for i in range(box.count())] == ["Held-out clips", "Whole files in turn"]
    box.setCurrentIndex(box.findData("file"))
    with qtbot.waitSignal(ev.evaluated, timeout=180_000):
        qtbot.mouseClick(ev.button, Qt.MouseButton.LeftButton)
    assert ev.view.raw["hold_out"]["facet"] == "file", ev.view.raw.get("hold_out")
    for key in ("pretrained", "random_init", "raw_input"):
        assert ev.view.accuracy(key, "probe") is not None, key
    assert (ev.run_dir / "eval" / "report-hold-out-file.json").is_file()
    qtbot.waitUntil(lambda: not ev.busy)
    assert dialog_log.shown == [], dialog_log.shown

    # ---- WaveGAN: a grid of generated clips, each playable, that change as it trains ----------------------
    panel.set_method("wavegan")
    assert panel.available("wavegan")
    setup.training.max_steps.setValue(8)
    setup.training.batch_size.setValue(16)
    generated: list[np.ndarray] = []

    def record(_event):
        live = train.live_preview.renderer
        if type(live).__name__ == "AudioPreview" and "samples" in live.rows():
            generated.append(live.cell("samples", 0).wave.copy())

    window.session.preview.connect(lambda ev: qtbot.wait(0) or record(ev))
    train_and_wait(qtbot, window, timeout=180_000)
    assert dialog_log.shown == [], dialog_log.shown
    live = train.live_preview.renderer
    assert live.rows() == ["real", "samples", "more samples", "interpolation"], live.rows()
    assert len(live.play_buttons()) == 4 * live.columns()
    record(None)
    assert len(generated) >= 2 and not np.allclose(generated[0], generated[-1])  # the sound changed
    # both parts are plotted, and the finished run's curves are shown to their last step
    assert {"discriminator", "generator"} <= set(train.loss_curves.names()), train.loss_curves.names()
    assert train.loss_curves.point_count("generator") == 8
    assert train.loss_curves.range.vb.viewRange()[0][1] >= 8

    # ---- a spectrogram method: the rebuilt spectrogram is shown as one, beside the playable clips --------
    panel.set_method("spectrogram_denoising")
    setup.training.max_steps.setValue(4)
    train_and_wait(qtbot, window, timeout=180_000)
    assert dialog_log.shown == [], dialog_log.shown
    live = train.live_preview.renderer
    assert live.rows() == ["input", "noisy", "spectrogram reconstruction"], live.rows()
    rebuilt = live.cell("spectrogram reconstruction", 0)
    assert rebuilt.wave is None and rebuilt.play_button.isHidden()
    assert rebuilt.spectrogram().height() == info.extra["audio"]["n_mels"]
    assert len(live.play_buttons()) == 2 * live.columns()
    assert "dB SNR" in " ".join(live.captions("noisy"))


def test_audio_options_wait_for_audio(qtbot, window, dialog_log):
    """Changing an audio option while other data is open does not reopen that data; the option applies
    when audio opens, and the config carries it."""
    data = window.setup_tab.data
    data.audio_options.boxes["data.sample_rate"].setValue(RATE)
    data.audio_options.boxes["data.clip_seconds"].setValue(0.5)
    assert not data.loading and data.info.modality == "image"
    assert data.audio_options.isHidden()
    assert data.audio_options.open_options() == {"sample_rate": RATE, "clip_seconds": 0.5}
    assert dialog_log.shown == []


def test_a_folder_of_unreadable_sound_shows_a_dialog_naming_a_file(
    qtbot, window, dialog_log, monkeypatch, tmp_path
):
    """A folder whose sound files are all empty or damaged is refused in a dialog that names the folder and
    one of the files with its reason; the digits stay loaded and training stays possible."""
    folder = tmp_path / "broken"
    (folder / "a").mkdir(parents=True)
    (folder / "a" / "empty.wav").write_bytes(b"")
    (folder / "a" / "cut.flac").write_bytes(bytes(range(256)) * 2)
    panel = window.setup_tab.data
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a, **k: str(folder))
    with qtbot.waitSignal(panel.loading_changed, timeout=60_000, check_params_cb=lambda busy: not busy):
        assert panel.browse(_audio_kind()) is not None
    assert len(dialog_log.shown) == 1, dialog_log.shown
    kind, _title, message, _ = dialog_log.shown[-1]
    assert kind == "user" and "broken" in message and ("cut.flac" in message or "empty.wav" in message), (
        message
    )
    assert panel.spec() == "digits" and panel.info.modality == "image"
    assert window.actions["start"].isEnabled()
