import pytest

from ssl_core.config import RunConfig


@pytest.fixture
def tiny_config(tmp_path):
    """SimCLR on digits with the small CNN: a few seconds on 2 CPU cores."""

    def make(*overrides: str) -> RunConfig:
        base = [
            "data.spec=digits",
            "method.name=simclr",
            "method.backbone=small_cnn",
            "train.epochs=2",
            "train.batch_size=256",
            "train.device=cpu",
            "data.num_workers=0",
            f"runs_dir={str(tmp_path / 'runs')!r}",
        ]
        return RunConfig().with_overrides(base + list(overrides))

    return make
