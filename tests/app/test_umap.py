"""UMAP in the background: progress, Cancel that takes effect quickly, and a finished map."""

from __future__ import annotations

import threading
import time

from tests.app.conftest import close_window


def test_umap_progress_cancel_and_complete(qtbot, window, copied_run, dialog_log, monkeypatch):
    import ssl_core.eval.projection as projection

    # The fast path's 60 epochs on 1,797 points take ~0.1 s: too short to click Cancel in reliably.
    monkeypatch.setattr(projection, "FAST_EPOCHS", 3000)
    emb = window.embeddings_tab
    emb.projection.setCurrentIndex(emb.projection.findData("umap"))
    emb.set_run(copied_run)
    window.tabs.setCurrentWidget(emb)
    messages: list[str] = []
    emb.compute(copied_run)
    qtbot.waitUntil(lambda: emb.umap_worker is not None, timeout=60_000)
    worker = emb.umap_worker
    worker.progress.connect(lambda f, m: messages.append(m))
    # PCA is drawn at once, while UMAP runs in the background with a visible progress bar
    assert emb.scatter.point_count() == 1797 and emb.shown_kind() == "pca"
    assert emb.progress.isVisible() and emb.cancel_button.isVisible()

    # cancel during the optimisation epochs (after numba's one-off compile)
    qtbot.waitUntil(lambda: any("epoch" in m for m in messages), timeout=120_000)
    aborted = []
    worker.aborted.connect(lambda: aborted.append(time.perf_counter()))
    with qtbot.waitSignal(worker.finished, timeout=10_000):
        clicked = time.perf_counter()
        emb.cancel_button.click()
    assert aborted and aborted[0] - clicked < 1.5, "Cancel must take effect within about a second"
    assert "umap" not in emb.result.projections
    assert emb.shown_kind() == "pca" and emb.scatter.point_count() == 1797
    assert not emb.progress.isVisible()
    assert dialog_log.shown == []

    # run it again to the end: the map switches to UMAP and is saved with the run
    monkeypatch.setattr(projection, "FAST_EPOCHS", 60)
    with qtbot.waitSignal(window.runner.idle, timeout=120_000):
        emb.start_umap()
    assert emb.shown_kind() == "umap"
    assert emb.scatter.point_count() == 1797
    assert list((copied_run / "eval").glob("projection-umap-*.npy"))


def test_umap_warm_up_runs_off_the_gui_thread(qtbot, settings_path, runs_dir, dialog_log, monkeypatch):
    import app.main_window as main_window

    ran = threading.Event()
    where = {}

    def fake_warm_up():
        where["thread"] = threading.current_thread()
        ran.set()

    monkeypatch.setattr(main_window, "warm_up_umap", fake_warm_up)
    from app.settings import Prefs

    monkeypatch.setattr(main_window, "WARM_UP_DELAY_MS", 300)
    window = main_window.MainWindow(Prefs.open(settings_path), runs_dir=runs_dir, warm_umap=True)
    qtbot.addWidget(window)
    assert not ran.is_set()  # not during the launch...
    qtbot.waitUntil(ran.is_set, timeout=5_000)  # ...but soon after, from the event loop
    assert where["thread"] is not threading.main_thread() and where["thread"].daemon
    qtbot.waitUntil(lambda: window.setup_tab.data.info is not None, timeout=30_000)
    close_window(qtbot, window)


def test_nndescent_is_compiled_ahead_only_for_large_maps(monkeypatch):
    import app.tabs.embeddings_tab as embeddings_tab
    from ssl_core.eval.projection import EXACT_KNN_MAX_POINTS

    calls = []
    compiled = threading.Event()

    def fake_warm_up(nndescent=False):
        calls.append((nndescent, threading.current_thread()))
        compiled.set()

    monkeypatch.setattr(embeddings_tab, "warm_up_umap", fake_warm_up)
    monkeypatch.setattr(embeddings_tab, "_NNDESCENT_WARM", threading.Event())
    monkeypatch.setattr("torch.cuda.is_available", lambda: False)
    assert not embeddings_tab.warm_up_nndescent_for(1797)  # digits: exact kNN, nothing to compile
    assert not compiled.wait(0.2) and calls == []
    assert embeddings_tab.warm_up_nndescent_for(EXACT_KNN_MAX_POINTS * 4)
    assert compiled.wait(5)
    assert calls[0][0] is True and calls[0][1] is not threading.main_thread() and calls[0][1].daemon
    assert not embeddings_tab.warm_up_nndescent_for(EXACT_KNN_MAX_POINTS * 4)  # once per process
