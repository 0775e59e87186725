"""The joint-embedding methods on text: SimCLR trains in the real trainer on a generated corpus with a
falling loss, its live previews read the views back as words, and the reopened run tokenises the same;
every joint-embedding method builds on text and takes a finite step on views of token ids."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ssl_core.config import RunConfig
from ssl_core.data.tokenizer import CLS_ID
from ssl_core.methods import StepContext
from ssl_core.modalities.text import TextModality
from ssl_core.runs.store import load_run, read_metrics
from ssl_core.train import builder
from ssl_core.train.events import PreviewReady
from ssl_core.train.live_previews import finished_preview
from ssl_core.train.trainer import Trainer
from tests.modalities.test_text_modality import adapter_for, text_source

pytestmark = pytest.mark.usefixtures("one_torch_thread")

JOINT = ("simclr", "moco", "byol", "simsiam", "barlow_twins", "vicreg")
SMALL_TRANSFORMER = "method.backbone_params={width = 32, layers = 1}"


def text_config(tmp_path, method: str, *extra: str) -> RunConfig:
    return RunConfig().with_overrides(
        [
            "data.spec='test:text'",
            f"method.name={method}",
            "method.backbone=text_transformer",
            SMALL_TRANSFORMER,
            "train.device=cpu",
            "data.num_workers=0",
            "train.batch_size=32",
            f"runs_dir={str(tmp_path)!r}",
            *extra,
        ]
    )


def test_simclr_trains_on_text_and_its_run_reopens_with_the_tokenizer(tmp_path, monkeypatch):
    source = text_source(n=200)
    monkeypatch.setattr(builder, "open_config_source", lambda config, **kw: source)
    cfg = text_config(tmp_path, "simclr", "train.epochs=10", "train.max_steps=40", "train.lr=0.003")
    trainer = Trainer(cfg, preview_interval_s=0.0)
    previews = []
    trainer.events.subscribe(lambda e: previews.append(e.preview) if isinstance(e, PreviewReady) else None)
    result = trainer.run()
    assert result.status == "completed", result.message
    losses = [m["loss"] for m in read_metrics(result.run_dir) if "loss" in m]
    assert len(losses) >= 30 and np.all(np.isfinite(losses))
    assert np.mean(losses[-10:]) < 0.9 * np.mean(losses[:5])
    last = previews[-1]
    assert last.payload == "token_text" and set(last.images) == {"original", "view 1", "view 2"}
    rows = last.meta["text_rows"]
    assert len(rows) == len(last.images["original"]) and rows[0]["kind"] == "views"
    assert set(rows[0]["texts"]) == {"original", "view 1", "view 2"} and rows[0]["texts"]["original"]
    stored, _ = source.read(torch.arange(16))
    trained = builder.build_components(cfg, source=source).method.input_adapter(stored)
    assert (trained[:, 0] == CLS_ID).all()
    # Reopening rebuilds the adapter from the data, then the checkpoint restores the run's own tokenizer:
    # a rebuild that came out differently (here: 7 characters only) must not change the ids.
    otherwise = adapter_for(text_source(n=60, seed=5, vocab=12), train=60)
    assert not torch.equal(otherwise(stored), trained)
    monkeypatch.setattr(TextModality, "input_adapter", lambda self, *args: otherwise)
    run = load_run(result.run_dir, source=source)
    assert run.method.input_adapter is otherwise and torch.equal(run.method.prepare(stored), trained)


@pytest.mark.parametrize("name", JOINT)
def test_every_joint_embedding_method_takes_a_step_on_text(name):
    config = RunConfig()
    config.method.name = name
    config.method.backbone_params = {"width": 32, "layers": 1}
    parts = builder.build_components(config, source=text_source(n=64))
    method = parts.method
    stored, _ = parts.source.read(parts.train_idx[:16])
    ids = method.prepare(stored)
    g = torch.Generator().manual_seed(0)
    out = method.training_step(ids, StepContext(step=0, total_steps=10, epoch=0, generator=g))
    assert torch.isfinite(out.loss)
    out.loss.backward()
    assert method.backbone.embedding.weight.grad is not None
    preview = finished_preview(method, ids[:4], torch.Generator().manual_seed(1))
    assert len(preview.meta["text_rows"]) == 4
