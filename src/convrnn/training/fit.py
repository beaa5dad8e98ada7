"""The training loop every recipe uses: ``fit(model, train, val, loss=…, optimizer=…, epochs=…)``.

Per step it does what a hand-written loop does — forward, loss, ``backward``, optional gradient
clipping, ``optimizer.step()``, optional per-step scheduler step — and otherwise only adds the
loss to a running sum *on the device*: numbers reach the host once per ``log_every`` steps and
once per epoch, so the loop never stalls the GPU and costs next to nothing on the CPU.
"""

from __future__ import annotations

import copy
import itertools
import os
import time
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn
from torch.optim import Optimizer
from torch.optim.lr_scheduler import CyclicLR, OneCycleLR, ReduceLROnPlateau
from torch.utils.data import DataLoader, Dataset, RandomSampler

from convrnn.functional._checks import check_choice, check_flag, check_int, check_module
from convrnn.training import distributed
from convrnn.training.callbacks import Callback
from convrnn.training.checkpoint import load_checkpoint
from convrnn.training.devices import resolve_device
from convrnn.training.evaluate import evaluate
from convrnn.training.fit_state import FitState, History
from convrnn.training.loggers import ProgressBar
from convrnn.training.metrics import Metric
from convrnn.training.sampling import ResumableSampler, as_loader, epoch_seed
from convrnn.training.sharding import is_sharded
from convrnn.training.steps import BatchFunction, StepFunction, move_to_device, supervised_step

__all__ = ["fit"]

# Schedulers whose schedule is defined in optimizer steps rather than epochs.
_PER_STEP_SCHEDULERS = (OneCycleLR, CyclicLR)


