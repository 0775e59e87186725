"""The `xvfb-run` command line for tests that open a real X window."""

from __future__ import annotations

import os


def xvfb_run(*server_args: str) -> list[str]:
    """`xvfb-run -a` from a display number of this pytest-xdist worker's own: two `xvfb-run -a` started
    at the same moment both take the first free number, and the second X server fails to start."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw")
    first = 99 + 20 * (int(worker) if worker.isdigit() else 0)
    command = ["xvfb-run", "-a", "-n", str(first)]
    if server_args:
        command += ["-s", " ".join(server_args)]
    return command
