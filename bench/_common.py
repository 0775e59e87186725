"""What every benchmark script shares: the machine's description, tables, and writing bench/RESULTS.md.

Each benchmark owns one section of RESULTS.md, between `<!-- ID:start -->` and `<!-- ID:end -->`, and
replaces only that section. Several benchmarks may finish at the same time (run_all.py, or a person
running one by hand while another runs), so the read-modify-write of the file happens under an
exclusive lock (flock on bench/; see `locked`), and the new text is written atomically.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
DEFAULT_RESULTS = BENCH_DIR / "RESULTS.md"
TITLE = "# Benchmark results"

if str(ROOT) not in sys.path:  # run as `python bench/x.py` without installing the project
    sys.path.insert(0, str(ROOT))

from ssl_core.runs.atomic import atomic_write_text  # noqa: E402

# The environment variables that restrict torch's instruction set (ATen kernels, oneDNN).
ISA_VARIABLES = ("ATEN_CPU_CAPABILITY", "ONEDNN_MAX_CPU_ISA")


# ---- the machine ----------------------------------------------------------------------------------
def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def load_average() -> str:
    """'1.2, 0.9, 0.7' (1, 5 and 15 minutes), or 'unknown' where the OS does not say."""
    if not hasattr(os, "getloadavg"):
        return "unknown"
    return ", ".join(f"{v:.1f}" for v in os.getloadavg())


def memory_total_gb() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / 2**20
    except (OSError, ValueError, IndexError):
        pass
    return None


def cpu_features() -> str:
    """The vector extensions that decide CPU training speed (bf16 needs AMX or AVX512-BF16)."""
    import torch

    names = []
    for probe, label in (
        ("_is_amx_tile_supported", "AMX"),
        ("_is_avx512_bf16_supported", "AVX512-BF16"),
        ("_is_avx512_supported", "AVX512"),
        ("_is_avx2_supported", "AVX2"),
    ):
        fn = getattr(torch.cpu, probe, None)
        with contextlib.suppress(Exception):
            if fn is not None and fn():
                names.append(label)
    return ", ".join(names) or "none detected"


def machine_description(device=None, extra_versions: Sequence[str] = ()) -> str:
    """A bullet list: CPU, memory, device, library versions, OS and the load average right now."""
    import torch
    import torchvision

    memory = memory_total_gb()
    parts = [
        f"CPU: {cpu_model()}, {os.cpu_count()} logical cores, {cpu_features()} "
        f"(torch threads: {torch.get_num_threads()})"
        + (f"; {memory:.0f} GB RAM" if memory is not None else ""),
    ]
    if device is not None:
        label = f"device: {device}"
        if getattr(device, "type", "") == "cuda":
            label += f" ({torch.cuda.get_device_name(device)})"
        parts.append(label)
    versions = [f"torch {torch.__version__}", f"torchvision {torchvision.__version__}", *extra_versions]
    parts.append(", ".join([*versions, f"Python {platform.python_version()}"]))
    parts.append(f"OS: {platform.platform()}")
    # Other work on the machine skews CPU numbers; say how busy it was.
    parts.append(f"load average (1, 5, 15 min) at the end: {load_average()}")
    return "\n".join(f"- {p}" for p in parts)


def now() -> str:
    return dt.datetime.now().strftime("%Y-%m-%d %H:%M")


# ---- tables -----------------------------------------------------------------------------------------
def table(header: Sequence[str], rows: Sequence[Sequence[object]], align: str = "") -> str:
    """A Markdown table; `align` has one letter per column, 'l' or 'r' (default: first left, rest right)."""
    align = align or "l" + "r" * (len(header) - 1)
    rule = ["---:" if a == "r" else "---" for a in align]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(rule) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def plural(count: int, noun: str) -> str:
    """'1 step', '3 steps'."""
    return f"{count} {noun}{'' if count == 1 else 's'}"


def rate_text(value: float) -> str:
    """A rate for a table: thousands separated from 10 up ('12,345'), one decimal below ('3.2')."""
    return f"{value:,.0f}" if value >= 10 else f"{value:.1f}"


def ratio(value: float | None, reference: float | None, higher_is_better: bool = True) -> str:
    if value is None or reference is None or value <= 0 or reference <= 0:
        return "-"
    return f"{(value / reference if higher_is_better else reference / value):.2f}x"


# ---- RESULTS.md -------------------------------------------------------------------------------------
def section_markers(section_id: str) -> tuple[str, str]:
    return f"<!-- {section_id}:start -->", f"<!-- {section_id}:end -->"


@contextlib.contextmanager
def locked(path: Path, timeout_s: float = 120.0) -> Iterator[None]:
    """Hold an exclusive lock for writing `path` for the block's duration (other processes wait).

    POSIX: flock on the file's folder, so no lock file is left behind (the results file itself cannot
    be locked: each atomic write replaces it with a new inode). Windows: a `.NAME.lock` file beside it.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + timeout_s
    with _lock_handle(path) as handle:
        while True:
            try:
                _try_lock(handle)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{path} stayed locked for {timeout_s:.0f} s") from None
                time.sleep(0.05)
        try:
            yield
        finally:
            _unlock(handle)


