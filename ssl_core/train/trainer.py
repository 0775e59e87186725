"""The training loop: one engine for the CLI, the Python API and the GUI.

A Trainer owns one run directory. It publishes events, obeys a RunControl from another thread,
checkpoints atomically every epoch and on stop, and resumes from exactly the step it saved.

A method with several optimizer parts (`SSLMethod.optimizer_parts`, e.g. a GAN's discriminator and
generator) has each part updated in turn at every step, by its own optimizer and schedule, with the other
parts frozen; pause, stop, checkpoints and resume treat the run like any other.

Its helpers each do one job: `run_folder` (the run directory's life cycle and failure records),
`checkpointing` (what a checkpoint holds, saving and restoring it), `live_previews` (previews at an
interval), `failures` (out of memory and refused writes) and `ranks` (what differs when torchrun starts
the run in several processes: rank 0 alone writes the run folder, DDP averages the gradients, every
process stops at the same step; see docs/distributed.md).
"""

from __future__ import annotations

import logging
import os
import traceback
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path

import torch

from ssl_core import distributed
from ssl_core.config import RunConfig
from ssl_core.data.loader import BatchPipeline
from ssl_core.device import device_label, select_device
from ssl_core.errors import UserError
from ssl_core.methods.base import StepContext, StepOutput
from ssl_core.runs import store
from ssl_core.runs.atomic import DiskWriteError, write_error
from ssl_core.runs.metrics import MetricsWriter
from ssl_core.train import run_folder
from ssl_core.train.builder import Components, build_components
from ssl_core.train.checkpointing import (
    TrainingState,
    restore_checkpoint,
    rng_state,
    save_training_checkpoint,
)
from ssl_core.train.control import RunControl
from ssl_core.train.cpu_share import CoreShare, sharing_cores
from ssl_core.train.events import (
    CheckpointSaved,
    EpochEnded,
    EventBus,
    RunFailed,
    RunFinished,
    RunStarted,
    TrainWarning,
)
from ssl_core.train.failures import free_memory, is_out_of_memory, is_peer_lost, is_write_error
from ssl_core.train.global_rng import PrivateStream, draws_from_global_stream
from ssl_core.train.live_previews import LivePreviews, preview_batch
from ssl_core.train.optim import (
    Hyper,
    build_optimizers,
    build_scheduler,
    optimized_params,
    resolve_hyper,
    training_only,
)
from ssl_core.train.perf import compile_method, limit_cpu_threads, training_autocast_dtype, use_channels_last
from ssl_core.train.plan import StepPlan
from ssl_core.train.preview_archive import PreviewArchive
from ssl_core.train.ranks import Ranks
from ssl_core.train.recorder import NonFiniteLoss, StepRecorder
from ssl_core.train.time_limit import TimeLimit

log = logging.getLogger(__name__)

MAX_SKIPPED_WARNINGS = 20  # skipped files named one by one; the rest are counted


@dataclass(frozen=True)
class RunResult:
    run_dir: Path
    status: str  # "completed", "stopped" or "failed"
    step: int
    message: str = ""


