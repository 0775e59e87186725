"""Settings for the whole test session."""

import os

import pytest


def pytest_configure(config):
    """Under pytest-xdist (`make test` runs one worker per core, at most four), each worker's torch gets
    its share of the cores: a worker each using every core would oversubscribe the CPU, and OpenMP threads
    that wait for each other's cores make every step many times slower."""
    workers = os.environ.get("PYTEST_XDIST_WORKER_COUNT")
    if workers:
        import torch

        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
        torch.set_num_threads(max(1, cores // int(workers)))


@pytest.fixture(autouse=True, scope="session")
def _decoded_image_cache(tmp_path_factory):
    """Folders opened by tests are cached under the session's temporary folder, never in ~/.cache."""
    previous = os.environ.get("SSL_WORKBENCH_CACHE")
    os.environ["SSL_WORKBENCH_CACHE"] = str(tmp_path_factory.mktemp("ssl-workbench-cache"))
    yield
    if previous is None:
        os.environ.pop("SSL_WORKBENCH_CACHE", None)
    else:
        os.environ["SSL_WORKBENCH_CACHE"] = previous


@pytest.fixture(autouse=True, scope="session")
def _default_runs_dir(tmp_path_factory):
    """Runs started without a runs folder (CLI, GUI, RunConfig()) land in the session's temporary
    folder, never in the real per-user data folder."""
    from ssl_core.runs.location import RUNS_ENV

    previous = os.environ.get(RUNS_ENV)
    os.environ[RUNS_ENV] = str(tmp_path_factory.mktemp("default-runs"))
    yield
    if previous is None:
        os.environ.pop(RUNS_ENV, None)
    else:
        os.environ[RUNS_ENV] = previous


@pytest.fixture(scope="module")
def one_torch_thread():
    """Tiny models run fastest on one thread; more threads only contend on a shared 2-core CPU.
    Use with `pytestmark = pytest.mark.usefixtures("one_torch_thread")`."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
