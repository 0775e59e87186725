"""The training loop: one engine for the CLI, the Python API and the GUI.

A Trainer owns one run directory. It publishes events, obeys a RunControl from another thread,
checkpoints atomically every epoch and on stop, and resumes from exactly the step it saved.
"""

from __future__ import annotations

import errno
import gc
import logging
import math
import os
import time
import traceback
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import torch

from ssl_core.config import RunConfig
from ssl_core.data.loader import BatchPipeline
from ssl_core.device import select_device
from ssl_core.errors import UserError
from ssl_core.methods.base import StepContext, StepOutput
from ssl_core.runs import store
from ssl_core.runs.atomic import DiskWriteError, remove_temp_files, write_error
from ssl_core.runs.checkpoint import load_checkpoint, save_checkpoint
from ssl_core.runs.metrics import METRICS_NAME, MetricsWriter, truncate_metrics
from ssl_core.runs.run_id import new_run_id, safe_child
from ssl_core.train.builder import Components, build_components
from ssl_core.train.control import RunControl
from ssl_core.train.events import (
    CheckpointSaved,
    EpochEnded,
    EventBus,
    PreviewReady,
    RunFailed,
    RunFinished,
    RunStarted,
    TrainWarning,
)
from ssl_core.train.optim import build_optimizer, build_scheduler, resolve_hyper
from ssl_core.train.perf import compile_method, limit_cpu_threads, training_autocast_dtype, use_channels_last
from ssl_core.train.recorder import NonFiniteLoss, StepRecorder

log = logging.getLogger(__name__)

PREVIEW_IMAGES = 8
_CHECKPOINT_KEYS = ("model", "optimizer", "scheduler", "scaler", "rng", "step")
# What each allocator says when it runs out (CUDA and MPS raise OutOfMemoryError or RuntimeError, the
# CPU allocator a RuntimeError).
_OOM_TEXTS = ("out of memory", "can't allocate memory", "cannot allocate memory", "not enough memory")


@dataclass(frozen=True)
class RunResult:
    run_dir: Path
    status: str  # "completed", "stopped" or "failed"
    step: int
    message: str = ""


