"""Settings for the whole test session."""

import os

import pytest


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
