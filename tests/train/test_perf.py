"""Speed settings of the training step (ssl_core/train/perf.py) and how the trainer applies them."""

from __future__ import annotations

import pytest
import torch

import ssl_core.train.trainer as trainer_module
from ssl_core.config import RunConfig
from ssl_core.errors import UserError
from ssl_core.train import perf
from ssl_core.train.events import StepEnded

CPU = torch.device("cpu")


def test_cpu_autocast_is_bf16_only_where_the_cpu_has_it(monkeypatch):
    monkeypatch.setattr(perf, "cpu_has_native_bf16", lambda: True)
    assert perf.training_autocast_dtype(CPU) == torch.bfloat16
    assert perf.training_autocast_dtype(CPU, amp=False) is None
    monkeypatch.setattr(perf, "cpu_has_native_bf16", lambda: False)  # emulated bf16 would be slower
    assert perf.training_autocast_dtype(CPU) is None


def test_channels_last_on_cpu_and_cuda_only():
    assert perf.use_channels_last(CPU)
    assert perf.use_channels_last(torch.device("cuda"))
    assert not perf.use_channels_last(torch.device("mps"))


def test_threads_are_limited_to_physical_cores_unless_the_user_chose(monkeypatch):
    before = torch.get_num_threads()
    try:
        monkeypatch.setattr(perf, "physical_cores", lambda: 1)
        monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
        torch.set_num_threads(2)
        assert perf.limit_cpu_threads() == 1
        monkeypatch.setenv("OMP_NUM_THREADS", "2")
        torch.set_num_threads(2)
        assert perf.limit_cpu_threads() == 2
    finally:
        torch.set_num_threads(before)
    assert perf.physical_cores() >= 1


def test_compile_config_field():
    assert RunConfig().train.compile is False
    cfg = RunConfig().with_overrides(["train.compile=true"])
    assert cfg.train.compile is True
    assert RunConfig.from_dict(cfg.to_dict()).train.compile is True  # saved configs keep it
    with pytest.raises(UserError, match="train.compile"):
        RunConfig().with_overrides(['train.compile="sometimes"'])


def test_compile_method_keeps_state_dict_keys_and_skips_views(tiny_config):
    from ssl_core.train.builder import build_components

    method = build_components(tiny_config()).method
    keys = list(method.state_dict())
    perf.compile_method(method)  # lazy: compilation would happen on the first call
    assert list(method.state_dict()) == keys  # checkpoints stay interchangeable
    assert method.backbone._compiled_call_impl is not None
    assert method.projector._compiled_call_impl is not None
    assert all(view._compiled_call_impl is None for view in method.views)


def test_trainer_compiles_only_when_asked(tiny_config, monkeypatch):
    compiled = []
    monkeypatch.setattr(trainer_module, "compile_method", lambda m: compiled.append(type(m).__name__))
    trainer_module.Trainer(tiny_config("train.max_steps=1")).run()
    assert compiled == []
    trainer_module.Trainer(tiny_config("train.max_steps=1", "train.compile=true")).run()
    assert compiled == ["SimCLR"]


def _run(config) -> tuple[list[float], list[torch.dtype]]:
    """Losses of a run and the dtypes the backbone's first convolution produced."""
    dtypes: list[torch.dtype] = []
    build = trainer_module.build_components

    def hooked(*args, **kwargs):
        parts = build(*args, **kwargs)
        first_conv = next(m for m in parts.method.backbone.modules() if isinstance(m, torch.nn.Conv2d))
        first_conv.register_forward_hook(lambda m, i, out: dtypes.append(out.dtype))
        return parts

    losses: list[float] = []
    trainer_module.build_components = hooked
    try:
        trainer = trainer_module.Trainer(config)
        trainer.events.subscribe(lambda e: losses.append(e.loss) if isinstance(e, StepEnded) else None)
        assert trainer.run().status == "completed"
    finally:
        trainer_module.build_components = build
    return losses, dtypes


@pytest.mark.skipif(not perf.cpu_has_native_bf16(), reason="this CPU has no native bf16")
def test_bf16_on_cpu_trains_like_float32(tiny_config):
    """The default run uses bf16 on such a CPU; its losses follow the float32 run's closely."""
    mixed, mixed_dtypes = _run(tiny_config("train.epochs=3"))
    full, full_dtypes = _run(tiny_config("train.epochs=3", "train.amp=false"))
    assert set(mixed_dtypes) == {torch.bfloat16} and set(full_dtypes) == {torch.float32}
    assert len(mixed) == len(full) >= 10
    assert mixed[-1] < mixed[0] - 0.1  # it learns
    for a, b in zip(mixed, full, strict=True):
        assert a == pytest.approx(b, rel=0.03)


def test_bf16_autocast_is_off_when_torch_is_restricted_to_avx2(monkeypatch):
    # A user's laptop without AVX-512 (or a benchmark restricted to AVX2) would emulate bf16, slower
    # than float32: the training step must stay in float32 there.
    from ssl_core.train import perf

    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "AVX2")
    assert perf.cpu_has_native_bf16() is False
    assert perf.training_autocast_dtype(torch.device("cpu")) is None
