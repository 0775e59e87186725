# temporary debugging aid (deleted after use)
import threading, traceback
import pytest
from PySide6.QtCore import qInstallMessageHandler
from tests.reliability.test_gui_faults import *  # noqa
from tests.reliability import test_gui_faults as T


@pytest.fixture(autouse=True)
def _trace_timer_warnings():
    def handler(mode, ctx, msg):
        if "Timers cannot" in msg:
            with open("/tmp/dbgtest/timer.txt", "a") as fh:
                fh.write(f"--- {threading.current_thread().name}: {msg}\n")
                fh.write("".join(traceback.format_stack()))

    prev = qInstallMessageHandler(handler)
    yield
    qInstallMessageHandler(prev)
