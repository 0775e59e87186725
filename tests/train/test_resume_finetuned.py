"""A fine-tuned classifier (ssl-core finetune) is a run folder too, but holds nothing to continue training."""

from __future__ import annotations

import pytest

from ssl_core.config import RunConfig
from ssl_core.errors import UserError
from ssl_core.runs import store
from ssl_core.train.trainer import Trainer


def test_resuming_a_finetuned_run_is_refused_in_words_and_leaves_it_as_it_was(tmp_path):
    run = tmp_path / "20261201-000000-simclr-digits-finetune"
    run.mkdir()
    RunConfig().save(store.RunPaths(run).config)
    store.write_summary(run, kind="finetune", parent="20261130-000000-simclr-digits", status="completed")
    before = store.read_summary(run)

    with pytest.raises(UserError) as caught:
        Trainer.resume(run)
    message = str(caught.value)
    assert "fine-tuned classifier" in message and "20261130-000000-simclr-digits" in message
    assert store.read_summary(run) == before  # not marked failed
