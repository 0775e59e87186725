"""Which device to train on: CUDA, then Apple MPS, then CPU, with a user override."""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch

from ssl_core.errors import UserError


@dataclass(frozen=True)
class DeviceInfo:
    name: str  # what torch.device() takes: "cpu", "cuda:0", "mps"
    label: str  # what a person reads: "NVIDIA H100 (80 GB)", "CPU (8 cores)"


def describe_devices() -> list[DeviceInfo]:
    """Every device this machine can train on, best first."""
    found: list[DeviceInfo] = []
    if torch.cuda.is_available():
        for i in range(torch.cuda.device_count()):
            props = torch.cuda.get_device_properties(i)
            found.append(DeviceInfo(f"cuda:{i}", f"{props.name} ({props.total_memory / 2**30:.0f} GB)"))
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        found.append(DeviceInfo("mps", "Apple GPU (MPS)"))
    found.append(DeviceInfo("cpu", f"CPU ({os.cpu_count() or 1} cores)"))
    return found


def device_label(device: torch.device | str) -> str:
    """What a person reads for a device of this machine ("NVIDIA H200 (140 GB)", "CPU (16 cores)"),
    kept in a run's summary so a report says what it trained on."""
    name = str(device)
    for info in describe_devices():
        if info.name == name or (name == "cuda" and info.name == "cuda:0"):
            return info.label
    return name


def select_device(requested: str = "auto") -> torch.device:
    """Resolve "auto" to the best device; check that an explicit choice exists here."""
    requested = (requested or "auto").strip().lower()
    if requested == "auto":
        return torch.device(describe_devices()[0].name)
    try:
        device = torch.device(requested)
    except (RuntimeError, ValueError):
        raise UserError(
            f"train.device = {requested!r} is not a device name; use auto, cpu, cuda, cuda:N or mps.",
            field="train.device",
        ) from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise UserError(
                "train.device asks for CUDA, but no CUDA GPU is available here; use auto or cpu.",
                field="train.device",
            )
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise UserError(
                f"train.device = {requested}: this machine has {torch.cuda.device_count()} CUDA device(s).",
                field="train.device",
            )
    if device.type == "mps" and not (
        getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()
    ):
        raise UserError(
            "train.device asks for MPS, which is not available here; use auto or cpu.", field="train.device"
        )
    if device.type not in ("cpu", "cuda", "mps"):
        raise UserError(
            f"train.device = {requested!r} is not supported; use auto, cpu, cuda or mps.",
            field="train.device",
        )
    return device


def autocast_dtype(device: torch.device) -> torch.dtype | None:
    """Mixed-precision dtype for this device, or None to train in float32."""
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return None
