"""Training throughput on both CPU classes, side by side: bench_train_throughput.py natively and with torch
restricted to AVX2, in one command.

Most laptops and many workstations have no AMX and no native bf16: there oneDNN runs AVX2 kernels and the
engine trains in float32. This runs bench_train_throughput.py twice, one after the other, as child processes
(the restriction must be in the environment before torch is imported):

- native: the machine's own ISA (here AVX-512 with bf16: the engine trains under bf16 autocast);
- AVX2: `ONEDNN_MAX_CPU_ISA=AVX2 ATEN_CPU_CAPABILITY=avx2`, checked afterwards: the child must report ATen's
  AVX2 kernels and float32 training, or this stops with an error instead of mislabelling a column.

Each child writes its own full section (`bench_train_throughput`, `bench_train_throughput_avx2`: ablations,
step profiles, what bounds the model step); this writes `bench_train_isas`, one table with a native and an
AVX2 column for every training row and both references (per-sample torchvision, lightly's documented
pipeline with and without channels_last), and the targets of issue 17 on each path.

    python bench/bench_train_isas.py                 # both runs (~40 min on 2 cores), writes RESULTS.md
    python bench/bench_train_isas.py --quick         # one tiny iteration of each (smoke test)
    python bench/bench_train_isas.py --threads 1     # passed on to both runs (one training thread)
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from _common import ROOFLINE_COLUMNS, Target, add_common_args, command_line, now, publish, results_path, table

HERE = Path(__file__).resolve().parent
SECTION_ID = "bench_train_isas"
AVX2_ENV = {"ONEDNN_MAX_CPU_ISA": "AVX2", "ATEN_CPU_CAPABILITY": "avx2"}
# (label, environment added, the child's own section)
RUNS = (("native", {}, "bench_train_throughput"), ("AVX2", AVX2_ENV, "bench_train_throughput_avx2"))


class RestrictionFailed(RuntimeError):
    pass


def run_child(label: str, env_extra: dict, section: str, passthrough: list[str], out: Path) -> dict:
    """One bench_train_throughput.py run in a fresh process; its numbers from --json."""
    env = {k: v for k, v in os.environ.items() if k not in AVX2_ENV}
    env.update(env_extra)
    numbers = out / f"{label}.json"
    cmd = [sys.executable, str(HERE / "bench_train_throughput.py"), "--section-id", section,
           "--json", str(numbers), *passthrough]  # fmt: skip
    print(f"== {label}: {' '.join(cmd[1:])}", flush=True)
    subprocess.run(cmd, env=env, check=True)
    data = json.loads(numbers.read_text())
    if env_extra and (data["aten"] != "AVX2" or data["precision"] != "float32"):
        raise RestrictionFailed(
            f"the {label} run used ATen {data['aten']} kernels and {data['precision']} training; "
            f"{' '.join(f'{k}={v}' for k, v in env_extra.items())} did not restrict torch on this machine"
        )
    return data


def _rate(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:,.0f}" if value >= 10 else f"{value:.1f}"


def _ratio(engine: float, other: float | None) -> str:
    return f"{engine / other:.2f}x" if other else "-"


def _by_row(data: dict) -> dict[tuple[str, str], dict]:
    return {(r["method"], r["backbone"]): r for r in data["records"]}


def render(command: str, runs: dict[str, dict]) -> str:
    labels = list(runs)
    rows = list(_by_row(runs[labels[0]]))
    rates, ratios = [], []
    for key in rows:
        per = [_by_row(runs[label]).get(key, {}) for label in labels]
        batch = next((r["batch"] for r in per if r), "")
        rates.append(
            [*key, batch]
            + [
                _rate(r.get(k))
                for r in per
                for k in ("reference", "lightly", "lightly_channels_last", "engine")
            ]
        )
        ratios.append(
            [*key]
            + [
                _ratio(r["engine"], r.get(k)) if r else "-"
                for r in per
                for k in ("reference", "lightly", "lightly_channels_last")
            ]
        )
    isa_lines = [
        f"- {label}: {d['isa']}; {d['threads']} torch thread(s) in the training process; reference DataLoader "
        f"{d['reference_workers']} workers, lightly's {d['lightly_workers']}; load average at the end "
        + ", ".join(f"{x:.1f}" for x in d["load"])
        for label, d in runs.items()
    ]
    rate_head = ["method", "backbone", "batch"] + [
        f"{label} {col}"
        for label in labels
        for col in ("torchvision ref", "lightly", "lightly + CL", "engine")
    ]
    ratio_head = ["method", "backbone"] + [
        f"{label} engine vs {col}"
        for label in labels
        for col in ("torchvision ref", "lightly", "lightly + CL")
    ]
    roof = [
        [r["step"], label, d["precision"], f"{r['gflop']:,.0f}", f"{r['seconds'] * 1000:,.0f}",
         f"{r['gflops']:,.1f}", f"{r['gemm_gflops']:,.1f}", f"{r['gflops'] / r['gemm_gflops']:.0%}",
         f"{r['conv_share']:.0%}", f"{r['norm_share']:.0%}"]
        for label, d in runs.items()
        for r in d["roofline"]
    ]  # fmt: skip
    lines = [
        "## Training throughput on both CPU classes: native and torch restricted to AVX2 (issue 17)",
        "",
        f"`{command}` on {now()}: bench_train_throughput.py run twice in fresh processes, natively and with "
        f"`{' '.join(f'{k}={v}' for k, v in AVX2_ENV.items())}` (checked: ATen's AVX2 kernels and float32 "
        "training, as on a CPU without native bf16). Every pipeline at its defaults on the whole machine "
        "unless the command says otherwise: the engine's real `Trainer`; the per-sample torchvision v2 "
        "reference in a DataLoader; lightly 1.6's documented SimCLR / BYOL pipeline "
        "(bench/_lightly_reference.py) at its defaults and with channels_last ('+ CL'). images/s counts "
        "source images (two views each), best of the run's repeats, pipelines alternating. The two "
        "children's own sections (`bench_train_throughput`, `bench_train_throughput_avx2`) have the "
        "ablations and step profiles.",
        "",
        *isa_lines,
        "",
        "### images/s",
        "",
        table(rate_head, rates, "llr" + "r" * (len(rate_head) - 3)),
        "",
        "### The engine against each reference",
        "",
        "Issue 17's targets against lightly's pipeline: >= 2x with the small CNN and >= 1.5x with ResNet-18 on "
        "the AVX2 (float32) path, >= 3x on a bf16 path.",
        "",
        table(ratio_head, ratios, "ll" + "r" * (len(ratio_head) - 2)),
        "",
        "### What bounds the model step on each path",
        "",
        "One engine step's FLOPs (forward and backward) and time against a 2048 x 2048 matrix product in the "
        "same precision with the same threads; shares are of the step's operator time (torch.profiler).",
        "",
        table(
            ["step", "run", "precision", *ROOFLINE_COLUMNS],
            roof,
            "lllrrrrrrr",
        ),  # fmt: skip
    ]
    return "\n".join(lines)


def parse_args(argv: list[str] | None) -> tuple[argparse.Namespace, list[str]]:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_common_args(p)
    return p.parse_known_args(argv)


def main(argv: list[str] | None = None) -> int:
    args, rest = parse_args(argv)
    passthrough = list(rest)
    if args.quick:
        passthrough.append("--quick")
    if args.threads is not None:
        passthrough += ["--threads", str(args.threads)]
    path = results_path(args)
    if path is not None:
        passthrough += ["--results", str(path)]
    runs: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(prefix="bench-isas-") as tmp:
        try:
            for label, env_extra, section in RUNS:
                runs[label] = run_child(label, env_extra, section, passthrough, Path(tmp))
        except RestrictionFailed as exc:
            print(f"bench_train_isas: {exc}", file=sys.stderr)
            return 2
    targets = [
        Target(**{**t, "benchmark": f"{t['benchmark']} ({label})"})
        for label, d in runs.items()
        for t in d["targets"]
        if "lightly" in t["benchmark"]
    ]
    publish(args, SECTION_ID, render(command_line("bench_train_isas.py", argv), runs), targets)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
