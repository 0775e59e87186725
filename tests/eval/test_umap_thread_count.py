"""UMAP leaves torch's thread count alone. A module of its own: its fresh process compiles UMAP for half a
minute or more, and under pytest-xdist a file runs on one worker, so it runs beside test_projection.py's
own compilation instead of after it."""

from __future__ import annotations

import os
import subprocess
import sys


def test_umap_leaves_torchs_thread_count_alone():
    """numba's OpenMP layer shares the runtime with torch, and the first parallel launch in a process
    resets torch's thread count to the core count; a map must leave the caller's setting alone. A fresh
    process, since only the first launch does it (~20 s: NN-descent is compiled there)."""
    script = (
        "import numpy as np, torch\n"
        "torch.set_num_threads(1)\n"
        "from ssl_core.eval.projection import project_umap\n"
        "x = np.random.default_rng(0).normal(size=(300, 16)).astype(np.float32)\n"
        "project_umap(x, knn='nndescent', n_epochs=5)\n"
        "print('threads', torch.get_num_threads())\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "NUMBA_NUM_THREADS")}
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300, env=env
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "threads 1" in done.stdout, done.stdout
