"""Two CPU processes on the gloo backend: the distributed primitives, and each loss's global-batch
semantics (the 2-process loss and gradients equal the single-process ones on the concatenated batch).

One 2-process job runs every check once (spawning costs seconds on a small machine) and saves each
rank's results; the tests below compare them with references computed here in one process.
"""

from __future__ import annotations

import importlib
import socket
import time
from pathlib import Path

import pytest
import torch

HERE = Path(__file__).resolve().parent
TIMEOUT_S = 90.0
SEED = 11

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _gloo_missing() -> str | None:
    try:
        import torch.distributed as dist
    except ImportError:
        return "torch.distributed cannot be imported"
    if not dist.is_available():
        return "this torch build has no torch.distributed"
    if not dist.is_gloo_available():
        return "this torch build has no gloo backend"
    return None


def _free_port() -> int:
    """A port the OS has just handed out; each xdist worker gets its own, so parallel jobs don't clash."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run_job(workers, out_dir: Path, timeout_s: float = TIMEOUT_S) -> None:
    """Spawn the 2 processes, wait at most TIMEOUT_S, kill them and fail clearly otherwise. A port taken
    between picking and binding it is retried with a new one."""
    import torch.multiprocessing as mp

    for attempt in range(3):
        port = _free_port()
        job = mp.start_processes(
            workers.main,
            args=(port, str(out_dir), SEED),
            nprocs=workers.WORLD,
            join=False,
            start_method="spawn",
        )
        deadline = time.monotonic() + timeout_s
        try:
            while not job.join(timeout=max(0.1, deadline - time.monotonic())):
                if time.monotonic() >= deadline:
                    raise TimeoutError
        except TimeoutError:
            pytest.fail(f"the 2-process gloo job did not finish within {timeout_s:.0f} s (port {port})")
        except (
            Exception
        ) as exc:  # ProcessRaisedException / ProcessExitedException, with the child's traceback
            message = str(exc)
            if attempt < 2 and ("EADDRINUSE" in message or "address already in use" in message.lower()):
                continue
            pytest.fail(f"a process of the 2-process gloo job failed:\n{message}")
        finally:
            for process in job.processes:
                if process.is_alive():
                    process.kill()
                    process.join(5)
        return
    pytest.fail("no free port for the 2-process gloo job after 3 tries")


def worker_module(name: str):
    """The worker module `name` of this folder, importable by name in spawned children (skips the test
    when this torch has no gloo)."""
    reason = _gloo_missing()
    if reason:
        pytest.skip(reason)
    # Spawned children get this sys.path, so they can import the worker module by name.
    with pytest.MonkeyPatch.context() as mp:
        mp.syspath_prepend(str(HERE))
        return importlib.import_module(name)


def run_gloo_job(workers, out_dir: Path, timeout_s: float = TIMEOUT_S) -> None:
    """Run `workers.main` in 2 spawned processes, one torch thread each, and print how long it took."""
    with pytest.MonkeyPatch.context() as mp:
        mp.syspath_prepend(str(HERE))
        # One thread per process, set before the children import torch.
        mp.setenv("OMP_NUM_THREADS", "1")
        mp.setenv("MKL_NUM_THREADS", "1")
        started = time.monotonic()
        _run_job(workers, out_dir, timeout_s)
        print(f"2-process gloo job ({workers.__name__}): {time.monotonic() - started:.1f} s")


def saved_results(workers, out_dir: Path) -> list[dict]:
    return [torch.load(out_dir / f"rank{r}.pt", weights_only=True) for r in range(workers.WORLD)]


@pytest.fixture(scope="module")
def workers():
    return worker_module("_dist_workers")


@pytest.fixture(scope="module")
def ranks(workers, tmp_path_factory):
    out_dir = tmp_path_factory.mktemp("gloo-job")
    run_gloo_job(workers, out_dir)
    return saved_results(workers, out_dir)


def _close(actual, expected, what: str) -> None:
    torch.testing.assert_close(actual, expected, rtol=1e-5, atol=1e-6, msg=lambda m: f"{what}: {m}")


def test_children_load_no_qt(ranks):
    assert [r["qt"] for r in ranks] == [[], []]


def test_context_and_env(ranks):
    assert ranks[0]["context"] == [0, 2, 0, "gloo", True]
    assert ranks[1]["context"] == [1, 2, 1, "gloo", False]
    assert [r["from_env"] for r in ranks] == [[0, 2, 0], [1, 2, 1]]


def test_single_process_context_when_not_initialised():
    from ssl_core import distributed as sd

    ctx = sd.current()
    assert (ctx.rank, ctx.world_size, ctx.local_rank, ctx.backend, ctx.is_main) == (0, 1, 0, None, True)
    sd.barrier()
    assert sd.broadcast_object("x") == "x"
    t = torch.tensor([1.0, 2.0], requires_grad=True)
    assert sd.all_gather_with_grad(t) is t
    assert torch.equal(sd.all_reduce_mean(t), t.detach())


def test_broadcast_object_and_all_reduce_mean(ranks):
    for r in ranks:
        assert r["broadcast"] == {"run": "r-17", "steps": [1, 2]}
        assert r["broadcast_src1"] == "from-1"
        _close(r["mean"], torch.tensor([1.5, 5.0]), "all_reduce_mean")


def test_rank_seed_differs_per_rank_and_is_reproducible(ranks):
    from ssl_core.distributed import rank_seed

    assert ranks[0]["seed"] == 7 == rank_seed(7, 0)  # one process draws what it always drew
    assert ranks[1]["seed"] == rank_seed(7, 1) != 7
    assert not torch.equal(ranks[0]["draw"], ranks[1]["draw"])
    seeds = {rank_seed(s, r) for s in range(20) for r in range(8)}
    assert len(seeds) == 160 and all(0 <= s < 2**63 for s in seeds)
    with pytest.raises(ValueError):
        rank_seed(1, -1)


@pytest.mark.parametrize("label, sizes", [("even", (4, 4)), ("uneven", (3, 5))])
def test_all_gather_with_grad(ranks, label, sizes):
    g = torch.Generator().manual_seed(3)
    full = torch.randn(sum(sizes), 3, generator=g)
    weights = torch.randn(sum(sizes), 3, generator=g)
    for rank, r in enumerate(ranks):
        assert torch.equal(r[f"gather_{label}"], full)
        assert torch.equal(r[f"gather_{label}_nograd"], full)
        start = sum(sizes[:rank])
        # Both ranks' losses read this rank's rows: the backward sums their gradients (W * weights).
        _close(r[f"gather_{label}_grad"], 2 * weights[start : start + sizes[rank]], f"rank {rank} gradient")


@pytest.mark.parametrize("name", ["nt_xent", "barlow_twins", "vicreg", "info_nce_in_batch"])
@pytest.mark.parametrize("label", ["even", "uneven"])
def test_two_process_loss_equals_single_process_loss(ranks, workers, name, label):
    sizes = workers.EVEN if label == "even" else workers.UNEVEN
    single = workers.loss_step(name, sizes, None, SEED)
    parts = [r[f"{name}_{label}"] for r in ranks]
    world = len(parts)
    # DDP optimises the mean of the ranks' losses: it is the single-process loss.
    _close(sum(p["loss"] for p in parts) / world, single["loss"], f"{name} loss")
    # Each rank's input gradient is W times the single-process one (the gather's summed backward)...
    for key in ("x1_grad", "x2_grad"):
        _close(torch.cat([p[key] for p in parts]) / world, single[key], f"{name} {key}")
    # ... so DDP's averaged parameter gradient is the single-process one (real DDP in the even case, where
    # both ranks already hold the average; the mean over ranks otherwise).
    for p in parts:
        if label == "even":
            _close(p["weight_grad"], single["weight_grad"], f"{name} DDP weight gradient")
    _close(
        sum(p["weight_grad"] for p in parts) / world, single["weight_grad"], f"{name} mean weight gradient"
    )
    if name in ("barlow_twins", "vicreg"):
        # Global-batch losses: every rank holds the whole batch's loss.
        _close(parts[0]["loss"], parts[1]["loss"], f"{name} loss across ranks")


@pytest.mark.parametrize("name", ["nt_xent", "barlow_twins", "vicreg", "info_nce_in_batch"])
def test_gather_in_one_process_is_the_plain_path(workers, name):
    x1, x2, weight = workers.global_batch(6, SEED)
    z1, z2 = x1 @ weight.t(), x2 @ weight.t()
    assert torch.equal(workers.loss_value(name, z1, z2, True), workers.loss_value(name, z1, z2, False))