class _DiscardedMetrics:
    """The metrics writer of ranks other than 0: rank 0 writes the mean over processes."""

    def append(self, record: dict) -> None:
        pass

    def close(self) -> None:
        pass


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
        self.time_limit_note = ""  # set when train.time_limit_s ended the run before its planned steps
        self.events = EventBus()
        self.download = download
        self.run_dir = Path(run_dir) if run_dir is not None else None
        self._resuming = _resuming
        self.step = 0
        self._checkpoint_step: int | None = None  # step of the newest checkpoint on disk
        self._batch_size: int | None = None
        self._sample_text: str = ""  # e.g. "8 x 8 grayscale images", for messages
        self._size_setting: str = "data.image_size"  # the setting that makes samples smaller
        self._device: torch.device | None = None
        self._cores: CoreShare | None = None  # this run's share of the CPU's threads while it trains there
        self.ranks = Ranks(distributed.DistContext())  # this process's place in the run (see _run)

    @classmethod
    def resume(
        cls,
        run_dir: str | Path,
        control: RunControl | None = None,
        preview_interval_s: float | None = None,
        **kw,
    ) -> Trainer:
        paths = store.require_run_dir(run_dir)
        run_folder.refuse_if_finetuned(paths.root)
        config = RunConfig.load(paths.config)
        if distributed.from_env().is_main:  # rank 0 marks the run as running before the others look
            run_folder.refuse_if_running(paths.root)
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
            if isinstance(exc, OSError) and exc.filename and is_write_error(exc):
                message = self._with_checkpoint_hint(str(write_error(exc, exc.filename)))
            elif self.ranks.distributed and is_peer_lost(exc):
                message = self._with_checkpoint_hint(
                    f"Another training process of this run ended at step {self.step} (it was killed, or "
                    "failed and printed why)."
                )
            elif not is_out_of_memory(exc):  # a bug: keep the run loadable and report with traceback
                log.exception("training failed")
                self._fail(f"{type(exc).__name__}: {exc}", tb=traceback.format_exc())
                return RunResult(self.run_dir or Path(), "failed", self.step, str(exc))
            else:
                out_of_memory = True
                message = self._out_of_memory_message()
        if out_of_memory:  # outside the except block, so the failed step's tensors can be freed
            free_memory(self._device)
        self._fail(message, user_error=True)
        return RunResult(self.run_dir or Path(), "failed", self.step, message)

    def _fail(self, message: str, tb: str = "", user_error: bool = False) -> None:
        if self.ranks.is_main:  # the other processes fail with it (torchrun ends them); rank 0 records it
            run_folder.record_failure(self.run_dir, message)
        self.events.emit(RunFailed(self.run_dir, self.step, message, tb, user_error))

    def _with_checkpoint_hint(self, message: str) -> str:
        return run_folder.with_resume_hint(message, self.run_dir, self._checkpoint_step)

    def _out_of_memory_message(self) -> str:
        return self._with_checkpoint_hint(
            f"Out of memory on {self._device or 'the device'} at batch size {self._batch_size} with "
            f"{self._sample_text or 'this data'}: lower train.batch_size or {self._size_setting} (or pick "
            "a smaller backbone) and start a new run."
        )

    # ------------------------------------------------------------------------------------------
    def _run(self) -> RunResult:
        device = select_device(self.config.train.device)
        self.ranks = Ranks.from_env(device)  # several processes when torchrun started this one
        try:
            return self._run_process(self.ranks.device(device))
        finally:
            self.ranks.close()

    def _run_process(self, device: torch.device) -> RunResult:
        cfg, ranks = self.config, self.ranks
        self._device = device
        with ranks.main_first():  # rank 0 builds a folder's cache, the others then read it
            parts = build_components(cfg, download=self.download)
        hyper = resolve_hyper(cfg, parts.spec, len(parts.train_idx))
        self._batch_size = hyper.batch_size
        self._check_processes(hyper)
        self._sample_text = parts.method.modality.describe(parts.source.info)
        self._size_setting = parts.method.modality.size_setting
        self._warn_about_setup(parts, hyper)

        pipeline = BatchPipeline(
            parts.source,
            parts.train_idx,
            hyper.batch_size,
            device,
            memory_budget_bytes=cfg.data.memory_budget_mb * 2**20,
            num_workers=cfg.data.num_workers,
            rank=ranks.rank,
            world_size=ranks.world_size,
        )
        # The same plan Setup shows before Start (ssl_core.train.plan.estimate).
        plan = StepPlan.for_run(pipeline.steps_per_epoch(), cfg.train.epochs, cfg.train.max_steps)
        steps_per_epoch, total_steps = plan.steps_per_epoch, plan.total_steps
        state = self._training_state(parts, hyper, device, plan)
        created = self._open_run_dir(state)
        for message in ranks.wrap(state.method, device, cfg.train.sync_batchnorm):
            self.events.emit(TrainWarning(message))
        if not ranks.is_main:  # rank 0 writes the run folder; the others only train
            return self._train_only(state, pipeline, plan)

        store.write_summary(
            self.run_dir,
            status="running",
            pid=os.getpid(),
            created=created,
            updated=run_folder.now(),
            method=cfg.method.name,
            backbone=parts.backbone_name,
            modality=parts.source.info.modality,
            data=cfg.data.spec,
            data_info=parts.source.info.to_dict() | {"skipped": len(parts.source.info.skipped)},
            device=str(device),
            machine=device_label(device),
            batch_size=hyper.batch_size,
            lr=hyper.lr,
            total_steps=total_steps,
            steps_per_epoch=steps_per_epoch,
            step=self.step,
            epochs_done=plan.epoch_of(self.step),
            processes=ranks.world_size,
        )
        self.events.emit(
            RunStarted(
                self.run_dir, total_steps, steps_per_epoch, self.step, str(device), cfg.train.time_limit_s
            )
        )

        previews = LivePreviews(
            self.events,
            self.preview_interval_s,
            preview_batch(parts),
            kind=parts.spec.preview_kind,
            seed=cfg.train.seed,
            archive=PreviewArchive(self.run_dir, total_steps),  # a few previews kept for the run report
        )
        metrics = MetricsWriter(store.RunPaths(self.run_dir).metrics)
        status = "completed"
        last_loss: float | None = None
        try:
            with sharing_cores(device) as self._cores:  # a race's other run may train on the same CPU
                last_loss, status = self._loop(state, pipeline, metrics, plan, previews)
        finally:
            metrics.close()
        store.write_summary(
            self.run_dir,
            status=status,
            updated=run_folder.now(),
            step=self.step,
            epochs_done=plan.epoch_of(self.step),
            final_loss=last_loss
            if last_loss is not None
            else store.read_summary(self.run_dir).get("final_loss"),
            note=self.time_limit_note,
        )
        self.events.emit(RunFinished(self.run_dir, self.step, status, self.time_limit_note))
        return RunResult(self.run_dir, status, self.step)

    def _train_only(self, state: TrainingState, pipeline: BatchPipeline, plan: StepPlan) -> RunResult:
        """Ranks other than 0: the same steps, checkpoints and stops, with nothing written or shown."""
        silent = LivePreviews(self.events, None, None, kind="")
        with sharing_cores(state.device) as self._cores:
            _, status = self._loop(state, pipeline, _DiscardedMetrics(), plan, silent)
        return RunResult(self.run_dir, status, self.step)

    def _check_processes(self, hyper: Hyper) -> None:
        ranks, processes = self.ranks, self.config.train.processes
        if ranks.distributed and hyper.batch_size < 2 * ranks.world_size:
            raise UserError(
                f"train.batch_size = {hyper.batch_size} is the global batch, split between "
                f"{ranks.world_size} processes; use at least {2 * ranks.world_size} (2 per process).",
                field="train.batch_size",
            )
        if not ranks.distributed and processes > 1:
            self.events.emit(
                TrainWarning(
                    f"train.processes = {processes}, but this run trains in this one process; start it with "
                    f"`ssl-core train --devices {processes}` (or torchrun) to use {processes} processes."
                )
            )

    def _warn_about_setup(self, parts: Components, hyper: Hyper) -> None:
        for message in [*hyper.warnings, *parts.method.setup_warnings]:
            self.events.emit(TrainWarning(message))
        skipped = parts.source.info.skipped
        for item in skipped[:MAX_SKIPPED_WARNINGS]:
            self.events.emit(TrainWarning(f"Skipped {item.path}: {item.reason}"))
        if len(skipped) > MAX_SKIPPED_WARNINGS:
            self.events.emit(
                TrainWarning(f"... and {len(skipped) - MAX_SKIPPED_WARNINGS} more skipped files")
            )

    def _training_state(
        self, parts: Components, hyper: Hyper, device: torch.device, plan: StepPlan
    ) -> TrainingState:
        """The method on the device in its fast layout, with its optimizer, schedule, scaler and RNG."""
        cfg = self.config
        method = parts.method
        method.to(device)
        if use_channels_last(device):  # faster convolutions with cuDNN and oneDNN (see train/perf.py)
            method.to(memory_format=torch.channels_last)
        if device.type == "cpu":
            limit_cpu_threads()
        if cfg.train.compile:
            compile_method(method)
        # One optimizer, or one per part of the method (a GAN's discriminator and generator), each with
        # its own schedule.
        optimizers = build_optimizers(method, parts.spec, hyper)
        warmup_steps = min(int(round(hyper.warmup_epochs * plan.steps_per_epoch)), plan.total_steps // 2)
        schedulers = {
            name: build_scheduler(optimizer, plan.total_steps, warmup_steps, parts.spec.optim.schedule)
            for name, optimizer in optimizers.items()
        }
        amp_dtype = training_autocast_dtype(device, cfg.train.amp)
        return TrainingState(
            method=method,
            optimizers=optimizers,
            schedulers=schedulers,
            scaler=torch.amp.GradScaler(device.type, enabled=amp_dtype == torch.float16),
            # every process draws its own views (rank 0 keeps the seed itself: one process is unchanged)
            generator=torch.Generator(device=device).manual_seed(self.ranks.seed(cfg.train.seed)),
            device=device,
            amp_dtype=amp_dtype,
            # dropout draws from the global stream, shared by every run in the process: give it the run's own
            stream=(
                PrivateStream(self.ranks.seed(cfg.train.seed), device)
                if draws_from_global_stream(method)
                else None
            ),
        )

    def _open_run_dir(self, state: TrainingState) -> str:
        """Create the run's folder, or reopen it and restore its checkpoint; returns when it was created.

        With several processes rank 0 creates (or reopens) the folder and the others learn its path from
        it; every process restores the checkpoint."""
        ranks, created = self.ranks, run_folder.now()
        if ranks.is_main:
            if not self._resuming:
                self.run_dir = run_folder.create_run_dir(self.config)
            else:
                assert self.run_dir is not None
                created = run_folder.reopen_run_dir(self.run_dir)
        self.run_dir = Path(ranks.share(str(self.run_dir)))
        if not self._resuming:
            return created
        checkpoint = store.RunPaths(self.run_dir).checkpoint
        if checkpoint.is_file():
            restored = restore_checkpoint(checkpoint, state, ranks.rank, ranks.world_size)
            self.step = self._checkpoint_step = restored.step
            if not restored.own_rng:  # other views than the first epochs', but reproducible
                state.generator.manual_seed(ranks.seed(self.config.train.seed + restored.step))
            if restored.world_size != ranks.world_size and ranks.is_main:
                self.events.emit(TrainWarning(self._process_count_note(restored.world_size)))
        elif ranks.is_main:  # killed before its first checkpoint: start over in the same folder
            self.events.emit(TrainWarning("No checkpoint yet: the run starts again from step 0."))
        if ranks.is_main:
            run_folder.rewind_metrics(self.run_dir, self.step)
        ranks.barrier()  # the metrics are rewound before anyone trains
        return created

    def _process_count_note(self, before: int) -> str:
        now, batch = self.ranks.world_size, self._batch_size
        return (
            f"This run was trained by {before} process{'es' if before > 1 else ''} and continues with {now}: "
            f"train.batch_size ({batch}) stays the global batch, but each process's share and so its "
            f"BatchNorm statistics change (about {batch // before} samples before, {batch // now} now), "
            "and the random streams of the views start afresh."
        )

    # ------------------------------------------------------------------------------------------
    def _loop(
        self,
        state: TrainingState,
        pipeline: BatchPipeline,
        metrics: MetricsWriter,
        plan: StepPlan,
        previews: LivePreviews,
    ) -> tuple[float | None, str]:
        cfg = self.config
        start_epoch = plan.epoch_of(self.step)
        start_batch = self.step % plan.steps_per_epoch
        # A GPU runs ahead of Python; reading every loss back would stall it (see recorder.py).
        limit = TimeLimit(cfg.train.time_limit_s)
        recorder = StepRecorder(
            metrics, self.events, plan.total_steps, 0.25 if state.device.type == "cuda" else 0.0, limit
        )
        state.method.train()
        # pause, stop and the time limit, the same on every process (ranks.py); read again after each step
        stop, pause, time_up = self.ranks.shared_control(
            self.control.stop_requested, self.control.paused, limit.reached()
        )
        for epoch in range(start_epoch, plan.epochs):
            batches = pipeline.epoch(epoch, cfg.train.seed, start_batch if epoch == start_epoch else 0)
            for batch, _ in batches:
                if self.step >= plan.total_steps:
                    break
                if pause:
                    recorder.flush()
                    stop = self._wait_while_paused()
                if stop:
                    recorder.flush()
                    self._checkpoint(state, epoch)
                    return recorder.last_loss, "stopped"
                lr = state.optimizer.param_groups[0]["lr"]
                out = self._step(state, batch, epoch, plan.total_steps)
                self.step += 1
                recorder.add(self.step, epoch, out.loss, out.parts, lr, pipeline.images_per_step(batch))
                stop, pause, time_up = self.ranks.shared_control(
                    self.control.stop_requested, self.control.paused, limit.reached()
                )
                # the batch itself, not a copy: the previews take a few samples only when one is due
                final = self.step >= plan.total_steps or time_up
                previews.maybe_emit(state.method, state.device, self.step, batch, final=final)
                if final:
                    break
            mean_loss = recorder.end_epoch()
            if mean_loss is not None:
                self.events.emit(EpochEnded(epoch, self.step, mean_loss))
            finished = self.step >= plan.total_steps or time_up
            epoch_complete = self.step % plan.steps_per_epoch == 0 or finished
            if epoch_complete and ((epoch + 1) % cfg.train.checkpoint_every_epochs == 0 or finished):
                self._checkpoint(state, epoch)
                run_folder.update_summary(
                    self.run_dir,
                    step=self.step,
                    epochs_done=plan.epoch_of(self.step),
                    final_loss=recorder.last_loss,
                )
            if finished:
                break
        previews.emit_final(state.method, state.device, self.step)
        if self.step < plan.total_steps and time_up:
            self.time_limit_note = limit.note(self.step, plan.total_steps)
        return recorder.last_loss, "completed"

    def _wait_while_paused(self) -> bool:
        """Wait while paused (every process together); True when a stop came meanwhile."""
        if self.ranks.distributed:
            return self.ranks.wait_while_paused(self.control)
        self.control.wait_while_paused()
        return self.control.stop_requested

    def _step(self, state: TrainingState, batch: torch.Tensor, epoch: int, total_steps: int) -> StepOutput:
        method = state.method
        if self._cores is not None:
            self._cores.adjust()  # this run's share of the CPU's cores, as other runs start and end
        images = method.prepare(batch.to(state.device, non_blocking=True))
        if images.dim() == 4 and use_channels_last(state.device):
            images = images.contiguous(memory_format=torch.channels_last)
        ctx = StepContext(
            step=self.step,
            total_steps=total_steps,
            epoch=epoch,
            generator=state.generator,
            gather=self.ranks.distributed,
        )
        if state.single:
            out = self._forward(state, images, ctx)
            self._update(state, state.optimizer, out.loss)
        else:
            out = self._step_parts(state, images, ctx)
        state.scaler.update()
        for scheduler in state.schedulers.values():
            scheduler.step()
        method.after_optimizer_step(ctx)
        return self._mean_over_processes(out)

    def _mean_over_processes(self, out: StepOutput) -> StepOutput:
        """The step's loss and parts as the mean over processes (what is logged); one process: as is."""
        if not self.ranks.distributed:
            return out
        names = list(out.parts)
        values = torch.stack([out.loss.detach().float(), *(out.parts[n].detach().float() for n in names)])
        mean = self.ranks.mean(values)
        return StepOutput(mean[0], dict(zip(names, mean[1:], strict=True)))

    def _step_parts(self, state: TrainingState, images: torch.Tensor, ctx: StepContext) -> StepOutput:
        """Update each part of the method in turn (`SSLMethod.optimizer_parts`) with the other parts'
        parameters frozen. The step's loss is the sum of the parts' losses, each recorded by name."""
        losses, parts = [], {}
        for name, optimizer in state.optimizers.items():
            with training_only(state.optimizers, name):
                out = self._forward(state, images, ctx, part=name)
                self._update(state, optimizer, out.loss)
            losses.append(out.loss.detach())
            parts[name] = out.loss.detach()
            parts.update({key: value.detach() for key, value in out.parts.items()})
        return StepOutput(torch.stack([loss.float() for loss in losses]).sum(), parts)

    def _forward(
        self, state: TrainingState, images: torch.Tensor, ctx: StepContext, part: str | None = None
    ) -> StepOutput:
        """The method's training step (of one part, for methods with parts) in the run's precision and
        random stream."""
        device, amp_dtype = state.device, state.amp_dtype
        with (
            torch.autocast(device.type, dtype=amp_dtype or torch.float32, enabled=amp_dtype is not None),
            state.stream.active() if state.stream is not None else nullcontext(),
        ):
            return self.ranks.training_step(state.method, images, ctx, part)

    def _update(self, state: TrainingState, optimizer: torch.optim.Optimizer, loss: torch.Tensor) -> None:
        """Backpropagate `loss` and step `optimizer` on it (clipping its parameters' gradients when asked).
        The scaler's update and the schedules' step come once per training step, after every part."""
        optimizer.zero_grad(set_to_none=True)
        state.scaler.scale(loss).backward()
        if self.config.train.grad_clip > 0:
            state.scaler.unscale_(optimizer)
            torch.nn.utils.clip_grad_norm_(optimized_params(optimizer), self.config.train.grad_clip)
        state.scaler.step(optimizer)

    def _checkpoint(self, state: TrainingState, epoch: int) -> None:
        path = store.RunPaths(self.run_dir).checkpoint
        # every process's random streams, so a resume continues each one (several processes only)
        rng_ranks = self.ranks.gather_objects(rng_state(state.generator, state.device, state.stream))
        if not self.ranks.is_main:
            return
        try:
            save_training_checkpoint(
                path,
                state,
                self.step,
                epoch,
                self.config.method.backbone,
                rng_ranks=rng_ranks if self.ranks.distributed else None,
            )
        except DiskWriteError as exc:  # the atomic write left the previous checkpoint as it was
            raise UserError(
                self._with_checkpoint_hint(f"The checkpoint at step {self.step} was not saved. {exc}"),
                path=str(path),
            ) from None
        self._checkpoint_step = self.step
        self.events.emit(CheckpointSaved(path, self.step, epoch))


def train(config: RunConfig, on_event=None, control: RunControl | None = None, **kw) -> RunResult:
    """Python API: train a run from a config and return its result."""
    trainer = Trainer(config, control, **kw)
    if on_event is not None:
        trainer.events.subscribe(on_event)
    return trainer.run()