def fit(
    model: nn.Module,
    train: DataLoader[Any] | Dataset[Any],
    val: DataLoader[Any] | Dataset[Any] | None = None,
    *,
    loss: Callable[..., Tensor],
    optimizer: Optimizer,
    epochs: int,
    scheduler: Any = None,
    scheduler_interval: str | None = None,
    scheduler_monitor: str = "val_loss",
    clip_grad_norm: float | None = None,
    metrics: Mapping[str, Metric] | None = None,
    callbacks: Sequence[Callback] = (),
    device: torch.device | str = "cpu",
    batch_size: int | None = None,
    seed: int = 0,
    resume: str | os.PathLike[str] | None = None,
    step_fn: StepFunction = supervised_step,
    batch_fn: BatchFunction = move_to_device,
    log_every: int = 50,
    progress: bool = True,
    config: dict[str, Any] | None = None,
    metadata: dict[str, Any] | None = None,
) -> History:
    """Train ``model`` for ``epochs`` epochs and return the per-epoch :class:`History`.

    Each step minimises the batch loss ``L = loss(model(x), y)`` (see ``step_fn``) with
    ``optimizer``; with ``clip_grad_norm = c`` the gradient g is first rescaled to
    ``g · min(1, c / ‖g‖₂)`` (``torch.nn.utils.clip_grad_norm_``).

    Args:
        train, val: ``DataLoader``s, or ``Dataset``s batched by ``batch_size`` through
            :func:`make_loader` (train shuffled by ``(seed, epoch)``). ``val`` may be ``None``.
            A train ``DataLoader`` built with ``generator=`` has that generator reseeded from
            ``(seed, epoch)`` each epoch, so its order too can be replayed on resume.
        loss: ``loss(outputs, targets) -> 0-d tensor``, e.g. ``nn.CrossEntropyLoss()``.
        scheduler: any ``torch.optim.lr_scheduler``; stepped per optimizer step if
            ``scheduler_interval="step"`` (the default for ``OneCycleLR``/``CyclicLR``), else per
            epoch; ``ReduceLROnPlateau`` is stepped with the epoch's ``scheduler_monitor``.
        metrics: name → :class:`Metric` (copied for train and val), e.g.
            ``{"accuracy": Accuracy()}``; the history then has ``train_accuracy`` and
            ``val_accuracy``.
        callbacks: see ``convrnn.training.callbacks``; with ``progress=True`` a
            :class:`ProgressBar` is added unless one is given.
        seed: seeds the batch order only; call ``seed_everything`` before building the model.
        resume: a checkpoint directory written by the ``Checkpoint`` callback; training continues
            from its exact step (mid-epoch included) with its RNG states, and — with the same
            arguments, on CPU with deterministic algorithms — ends with the same weights as a
            run never interrupted. A path that is not a directory is a ``FileNotFoundError`` naming it.
        step_fn: ``step_fn(model, batch, loss) -> StepOutput``; the default
            :func:`supervised_step` takes ``(x, y)`` tuples or ``{"targets": y, **inputs}``.
        batch_fn: ``batch_fn(batch, device)``, moves a batch to the device.
        log_every: steps between ``on_log`` calls (the only per-step host syncs).
        config, metadata: JSON stored in every checkpoint, e.g.
            ``{"recipe": name, "model": {...}}`` so the model can be rebuilt from it.

    A training loss that becomes NaN or ±inf stops the run (at the next log, epoch end or checkpoint,
    whichever comes first, and before anything trained on it is saved) with
    :class:`~convrnn.training.finite.NonFiniteLossError`, naming the step and the last good checkpoint.

    Under ``torchrun`` (after :func:`init_distributed`) the model is wrapped in
    ``DistributedDataParallel``, Datasets are sharded over ranks (``batch_size`` is per
    process; the validation set is shared out without padding), the loss, metrics and samples/s
    of every log and epoch are summed over ranks (so they are the whole data's, the same on every
    rank) and only rank 0 logs and saves. Loaders are used as given: shard them with
    :func:`convrnn.training.sharding.shard_loader` (which splits global batches).
    """
    _check_arguments(epochs, log_every, clip_grad_norm, optimizer)
    _check_more_arguments(model, loss, batch_size, seed, step_fn, batch_fn, callbacks, config, metadata)
    progress = check_flag("progress", progress, where="fit")
    device = torch.device(resolve_device(device, where="fit"))
    for name, data in (("train", train), ("val", val)):
        if data is not None and not isinstance(data, DataLoader | Dataset):
            raise TypeError(f"fit: argument '{name}' expected a DataLoader or a Dataset, got {type(data).__name__}")
        if isinstance(data, Dataset) and not isinstance(data, DataLoader) and batch_size is None:
            raise ValueError(f"fit: argument '{name}' is a Dataset, so 'batch_size' is required")
    try:
        empty = len(train) == 0  # type: ignore[arg-type]
    except TypeError:  # an iterable data set or loader has no length to check
        empty = False
    if empty:
        raise ValueError(f"fit: argument 'train' expected at least one sample, got an empty {type(train).__name__}")
    if any(tensor.device.type == "meta" for tensor in itertools.chain(model.parameters(), model.buffers())):
        raise ValueError("fit: argument 'model' expected parameters with values, got some on the meta device "
                         "(shapes only): materialise it with model.to_empty(device=...) and initialise it first")
    if scheduler_interval is not None:
        check_choice("scheduler_interval", scheduler_interval, ("step", "epoch"), where="fit")
    _check_resume(resume)
    model.to(device)   # the first change to anything the caller passed: every argument is checked above
    train_loader = as_loader(train, batch_size, shuffle=True, seed=seed, name="train")
    val_loader = (as_loader(val, batch_size, shuffle=False, seed=seed, name="val", even=False)
                  if val is not None else None)
    _warn_about_loader(train_loader)
    if isinstance(train_loader.sampler, ResumableSampler):
        train_loader.sampler.set_epoch(0)  # a loader reused from a resumed run may start late
    per_step = _steps_per_optimizer_step(scheduler, scheduler_interval)
    callbacks = list(callbacks)
    for callback in callbacks:
        if not isinstance(callback, Callback):
            raise TypeError(f"fit: argument 'callbacks' expected Callback instances, got "
                            f"{type(callback).__name__}")
    if metrics is not None and not isinstance(metrics, Mapping):
        raise TypeError(f"fit: argument 'metrics' expected a mapping of name → Metric, e.g. "
                        f"{{'accuracy': Accuracy()}}, got {type(metrics).__name__}")
    if progress and not any(isinstance(callback, ProgressBar) for callback in callbacks):
        callbacks.insert(0, ProgressBar())
    callbacks.sort(key=lambda callback: callback.order)
    metrics = dict(metrics or {})

    state = FitState(
        model=distributed.wrap_model(model, device), optimizer=optimizer, scheduler=scheduler,
        epochs=epochs, steps_per_epoch=_length(train_loader), callbacks=callbacks,
        config=dict(config or {}), metadata=dict(metadata or {}), seed=seed,
        is_main_process=distributed.is_main_process(),
        train_metrics={name: copy.deepcopy(metric) for name, metric in metrics.items()},
    )
    if resume is not None:
        state.restore(load_checkpoint(resume, model, optimizer, scheduler, restore_rng=True))
        if state.epoch_finished:
            _next_epoch(state)

    state.finite.start(state.global_step)
    try:
        for callback in callbacks:
            callback.on_fit_start(state)
        while state.epoch < epochs and not state.stop:
            started = time.perf_counter()
            samples = _train_epoch(state, train_loader, loss, device, per_step, clip_grad_norm,
                                   step_fn, batch_fn, log_every)
            samples = _summed_over_ranks(samples)
            seconds = time.perf_counter() - started
            record: dict[str, float] = {"epoch": state.epoch + 1,
                                        "train_loss": state.train_loss.compute()}
            for name, metric in state.train_metrics.items():
                record[f"train_{name}"] = metric.compute()
            if val_loader is not None:
                scores = evaluate(distributed.unwrap_model(state.model), val_loader, loss=loss,
                                  metrics=metrics, device=device, step_fn=step_fn,
                                  batch_fn=batch_fn)
                record |= {f"val_{name}": value for name, value in scores.items()}
            record["lr"] = optimizer.param_groups[0]["lr"]
            record["train_seconds"] = seconds
            record["samples_per_s"] = samples / seconds if seconds > 0 else float("nan")
            if scheduler is not None and not per_step:
                _step_epoch_scheduler(scheduler, record, scheduler_monitor)
            state.history.records.append(record)
            state.epoch_finished = True
            for callback in callbacks:
                callback.on_epoch_end(state, record)
            if state.stop or state.epoch + 1 >= epochs:
                break
            _next_epoch(state)
        for callback in callbacks:
            callback.on_fit_end(state)
    finally:
        _close_all(callbacks)
    return state.history