class Trainer:
    def __init__(
        self,
        config: RunConfig,
        control: RunControl | None = None,
        preview_interval_s: float | None = None,
        *,
        run_dir: Path | None = None,
        download: bool = False,
        _resuming: bool = False,
    ):
        config.validate()
        self.config = config
        self.control = control or RunControl()
        self.preview_interval_s = preview_interval_s
        self.events = EventBus()
        self.download = download
        self.run_dir = Path(run_dir) if run_dir is not None else None
        self._resuming = _resuming
        self.step = 0
        self._checkpoint_step: int | None = None  # step of the newest checkpoint on disk
        self._batch_size: int | None = None
        self._sample_text: str = ""  # e.g. "8 x 8 grayscale images", for messages
        self._device: torch.device | None = None

    @classmethod
    def resume(
        cls,
        run_dir: str | Path,
        control: RunControl | None = None,
        preview_interval_s: float | None = None,
        **kw,
    ) -> Trainer:
        paths = store.require_run_dir(run_dir)
        config = RunConfig.load(paths.config)
        summary = store.read_summary(paths.root)
        pid = summary.get("pid")
        if store.effective_status(summary) == "running" and pid != os.getpid():
            # Two trainers appending to one run would interleave its metrics and checkpoints.
            raise UserError(
                f"The run {paths.root} is still being trained by process {pid}; stop that process first "
                "(or wait for it to finish), then resume.",
                path=str(paths.root),
            )
        return cls(config, control, preview_interval_s, run_dir=paths.root, _resuming=True, **kw)

    # ------------------------------------------------------------------------------------------
    def run(self) -> RunResult:
        """Train to the end (or until stopped). Never raises for user errors: it reports RunFailed."""
        out_of_memory = False
        try:
            return self._run()
        except DiskWriteError as exc:  # the disk or the folder refused a write (metrics, summary, ...)
            message = self._with_checkpoint_hint(str(exc))
        except (UserError, NonFiniteLoss) as exc:
            message = str(exc)
        except Exception as exc:
            if isinstance(exc, OSError) and exc.filename and _is_write_error(exc):
                message = self._with_checkpoint_hint(str(write_error(exc, exc.filename)))
            elif not _is_out_of_memory(exc):  # a bug: keep the run loadable and report with traceback
                log.exception("training failed")
                self._fail(f"{type(exc).__name__}: {exc}", tb=traceback.format_exc())
                return RunResult(self.run_dir or Path(), "failed", self.step, str(exc))
            else:
                out_of_memory = True
                message = self._out_of_memory_message()
        if out_of_memory:  # outside the except block, so the failed step's tensors can be freed
            _free_memory(self._device)
        self._fail(message, user_error=True)
        return RunResult(self.run_dir or Path(), "failed", self.step, message)

    def _fail(self, message: str, tb: str = "", user_error: bool = False) -> None:
        if self.run_dir is not None and self.run_dir.is_dir():
            try:
                store.write_summary(self.run_dir, status="failed", message=message, updated=_now())
            except OSError as exc:  # e.g. the disk that just filled up: the event still reports it
                log.warning("could not record the failure in %s: %s", self.run_dir, exc)
        self.events.emit(RunFailed(self.run_dir, self.step, message, tb, user_error))

    def _with_checkpoint_hint(self, message: str) -> str:
        """Add what is left on disk and how to continue, to a message about a failed run."""
        if self.run_dir is None or not (self.run_dir / store.CONFIG).is_file():
            return message
        if self._checkpoint_step is None:
            return (
                f"{message} No checkpoint was saved yet; once this is fixed, `ssl-core resume {self.run_dir}` "
                "starts it again from step 0."
            )
        return (
            f"{message} The last checkpoint (step {self._checkpoint_step}) is kept; continue with: "
            f"ssl-core resume {self.run_dir}"
        )

    def _out_of_memory_message(self) -> str:
        return self._with_checkpoint_hint(
            f"Out of memory on {self._device or 'the device'} at batch size {self._batch_size} with "
            f"{self._sample_text or 'this data'}: lower train.batch_size or the sample size "
            "(data.image_size or data.length), or pick a smaller backbone, and start a new run."
        )

    def _run(self) -> RunResult:
        cfg = self.config
        device = select_device(cfg.train.device)
        self._device = device
        parts = build_components(cfg, download=self.download)
        method = parts.method
        n_train = len(parts.train_idx)
        hyper = resolve_hyper(cfg, parts.spec, n_train)
        self._batch_size = hyper.batch_size
        self._sample_text = parts.method.modality.describe(parts.source.info)
        for message in [*hyper.warnings, *method.setup_warnings]:
            self.events.emit(TrainWarning(message))
        for skipped in parts.source.info.skipped[:20]:
            self.events.emit(TrainWarning(f"Skipped {skipped.path}: {skipped.reason}"))
        if len(parts.source.info.skipped) > 20:
            self.events.emit(
                TrainWarning(f"... and {len(parts.source.info.skipped) - 20} more skipped files")
            )

        pipeline = BatchPipeline(
            parts.source,
            parts.train_idx,
            hyper.batch_size,
            device,
            memory_budget_bytes=cfg.data.memory_budget_mb * 2**20,
            num_workers=cfg.data.num_workers,
        )
        steps_per_epoch = pipeline.steps_per_epoch()
        total_steps = steps_per_epoch * cfg.train.epochs
        if cfg.train.max_steps:
            total_steps = min(total_steps, cfg.train.max_steps)

        method.to(device)
        if use_channels_last(device):  # faster convolutions with cuDNN and oneDNN (see train/perf.py)
            method.to(memory_format=torch.channels_last)
        if device.type == "cpu":
            limit_cpu_threads()
        if cfg.train.compile:
            compile_method(method)
        optimizer = build_optimizer(method, parts.spec, hyper)
        warmup_steps = int(round(hyper.warmup_epochs * steps_per_epoch))
        scheduler = build_scheduler(optimizer, total_steps, min(warmup_steps, total_steps // 2))
        amp_dtype = training_autocast_dtype(device, cfg.train.amp)
        scaler = torch.amp.GradScaler(device.type, enabled=amp_dtype == torch.float16)
        generator = torch.Generator(device=device).manual_seed(cfg.train.seed)

        if self._resuming:
            assert self.run_dir is not None
            created = store.read_summary(self.run_dir).get("created", _now())
            # A process killed while writing leaves temporary files; no one else writes these.
            remove_temp_files(self.run_dir / "checkpoints")
            remove_temp_files(self.run_dir, names=(METRICS_NAME, store.CONFIG))
        if self._resuming and store.RunPaths(self.run_dir).checkpoint.is_file():
            checkpoint = store.RunPaths(self.run_dir).checkpoint
            state = load_checkpoint(checkpoint, map_location=device)
            _restore(checkpoint, state, method, optimizer, scheduler, scaler, generator, device)
            self.step = int(state["step"])
            self._checkpoint_step = self.step
            truncate_metrics(store.RunPaths(self.run_dir).metrics, self.step)
        elif self._resuming:  # killed before its first checkpoint: start over in the same folder
            self.events.emit(TrainWarning("No checkpoint yet: the run starts again from step 0."))
            truncate_metrics(store.RunPaths(self.run_dir).metrics, 0)
        else:
            runs_dir = Path(cfg.runs_dir)
            try:
                runs_dir.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise UserError(
                    f"runs_dir {runs_dir} cannot be created ({exc.strerror or exc}); choose a folder you can "
                    "write to.",
                    field="runs_dir",
                ) from None
            run_id = new_run_id(runs_dir, cfg.method.name, cfg.data.spec, cfg.name)
            safe_child(runs_dir, run_id)  # the id comes from user text: refuse anything outside runs_dir
            self.run_dir = runs_dir / run_id  # as given (relative stays relative), like before
            try:
                (self.run_dir / "checkpoints").mkdir(parents=True)
            except OSError as exc:
                raise write_error(exc, self.run_dir) from None
            cfg.save(self.run_dir / store.CONFIG)
            created = _now()
        paths = store.RunPaths(self.run_dir)
        store.write_summary(
            self.run_dir,
            status="running",
            pid=os.getpid(),
            created=created,
            updated=_now(),
            method=cfg.method.name,
            backbone=parts.backbone_name,
            modality=parts.source.info.modality,
            data=cfg.data.spec,
            data_info=parts.source.info.to_dict() | {"skipped": len(parts.source.info.skipped)},
            device=str(device),
            batch_size=hyper.batch_size,
            lr=hyper.lr,
            total_steps=total_steps,
            steps_per_epoch=steps_per_epoch,
            step=self.step,
            epochs_done=self.step // steps_per_epoch,
        )
        self.events.emit(RunStarted(self.run_dir, total_steps, steps_per_epoch, self.step, str(device)))

        preview_images = _preview_batch(parts, device)
        metrics = MetricsWriter(paths.metrics)
        status = "completed"
        last_loss: float | None = None
        try:
            last_loss, status = self._loop(
                method,
                optimizer,
                scheduler,
                scaler,
                generator,
                pipeline,
                metrics,
                device,
                amp_dtype,
                steps_per_epoch,
                total_steps,
                preview_images,
            )
        finally:
            metrics.close()
        epochs_done = self.step // steps_per_epoch
        store.write_summary(
            self.run_dir,
            status=status,
            updated=_now(),
            step=self.step,
            epochs_done=epochs_done,
            final_loss=last_loss
            if last_loss is not None
            else store.read_summary(self.run_dir).get("final_loss"),
        )
        self.events.emit(RunFinished(self.run_dir, self.step, status))
        return RunResult(self.run_dir, status, self.step)

    # ------------------------------------------------------------------------------------------
    def _loop(
        self,
        method,
        optimizer,
        scheduler,
        scaler,
        generator,
        pipeline,
        metrics,
        device,
        amp_dtype,
        steps_per_epoch,
        total_steps,
        preview_images,
    ):
        cfg = self.config
        start_epoch = self.step // steps_per_epoch
        start_batch = self.step % steps_per_epoch
        # A GPU runs ahead of Python; reading every loss back would stall it (see recorder.py).
        recorder = StepRecorder(metrics, self.events, total_steps, 0.25 if device.type == "cuda" else 0.0)
        last_preview = time.perf_counter()
        method.train()
        for epoch in range(start_epoch, math.ceil(total_steps / steps_per_epoch)):
            batches = pipeline.epoch(epoch, cfg.train.seed, start_batch if epoch == start_epoch else 0)
            for batch, _ in batches:
                if self.step >= total_steps:
                    break
                if self.control.paused:
                    recorder.flush()
                    self.control.wait_while_paused()
                if self.control.stop_requested:
                    recorder.flush()
                    self._checkpoint(method, optimizer, scheduler, scaler, generator, epoch, device)
                    return recorder.last_loss, "stopped"
                lr = optimizer.param_groups[0]["lr"]
                out = self._step(
                    method,
                    optimizer,
                    scheduler,
                    scaler,
                    generator,
                    batch,
                    device,
                    amp_dtype,
                    epoch,
                    total_steps,
                )
                self.step += 1
                recorder.add(self.step, epoch, out.loss, out.parts, lr, batch.shape[0])
                if self.preview_interval_s is not None:
                    now = time.perf_counter()
                    if now - last_preview >= self.preview_interval_s:
                        last_preview = now
                        self._emit_preview(method, preview_images, device)
            mean_loss = recorder.end_epoch()
            if mean_loss is not None:
                self.events.emit(EpochEnded(epoch, self.step, mean_loss))
            epoch_complete = self.step % steps_per_epoch == 0 or self.step >= total_steps
            if epoch_complete and (
                (epoch + 1) % cfg.train.checkpoint_every_epochs == 0 or self.step >= total_steps
            ):
                self._checkpoint(method, optimizer, scheduler, scaler, generator, epoch, device)
                store.write_summary(
                    self.run_dir,
                    step=self.step,
                    epochs_done=self.step // steps_per_epoch,
                    final_loss=recorder.last_loss,
                    updated=_now(),
                )
            if self.step >= total_steps:
                break
        if self.preview_interval_s is not None:
            self._emit_preview(method, preview_images, device)
        return recorder.last_loss, "completed"

    def _step(
        self,
        method,
        optimizer,
        scheduler,
        scaler,
        generator,
        batch,
        device,
        amp_dtype,
        epoch,
        total_steps,
    ) -> StepOutput:
        images = method.prepare(batch.to(device, non_blocking=True))
        if images.dim() == 4 and use_channels_last(device):
            images = images.contiguous(memory_format=torch.channels_last)
        ctx = StepContext(step=self.step, total_steps=total_steps, epoch=epoch, generator=generator)
        with torch.autocast(device.type, dtype=amp_dtype or torch.float32, enabled=amp_dtype is not None):
            out = method.training_step(images, ctx)
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(out.loss).backward()
        if self.config.train.grad_clip > 0:
            scaler.unscale_(optimizer)
            torch.nn.utils.clip_grad_norm_(method.parameters(), self.config.train.grad_clip)
        scaler.step(optimizer)
        scaler.update()
        scheduler.step()
        method.after_optimizer_step(ctx)
        return out

    def _checkpoint(self, method, optimizer, scheduler, scaler, generator, epoch, device) -> None:
        path = store.RunPaths(self.run_dir).checkpoint
        state = {
            "model": method.state_dict(),
            "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(),
            "scaler": scaler.state_dict(),
            "rng": _rng_state(generator, device),
            "step": self.step,
            "epoch": epoch,
            # MAE swaps the configured backbone for its ViT: record what the weights really are.
            "backbone_name": str(getattr(method.backbone, "name", self.config.method.backbone)),
            "format": 1,
        }
        try:
            save_checkpoint(path, state)
        except DiskWriteError as exc:  # the atomic write left the previous checkpoint as it was
            raise UserError(
                self._with_checkpoint_hint(f"The checkpoint at step {self.step} was not saved. {exc}"),
                path=str(path),
            ) from None
        self._checkpoint_step = self.step
        self.events.emit(CheckpointSaved(path, self.step, epoch))

    def _emit_preview(self, method, images, device) -> None:
        if images is None:
            return
        was_training = method.training
        method.eval()
        try:
            generator = torch.Generator(device=device).manual_seed(1234)
            preview = method.preview(method.prepare(images.to(device)), generator)
            preview.images = {k: method.modality.finish_preview(v) for k, v in preview.images.items()}
            self.events.emit(PreviewReady(self.step, preview))
        except NotImplementedError:
            pass
        finally:
            method.train(was_training)


def _preview_batch(parts: Components, device) -> torch.Tensor | None:
    idx = parts.val_idx if len(parts.val_idx) else parts.train_idx
    if len(idx) == 0:
        return None
    samples, _ = parts.source.read(idx[:PREVIEW_IMAGES])
    return samples  # as stored; the method prepares them like training batches


def _restore(path: Path, state: dict, method, optimizer, scheduler, scaler, generator, device) -> None:
    """Load a checkpoint into the run's objects; a checkpoint that does not fit is a user error."""
    missing = [key for key in _CHECKPOINT_KEYS if key not in state]
    if missing:
        raise UserError(
            f"Checkpoint {path} is not a training checkpoint (it has no {', '.join(missing)}); it may be an "
            "exported backbone. Put the run's own checkpoints/last.pt back, or start a new run.",
            path=str(path),
        )
    try:
        method.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        scaler.load_state_dict(state["scaler"])
        _restore_rng(state["rng"], generator, device)
    except (RuntimeError, ValueError, KeyError, TypeError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UserError(
            f"Checkpoint {path} does not match the run's config.toml ({first}); the config was probably "
            "edited after training. Restore the original settings, or start a new run.",
            path=str(path),
        ) from None


def _is_out_of_memory(exc: BaseException) -> bool:
    oom_types = tuple(
        t
        for t in (getattr(torch, "OutOfMemoryError", None), getattr(torch.cuda, "OutOfMemoryError", None))
        if isinstance(t, type)
    )
    if isinstance(exc, (MemoryError, *oom_types)):
        return True
    text = str(exc).lower()
    return isinstance(exc, RuntimeError) and any(t in text for t in _OOM_TEXTS)


def _is_write_error(exc: OSError) -> bool:
    return exc.errno in (
        errno.ENOSPC,
        getattr(errno, "EDQUOT", errno.ENOSPC),
        errno.EACCES,
        errno.EPERM,
        errno.EROFS,
    )


def _free_memory(device: torch.device | None) -> None:
    gc.collect()
    if device is not None and device.type == "cuda":
        torch.cuda.empty_cache()
    elif device is not None and device.type == "mps" and hasattr(torch, "mps"):
        torch.mps.empty_cache()


def _rng_state(generator: torch.Generator, device: torch.device) -> dict:
    state = {"torch": torch.get_rng_state(), "generator": generator.get_state()}
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def _restore_rng(state: dict, generator: torch.Generator, device: torch.device) -> None:
    torch.set_rng_state(state["torch"].cpu())
    generator.set_state(state["generator"].cpu() if device.type != "cuda" else state["generator"].cpu())
    if device.type == "cuda" and "cuda" in state:
        torch.cuda.set_rng_state(state["cuda"].cpu(), device)


def _now() -> str:
    return datetime.now().isoformat(timespec="seconds")


def train(config: RunConfig, on_event=None, control: RunControl | None = None, **kw) -> RunResult:
    """Python API: train a run from a config and return its result."""
    trainer = Trainer(config, control, **kw)
    if on_event is not None:
        trainer.events.subscribe(on_event)
    return trainer.run()
