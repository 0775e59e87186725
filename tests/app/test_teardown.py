"""A GUI test that ends while a job is still running tears down cleanly: the window is closed like a user
closes it (waiting for the job) before pytest-qt deletes it. Before, the job finished into deleted widgets
and the teardown waited a minute and failed (seen once in CI under load)."""

import time


def test_a_test_that_ends_while_a_preview_is_computing(qtbot, window, copied_run, monkeypatch):
    from app.tabs import views_tab

    real = views_tab.compute_preview

    def slow(*args, **kwargs):
        time.sleep(1.5)  # still running when the test ends
        return real(*args, **kwargs)

    monkeypatch.setattr(views_tab, "compute_preview", slow)
    window.open_run(copied_run)
    qtbot.waitUntil(lambda: not window.runner.running("history"), timeout=30_000)
    window.compute_views()
    assert window.runner.running("preview")