def _close_all(callbacks: list[Any]) -> None:
    """Close every callback even when one's ``close`` raises (a logger's file on a full disk); then raise the first
    error — inside the ``finally`` of a failed fit, Python chains it to the fit's own error."""
    first: BaseException | None = None
    for callback in callbacks:
        try:
            callback.close()
        except BaseException as error:  # re-raised below, once the others are closed
            first = first or error
    if first is not None:
        raise first


def _check_resume(resume: Any) -> None:
    """``resume``: None, or the path of a checkpoint directory that exists (or that a save interrupted between
    its renames left as ``.NAME.previous``, which loading puts back)."""
    if resume is None:
        return
    if not isinstance(resume, str | os.PathLike) or isinstance(resume, bytes):
        raise TypeError(f"fit: argument 'resume' expected None or the path of a checkpoint directory, "
                        f"got {type(resume).__name__}")
    path = Path(resume)
    if path.is_dir() or (path.parent / f".{path.name}.previous").is_dir():
        return
    what = "which is a file" if path.exists() else "which does not exist"
    raise FileNotFoundError(f"fit: argument 'resume' expected a checkpoint directory (as the Checkpoint callback "
                            f"writes: DIRECTORY/last), got '{resume}', {what}")


def _train_epoch(state: FitState, loader: DataLoader[Any], loss: Callable[..., Tensor],
                 device: torch.device, per_step: bool, clip_grad_norm: float | None,
                 step_fn: StepFunction, batch_fn: BatchFunction, log_every: int) -> int:
    """Run the rest of the current epoch; return the number of samples trained on."""
    model, optimizer, scheduler = state.model, state.optimizer, state.scheduler
    parameters = [p for p in model.parameters() if p.requires_grad]
    metrics = list(state.train_metrics.values())
    # only callbacks that override on_batch_end cost anything per step
    on_batch_end = [callback.on_batch_end for callback in state.callbacks
                    if type(callback).on_batch_end is not Callback.on_batch_end]
    for callback in state.callbacks:
        callback.on_epoch_start(state)
    model.train()
    samples = samples_since_log = 0
    last_log = time.perf_counter()
    for batch in _epoch_batches(loader, state):
        output = step_fn(model, batch_fn(batch, device), loss)
        optimizer.zero_grad(set_to_none=True)
        output.loss.backward()
        if clip_grad_norm is not None:
            torch.nn.utils.clip_grad_norm_(parameters, clip_grad_norm)
        optimizer.step()
        if per_step and scheduler is not None:
            scheduler.step()
        state.train_loss.update(output.loss, output.size)
        state.finite.update(output.loss)
        if output.outputs is not None:
            for metric in metrics:
                metric.update(output.outputs, output.targets)
        state.step_in_epoch += 1
        state.global_step += 1
        samples += output.size
        samples_since_log += output.size
        for hook in on_batch_end:
            hook(state)
        if state.global_step % log_every == 0:
            # every rank reaches this step together, so the sums can be added over ranks here
            state.check_finite()
            now = time.perf_counter()
            logs = {"loss": state.train_loss.compute()}
            for name, metric in state.train_metrics.items():
                logs[name] = metric.compute()
            logs["lr"] = optimizer.param_groups[0]["lr"]
            logs["samples_per_s"] = _summed_over_ranks(samples_since_log) / max(now - last_log, 1e-9)
            for callback in state.callbacks:
                callback.on_log(state, logs)
            samples_since_log, last_log = 0, now
    state.check_finite()
    return samples


