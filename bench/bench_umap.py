"""Evaluation benchmark: embedding extraction, UMAP fast path against plain umap-learn, probe solvers.

Three tables, each row measured next to its reference in the same run:

* embedding extraction (images/s): `extract_embeddings` with the engine's defaults (inference mode,
  autocast, channels_last, cache-sized batches on a CPU, eval mode restored) against a plain float32
  loop over batches of 32 under `torch.no_grad`;
* UMAP of synthetic clustered 64-d data at 5k / 20k / 50k points: `project_umap`'s fast path as it runs
  by default (PCA to 50 dims + kNN graph + a short optimisation) against plain umap-learn, with wall
  time, the longest stage that cannot be cancelled, and trustworthiness (k=10, on a 5,000-point
  subsample) of both maps; plus the fast path with the other kNN builder (exact above 5,000 points: what
  a GPU runs);
* linear-probe solvers: scikit-learn lbfgs against the torch L-BFGS solver at several n x dim, with the
  solver `choose_solver` picks.

    python bench/bench_umap.py                  # full run, writes its section of bench/RESULTS.md
    python bench/bench_umap.py --quick          # tiny smoke run, no results file
    python bench/bench_umap.py --sizes 5000 20000 --plain-max 20000
"""

from __future__ import annotations

import argparse
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from _common import Target, add_common_args, apply_threads, command_line, machine_description, now, publish

from ssl_core.device import select_device
from ssl_core.eval import extract_embeddings, linear_probe, project_umap, trustworthiness
from ssl_core.eval.probe import TORCH_MIN_ELEMENTS, choose_solver
from ssl_core.eval.projection import (
    EXACT_KNN_MAX_POINTS,
    FAST_EPOCHS,
    FAST_MIN_POINTS,
    FAST_NEGATIVE_SAMPLE_RATE,
    NNDESCENT_PARAMS,
    PCA_DIMS,
    choose_knn,
)
from ssl_core.models.backbones import build_backbone

SECTION_ID = "bench_umap"
SPEED_TARGET = 3.0
TRUST_LOSS = 0.02


