"""Audio training throughput: the engine's resident clips and batched device views against a per-clip DataLoader.

(a) engine:    `ssl_core.train.trainer.Trainer` on a folder of generated WAV files (`audio:PATH`; or
               `--data audio:speech`), with its defaults: the float32 (N, C, T) waveforms resident on the
               device, two SimCLR views made by `AudioAugment` on whole batches on the device (speed
               perturbation with an anti-aliasing FFT low-pass, crop, shift, mixup, gain, noise at a random
               SNR; per-clip randomness), the mel_cnn backbone (log-mel by torch.stft on the device,
               SpecAugment in training), the method's own `training_step`, bf16 autocast where the CPU has
               native bf16, AdamW + gradient clipping. Timing starts after the warm-up steps; setup (data
               decoding, model) is not timed.
(b) reference: a torch DataLoader over `PerClipViews`: the same recipe (the engine's own `AudioViewRecipe`
               for this clip length) applied to one clip at a time in `__getitem__` with NumPy (FFT
               low-pass and `np.interp` for speed, a random other clip of the set for mixup), as audio SSL
               repositories do (BYOL-A, COLA, audiomentations-style pipelines); default collate; with 0
               and with 2 worker processes (the faster is kept, and named); feeding the same modules
               (mel_cnn + SimCLR projector, same initial weights, SpecAugment included) and NT-Xent in
               plain float32 PyTorch, one forward per view, AdamW + gradient clipping.

Both get the same clips, batch size, clip length and steps. clips/s counts source clips (each becomes two
views). Further tables: where the gain comes from (the model step's precision against the data path)
and the views alone.

    python bench/bench_audio.py                      # full run (~6 min on 2 cores), writes RESULTS.md
    ONEDNN_MAX_CPU_ISA=AVX2 ATEN_CPU_CAPABILITY=avx2 python bench/bench_audio.py --results /tmp/avx2.md
    python bench/bench_audio.py --data audio:speech  # the synthesised speech set instead of generated sounds
    python bench/bench_audio.py --quick              # one tiny iteration (smoke test), no results file
"""

from __future__ import annotations

import argparse
import contextlib
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from _common import (
    Target,
    add_common_args,
    apply_threads,
    command_line,
    isa_facts,
    items_per_second,
    machine_description,
    now,
    publish,
    ratio,
    table,
)
from _common import plural as _n
from _common import rate_text as _f
from _common import sync as _sync
from _trainer_timing import PREFETCH, loader_warmup, trainer_rate
from torch.utils.data import DataLoader, Dataset, get_worker_info

from ssl_core.augment.audio import AudioViewRecipe
from ssl_core.augment.audio_ops import ANTI_ALIAS_PASS, FFT_PAD, fft_size
from ssl_core.config import RunConfig
from ssl_core.data.base import DataSource
from ssl_core.device import select_device
from ssl_core.losses import nt_xent
from ssl_core.train.builder import build_components, open_config_source
from ssl_core.train.optim import resolve_hyper
from ssl_core.train.perf import training_autocast_dtype

SECTION_ID = "bench_audio"
METHOD = "simclr"
BACKBONE = "mel_cnn"
TARGET_RATIO = 2.0  # the batched device views must take the per-clip augmentation cost off the step
KINDS = ("tone", "chirp", "noise")  # the generated set's classes (subfolders)


@dataclass(frozen=True)
class Case:
    batch_size: int
    warmup: int
    steps: int


@dataclass
class Settings:
    device: torch.device
    data: str  # "generated" or an audio: spec
    clips: int  # generated clips (files x clips per file)
    sample_rate: int
    clip_seconds: float
    workers: tuple[int, ...]
    seed: int
    quick: bool
    repeats: int
    batch_size: int
    warmup: int
    steps: int
    width: int | None = None  # mel_cnn width (None: the backbone's default)
    command: str = ""
    threads: int = 1  # torch threads of the reference (the process's own choice); set in main
    engine_threads: list[int] = field(default_factory=list)  # what the Trainer used


# ---- data ----------------------------------------------------------------------------------------------------
CLIPS_PER_FILE = 4


