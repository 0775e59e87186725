"""Speed settings of the training step: precision, memory layout, optional compilation, CPU threads.

Measured on a 2-core Sapphire Rapids CPU (see bench/RESULTS.md, "Training throughput"):
- bf16 autocast is 2.3-3.6x faster than float32 on CPUs with native bf16 (AMX or AVX512-BF16): oneDNN
  runs convolutions and matrix products in bf16 with float32 accumulation. Without native support bf16
  is emulated and slower, so float32 stays. Losses still run in float32 (losses/_precision.py).
- channels_last is 1.3-1.5x faster for convolutions on CPU (oneDNN's native layout) as on CUDA.
- torch.compile is optional (`train.compile`, off by default): on this CPU compilation took 5-45 s
  (less once inductor's on-disk cache is warm) and the compiled small-CNN step ran at 0.8-1.2x the
  eager bf16 speed depending on the run; on a GPU it usually pays off for long runs.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

import torch
from torch import nn

from ssl_core.device import autocast_dtype

log = logging.getLogger(__name__)


def _isa_restricted_below_avx512() -> bool:
    """True when torch was told to use AVX2 or less (ATEN_CPU_CAPABILITY / ONEDNN_MAX_CPU_ISA), as on a
    laptop without AVX-512: then bf16 would be emulated, slower than float32."""
    capability = getattr(getattr(torch.backends, "cpu", None), "get_cpu_capability", lambda: "")()
    if capability and not str(capability).upper().startswith("AVX512"):
        return True
    onednn = os.environ.get("ONEDNN_MAX_CPU_ISA", os.environ.get("DNNL_MAX_CPU_ISA", "")).upper()
    return bool(onednn) and onednn != "ALL" and "AVX512" not in onednn and "AMX" not in onednn


def cpu_has_native_bf16() -> bool:
    """True when this CPU computes bf16 in hardware (AMX tiles or AVX512-BF16), as oneDNN needs, and
    torch is not restricted to an older instruction set."""
    if _isa_restricted_below_avx512():
        return False
    cpu = getattr(torch, "cpu", None)
    for probe in ("_is_amx_tile_supported", "_is_avx512_bf16_supported"):
        fn = getattr(cpu, probe, None)
        try:
            if fn is not None and fn():
                return True
        except (RuntimeError, AttributeError):  # older builds without the probe
            continue
    return False


def training_autocast_dtype(device: torch.device, amp: bool = True) -> torch.dtype | None:
    """Mixed-precision dtype for the training step on `device`, or None for float32.

    CUDA: bf16 (fp16 with a GradScaler where bf16 is missing). CPU: bf16 where it is native, since
    it is then several times faster and bf16 keeps float32's range (no loss scaling needed).
    """
    if not amp:
        return None
    if device.type == "cpu":
        return torch.bfloat16 if cpu_has_native_bf16() else None
    return autocast_dtype(device)


def use_channels_last(device: torch.device) -> bool:
    """channels_last pays off for convolutions with oneDNN (CPU) and cuDNN tensor cores (CUDA)."""
    return device.type in ("cpu", "cuda")


def physical_cores() -> int:
    """Physical cores of this machine (hyper-threads not counted); os.cpu_count() when unknown."""
    try:
        pairs = set()
        physical = core = None
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            key = key.strip()
            if key == "physical id":
                physical = value.strip()
            elif key == "core id":
                core = value.strip()
            elif not line.strip() and core is not None:
                pairs.add((physical, core))
                physical = core = None
        if core is not None:
            pairs.add((physical, core))
        if pairs:
            return len(pairs)
    except OSError:
        pass
    return os.cpu_count() or 1


def limit_cpu_threads() -> int:
    """Use at most one intra-op thread per physical core, unless the user chose a count.

    Two threads on the hyper-threads of one core fight over its vector units and slow GEMMs down.
    Returns the number of threads in use.
    """
    if "OMP_NUM_THREADS" not in os.environ:
        cores = physical_cores()
        if torch.get_num_threads() > cores:
            log.info("using %d CPU threads (one per physical core)", cores)
            torch.set_num_threads(cores)
    return torch.get_num_threads()


def compile_method(method: nn.Module) -> float:
    """Compile the method's networks in place with torch.compile; returns the seconds it took to set up.

    `nn.Module.compile()` keeps the module and its state_dict keys as they are (no `_orig_mod.`
    prefix), so checkpoints stay interchangeable with uncompiled runs. Augmentation modules are left
    eager: they take a torch.Generator, which would break the graph. The real compilation happens on
    the first step, which is therefore slow. A method lists in `eager_modules` the children that must stay
    eager too (a GAN's discriminator under a gradient penalty: compiled graphs have no double backward).
    """
    start = time.perf_counter()
    eager = {"views", *getattr(method, "eager_modules", ())}
    for name, child in method.named_children():
        if name in eager or not any(True for _ in child.parameters()):
            continue
        child.compile()
    return time.perf_counter() - start
