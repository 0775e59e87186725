"""`ssl-core train --devices N`: the same command again in N processes under torchrun, for people who do not
know torchrun.

The launcher runs PyTorch's own elastic agent (`torch.distributed.run`, what the `torchrun` command runs)
in this process, with a standalone rendezvous on this machine. The agent starts the training processes in
sessions of their own, so a Ctrl+C in the terminal reaches the launcher only: the launcher asks the run to stop through its control folder
(ssl_core.train.file_control: rank 0 finishes the step, saves a checkpoint and every process ends), and a
second Ctrl+C terminates the processes. SIGTERM to the launcher does the same as Ctrl+C. The processes' own output (rank 0's progress and run folder, an
error line) goes straight to the terminal; when one fails, the agent's failure report is replaced by its
exit code, so a user error is still one line and exit code 2.

`python -m ssl_core.distributed.launch TORCHRUN-ARGS...` runs the agent alone (torchrun with the quiet
failure report).
"""

from __future__ import annotations

import os
import signal
import sys
import tempfile
from pathlib import Path

import torch

from ssl_core.errors import UserError
from ssl_core.train.file_control import read_run_dir, write_command

AGENT_SIGNALS = "SIGHUP,SIGQUIT"  # the agent's own handlers; SIGINT and SIGTERM are the launcher's


def under_torchrun() -> bool:
    """Whether this process is one of a torchrun job (then it trains; it does not launch)."""
    return "WORLD_SIZE" in os.environ and "RANK" in os.environ


def check_processes(processes: int, device: str) -> None:
    """Refuse a process count this machine cannot give: more processes than GPUs when training on CUDA."""
    if processes < 1:
        raise UserError(f"--devices {processes}: use 1 or more.", field="train.processes")
    wants_cuda = device.startswith("cuda") or (device == "auto" and torch.cuda.is_available())
    if wants_cuda and torch.cuda.device_count() < processes:
        raise UserError(
            f"{processes} processes need {processes} GPUs, but this machine has "
            f"{torch.cuda.device_count()}; use --devices {max(1, torch.cuda.device_count())} or train.device "
            "= cpu.",
            field="train.processes",
        )


def _threads_per_process(processes: int) -> str:
    from ssl_core.train.perf import physical_cores

    return str(max(1, physical_cores() // processes))


def launch(command: list[str], processes: int, control_dir: str | None, cpu: bool) -> int:
    """Run `ssl-core COMMAND` in `processes` processes under torchrun and wait; returns the exit code.

    `control_dir`: the run's control folder (made when None); `--control` is added to the command."""
    control = Path(control_dir) if control_dir else Path(tempfile.mkdtemp(prefix="ssl-core-control-"))
    control.mkdir(parents=True, exist_ok=True)
    write_command(control, "run")
    if "--control" not in command:
        command = [*command, "--control", str(control)]
    # torchrun would set 1 thread per process; on the CPU the processes share the cores instead
    if cpu and "OMP_NUM_THREADS" not in os.environ:
        os.environ["OMP_NUM_THREADS"] = _threads_per_process(processes)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    # DDP's C++ note that find_unused_parameters found none (ranks.py keeps it on for GANs' parts) is noise
    os.environ.setdefault("TORCH_CPP_LOG_LEVEL", "ERROR")
    # The agent (in this process) leaves SIGINT and SIGTERM to the handler below; its processes run in
    # sessions of their own, so a Ctrl+C in the terminal reaches this process only.
    interrupts = 0

    def on_signal(signum, frame):
        nonlocal interrupts
        interrupts += 1
        if interrupts == 1:
            print("\nStopping after this step (press Ctrl+C again to abort)...", file=sys.stderr, flush=True)
            write_command(control, "stop")
        else:  # the agent ends its processes (SIGTERM, then SIGKILL) and returns
            from torch.distributed.elastic.multiprocessing.api import _terminate_process_handler

            _terminate_process_handler(signum, frame)

    # SIGTERM (a scheduler, a GUI, `kill`) means the same: stop with a checkpoint, then end for good
    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        code = agent_main(
            ["--standalone", "--nproc-per-node", str(processes), "--signals-to-handle", AGENT_SIGNALS]
            + ["-m", "ssl_core", *command]
        )
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if interrupts > 1:
        run_dir = read_run_dir(control)
        where = f"; continue with: ssl-core resume {run_dir}" if run_dir else ""
        print(f"error: aborted; the run keeps its last checkpoint{where}", file=sys.stderr)
    elif code > 128:  # a process was killed; the ones still alive were ended by the agent
        print(_killed_message(code - 128, read_run_dir(control)), file=sys.stderr)
    return code


def _killed_message(signum: int, run_dir: Path | None) -> str:
    try:
        name = signal.Signals(signum).name
    except ValueError:
        name = f"signal {signum}"
    if run_dir is None:
        return f"error: a training process was killed ({name}) before the run's folder was made; start again."
    return (
        f"error: a training process was killed ({name}), so the others were stopped; the run keeps its last "
        f"checkpoint: continue with: ssl-core resume {run_dir}"
    )


def agent_main(argv: list[str]) -> int:
    """torchrun with ARGS; a failed process ends it with that process's exit code, without a traceback
    (the process printed its own error)."""
    import logging

    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.run import parse_args, run

    # the agent's own log (workers started, a worker failed, the others sent SIGTERM) is for torchrun's
    # users; here the launcher says what happened in one line
    logging.getLogger("torch.distributed.elastic").setLevel(logging.CRITICAL)
    from torch.distributed.elastic.multiprocessing.api import SignalException

    try:
        run(parse_args(argv))
    except SignalException as exc:  # a second Ctrl+C: the agent has ended its processes
        return 128 + int(exc.sigval)
    except ChildFailedError as exc:
        _, failure = exc.get_first_failure()
        code = failure.exitcode
        return code if 0 < code < 128 else 128 + abs(code) if code < 0 else 1  # -N: killed by signal N
    return 0


if __name__ == "__main__":  # pragma: no cover - run by `launch` in a child process
    sys.exit(agent_main(sys.argv[1:]))