# ---- data -------------------------------------------------------------------------------------
def clustered(n: int, dim: int = 64, classes: int = 10, seed: int = 0) -> np.ndarray:
    """Ten clusters, each a noisy 5-d sheet in 64-d (a stand-in for SSL embeddings)."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(classes, dim)) * 4
    basis = rng.normal(size=(classes, 5, dim))
    y = rng.integers(0, classes, n)
    z = rng.normal(size=(n, 5))
    x = centres[y] + np.einsum("nk,nkd->nd", z, basis[y]) * 0.7 + rng.normal(size=(n, dim)) * 0.3
    return x.astype(np.float32)


def probe_data(n: int, dim: int, classes: int = 10, seed: int = 0):
    """Overlapping classes with ReLU-like sparsity, so L-BFGS needs a realistic number of iterations."""
    rng = np.random.default_rng(seed)
    centres = np.random.default_rng(99).normal(size=(classes, dim)) * 0.15
    y = rng.integers(0, classes, n)
    x = np.maximum(centres[y] + rng.normal(size=(n, dim)), 0).astype(np.float32)
    return x, y


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


# ---- extraction -------------------------------------------------------------------------------
@dataclass
class ExtractRow:
    backbone: str
    images: int
    method: str
    images_per_sec: float
    reference: float


def naive_extract(model: torch.nn.Module, images: torch.Tensor, device: torch.device) -> np.ndarray:
    model.eval().to(device)
    out = []
    with torch.no_grad():
        for start in range(0, len(images), 32):
            x = images[start : start + 32].to(device).float() / 255
            out.append(model(x).cpu().numpy())
    return np.concatenate(out)


def bench_extraction(device: torch.device, sizes: dict[str, int]) -> list[ExtractRow]:
    rows = []
    for name, n in sizes.items():
        images = torch.randint(
            0, 256, (n, 3, 32, 32), dtype=torch.uint8, generator=torch.Generator().manual_seed(0)
        )
        model = build_backbone(name, 3, 32).to(device)
        naive_extract(model, images[:64], device)  # warm-up (allocator, cudnn autotune)
        extract_embeddings(model, images[:64], device=device)
        timings = {}
        for label, fn in (
            ("loop, batch 32, no_grad", lambda m=model, x=images: naive_extract(m, x, device)),
            (
                "extract_embeddings (engine defaults)",
                lambda m=model, x=images: extract_embeddings(m, x, device=device),
            ),
        ):
            _sync(device)
            start = time.perf_counter()
            fn()
            _sync(device)
            timings[label] = n / (time.perf_counter() - start)
        ref = timings["loop, batch 32, no_grad"]
        rows += [ExtractRow(name, n, label, ips, ref) for label, ips in timings.items()]
        print(
            f"extraction {name}: " + ", ".join(f"{k}: {v:,.0f} img/s" for k, v in timings.items()), flush=True
        )
    return rows


# ---- UMAP -------------------------------------------------------------------------------------
@dataclass
class UmapRow:
    n: int
    path: str
    seconds: float | None
    knn_seconds: float | None
    uninterruptible: float | None  # longest stretch without a cancellation check
    epochs_seconds: float | None
    trust: float | None
    note: str = ""


def timed_umap(x: np.ndarray, fast: bool, knn: str = "auto") -> tuple[np.ndarray, dict[str, float]]:
    marks: list[tuple[float, float, str]] = []
    start = time.perf_counter()
    y = project_umap(
        x, seed=0, fast=fast, knn=knn, progress=lambda f, m: marks.append((time.perf_counter(), f, m))
    )
    end = time.perf_counter()
    graph = next(t for t, _, m in marks if m.startswith("Building"))
    first_epoch = next(t for t, _, m in marks if "epoch 0/" in m)
    times = [start] + [t for t, _, _ in marks] + [end]
    return y, {
        "total": end - start,
        "knn": graph - start,
        "uninterruptible": max(b - a for a, b in zip(times, times[1:], strict=False)),
        "epochs": end - first_epoch,
    }


def warm_up_umap() -> dict[str, float]:
    """Compile umap-learn's and pynndescent's numba code once, so that the rows time the work itself.

    The fast path compiles umap-learn's graph and layout code and the light NN-descent; plain umap-learn
    adds its own NN-descent settings. Both are paid once per process (the GUI pays them at start-up on a
    background thread, the CLI on its first map), and cannot be cancelled.
    """
    x = clustered(4200, seed=9)  # above 4,096 points plain umap uses NN-descent, as in the timed rows
    start = time.perf_counter()
    project_umap(x, fast=True, n_epochs=5, knn="nndescent")
    project_umap(x, fast=True, n_epochs=5, knn="exact")
    middle = time.perf_counter()
    project_umap(x, fast=False, n_epochs=5)
    return {"fast": middle - start, "plain_extra": time.perf_counter() - middle}


def plain_label(n: int) -> str:
    # umap-learn computes exact pairwise distances below 4,096 points and uses NN-descent above.
    return "plain umap-learn (NN-descent)" if n >= 4096 else "plain umap-learn (exact pairwise)"


KNN_LABELS = {"exact": "exact torch kNN", "nndescent": "light NN-descent"}


def fast_label(knn: str, n: int) -> str:
    """'fast (default): ...' for what `project_umap` picks at n points, "fast, knn='...': ..." otherwise."""
    kind = "fast (default)" if knn == "auto" else f"fast, knn={knn!r}"
    return f"{kind}: PCA-{PCA_DIMS} + {KNN_LABELS[choose_knn(n) if knn == 'auto' else knn]}"


def best_of(repeats: int, fn: Callable[[], tuple[np.ndarray, dict[str, float]]]):
    """The fastest of `repeats` runs (UMAP is deterministic under a seed: the maps are the same)."""
    return min((fn() for _ in range(max(1, repeats))), key=lambda run: run[1]["total"])


def bench_umap(
    sizes: list[int], plain_max: int, other_knn: bool = True, quick: bool = False, repeats: int = 1
) -> list[UmapRow]:
    """Per size: the fast path as `project_umap` runs it by default, plain umap-learn (the reference),
    and (other_knn) the fast path with the kNN builder the default did not pick at that size (above
    EXACT_KNN_MAX_POINTS that is the exact graph, which a CUDA GPU always uses)."""
    rows = []

    def measure(x: np.ndarray, path: str, fast: bool, knn: str = "auto") -> None:
        y, t = best_of(repeats, lambda: timed_umap(x, fast=fast, knn=knn))
        trust = trustworthiness(x, y)
        rows.append(UmapRow(len(x), path, t["total"], t["knn"], t["uninterruptible"], t["epochs"], trust))
        print(f"UMAP {len(x)}: {path}: {t['total']:.1f} s, trust {trust:.4f}", flush=True)

    for n in sizes:
        x = clustered(n)
        measure(x, fast_label("auto", n), fast=True)
        if n <= plain_max:
            measure(x, plain_label(n), fast=False)
        else:
            rows.append(UmapRow(n, plain_label(n), None, None, None, None, None,
                                f"skipped (above --plain-max {plain_max})"))  # fmt: skip
        other = "nndescent" if choose_knn(n) == "exact" else "exact"
        if other_knn and not quick:  # quick: no NN-descent, its numba compilation alone takes ~20 s
            measure(x, fast_label(other, n), fast=True, knn=other)
    return rows


# ---- probe solvers ----------------------------------------------------------------------------
@dataclass
class ProbeRow:
    n: int
    dim: int
    sklearn_s: float
    torch_s: float
    sklearn_acc: float
    torch_acc: float
    chosen: str


def bench_probe(sizes: list[tuple[int, int]]) -> list[ProbeRow]:
    x, y = probe_data(200, 16)
    linear_probe(x, y, x, y, solver="torch")  # warm-up
    rows = []
    for n, dim in sizes:
        x, y = probe_data(n, dim)
        xt, yt = probe_data(2000, dim, seed=1)
        results = {}
        for solver in ("sklearn", "torch"):
            start = time.perf_counter()
            r = linear_probe(x, y, xt, yt, solver=solver)
            results[solver] = (time.perf_counter() - start, r.accuracy)
        rows.append(
            ProbeRow(n, dim, results["sklearn"][0], results["torch"][0], results["sklearn"][1], results["torch"][1],
                     choose_solver(n, dim))
        )  # fmt: skip
        print(
            f"probe {n}x{dim}: sklearn {results['sklearn'][0]:.2f} s, torch {results['torch'][0]:.2f} s",
            flush=True,
        )
    return rows


# ---- output -----------------------------------------------------------------------------------
def _f(value: float | None, fmt: str) -> str:
    return "-" if value is None else format(value, fmt)


def extraction_table(rows: list[ExtractRow]) -> str:
    lines = ["| backbone | images | method | images/s | vs reference |", "|---|---:|---|---:|---:|"]
    for r in rows:
        ratio = r.images_per_sec / r.reference
        tag = " (reference)" if r.method.startswith("loop") else ""
        lines.append(
            f"| {r.backbone} | {r.images:,} | {r.method} | {r.images_per_sec:,.0f} | {ratio:.2f}x{tag} |"
        )
    return "\n".join(lines)


def umap_table(rows: list[UmapRow]) -> str:
    lines = [
        "| points | path | total s | kNN s | longest uncancellable s | epochs s | trustworthiness | vs plain |",
        "|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    plain = {r.n: r for r in rows if r.path.startswith("plain")}
    for r in rows:
        ref = plain.get(r.n)
        if r.seconds is None:
            vs = r.note
        elif r.path.startswith("plain"):
            vs = "1.00x (reference)"
        elif ref is not None and ref.seconds is not None:
            vs = f"{ref.seconds / r.seconds:.2f}x speed, trust {r.trust - ref.trust:+.4f}"
        else:
            vs = "-"
        # Plain umap-learn finds neighbours inside its one fit() call: part of the uncancellable stretch.
        knn = "(in fit)" if r.path.startswith("plain") else _f(r.knn_seconds, ".2f")
        lines.append(
            f"| {r.n:,} | {r.path} | {_f(r.seconds, '.2f')} | {knn} | "
            f"{_f(r.uninterruptible, '.2f')} | {_f(r.epochs_seconds, '.1f')} | {_f(r.trust, '.4f')} | {vs} |"
        )
    return "\n".join(lines)


def probe_table(rows: list[ProbeRow]) -> str:
    lines = [
        "| n x dim | sklearn lbfgs s | torch L-BFGS s | torch vs sklearn | accuracy (sk / torch) | auto picks |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r.n:,} x {r.dim} | {r.sklearn_s:.2f} | {r.torch_s:.2f} | {r.sklearn_s / r.torch_s:.2f}x | "
            f"{r.sklearn_acc:.3f} / {r.torch_acc:.3f} | {r.chosen} |"
        )
    return "\n".join(lines)


def umap_targets(rows: list[UmapRow]) -> list[Target]:
    """The acceptance target per size: the fast path as shipped (its default kNN) >= 3x plain, trust
    lost <= 0.02."""
    plain = {r.n: r for r in rows if r.path.startswith("plain") and r.seconds}
    targets = []
    for r in rows:
        ref = plain.get(r.n)
        if not r.path.startswith("fast (default)") or ref is None or r.seconds is None:
            continue
        speed, lost = ref.seconds / r.seconds, ref.trust - r.trust
        targets.append(
            Target(
                "UMAP",
                f"{r.n:,} points: fast path >= {SPEED_TARGET:.0f}x plain umap-learn, trust loss <= {TRUST_LOSS}",
                f"{speed:.2f}x, trust {-lost:+.4f}",
                speed >= SPEED_TARGET and lost <= TRUST_LOSS,
                r.path.removeprefix("fast (default): "),
            )
        )
    return targets


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", type=int, nargs="+", default=[5000, 20000, 50000], help="UMAP point counts")
    p.add_argument(
        "--plain-max", type=int, default=50000, help="skip plain umap-learn above this many points"
    )
    p.add_argument("--device", default="auto", help="device for extraction: auto, cpu, cuda, mps")
    p.add_argument(
        "--no-other-knn",
        action="store_true",
        help="skip the fast-path rows with the kNN builder the default does not pick at that size",
    )
    p.add_argument(
        "--repeats", type=int, default=2, help="UMAP rows: the fastest of this many runs (default 2)"
    )
    add_common_args(p)
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    apply_threads(args)
    warnings.filterwarnings("ignore")
    device = select_device(args.device)
    command = command_line("bench_umap.py", argv)
    if args.quick:  # no warm-up and no NN-descent: numba compilation alone would take ~40 s
        extract_sizes, umap_sizes, probe_sizes = {"small_cnn": 128}, [300], [(500, 32)]
    else:
        extract_sizes = {"small_cnn": 4096, "resnet18": 512}
        umap_sizes = args.sizes
        probe_sizes = [(1437, 64), (5000, 128), (10000, 128), (10000, 256), (20000, 512), (50000, 512)]
    repeats = 1 if args.quick else args.repeats
    started = time.perf_counter()
    stages: list[tuple[str, Callable[[], object]]] = [
        ("extraction", lambda: bench_extraction(device, extract_sizes)),
        ("compile", (lambda: {"fast": 0.0, "plain_extra": 0.0}) if args.quick else warm_up_umap),
        ("umap", lambda: bench_umap(umap_sizes, args.plain_max, not args.no_other_knn, args.quick, repeats)),
        ("probe", lambda: bench_probe(probe_sizes)),
    ]
    out = {}
    for name, fn in stages:
        out[name] = fn()
    total = time.perf_counter() - started
    body = "\n".join(
        [
            "## Evaluation: embedding extraction, UMAP fast path, linear-probe solvers",
            "",
            f"`{command}` on {now()}, {total / 60:.1f} min in all. UMAP input: synthetic clustered 64-d data "
            "(10 clusters, each a noisy 5-d sheet); seed 0; 15 neighbours, min_dist 0.1. One-off numba "
            "compilation, done before the timed rows and paid once per process (the GUI pays it at start-up "
            f"on a background thread): {out['compile']['fast']:.0f} s for the fast path (its light "
            f"NN-descent included), plus {out['compile']['plain_extra']:.0f} s more for plain umap-learn, "
            "uncancellable. 'Longest uncancellable' is the longest stretch between two cancellation checks "
            "(NN-descent, umap-learn's graph construction + spectral initialisation). "
            f"UMAP times are the fastest of {repeats} runs of each path. "
            "Trustworthiness: scikit-learn, k=10, on a seeded 5,000-point subsample.",
            "",
            machine_description(device, [f"umap-learn {_umap_version()}"]),
            "",
            "### Embedding extraction (32x32 RGB, random weights)",
            "",
            extraction_table(out["extraction"]),
            "",
            "### UMAP: fast path against plain umap-learn",
            "",
            "The fast path is `project_umap`'s default above "
            f"{FAST_MIN_POINTS:,} points: PCA to {PCA_DIMS} dimensions, a kNN graph handed to umap-learn, "
            f"then {FAST_EPOCHS} optimisation epochs with negative_sample_rate {FAST_NEGATIVE_SAMPLE_RATE} "
            "(plain umap-learn: 500 epochs up to 10,000 points, 200 above, and 5). Its kNN graph is exact "
            f"(torch matrix products + top-k, O(N^2 d)) on a CUDA GPU or up to {EXACT_KNN_MAX_POINTS:,} "
            f"points, and a light NN-descent ({', '.join(f'{k} {v}' for k, v in NNDESCENT_PARAMS.items())}"
            "; umap-learn's own uses about twice the trees and iterations) above. 'knn=...' rows pin "
            "the builder the default did not pick at that size (on a CPU above "
            f"{EXACT_KNN_MAX_POINTS:,} points: the exact graph, which a CUDA GPU always uses).",
            "",
            umap_table(out["umap"]),
            "",
            f"### Linear-probe solvers (10 classes, 2,000 held-out; auto switches to torch at n x dim >= "
            f"{TORCH_MIN_ELEMENTS:,} on CPU, always on a GPU)",
            "",
            probe_table(out["probe"]),
        ]
    )
    publish(args, SECTION_ID, body, umap_targets(out["umap"]))
    return 0


def _umap_version() -> str:
    import umap

    return str(getattr(umap, "__version__", "?"))


if __name__ == "__main__":
    raise SystemExit(main())