if os.name == "nt":  # pragma: no cover - exercised on Windows only
    import msvcrt

    def _lock_handle(path: Path):
        return open(path.parent / f".{path.name}.lock", "a+b")  # noqa: SIM115 - a context manager

    def _try_lock(fh) -> None:
        fh.seek(0)
        msvcrt.locking(fh.fileno(), msvcrt.LK_NBLCK, 1)

    def _unlock(fh) -> None:
        fh.seek(0)
        msvcrt.locking(fh.fileno(), msvcrt.LK_UNLCK, 1)

else:
    import fcntl

    @contextlib.contextmanager
    def _lock_handle(path: Path) -> Iterator[int]:
        fd = os.open(path.parent, os.O_RDONLY)
        try:
            yield fd
        finally:
            os.close(fd)

    def _try_lock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)

    def _unlock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_UN)


def replace_section(text: str, section_id: str, body: str, at_top: bool = False) -> str:
    """`text` with section `section_id` set to `body` (markers added); other sections untouched."""
    start, end = section_markers(section_id)
    section = f"{start}\n{body.strip()}\n{end}"
    if start in text and end in text:
        head, _, rest = text.partition(start)
        _, _, tail = rest.partition(end)
        return head + section + tail
    if not text.strip():
        text = TITLE + "\n"
    if at_top:  # right after the title line
        first, _, rest = text.partition("\n")
        if not first.startswith("# "):
            first, rest = TITLE, text
        return f"{first}\n\n{section}\n\n{rest.lstrip()}".rstrip("\n") + "\n"
    return text.rstrip("\n") + "\n\n" + section + "\n"


def write_section(path: Path, section_id: str, body: str, at_top: bool = False) -> None:
    """Replace (or add) one section of the results file, under the lock, atomically."""
    path = Path(path)
    with locked(path):
        text = path.read_text(encoding="utf-8") if path.exists() else TITLE + "\n"
        atomic_write_text(path, replace_section(text, section_id, body, at_top))


# ---- summaries for run_all.py -------------------------------------------------------------------------
@dataclass
class Target:
    """One acceptance target: what was measured against what, and whether it was met."""

    benchmark: str
    target: str
    measured: str
    met: bool | None  # None: not measured here (e.g. the GPU row on a CPU machine)
    note: str = ""


# The columns of a "what bounds the model step" table after its label ones (bench_train_throughput.py's
# roofline rows; bench_train_isas.py puts two runs' rows side by side).
ROOFLINE_COLUMNS = [
    "GFLOP",
    "ms",
    "GFLOP/s",
    "matrix product GFLOP/s",
    "of it",
    "convolutions",
    "BatchNorm + ReLU",
]


def write_summary(path: Path | None, targets: Sequence[Target]) -> None:
    if path is not None:
        Path(path).write_text(json.dumps([asdict(t) for t in targets], indent=2), encoding="utf-8")


def read_summary(path: Path) -> list[Target]:
    try:
        return [Target(**item) for item in json.loads(Path(path).read_text(encoding="utf-8"))]
    except (OSError, ValueError, TypeError):
        return []


TARGETS_TAG = "<!-- targets: "


def targets_comment(targets: Sequence[Target]) -> str:
    """The targets as an HTML comment (invisible in rendered Markdown) kept inside the section, so the
    summary can always be rebuilt from the sections themselves, whichever benchmarks ran last."""
    return TARGETS_TAG + json.dumps([asdict(t) for t in targets]).replace("--", "- -") + " -->"


def sections_targets(text: str) -> list[tuple[str, list[Target]]]:
    """(section id, targets) of every section of a results file that carries a targets comment."""
    found, current = [], ""
    for line in text.splitlines():
        if line.startswith("<!-- ") and line.endswith(":start -->"):
            current = line[5 : -len(":start -->")]
        elif line.startswith(TARGETS_TAG) and line.endswith(" -->"):
            try:
                items = json.loads(line[len(TARGETS_TAG) : -4].replace("- -", "--"))
                found.append((current, [Target(**item) for item in items]))
            except (ValueError, TypeError):
                continue
    return found