def generated_sound(kind: str, seconds: float, rate: int, rng: np.random.Generator) -> np.ndarray:
    """One recording (float32 mono in [-1, 1]): harmonic tones with envelopes, frequency sweeps, or bursts of
    band-limited noise, a few events each, over a little background noise."""
    n = int(round(seconds * rate))
    t = np.arange(n) / rate
    out = 0.005 * rng.standard_normal(n)
    for _ in range(int(rng.integers(2, 5))):
        start = int(rng.integers(0, max(1, n - rate // 4)))
        length = int(rng.integers(rate // 8, max(rate // 8 + 1, min(n - start, rate))))
        tt = t[:length]
        env = np.sin(np.pi * np.arange(length) / length) ** 2
        if kind == "tone":
            f0 = rng.uniform(110.0, 880.0)
            wave = sum(np.sin(2 * np.pi * f0 * h * tt) * rng.uniform(0.2, 1.0) / h for h in range(1, 6))
        elif kind == "chirp":
            f0, f1 = rng.uniform(100.0, rate / 5, 2)
            wave = np.sin(2 * np.pi * (f0 * tt + (f1 - f0) * tt**2 / (2 * tt[-1] + 1e-9)))
        else:
            white = rng.standard_normal(length + 32)
            taps = max(1, int(rng.integers(1, 16)))  # a moving average: a low-passed hiss
            wave = np.convolve(white, np.ones(taps) / np.sqrt(taps), mode="same")[:length]
        out[start : start + length] += rng.uniform(0.2, 0.6) * env * wave / (np.abs(wave).max() + 1e-9)
    return (out / max(1.0, np.abs(out).max())).astype(np.float32)


def write_generated(folder: Path, clips: int, s: Settings) -> str:
    """WAV files (16-bit) of generated tones, chirps and noise in class subfolders; returns the audio: spec."""
    import soundfile as sf

    rng = np.random.default_rng(s.seed)
    files = max(len(KINDS), -(-clips // CLIPS_PER_FILE))
    for i in range(files):
        kind = KINDS[i % len(KINDS)]
        (folder / kind).mkdir(parents=True, exist_ok=True)
        wave = generated_sound(kind, CLIPS_PER_FILE * s.clip_seconds, s.sample_rate, rng)
        sf.write(folder / kind / f"{kind}_{i:05d}.wav", wave, s.sample_rate, subtype="PCM_16")
    return f"audio:{folder}"


def config_for(case: Case, spec: str, s: Settings, runs_dir: Path, **train) -> RunConfig:
    cfg = RunConfig()
    cfg.data.spec = spec
    cfg.data.val_fraction = 0.0
    cfg.data.sample_rate = s.sample_rate
    cfg.data.clip_seconds = s.clip_seconds
    cfg.method.name = METHOD
    cfg.method.backbone = BACKBONE
    if s.width is not None:
        cfg.method.backbone_params = {"width": s.width}
    cfg.train.batch_size = case.batch_size
    cfg.train.max_steps = case.warmup + case.steps
    cfg.train.device = str(s.device)
    cfg.train.seed = s.seed
    cfg.runs_dir = str(runs_dir)
    for key, value in train.items():
        setattr(cfg.train, key, value)
    cfg.validate()
    return cfg


def components(case: Case, spec: str, source: DataSource, s: Settings):
    """The method the Trainer builds (same seed, same initial weights), its hyperparameters and config."""
    cfg = config_for(case, spec, s, Path("unused"))
    parts = build_components(cfg, source=source)
    hyper = resolve_hyper(cfg, parts.spec, len(parts.train_idx))
    return parts.method, hyper, cfg


def view_recipes(method) -> tuple[AudioViewRecipe, AudioViewRecipe]:
    """The recipes of the engine's two view augmenters (already scaled for this clip length)."""
    first, second = method.views
    return first.recipe, second.recipe


# ---- (b) the reference: per-clip NumPy views in a DataLoader ---------------------------------------------------
class PerClipViews(Dataset):
    """Two views of one (C, T) clip per item, made in `__getitem__` with NumPy: the engine's recipe, op for op
    (speed -> crop -> shift -> mixup -> gain -> noise, each with its probability), one clip at a time.

    The random numbers differ from the engine's (NumPy's generator, per clip); the distributions are the same.
    Mixup takes a random other clip of the set (a per-clip pipeline has no batch to draw from).
    """

    def __init__(self, clips: np.ndarray, recipes: tuple[AudioViewRecipe, AudioViewRecipe], seed: int):
        self.clips = np.ascontiguousarray(clips, dtype=np.float32)
        self.recipes = recipes
        self.seed = int(seed)
        self.rng = np.random.default_rng(seed)

    @staticmethod
    def seed_worker(worker_id: int) -> None:
        info = get_worker_info()
        info.dataset.rng = np.random.default_rng([info.dataset.seed, worker_id + 1])

    def __len__(self) -> int:
        return len(self.clips)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.clips[i]
        return tuple(torch.from_numpy(self.view(x, r, self.rng)) for r in self.recipes)

    def view(self, x: np.ndarray, r: AudioViewRecipe, rng: np.random.Generator) -> np.ndarray:
        length = x.shape[-1]
        x = x.copy()
        if r.speed_p > 0 and r.speed_range != (1.0, 1.0) and rng.random() < r.speed_p:
            x = _speed(x, float(np.exp(rng.uniform(np.log(r.speed_range[0]), np.log(r.speed_range[1])))))
        if r.crop_p > 0 and r.crop_scale[0] < 1.0 and rng.random() < r.crop_p:
            share = rng.uniform(*r.crop_scale)
            start = round(rng.random() * (1.0 - share) * length)
            x[:, :start] = 0.0
            x[:, start + round(share * length) :] = 0.0
        if r.shift_p > 0 and r.shift_max > 0 and rng.random() < r.shift_p:
            steps = round(rng.uniform(-r.shift_max, r.shift_max) * length)
            x = np.roll(x, steps, axis=-1)
            if r.shift_mode == "zero" and steps > 0:
                x[:, :steps] = 0.0
            elif r.shift_mode == "zero" and steps < 0:
                x[:, steps:] = 0.0
        if r.mixup_p > 0 and r.mixup_ratio > 0 and rng.random() < r.mixup_p:
            partner = self.clips[int(rng.integers(len(self.clips)))]
            ratio_ = rng.uniform(0.0, r.mixup_ratio)
            scale = np.sqrt(np.mean(x**2) / max(float(np.mean(partner**2)), 1e-20))
            x = (1.0 - ratio_) * x + ratio_ * scale * partner
        if r.gain_p > 0 and (r.gain_db != (0.0, 0.0) or r.fade_db > 0) and rng.random() < r.gain_p:
            db = rng.uniform(*r.gain_db)
            if r.fade_db > 0:
                db = db + rng.uniform(-r.fade_db, r.fade_db) * np.linspace(0.0, 1.0, length)
            x = x * np.power(10.0, db / 20.0)
        if r.noise_p > 0 and rng.random() < r.noise_p:
            snr = rng.uniform(*r.noise_snr_db)
            noise = rng.standard_normal(x.shape)
            x = x + noise * np.sqrt(np.mean(x**2) / (np.mean(noise**2) * 10 ** (snr / 10)))
        return x.astype(np.float32)


def _speed(x: np.ndarray, factor: float) -> np.ndarray:
    """Play a (C, T) clip `factor` times faster about its centre: an FFT low-pass below the new Nyquist
    frequency first when speeding up (the engine's raised-cosine filter), then linear interpolation."""
    length = x.shape[-1]
    if factor > 1.0:
        size = fft_size(length + FFT_PAD)
        freqs = np.fft.rfftfreq(size)
        top = ANTI_ALIAS_PASS * 0.5 / factor
        bottom = max(top - 0.05, 0.0)
        response = 0.5 * (1.0 + np.cos(np.pi * np.clip((freqs - bottom) / max(top - bottom, 1e-9), 0.0, 1.0)))
        x = np.fft.irfft(np.fft.rfft(x, n=size) * response, n=size)[..., :length]
    centre = (length - 1) / 2.0
    positions = centre + (np.arange(length) - centre) * factor
    steps = np.arange(length)
    return np.stack([np.interp(positions, steps, ch, left=0.0, right=0.0) for ch in x])


def reference_batches(
    clips: np.ndarray, recipes, batch_size: int, workers: int, s: Settings
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """(view 1, view 2) batches on the device, forever, from a DataLoader over PerClipViews."""
    cuda = s.device.type == "cuda"
    loader = DataLoader(
        PerClipViews(clips, recipes, seed=s.seed),
        batch_size=batch_size,
        shuffle=True,
        drop_last=True,
        num_workers=workers,
        worker_init_fn=PerClipViews.seed_worker,
        pin_memory=cuda,
        persistent_workers=workers > 0,
        prefetch_factor=PREFETCH if workers > 0 else None,
        generator=torch.Generator().manual_seed(s.seed),
    )
    while True:
        for v1, v2 in loader:
            yield v1.to(s.device, non_blocking=cuda), v2.to(s.device, non_blocking=cuda)


@dataclass
class ReferenceResult:
    clips_per_sec: float
    waiting: float  # share of the timed window spent waiting for the DataLoader (0 workers: making views)
    workers: int


def reference_rate(
    case: Case,
    spec: str,
    source: DataSource,
    clips: np.ndarray,
    s: Settings,
    workers: int,
    *,
    bf16: bool = False,
) -> ReferenceResult:
    method, hyper, cfg = components(case, spec, source, s)
    recipes = view_recipes(method)
    method.to(s.device).train()
    backbone, projector = method.backbone, method.projector
    params = [p for p in method.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=hyper.lr, weight_decay=hyper.weight_decay)
    temperature = method.hparams["temperature"]
    dtype = training_autocast_dtype(s.device) if bf16 else None
    batches = reference_batches(clips, recipes, case.batch_size, workers, s)
    case = loader_warmup(case, workers)
    waited = start = 0.0
    try:
        for step in range(case.warmup + case.steps):
            if step == case.warmup:
                _sync(s.device)
                start, waited = time.perf_counter(), 0.0
            before = time.perf_counter()
            v1, v2 = next(batches)
            waited += time.perf_counter() - before
            with torch.autocast(s.device.type, dtype=dtype or torch.float32, enabled=dtype is not None):
                loss = nt_xent(projector(backbone(v1)), projector(backbone(v2)), temperature)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, cfg.train.grad_clip)
            optimizer.step()
        _sync(s.device)
        seconds = time.perf_counter() - start
    finally:
        batches.close()  # drops the DataLoader and so stops its workers
    return ReferenceResult(case.steps * case.batch_size / seconds, waited / seconds, workers)


# ---- (a) the engine: the real Trainer ---------------------------------------------------------------------------
def engine_rate(case: Case, spec: str, s: Settings, *, amp: bool = True) -> float:
    """Clips per second of the Trainer's steps after the warm-up (from StepEnded time stamps)."""
    with tempfile.TemporaryDirectory(prefix="bench-runs-") as runs:
        cfg = config_for(case, spec, s, Path(runs), amp=amp)
        return trainer_rate(
            cfg, s.device, case.warmup, case.steps, case.batch_size,
            threads_used=s.engine_threads, what=f"engine run of {case}",
        )  # fmt: skip


# ---- views alone -----------------------------------------------------------------------------------------------
def reference_views_rate(clips: np.ndarray, recipes, case: Case, s: Settings, workers: int) -> float:
    batches = reference_batches(clips, recipes, case.batch_size, workers, s)
    try:
        return _rate(lambda: next(batches), loader_warmup(case, workers), s)
    finally:
        batches.close()


def engine_views_rate(method, resident: torch.Tensor, case: Case, s: Settings) -> float:
    """Both AudioAugment views of resident batches, as the method makes them in training, no model."""
    generator = torch.Generator(device=s.device).manual_seed(s.seed)

    def one() -> None:
        idx = torch.randint(0, len(resident), (case.batch_size,), generator=generator, device=s.device)
        method.make_views(method.prepare(resident.index_select(0, idx)), generator)

    return _rate(one, case, s)


def view_levels(
    method, resident: torch.Tensor, clips: np.ndarray, recipes, s: Settings
) -> tuple[float, float]:
    """Mean RMS of engine views and of reference views of the same 256 clips: the same recipe gives the same
    loudness statistics (a check that the reference does the engine's work, not less)."""
    count = min(256, len(clips))
    generator = torch.Generator(device=s.device).manual_seed(s.seed)
    with torch.no_grad():
        v1, v2 = method.make_views(method.prepare(resident[:count]), generator)
    engine = float(torch.cat([v1, v2]).float().square().mean(dim=(1, 2)).sqrt().mean())
    dataset = PerClipViews(clips[:count], recipes, seed=s.seed)
    views = np.stack([v.numpy() for i in range(count) for v in dataset[i]])
    return engine, float(np.sqrt(np.mean(views**2, axis=(1, 2))).mean())


def _rate(fn: Callable[[], object], case: Case, s: Settings) -> float:
    return items_per_second(fn, case.warmup, case.steps, case.batch_size, s.device)


# ---- the benchmark ---------------------------------------------------------------------------------------------
@contextlib.contextmanager
def private_cache(folder: Path) -> Iterator[None]:
    """Decoded clips of the benchmark's folder go to a cache of its own, removed with it."""
    old = os.environ.get("SSL_WORKBENCH_CACHE")
    os.environ["SSL_WORKBENCH_CACHE"] = str(folder)
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("SSL_WORKBENCH_CACHE", None)
        else:
            os.environ["SSL_WORKBENCH_CACHE"] = old


@dataclass
class Measured:
    case: Case
    references: dict[int, ReferenceResult]  # workers -> best of the repeats
    engine: float
    ablation_rows: list
    views_rows: list
    levels: tuple[float, float]
    n_clips: int
    clip_shape: tuple[int, ...]

    @property
    def best_reference(self) -> ReferenceResult:
        return max(self.references.values(), key=lambda r: r.clips_per_sec)

    @property
    def speedup(self) -> float:
        return self.engine / self.best_reference.clips_per_sec


def measure(spec: str, s: Settings, log: Callable[[str], None]) -> Measured:
    case = Case(s.batch_size, s.warmup, s.steps)
    source = open_config_source(config_for(case, spec, s, Path("unused")))
    resident_cpu = source.read(torch.arange(len(source)))[0]
    clips = resident_cpu.numpy()
    method, _, _ = components(case, spec, source, s)
    recipes = view_recipes(method)
    log(f"{len(clips):,} clips of shape {tuple(clips.shape[1:])} at {s.sample_rate} Hz from {spec}")

    # 1. engine vs reference, best of `repeats`, alternating (other work on a shared machine only ever
    # slows a run down, and alternating spreads it over both).
    refs: dict[int, list[ReferenceResult]] = {w: [] for w in s.workers}
    engines = []
    for _ in range(s.repeats):
        for w in s.workers:
            refs[w].append(reference_rate(case, spec, source, clips, s, w))
        engines.append(engine_rate(case, spec, s))
    best_refs = {w: max(r, key=lambda x: x.clips_per_sec) for w, r in refs.items()}
    engine = max(engines)
    log(
        "reference " + ", ".join(f"{w} workers {r.clips_per_sec:.1f}" for w, r in best_refs.items())
        + f"; engine {engine:.1f} clips/s"
    )  # fmt: skip

    # 2. where the gain comes from: the model step's precision against the data path.
    workers = max(best_refs.values(), key=lambda r: r.clips_per_sec).workers
    precision = training_autocast_dtype(s.device)
    label = f"{str(precision).removeprefix('torch.')} autocast" if precision else ""
    variants: list[tuple[str, Callable[[], float]]] = [
        (f"reference: per-clip NumPy views + DataLoader ({workers} workers), float32",
         lambda: reference_rate(case, spec, source, clips, s, workers).clips_per_sec),
    ]  # fmt: skip
    if precision is not None:
        variants.append(
            (f"reference + the engine's model precision ({label})",
             lambda: reference_rate(case, spec, source, clips, s, workers, bf16=True).clips_per_sec)
        )  # fmt: skip
        variants.append(
            ("engine, float32 (train.amp = false)", lambda: engine_rate(case, spec, s, amp=False))
        )
    variants.append((f"engine defaults ({label or 'float32'})", lambda: engine_rate(case, spec, s)))
    best = dict.fromkeys((name for name, _ in variants), 0.0)
    for _ in range(1 if s.quick else 2):  # round robin, best of each
        for name, run_variant in variants:
            best[name] = max(best[name], run_variant())
    ref0 = next(iter(best.values()))
    ablation_rows = [[name, _f(v), ratio(v, ref0)] for name, v in best.items()]
    log("ablation done")

    # 3. the views alone (no model), and a check that both pipelines make views of the same loudness.
    method.to(s.device)
    resident = resident_cpu.to(s.device)
    views = {
        f"reference: PerClipViews + DataLoader, {w} workers": reference_views_rate(clips, recipes, case, s, w)
        for w in s.workers
    }
    best_views = max(views.values())
    views["engine: AudioAugment x 2 on the resident batch"] = engine_views_rate(method, resident, case, s)
    views_rows = [[name, _f(v), ratio(v, best_views)] for name, v in views.items()]
    levels = view_levels(method, resident, clips, recipes, s)
    log(f"views done; mean view RMS engine {levels[0]:.4f}, reference {levels[1]:.4f}")
    return Measured(
        case, best_refs, engine, ablation_rows, views_rows, levels, len(clips), tuple(clips.shape[1:])
    )


def run(s: Settings, log: Callable[[str], None]) -> tuple[str, list[Target]]:
    with tempfile.TemporaryDirectory(prefix="bench-audio-") as tmp, private_cache(Path(tmp) / "cache"):
        spec = s.data if s.data != "generated" else write_generated(Path(tmp) / "sounds", s.clips, s)
        m = measure(spec, s, log)
    ref = m.best_reference
    target = Target(
        "audio training throughput",
        f"{METHOD} {BACKBONE}: engine >= {TARGET_RATIO:.0f}x per-clip augmentation DataLoader",
        f"{m.speedup:.2f}x ({_f(m.engine)} vs {_f(ref.clips_per_sec)} clips/s, reference with "
        f"{ref.workers} workers)",
        m.speedup >= TARGET_RATIO,
    )
    return render(s, m), [target]


def render(s: Settings, m: Measured) -> str:
    bullet, warning = isa_facts(s.device)
    engine_threads = sorted(set(s.engine_threads)) or [s.threads]
    ref = m.best_reference
    channels, length = m.clip_shape
    data = (
        f"generated sounds ({', '.join(KINDS)}: harmonic tones, frequency sweeps, bursts of low-passed "
        f"noise; {CLIPS_PER_FILE} clips per 16-bit WAV file; seeded)"
        if s.data == "generated"
        else f"`{s.data}`"
    )
    header = (
        ["backbone", "batch", "clip"]
        + [f"reference clips/s, {w} workers" for w in s.workers]
        + ["reference kept (workers)", "reference waiting", "engine clips/s", "engine vs reference"]
    )
    row = (
        [BACKBONE, m.case.batch_size, f"{channels} x {length:,}"]
        + [_f(m.references[w].clips_per_sec) for w in s.workers]
        + [f"{ref.workers}", f"{ref.waiting:.0%}", _f(m.engine), f"**{m.speedup:.2f}x**"]
    )
    lines = [
        f"## Audio training throughput: SimCLR with mel_cnn on {s.clip_seconds:g} s clips at {s.sample_rate:,} Hz",
        "",
        f"`{s.command}` on {now()}. {m.n_clips:,} clips of {data}, read by `audio:` (decoding not timed). "
        "The engine is the real `Trainer`: waveforms resident on the device, both SimCLR views by "
        "`AudioAugment` on whole batches (speed perturbation with an anti-aliasing low-pass, crop, shift, "
        "mixup, gain, noise at a random SNR; per-clip randomness), log-mel and SpecAugment inside mel_cnn on "
        "the device, its defaults otherwise. The reference is a DataLoader over `PerClipViews` (the same "
        "recipe, op for op, on one clip at a time with NumPy in `__getitem__`; default collate) with "
        f"{' and '.join(str(w) for w in s.workers)} worker processes, the faster kept, feeding the same "
        "modules with the same initial weights in plain float32 PyTorch (one forward per view, NT-Xent, "
        f"AdamW + gradient clipping). Same clips, batch size, clip length and steps; {s.threads} torch "
        f"thread(s) in the reference's training process, {'/'.join(map(str, engine_threads))} in the "
        "engine's. clips/s counts source clips (each gives two views), over "
        f"{_n(s.steps, 'step')} after {_n(s.warmup, 'warm-up step')} (the reference with workers takes "
        f"{PREFETCH} more per worker first). 'reference waiting' is the kept reference's share of time "
        "spent waiting for batches (with 0 workers: making the views itself). Throughput is the best of "
        f"{_n(s.repeats, 'run')}, reference and engine alternating. Mean RMS of the views of the same 256 "
        f"clips: engine {m.levels[0]:.4f}, reference {m.levels[1]:.4f} (the same recipe, the same work).",
        "",
        machine_description(s.device) + f"\n- {bullet}",
        "",
    ]
    if warning:
        lines += [warning, ""]
    lines += [
        table(header, [row], "llr" + "r" * (len(header) - 3)),
        "",
        "### Where the gain comes from (same run)",
        "",
        "The data path alone (resident clips + batched device views, no worker processes) is the float32 "
        "engine row; the rest is the model step's precision, which the second row shows would help a "
        "DataLoader pipeline too. Round robin, best of each.",
        "",
        table(["pipeline", "clips/s", "vs reference"], m.ablation_rows, "lrr"),
        "",
        "### Views only (SimCLR audio recipe, both views, no model)",
        "",
        table(["pipeline", "clips/s", "vs best reference"], m.views_rows, "lrr"),
    ]
    return "\n".join(lines).rstrip("\n")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--data", default="generated",
        help="generated (tones, chirps and noise written as WAV files; default) or an audio: spec such as "
        "audio:speech or audio:PATH",
    )  # fmt: skip
    p.add_argument("--clips", type=int, default=2048, help="generated clips (default 2,048)")
    p.add_argument("--sample-rate", type=int, default=16000, help="Hz (default 16,000)")
    p.add_argument("--clip-seconds", type=float, default=1.0, help="clip length (default 1.0)")
    p.add_argument("--batch-size", type=int, default=64, help="batch size of both pipelines (default 64)")
    p.add_argument("--steps", type=int, default=10, help="timed steps per run (default 10)")
    p.add_argument("--warmup", type=int, default=2, help="untimed steps first (default 2)")
    p.add_argument(
        "--workers", type=int, nargs="+", default=[0, 2],
        help="reference DataLoader worker counts to try; the fastest is kept (default 0 2)",
    )  # fmt: skip
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, mps")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--repeats", type=int, default=3, help="best of this many runs (default 3)")
    add_common_args(p)
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.warmup < 1 or args.steps < 1 or args.repeats < 1:
        raise SystemExit("--warmup, --steps and --repeats must be at least 1")
    apply_threads(args)
    quick = args.quick
    s = Settings(
        device=select_device(args.device),
        data=args.data,
        clips=48 if quick else args.clips,
        sample_rate=4000 if quick else args.sample_rate,
        clip_seconds=0.5 if quick else args.clip_seconds,
        workers=tuple(dict.fromkeys(args.workers)),
        seed=args.seed,
        quick=quick,
        repeats=1 if quick else args.repeats,
        batch_size=8 if quick else args.batch_size,
        warmup=1 if quick else args.warmup,
        steps=2 if quick else args.steps,
        width=8 if quick else None,
        threads=torch.get_num_threads(),
    )
    s.command = command_line("bench_audio.py", argv)
    body, targets = run(s, lambda message: print(message, flush=True))
    publish(args, SECTION_ID, body, targets)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