def _epoch_batches(loader: DataLoader[Any], state: FitState) -> Iterator[Any]:
    """This epoch's batches from ``state.step_in_epoch`` on, in the order fixed by (seed, epoch)."""
    sampler = loader.sampler
    skip = state.step_in_epoch
    if isinstance(sampler, ResumableSampler) and loader.batch_size is not None:
        # the epoch's last batch may be partial, so a finished epoch can overshoot the length
        sampler.set_epoch(state.epoch, start=min(skip * loader.batch_size, sampler.per_rank))
        skip = 0  # the sampler skips the indices without loading them
    elif hasattr(sampler, "set_epoch"):
        sampler.set_epoch(state.epoch)
    batch_sampler = loader.batch_sampler
    if batch_sampler is not None and hasattr(batch_sampler, "set_epoch"):
        batch_sampler.set_epoch(state.epoch)  # e.g. length-bucketing samplers that shuffle per epoch
    if loader.generator is not None:
        # DataLoader(shuffle=True, generator=g) shuffles with g; reseeding makes the order a
        # function of (seed, epoch) and keeps worker seeds off the global generator
        loader.generator.manual_seed(epoch_seed(state.seed, state.epoch))
    iterator = iter(loader)
    if skip:
        next(itertools.islice(iterator, skip - 1, None), None)  # discard the batches already seen
    return iterator


def _summed_over_ranks(count: int) -> int:
    if not distributed.is_distributed():
        return count
    total = torch.tensor([count], dtype=torch.int64, device=distributed.collective_device())
    return int(distributed.all_reduce_sum(total).item())