# ---- command line -----------------------------------------------------------------------------------
def add_common_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--quick", action="store_true", help="one tiny iteration (smoke test); no results file"
    )
    parser.add_argument(
        "--results",
        type=Path,
        default=None,
        help=f"results file (default {DEFAULT_RESULTS}; none with --quick)",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="torch intra-op threads (default: torch's choice); on a busy machine 1 can be faster",
    )
    parser.add_argument("--summary-json", type=Path, default=None, help=argparse.SUPPRESS)


def apply_threads(args: argparse.Namespace) -> None:
    import torch

    if args.threads is not None:
        torch.set_num_threads(args.threads)


def results_path(args: argparse.Namespace) -> Path | None:
    if args.results is not None:
        return args.results
    return None if args.quick else DEFAULT_RESULTS


def command_line(script: str, argv: Sequence[str] | None) -> str:
    args = list(argv) if argv is not None else sys.argv[1:]
    args = [
        a for i, a in enumerate(args) if a != "--summary-json" and (i == 0 or args[i - 1] != "--summary-json")
    ]
    return " ".join([f"python bench/{script}", *args])


def publish(args: argparse.Namespace, section_id: str, body: str, targets: Sequence[Target] = ()) -> None:
    """Print the section, write it to the results file (unless --quick), and hand targets to run_all."""
    print(body.strip())
    path = results_path(args)
    if path is not None:
        write_section(path, section_id, body.strip() + ("\n" + targets_comment(targets) if targets else ""))
        print(f"\nwritten to {path}")
    write_summary(args.summary_json, targets)


def timed(fn: Callable[[], object]) -> tuple[float, object]:
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def sync(device) -> None:
    """Wait for queued GPU work, so a timer reads what the device did (a no-op on a CPU)."""
    if getattr(device, "type", "cpu") == "cuda":
        import torch

        torch.cuda.synchronize(device)


def items_per_second(fn: Callable[[], object], warmup: int, steps: int, batch_size: int, device) -> float:
    """Items per second of `fn` (one batch of `batch_size` a call) over `steps` calls after `warmup`."""
    for _ in range(warmup):
        fn()
    sync(device)
    start = time.perf_counter()
    for _ in range(steps):
        fn()
    sync(device)
    return steps * batch_size / (time.perf_counter() - start)


# ---- the instruction set in use -----------------------------------------------------------------------
def onednn_isa() -> str:
    """The instruction set oneDNN dispatches to in a process like this one (it honours ONEDNN_MAX_CPU_ISA),
    from oneDNN's verbose banner in a short child process. A bf16 convolution goes through oneDNN only where
    the ISA has bf16, so a float32 2-D convolution (mel_cnn's kind) follows it to print the banner anyway."""
    code = (
        "import torch\n"
        "with torch.autocast('cpu', dtype=torch.bfloat16):\n"
        "    torch.nn.functional.conv1d(torch.randn(2, 4, 16), torch.randn(4, 4, 3))\n"
        "torch.nn.functional.conv2d(torch.randn(2, 4, 16, 16), torch.randn(4, 4, 3, 3))\n"
    )
    env = {**os.environ, "ONEDNN_VERBOSE": "1"}
    try:
        done = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    for line in done.stdout.splitlines():
        if ",info,cpu,isa:" in line:
            return line.split("isa:", 1)[1].strip()
    return "unknown"


def training_autocast_dtype(device, amp: bool = True):
    """The engine's training precision on `device` (torch imported only when asked)."""
    from ssl_core.train.perf import training_autocast_dtype as dtype_on

    return dtype_on(device, amp)


def isa_facts(device) -> tuple[str, str]:
    """(a bullet for the machine description, a warning or '') about ISA limits and the engine precision."""
    import torch

    aten = torch.backends.cpu.get_cpu_capability()
    dnn = onednn_isa()
    env = ", ".join(f"{k}={os.environ[k]}" for k in ISA_VARIABLES if k in os.environ) or (
        "neither ATEN_CPU_CAPABILITY nor ONEDNN_MAX_CPU_ISA set"
    )
    precision = training_autocast_dtype(device)
    engine = f"{str(precision).removeprefix('torch.')} autocast" if precision else "float32 (no autocast)"
    bullet = f"ISA in use: ATen kernels {aten}, oneDNN '{dnn}' ({env}); engine precision: {engine}"
    warning = ""
    if (
        device.type == "cpu"
        and precision == torch.bfloat16
        and not any(w in dnn for w in ("bfloat16", "AMX"))
    ):
        warning = (
            f"**Note:** the CPU reports native bf16, so the engine turns bf16 autocast on, but oneDNN is "
            f"limited to '{dnn}' here ({env}): its bf16 is emulated and slower than float32. These numbers "
            "describe that restricted setting, not the hardware."
        )
    return bullet, warning
