"""Run every benchmark (`make bench`) and put a summary of the targets at the top of bench/RESULTS.md.

Each benchmark runs in its own process (fresh threads, memory and numba state), writes its own section
of RESULTS.md (under a file lock, so nothing is lost when two finish together) and hands its targets
back in a small JSON file; the summary section lists every target with the measured value. Every
bench/bench_*.py is run (soak tests, named soak_*.py, are not: they take half an hour).

    python bench/run_all.py                       # everything (~30 min on 2 CPU cores)
    python bench/run_all.py --threads 1           # one torch thread per benchmark process
    python bench/run_all.py --only bench_memory.py bench_data_cache.py
    python bench/run_all.py --quick               # every benchmark for one tiny iteration, no results file
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from _common import (
    BENCH_DIR,
    ROOT,
    Target,
    load_average,
    machine_description,
    now,
    read_summary,
    results_path,
    sections_targets,
    table,
    write_section,
)

SECTION_ID = "summary"
# Cheapest first, so a broken environment shows up early; the GPU one only notes "not measured" on a CPU.
# Any other bench/bench_*.py (e.g. the GUI benchmarks) runs after these, in name order.
FIRST = (
    "bench_gpu_epoch.py",
    "bench_memory.py",
    "bench_data_cache.py",
    "bench_train_isas.py",
    "bench_series_throughput.py",
    "bench_table_throughput.py",
    "bench_audio.py",
    "bench_umap.py",
)


# Run by another benchmark, not on their own: bench_train_isas.py runs bench_train_throughput.py natively
# and restricted to AVX2 and puts the two side by side.
RUN_BY_OTHERS = {"bench_train_throughput.py"}


def discover() -> list[str]:
    found = sorted(p.name for p in BENCH_DIR.glob("bench_*.py") if p.name not in RUN_BY_OTHERS)
    return [s for s in FIRST if s in found] + [s for s in found if s not in FIRST]


SCRIPTS = discover()


@dataclass
class Outcome:
    script: str
    returncode: int
    seconds: float
    targets: list[Target]


def run_script(script: str, args: argparse.Namespace, summary: Path) -> Outcome:
    cmd = [sys.executable, str(BENCH_DIR / script), "--summary-json", str(summary)]
    if args.quick:
        cmd.append("--quick")
    if args.results is not None:
        cmd += ["--results", str(args.results)]
    if args.threads is not None:
        cmd += ["--threads", str(args.threads)]
    print(f"\n=== {script} ===", flush=True)
    start = time.perf_counter()
    done = subprocess.run(cmd, cwd=ROOT)
    seconds = time.perf_counter() - start
    return Outcome(script, done.returncode, seconds, read_summary(summary) if done.returncode == 0 else [])


def summary_body(outcomes: list[Outcome], targets: list[Target], load_before: str, command: str) -> str:
    def verdict(t: Target) -> str:
        return {True: "met", False: "**not met**", None: "not measured"}[t.met]

    rows = [[t.benchmark, t.target, t.measured, verdict(t), t.note] for t in targets]
    runs = [
        [o.script, "ok" if o.returncode == 0 else f"**failed ({o.returncode})**", f"{o.seconds / 60:.1f}"]
        for o in outcomes
    ]
    return "\n".join(
        [
            "## Summary of targets",
            "",
            f"`{command}` on {now()}; load average before: {load_before}. The targets are those of every "
            "section below (each keeps its own as a hidden comment, so a benchmark re-run on its own "
            "shows up here at the next run_all); each section has the full tables, its command, the "
            "machine and the load average when it ended. Ratios are always taken against a reference "
            "measured in the same run.",
            "",
            machine_description(),
            "",
            table(["benchmark", "target", "measured", "verdict", "note"], rows, "lllll"),
            "",
            table(["script", "status", "minutes"], runs, "llr") if runs else "(summary rebuilt; nothing run)",
        ]
    )


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="one tiny iteration of each; no results file")
    p.add_argument("--results", type=Path, default=None, help="results file (default bench/RESULTS.md)")
    p.add_argument("--threads", type=int, default=None, help="passed to every benchmark")
    p.add_argument("--only", nargs="+", choices=SCRIPTS, default=None, help="run only these benchmarks")
    p.add_argument(
        "--summary-only", action="store_true", help="run nothing; rebuild the summary from the sections"
    )
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    command = " ".join(["python bench/run_all.py", *(argv if argv is not None else sys.argv[1:])])
    load_before = load_average()
    outcomes = []
    with tempfile.TemporaryDirectory(prefix="bench-summary-") as tmp:
        for i, script in enumerate([] if args.summary_only else args.only or SCRIPTS):
            outcomes.append(run_script(script, args, Path(tmp) / f"{i}.json"))
    path = results_path(args)
    if path is not None and path.exists():  # every section's targets, also those not re-run now
        found = sections_targets(path.read_text(encoding="utf-8"))
        targets = [t for section, items in found if section != SECTION_ID for t in items]
    else:
        targets = [t for o in outcomes for t in o.targets]
    body = summary_body(outcomes, targets, load_before, command)
    print("\n" + body)
    if path is not None:
        write_section(path, SECTION_ID, body, at_top=True)
        print(f"\nwritten to {path}")
    return 0 if all(o.returncode == 0 for o in outcomes) else 1


if __name__ == "__main__":
    raise SystemExit(main())
