"""Distributed data-parallel scaling: SimCLR and MoCo images/s with 1 and 2 processes (`ssl-core train --devices`).

Each measurement is a real `ssl-core train` in a child process (`--devices K` for K > 1, which re-launches
itself under torchrun), on synthetic 32x32 RGB images held in an .npz file, with the same GLOBAL batch
whatever the process count (each process trains on 1/K of it). Throughput is read from the run's
metrics.jsonl (rank 0 writes one line per step with a timestamp): global images per second between the
first flushed step after the warm-up and the last one, so the start-up (imports, torchrun's rendezvous,
building the data and the networks, the first steps) is left out; it is shown on its own column. On the
CPU every process gets the same number of threads (`--threads`, default 1: OMP_NUM_THREADS in the child),
so 2 processes use twice the cores of 1; the scaling efficiency is the throughput ratio divided by the
process count (1.00 = perfect). Counts of 1 and K alternate, R repeats, best of each (other work on a
shared machine only ever slows a run down).

On a machine with 2 or more CUDA GPUs a second table measures 1 GPU against all of them (ResNet-18 at
32 px); elsewhere it says that the GPU row was not measured. lightly's published DDP speed-ups are shown
for reference, labelled as published, not measured here.

    python bench/bench_distributed.py --threads 1        # CPU: 1 vs 2 processes of 1 thread each
    python bench/bench_distributed.py --processes 1 2 4   # on a CPU with 4 free cores
    python bench/bench_distributed.py --quick            # smoke test (one tiny run per row)
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from _common import (
    ROOT,
    Target,
    add_common_args,
    command_line,
    machine_description,
    now,
    plural,
    publish,
    rate_text,
    ratio,
    table,
)

SECTION_ID = "bench_distributed"
METHODS = ("simclr", "moco")
CPU_BACKBONE = "small_cnn"
GPU_BACKBONE = "resnet18"
TARGET_RATIO = 1.5  # 2 CPU processes of 1 thread each against 1: at least 75% scaling efficiency
CHILD_TIMEOUT_S = 900

# Published, not measured here: lightly's "Distributed Training Benchmarks" (docs.lightly.ai, Distributed
# Training), CIFAR-10, global batch 512 divided across the GPUs, 100 epochs, PyTorch Lightning DDP with
# features gathered from every GPU before the loss; speed-up = whole-run time on 1 GPU / on 4 GPUs.
PUBLISHED = (
    ("SimCLR", 4, 2.75, 2.70),  # (method, GPUs, speed-up, speed-up with synchronised BatchNorm)
    ("MoCo", 4, 3.69, 3.13),
)
PUBLISHED_SOURCE = (
    "https://docs.lightly.ai/getting_started/distributed_training.html "
    "(lightly-ai/lightly, docs/source/getting_started/distributed_training.rst)"
)


@dataclass
class Settings:
    methods: tuple[str, ...]
    processes: tuple[int, ...]  # CPU process counts; the first is the reference (normally 1)
    threads: int  # torch threads per process on the CPU
    images: int  # synthetic images in the data set (enough that the timed steps stay in the first epoch)
    image_size: int
    batch_size: int  # GLOBAL batch
    warmup: int
    steps: int
    repeats: int
    seed: int
    gpu: bool  # measure the GPU table (needs >= 2 CUDA GPUs)
    gpu_batch_size: int
    gpu_warmup: int = 20  # GPU steps are short and their losses are read back in groups: time more of them
    gpu_steps: int = 100
    quick: bool = False
    command: str = ""


@dataclass
class Measurement:
    images_per_sec: float
    startup_s: float  # child start to the first step's metrics line
    steps_timed: int


@dataclass
class Case:
    method: str
    backbone: str
    device: str  # "cpu" or "cuda"
    processes: int
    batch_size: int
    best: Measurement | None = None
    runs: list[Measurement] = field(default_factory=list)

    def keep(self, m: Measurement) -> None:
        self.runs.append(m)
        if self.best is None or m.images_per_sec > self.best.images_per_sec:
            self.best = m


# ---- one measurement -------------------------------------------------------------------------------------
def schedule(case: Case, s: Settings) -> tuple[int, int]:
    """(warm-up steps, timed steps) of a case."""
    return (s.gpu_warmup, s.gpu_steps) if case.device == "cuda" else (s.warmup, s.steps)


def write_images(folder: Path, count: int, size: int, seed: int) -> str:
    """Random uint8 RGB images as an npz: the data spec the children train on."""
    rng = np.random.default_rng(seed)
    path = folder / f"synthetic-{count}x{size}.npz"
    if not path.exists():
        np.savez(path, images=rng.integers(0, 256, (count, size, size, 3), dtype=np.uint8))
    return f"npz:{path}"


def train_command(spec: str, case: Case, s: Settings, runs_dir: Path) -> list[str]:
    cmd = [
        sys.executable, "-m", "ssl_core", "train",
        "--data", spec, "--method", case.method, "--backbone", case.backbone,
        "--batch-size", str(case.batch_size), "--epochs", "1", "--max-steps", str(sum(schedule(case, s))),
        "--device", case.device, "--seed", str(s.seed), "--runs-dir", str(runs_dir), "--quiet",
        "--set", "data.val_fraction=0",
    ]  # fmt: skip
    if case.processes > 1:
        cmd += ["--devices", str(case.processes)]
    return cmd


def child_env(device: str, threads: int) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    if device == "cpu":
        # The same threads in every process, so K processes use K times the cores of one; and no GPU.
        env.update(OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads), CUDA_VISIBLE_DEVICES="")
    return env


def throughput(records: Sequence[dict], warmup: int, batch_size: int) -> tuple[float, int]:
    """(global images/s, steps timed) from metrics.jsonl records after `warmup` steps.

    The records of one flush share a timestamp (on a GPU the trainer reads losses back a few times a
    second; on the CPU every step is its own flush). Timing runs from the last record of the first flush
    that ends at or after the warm-up to the last record: at each flush every step up to it had finished.
    """
    records = sorted(records, key=lambda r: int(r["step"]))
    if not records:
        raise ValueError("the run wrote no metrics")
    first_step = int(records[0]["step"])
    start = None
    for i, r in enumerate(records):
        if int(r["step"]) - first_step + 1 < warmup:
            continue
        if i + 1 < len(records) and records[i + 1]["time"] == r["time"]:
            continue  # not the last record of its flush
        start = r
        break
    end = records[-1]
    if start is None or start is end or float(end["time"]) <= float(start["time"]):
        raise ValueError(
            f"too few timed steps after {plural(warmup, 'warm-up step')} ({len(records)} steps in all); "
            "raise --steps"
        )
    steps = int(end["step"]) - int(start["step"])
    return steps * batch_size / (float(end["time"]) - float(start["time"])), steps


def measure(spec: str, case: Case, s: Settings, tmp: Path) -> Measurement:
    from ssl_core.runs.metrics import read_metrics

    runs_dir = Path(tempfile.mkdtemp(prefix=f"{case.method}-{case.device}-{case.processes}-", dir=tmp))
    started = time.time()
    done = subprocess.run(
        train_command(spec, case, s, runs_dir),
        cwd=ROOT,
        env=child_env(case.device, s.threads),
        capture_output=True,
        text=True,
        timeout=CHILD_TIMEOUT_S,
    )
    folders = sorted(p.parent for p in runs_dir.glob("*/metrics.jsonl"))
    if done.returncode != 0 or len(folders) != 1:
        tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-25:])
        raise RuntimeError(
            f"{case.method} with {plural(case.processes, 'process')} on {case.device} failed "
            f"(exit code {done.returncode}, {len(folders)} run folders):\n{tail}"
        )
    records = read_metrics(folders[0])
    ips, steps = throughput(records, schedule(case, s)[0], case.batch_size)
    first = min(records, key=lambda r: int(r["step"]))
    return Measurement(ips, float(first["time"]) - started, steps)


def measure_all(spec: str, cases: list[Case], s: Settings, tmp: Path, log: Callable[[str], None]) -> None:
    """Round robin over the cases (1 and K processes alternate), `s.repeats` times; best of each."""
    for repeat in range(s.repeats):
        for case in cases:
            m = measure(spec, case, s, tmp)
            case.keep(m)
            log(
                f"[{repeat + 1}/{s.repeats}] {case.method} {case.device} x{case.processes}: "
                f"{m.images_per_sec:,.1f} images/s over {plural(m.steps_timed, 'step')}, "
                f"first step after {m.startup_s:.1f} s"
            )


# ---- the tables ------------------------------------------------------------------------------------------
def scaling_rows(cases: list[Case], threads: int | None) -> list[list[object]]:
    rows = []
    reference = {c.method: c for c in cases if c.processes == min(x.processes for x in cases)}
    for c in cases:
        ref = reference[c.method]
        ips, ref_ips = c.best.images_per_sec, ref.best.images_per_sec
        speedup = ips / ref_ips * ref.processes
        per_worker = f"{threads} thread{'s' if threads != 1 else ''}" if threads is not None else "1 GPU"
        rows.append(
            [
                c.method,
                c.backbone,
                c.batch_size,
                c.processes,
                per_worker,
                rate_text(ips),
                ratio(ips, ref_ips),
                f"**{speedup / c.processes:.2f}**" if c.processes != ref.processes else "1.00",
                f"{c.best.startup_s:.1f}",
            ]
        )
    return rows


HEADER = [
    "method",
    "backbone",
    "global batch",
    "processes",
    "each process",
    "images/s",
    "vs 1 process",
    "scaling efficiency",
    "start to first step, s",
]


def published_rows() -> list[list[object]]:
    return [
        [name, gpus, f"{speedup:.2f}x", f"{speedup / gpus:.2f}", f"{sync:.2f}x"]
        for name, gpus, speedup, sync in PUBLISHED
    ]


def render(s: Settings, cpu: list[Case], gpu: list[Case] | None, gpu_note: str, gpu_name: str | None) -> str:
    counts = " and ".join(str(k) for k in s.processes)
    lines = [
        f"## Distributed training: SimCLR and MoCo with {counts} processes",
        "",
        f"`{s.command}` on {now()}. Each row is a real `ssl-core train` (`--devices K` for K > 1, which starts "
        f"K processes under torchrun; gloo on the CPU) on {s.images:,} synthetic {s.image_size}x{s.image_size} "
        f"RGB images (npz, seeded), {s.warmup + s.steps} steps in one epoch. The global batch is the same "
        "for every process count (each process trains on its share of it), so a step does the same work "
        "and only its wall time changes. images/s counts the global batch's source images (each gives two "
        f"views) over the last {plural(s.steps, 'step')} after {plural(s.warmup, 'warm-up step')}, from "
        "the run's metrics.jsonl, so the start-up (shown apart: child start to the first step, torchrun's "
        f"rendezvous included) is left out. On the CPU each process has {plural(s.threads, 'torch thread')} "
        "(OMP_NUM_THREADS), so K processes use K times the cores of one; scaling efficiency = "
        f"(images/s ÷ the 1-process images/s) ÷ K. Best of {plural(s.repeats, 'run')}, the process counts "
        "alternating.",
        "",
        machine_description(),
        "",
        table(HEADER, scaling_rows(cpu, s.threads), "llrrlrrrr"),
        "",
        "### GPUs",
        "",
    ]
    if gpu:
        lines += [
            f"{gpu_name}: 1 GPU against all of them, {GPU_BACKBONE} at {s.image_size} px, the engine's "
            f"defaults (NCCL), the same measurement as above over {plural(s.gpu_steps, 'step')} after "
            f"{plural(s.gpu_warmup, 'warm-up step')}.",
            "",
            table(HEADER, scaling_rows(gpu, None), "llrrlrrrr"),
        ]
    else:
        lines.append(gpu_note)
    lines += [
        "",
        "### Published reference (lightly; not measured here)",
        "",
        "lightly's DDP benchmark: CIFAR-10, global batch 512 divided across the GPUs, 100 epochs, PyTorch "
        "Lightning DDP with features gathered from every GPU before the loss; speed-up = whole-run time on "
        "1 GPU ÷ on 4 (between-epoch work included, so a step alone may scale better). Source: "
        f"{PUBLISHED_SOURCE}",
        "",
        table(
            ["method (published)", "GPUs", "speed-up", "scaling efficiency", "speed-up with SyncBatchNorm"],
            published_rows(),
            "lrrrr",
        ),
    ]
    return "\n".join(lines)


def targets(cpu: list[Case], gpu: list[Case] | None) -> list[Target]:
    found = []
    ones = {c.method: c for c in cpu if c.processes == 1}
    for c in cpu:
        if c.processes != 2 or c.method not in ones:
            continue
        speedup = c.best.images_per_sec / ones[c.method].best.images_per_sec
        found.append(
            Target(
                "distributed training",
                f"{c.method} {c.backbone}, CPU: 2 processes >= {TARGET_RATIO:g}x 1 process (same global batch)",
                f"{speedup:.2f}x, efficiency {speedup / 2:.2f} ({rate_text(c.best.images_per_sec)} vs "
                f"{rate_text(ones[c.method].best.images_per_sec)} images/s)",
                speedup >= TARGET_RATIO,
            )
        )
    if gpu:
        one = {c.method: c for c in gpu if c.processes == 1}
        for c in gpu:
            if c.processes > 1 and c.method in one:
                speedup = c.best.images_per_sec / one[c.method].best.images_per_sec
                found.append(
                    Target(
                        "distributed training",
                        f"{c.method} {c.backbone}: {c.processes} GPUs vs 1 (lightly published, 4 GPUs: "
                        "SimCLR 2.75x, MoCo 3.69x)",
                        f"{speedup:.2f}x, efficiency {speedup / c.processes:.2f}",
                        None,
                    )
                )
    else:
        found.append(
            Target("distributed training", "images/s with 1 and all GPUs", "not measured (no 2 GPUs)", None)
        )
    return found


# ---- main ------------------------------------------------------------------------------------------------
def gpu_count() -> tuple[int, str | None]:
    import torch

    if not torch.cuda.is_available():
        return 0, None
    n = torch.cuda.device_count()
    return n, f"{n} x {torch.cuda.get_device_name(0)}" if n else None


def run(s: Settings, log: Callable[[str], None]) -> tuple[str, list[Target]]:
    n_gpus, gpu_name = gpu_count() if s.gpu else (0, None)
    cpu = [Case(method, CPU_BACKBONE, "cpu", k, s.batch_size) for method in s.methods for k in s.processes]
    gpu = None
    gpu_note = "no GPU on this machine: GPU scaling row not measured."
    if not s.gpu:
        gpu_note = "GPU scaling row not measured (--no-gpu)."
    elif n_gpus == 1:
        gpu_note = "one GPU on this machine: GPU scaling row not measured (it needs 2 or more)."
    elif n_gpus >= 2:
        gpu = [
            Case(method, GPU_BACKBONE, "cuda", k, s.gpu_batch_size)
            for method in s.methods
            for k in dict.fromkeys((1, n_gpus))
        ]
    with tempfile.TemporaryDirectory(prefix="bench-distributed-") as tmp:
        spec = write_images(Path(tmp), s.images, s.image_size, s.seed)
        measure_all(spec, cpu, s, Path(tmp), log)
        if gpu:
            gpu_images = s.gpu_batch_size * (s.gpu_warmup + s.gpu_steps + 1)
            gpu_spec = write_images(Path(tmp), gpu_images, s.image_size, s.seed)
            measure_all(gpu_spec, gpu, s, Path(tmp), log)
    if not gpu:
        log(gpu_note)
    return render(s, cpu, gpu, gpu_note, gpu_name), targets(cpu, gpu)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--methods", nargs="+", default=list(METHODS), help="methods to time (default simclr moco)"
    )
    p.add_argument(
        "--processes", type=int, nargs="+", default=[1, 2],
        help="CPU process counts, the first the reference (default 1 2)",
    )  # fmt: skip
    p.add_argument("--batch-size", type=int, default=128, help="global batch on the CPU (default 128)")
    p.add_argument("--gpu-batch-size", type=int, default=512, help="global batch on GPUs (default 512)")
    p.add_argument("--image-size", type=int, default=32, help="synthetic image side in pixels (default 32)")
    p.add_argument("--steps", type=int, default=20, help="timed steps per run (default 20)")
    p.add_argument("--warmup", type=int, default=5, help="untimed steps first (default 5)")
    p.add_argument("--repeats", type=int, default=3, help="best of this many runs per row (default 3)")
    p.add_argument("--gpu-steps", type=int, default=100, help="timed steps per GPU run (default 100)")
    p.add_argument("--gpu-warmup", type=int, default=20, help="untimed GPU steps first (default 20)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-gpu", action="store_true", help="skip the GPU table even where there are GPUs")
    add_common_args(p)
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if min(args.warmup, args.gpu_warmup, args.repeats) < 1 or min(args.steps, args.gpu_steps) < 2:
        raise SystemExit("--warmup, --gpu-warmup and --repeats must be at least 1, --steps and --gpu-steps 2")
    processes = tuple(dict.fromkeys(args.processes))
    if any(k < 1 for k in processes) or len(processes) < 2:
        raise SystemExit("--processes needs two or more different counts of at least 1, e.g. 1 2")
    quick = args.quick
    batch = 8 * max(processes) if quick else args.batch_size
    if batch < 2 * max(processes):
        raise SystemExit(
            f"--batch-size must be at least 2 x the largest process count ({2 * max(processes)})"
        )
    warmup, steps = (1, 2) if quick else (args.warmup, args.steps)
    s = Settings(
        methods=tuple(dict.fromkeys(args.methods)),
        processes=processes,
        threads=args.threads if args.threads is not None else 1,
        images=batch * (warmup + steps + 1),  # the timed steps stay inside the first epoch
        image_size=16 if quick else args.image_size,
        batch_size=batch,
        warmup=warmup,
        steps=steps,
        repeats=1 if quick else args.repeats,
        seed=args.seed,
        gpu=not args.no_gpu,
        gpu_batch_size=args.gpu_batch_size,
        gpu_warmup=2 if quick else args.gpu_warmup,
        gpu_steps=4 if quick else args.gpu_steps,
        quick=quick,
    )
    s.command = command_line("bench_distributed.py", argv)
    import torch

    torch.set_num_threads(s.threads)  # this process only launches; its description shows the children's
    body, found = run(s, lambda message: print(message, flush=True))
    publish(args, SECTION_ID, body, found)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
