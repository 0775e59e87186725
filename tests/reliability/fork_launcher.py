"""A small fork server for the SIGKILL trials: imports the engine once, then forks one child per command.

Each child runs `ssl_core.cli.main.main(argv)` - the real `ssl-core` entry point - in its own process,
so a trial pays Python and torch start-up once instead of once per kill. The test talks to this
process over stdin/stdout, one JSON object per line:

    {"op": "start", "argv": [...], "log": "/path/to/child.log"}  ->  {"pid": 123}
    {"op": "wait", "pid": 123}                                    ->  {"exit": 0} or {"signal": 9}
    end of input                                                  ->  the launcher exits

The test sends SIGKILL to the child's pid itself; the launcher only forks and reaps.
"""

from __future__ import annotations

import json
import os
import sys
import traceback


def _preload() -> None:
    # Everything a child needs, imported before forking (fork keeps it). No torch op runs here, so no
    # thread pool exists yet and forking is safe.
    import torch._dynamo  # noqa: F401  (torch.optim imports it when the first optimizer is built: ~0.8 s)

    import ssl_core.cli.main  # noqa: F401
    import ssl_core.data.digits as digits
    import ssl_core.runs.store  # noqa: F401
    import ssl_core.train.trainer  # noqa: F401

    try:
        import ssl_core.eval.cli  # noqa: F401
        import ssl_core.eval.embed  # noqa: F401
        import ssl_core.eval.evaluate  # noqa: F401
    except ImportError:
        pass
    digits._digits_arrays()  # read scikit-learn's digits once


def _child(argv: list[str], log_path: str) -> None:
    fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    code = 1
    try:
        from ssl_core.cli.main import main

        code = main(argv)
    except SystemExit as exc:
        code = 0 if exc.code is None else exc.code if isinstance(exc.code, int) else 1
    except BaseException:
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def _status(pid: int) -> dict:
    _, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status):
        return {"signal": os.WTERMSIG(status)}
    return {"exit": os.WEXITSTATUS(status)}


def serve() -> None:
    _preload()
    out = sys.stdout
    out.write(json.dumps({"ready": os.getpid()}) + "\n")
    out.flush()
    for line in sys.stdin:
        request = json.loads(line)
        if request["op"] == "start":
            pid = os.fork()
            if pid == 0:
                _child(list(request["argv"]), request["log"])
            reply = {"pid": pid}
        elif request["op"] == "wait":
            reply = _status(int(request["pid"]))
        else:
            reply = {"error": f"unknown op {request['op']!r}"}
        out.write(json.dumps(reply) + "\n")
        out.flush()


if __name__ == "__main__":
    serve()
