"""Background jobs and the signal throttle, plus a guard against a broken Qt binding."""

from __future__ import annotations

import gc
import sys
import threading
import time

import pytest
from PySide6.QtCore import QObject, Signal

from app.throttle import Coalescer
from app.workers import JobRunner, Worker


def test_qt_binding_keeps_reference_counts():
    """PySide6 6.12.0 drops a reference to True on every emit; on CPython 3.11 that crashes the app."""

    class Emitter(QObject):
        ping = Signal()

    emitter = Emitter()
    gc.collect()
    before = sys.getrefcount(True), sys.getrefcount(None)
    for _ in range(200):
        emitter.ping.emit()
    gc.collect()
    after = sys.getrefcount(True), sys.getrefcount(None)
    if sys.version_info < (3, 12):  # immortal objects (3.12+) make the counts meaningless
        assert after[0] >= before[0] - 5, "this PySide6 release corrupts reference counts; see pyproject.toml"
        assert after[1] >= before[1] - 5


def _record(worker: Worker) -> list[str]:
    events: list[str] = []
    worker.started.connect(lambda: events.append("started"))
    worker.returned.connect(lambda v: events.append(f"returned:{v}"))
    worker.errored.connect(lambda e, tb: events.append(f"errored:{type(e).__name__}"))
    worker.aborted.connect(lambda: events.append("aborted"))
    worker.yielded.connect(lambda v: events.append(f"yielded:{v}"))
    worker.progress.connect(lambda f, m: events.append(f"progress:{f:.1f}"))
    worker.finished.connect(lambda: events.append("finished"))
    return events


def test_worker_returns_on_its_own_thread_and_signals_in_the_gui_thread(qtbot):
    runner = JobRunner()
    gui_thread = threading.get_ident()
    seen = {}

    def job(progress=None):
        seen["thread"] = threading.get_ident()
        progress(0.5, "half")
        return 42

    worker = Worker(job, inject=("progress",))
    events = _record(worker)
    slot_threads = []
    worker.returned.connect(lambda _: slot_threads.append(threading.get_ident()))
    with qtbot.waitSignal(runner.idle, timeout=5000):
        runner.start(worker, "answer")
    assert seen["thread"] != gui_thread
    assert slot_threads == [gui_thread]  # lambdas too run in the GUI thread
    assert events == ["started", "progress:0.5", "returned:42", "finished"]
    assert not runner.running()


def test_worker_error_is_reported_with_traceback(qtbot):
    runner = JobRunner()

    def broken():
        raise ValueError("boom")

    worker = Worker(broken)
    events = _record(worker)
    details = []
    worker.errored.connect(lambda exc, tb: details.append(tb))
    with qtbot.waitSignal(runner.idle, timeout=5000):
        runner.start(worker)
    assert events == ["started", "errored:ValueError", "finished"]
    assert "boom" in details[0] and "broken" in details[0]


def test_cancelled_function_and_generator_abort(qtbot):
    from ssl_core.eval.progress import Cancelled

    runner = JobRunner()
    started = threading.Event()

    def slow(cancel=None):
        started.set()
        while not cancel.is_set():
            time.sleep(0.005)
        raise Cancelled("stop")

    worker = Worker(slow, inject=("cancel",))
    events = _record(worker)
    runner.start(worker, "slow")
    assert started.wait(5)
    with qtbot.waitSignal(runner.idle, timeout=5000):
        runner.cancel("slow")
    assert events[-2:] == ["aborted", "finished"]

    def counter():
        i = 0
        while True:
            yield i
            i += 1
            time.sleep(0.002)

    gen_worker = Worker(counter)
    gen_events = _record(gen_worker)
    runner.start(gen_worker)
    qtbot.waitUntil(lambda: len(gen_events) >= 5, timeout=5000)
    with qtbot.waitSignal(runner.idle, timeout=5000):
        gen_worker.quit()
    assert gen_events[0] == "started" and gen_events[1] == "yielded:0"
    assert gen_events[-2:] == ["aborted", "finished"]


def test_generator_pause_and_resume(qtbot):
    runner = JobRunner()

    def ticks():
        for i in range(1000):
            yield i
            time.sleep(0.002)

    worker = Worker(ticks)
    values = []
    worker.yielded.connect(values.append)
    with qtbot.waitSignal(worker.started):
        runner.start(worker)
    qtbot.waitUntil(lambda: len(values) > 3)
    with qtbot.waitSignal(worker.paused, timeout=2000):
        worker.pause()
    count = len(values)
    qtbot.wait(150)
    assert len(values) == count
    with qtbot.waitSignal(worker.resumed, timeout=2000):
        worker.resume()
    qtbot.waitUntil(lambda: len(values) > count + 3)
    with qtbot.waitSignal(runner.idle, timeout=5000):
        worker.quit()


@pytest.mark.parametrize("interval_ms", [40])
def test_coalescer_batches_a_flood_in_order(qtbot, interval_ms):
    coalescer = Coalescer(interval_ms)
    batches: list[list[int]] = []
    coalescer.flushed.connect(batches.append)
    n = 20_000

    def flood():
        for i in range(n):
            coalescer.push(i)
            if i % 2000 == 0:
                time.sleep(0.02)  # a producer that keeps going for a while

    started = time.perf_counter()
    thread = threading.Thread(target=flood)
    thread.start()
    qtbot.waitUntil(lambda: sum(map(len, batches)) == n, timeout=10_000)
    elapsed = time.perf_counter() - started
    thread.join()
    assert [x for batch in batches for x in batch] == list(range(n))  # nothing lost, order kept
    assert len(batches) <= elapsed * 1000 / interval_ms + 2  # never more often than the interval
    assert len(batches) < n / 100


def test_runner_wait_all_after_cancel(qtbot):
    runner = JobRunner()

    def wait_for_cancel(cancel=None):
        cancel.wait(10)

    for _ in range(3):
        runner.start(Worker(wait_for_cancel, inject=("cancel",)), "waiting")
    assert runner.running("waiting") and len(runner.workers("waiting")) == 3
    runner.cancel()
    assert runner.wait_all(5000)
    qtbot.waitUntil(lambda: not runner.running(), timeout=5000)


def test_coalescer_push_after_its_qt_object_is_deleted_is_dropped_quietly(qtbot):
    from shiboken6 import Shiboken

    coalescer = Coalescer(40)
    Shiboken.delete(coalescer)  # its window closed; the training thread has not noticed yet
    errors: list[BaseException] = []

    def producer():  # the training thread, still publishing after its window closed
        try:
            for i in range(100):
                coalescer.push(i)
        except BaseException as exc:  # noqa: BLE001 - the test records whatever escapes
            errors.append(exc)

    thread = threading.Thread(target=producer)
    thread.start()
    thread.join(5)
    assert errors == []