def _next_epoch(state: FitState) -> None:
    state.epoch += 1
    state.step_in_epoch = 0
    state.epoch_finished = False
    state.train_loss.reset()
    for metric in state.train_metrics.values():
        metric.reset()


def _steps_per_optimizer_step(scheduler: Any, interval: str | None) -> bool:
    if interval is None:
        return isinstance(scheduler, _PER_STEP_SCHEDULERS)
    check_choice("scheduler_interval", interval, ("step", "epoch"), where="fit")
    if interval == "step" and isinstance(scheduler, ReduceLROnPlateau):
        raise ValueError("fit: argument 'scheduler_interval' expected 'epoch' for "
                         "ReduceLROnPlateau (it steps on a validation value), got 'step'")
    return interval == "step"


def _step_epoch_scheduler(scheduler: Any, record: dict[str, float], monitor: str) -> None:
    if isinstance(scheduler, ReduceLROnPlateau):
        if monitor not in record:
            raise ValueError(
                f"fit: argument 'scheduler_monitor' expected one of {sorted(record)}, got {monitor!r}"
            )
        scheduler.step(record[monitor])
    else:
        scheduler.step()


def _length(loader: DataLoader[Any]) -> int | None:
    try:
        return len(loader)
    except TypeError:  # an IterableDataset without __len__
        return None


def _warn_about_loader(loader: DataLoader[Any]) -> None:
    sampler = loader.sampler
    if isinstance(sampler, RandomSampler) and sampler.generator is None and loader.generator is None:
        warnings.warn(
            "fit: the train loader shuffles with the global generator, so a resumed run will not "
            "see the same batches; use make_loader(...) or DataLoader(..., generator=torch.Generator())",
            stacklevel=3,
        )
    if distributed.is_distributed() and not is_sharded(loader):
        warnings.warn(
            "fit: running under torch.distributed, but the train loader is not sharded, so every "
            "rank trains on the whole data set; use make_loader(...) or a DistributedSampler",
            stacklevel=3,
        )


def _check_more_arguments(model: Any, loss: Any, batch_size: Any, seed: Any, step_fn: Any, batch_fn: Any,
                          callbacks: Any, config: Any, metadata: Any) -> None:
    check_module("model", model, where="fit")
    if loss is not None and not callable(loss):   # None: a custom step_fn that computes its own loss
        raise TypeError(f"fit: argument 'loss' expected a callable (or None with a step_fn of its own), got {loss!r}")
    for name, value in (("step_fn", step_fn), ("batch_fn", batch_fn)):
        if not callable(value):
            raise TypeError(f"fit: argument '{name}' expected a callable, got {value!r}")
    if batch_size is not None:
        check_int("batch_size", batch_size, minimum=1, where="fit")
    check_int("seed", seed, minimum=0, maximum=2**32 - 1, where="fit")
    if isinstance(callbacks, str | bytes) or not hasattr(callbacks, "__iter__"):
        raise TypeError(f"fit: argument 'callbacks' expected a sequence of Callback instances, "
                        f"got {type(callbacks).__name__}")
    for name, value in (("config", config), ("metadata", metadata)):
        if value is not None and not isinstance(value, Mapping):
            raise TypeError(f"fit: argument '{name}' expected None or a dict, got {type(value).__name__}")


def _check_arguments(epochs: Any, log_every: Any, clip_grad_norm: Any, optimizer: Any) -> None:
    for name, value in (("epochs", epochs), ("log_every", log_every)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"fit: argument '{name}' expected an int ≥ 1, got {value!r}")
    if clip_grad_norm is not None and not (isinstance(clip_grad_norm, (int, float))
                                           and clip_grad_norm > 0):
        raise ValueError(
            f"fit: argument 'clip_grad_norm' expected None or a number > 0, got {clip_grad_norm!r}"
        )
    if not isinstance(optimizer, Optimizer):
        raise TypeError(
            f"fit: argument 'optimizer' expected a torch.optim.Optimizer, got {type(optimizer).__name__}"
        )
