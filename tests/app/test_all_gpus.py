"""The device choice "All N GPUs": offered from two CUDA devices, it sets train.device = "cuda" and
train.processes = N (and shows the SyncBatchNorm choice); one GPU or none, no such item."""

from __future__ import annotations

import pytest

from app.widgets import training_form
from app.widgets.training_form import ALL_GPUS, DEVICE, SYNC_BN, TrainingForm
from ssl_core.config import RunConfig
from ssl_core.device import DeviceInfo


def _form(qtbot, monkeypatch, gpus: int) -> TrainingForm:
    devices = [DeviceInfo(f"cuda:{i}", "NVIDIA H200 (140 GB)") for i in range(gpus)]
    devices.append(DeviceInfo("cpu", "CPU (2 cores)"))
    monkeypatch.setattr(training_form, "detected_devices", lambda: devices)
    form = TrainingForm()
    qtbot.addWidget(form)
    form.populate_devices()
    return form


def _texts(form: TrainingForm) -> list[str]:
    box = form.editor(DEVICE)
    return [box.itemText(i) for i in range(box.count())]


def test_two_gpus_offer_all_gpus(qtbot, monkeypatch):
    form = _form(qtbot, monkeypatch, 2)
    box = form.editor(DEVICE)
    index = box.findData(ALL_GPUS)
    assert index == 1 and box.itemText(index).startswith("All 2 GPUs (NVIDIA H200 (140 GB))")
    assert not form.shown(SYNC_BN)  # one device: SyncBatchNorm means nothing

    box.setCurrentIndex(index)
    assert form.shown(SYNC_BN)
    form.editor(SYNC_BN).setChecked(True)
    cfg = RunConfig()
    form.apply_to(cfg)
    assert (cfg.train.device, cfg.train.processes, cfg.train.sync_batchnorm) == ("cuda", 2, True)
    cfg.validate("the form")

    box.setCurrentIndex(box.findData("cuda:1"))  # one device again: one process
    assert not form.shown(SYNC_BN)
    form.apply_to(cfg)
    assert (cfg.train.device, cfg.train.processes) == ("cuda:1", 1)

    form.load_from(RunConfig().with_overrides(["train.device='cuda'", "train.processes=2"]))
    assert box.currentData() == ALL_GPUS and form.shown(SYNC_BN)
    form.load_from(RunConfig())
    assert box.currentIndex() == 0 and form.value(DEVICE) == "auto"
    again = RunConfig()
    form.apply_to(again)
    assert again == RunConfig()


@pytest.mark.parametrize("gpus", [0, 1])
def test_one_gpu_or_none_has_no_all_gpus_item(qtbot, monkeypatch, gpus):
    form = _form(qtbot, monkeypatch, gpus)
    assert form.editor(DEVICE).findData(ALL_GPUS) == -1
    assert not any(text.startswith("All ") for text in _texts(form))
    assert len(_texts(form)) == gpus + 2  # Automatic, the GPU, the CPU
    # a config made on a bigger machine still loads: its device, one process here
    form.load_from(RunConfig().with_overrides(["train.device='cpu'", "train.processes=4"]))
    cfg = RunConfig()
    form.apply_to(cfg)
    assert (cfg.train.device, cfg.train.processes) == ("cpu", 1)
    assert not form.shown(SYNC_BN)


def test_four_gpus_label(qtbot, monkeypatch):
    form = _form(qtbot, monkeypatch, 4)
    assert "All 4 GPUs (NVIDIA H200 (140 GB))  [cuda × 4]" in _texts(form)
