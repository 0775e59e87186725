"""Peak resident memory of `ssl-core train` on a 60,000-image 28x28 data set (an MNIST-sized npz).

Each row runs `python -m ssl_core train ...` in a child process for a few hundred steps and reads the
child's peak resident set size from the kernel (`os.wait4` -> ru_maxrss, which covers the child and
any worker processes it waited for). The first row is the floor: a process that only imports torch
and the engine. Target: at most 2 GB.

    python bench/bench_memory.py                 # full run, writes bench/RESULTS.md
    python bench/bench_memory.py --steps 100
    python bench/bench_memory.py --quick         # one tiny iteration (smoke test)
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from _common import ROOT, Target, add_common_args, command_line, machine_description, now, publish, table

SECTION_ID = "bench_memory"
LIMIT_MB = 2048


@dataclass
class Measured:
    label: str
    peak_mb: float
    seconds: float
    steps: int


def peak_rss(cmd: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(peak resident MB, seconds) of `cmd`, a `_wrapped` command that prints its child's peak."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = proc.communicate()
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}): {err.decode()[-2000:]}")
    last = out.decode().strip().splitlines()[-1]
    return float(last.removeprefix("peak_kb=")) / 1024, seconds


def _wrapped(args: list[str]) -> list[str]:
    """`python -c ...` that runs `args`, waits for it with wait4 and prints its peak RSS in kB."""
    code = (
        "import os, subprocess, sys\n"
        "p = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL)\n"
        "_, status, usage = os.wait4(p.pid, 0)\n"
        "code = os.waitstatus_to_exitcode(status)\n"
        "print(f'peak_kb={usage.ru_maxrss}') if code == 0 else sys.exit(code)\n"
    )
    return [sys.executable, "-c", code, *args]


def write_data(path: Path, n: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
    np.savez(path, images=images, labels=rng.integers(0, 10, n))


def run(args: argparse.Namespace, log) -> tuple[str, list[Target]]:
    n = 2_000 if args.quick else 60_000
    runs: list[tuple[str, int]] = (
        [("simclr", 2)]
        if args.quick
        else [("simclr", args.steps), ("byol", args.steps // 3), ("mae", args.steps // 3)]
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    if args.threads is not None:
        env["OMP_NUM_THREADS"] = str(args.threads)
    rows: list[Measured] = []
    with tempfile.TemporaryDirectory(prefix="bench-memory-") as tmp:
        data = Path(tmp) / "mnist_like.npz"
        write_data(data, n, args.seed)
        if not args.quick:
            floor_mb, floor_s = peak_rss(
                _wrapped([sys.executable, "-c", "import torch, ssl_core.train.trainer, ssl_core.cli.main"]),
                env,
            )
            rows.append(Measured("python + torch + engine imported, nothing else", floor_mb, floor_s, 0))
        for method, steps in runs:
            cmd = [
                sys.executable, "-m", "ssl_core", "train", "--data", f"npz:{data}", "--method", method,
                "--max-steps", str(steps), "--batch-size", str(args.batch_size), "--device", "cpu",
                "--runs-dir", str(Path(tmp) / "runs"), "--quiet",
            ]  # fmt: skip
            mb, seconds = peak_rss(_wrapped(cmd), env)
            log(f"{method}: {mb:,.0f} MB peak in {seconds:.0f} s")
            rows.append(Measured(f"`ssl-core train --method {method}`", mb, seconds, steps))

    worst = max(r.peak_mb for r in rows)
    table_rows = [
        [r.label, f"{r.steps}" if r.steps else "-", f"{r.peak_mb:,.0f}", f"{r.seconds:.0f}",
         f"{r.peak_mb / LIMIT_MB:.0%}"]
        for r in rows
    ]  # fmt: skip
    body = "\n".join(
        [
            "## Memory: peak resident memory of `ssl-core train` on 60,000 28x28 images",
            "",
            f"`{args.command}` on {now()}: a synthetic npz of {n:,} grayscale 28x28 uint8 images with "
            f"labels (MNIST's shape), batch {args.batch_size}, small CNN (MAE: its ViT), device cpu, 20% "
            "held out for validation. Peak RSS is the kernel's ru_maxrss of the child process "
            f"(its worker processes included). Limit: {LIMIT_MB:,} MB.",
            "",
            machine_description(),
            "",
            table(["process", "steps", "peak RSS MB", "wall s", "of the limit"], table_rows, "lrrrr"),
            "",
            "The images take 47 MB as uint8; most of the rest is the Python interpreter, torch and its "
            "oneDNN/OpenMP runtimes (first row), activations of one batch and the per-step float copies.",
        ]
    )
    targets = [
        Target(
            "memory",
            f"peak RSS <= {LIMIT_MB:,} MB training on 60,000 28x28 images",
            f"{worst:,.0f} MB (worst of {len(runs)} methods)",
            worst <= LIMIT_MB,
        )
    ]
    return body, targets


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--steps", type=int, default=300, help="SimCLR steps (BYOL and MAE run a third)")
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--seed", type=int, default=0)
    add_common_args(p)
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    args.command = command_line("bench_memory.py", argv)
    body, targets = run(args, lambda m: print(m, flush=True))
    publish(args, SECTION_ID, body, targets)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
