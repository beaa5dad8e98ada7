"""Mean loss and metrics of a model over a data set, without gradients."""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from typing import Any

import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset

from convrnn.training.metrics import Mean, Metric
from convrnn.training.sampling import as_loader
from convrnn.training.steps import BatchFunction, StepFunction, move_to_device, supervised_step

__all__ = ["evaluate"]


@torch.no_grad()
def evaluate(
    model: nn.Module,
    data: DataLoader[Any] | Dataset[Any],
    *,
    loss: Callable[..., Tensor],
    metrics: Mapping[str, Metric] | None = None,
    device: torch.device | str = "cpu",
    batch_size: int | None = None,
    step_fn: StepFunction = supervised_step,
    batch_fn: BatchFunction = move_to_device,
) -> dict[str, float]:
    """``{"loss": mean loss, <metric name>: value, …}`` over every batch of ``data``.

    The model is put in ``eval()`` mode (dropout off, batch norm uses running statistics) and
    restored to its previous mode afterwards. The loss is the mean of the step losses weighted
    by ``StepOutput.size``; under DDP every value is summed over ranks first. A data set is then
    shared out over the ranks without padding (each sample counted once: the scores are the whole
    data set's); a loader that is not sharded is read whole by every rank, which leaves every
    ratio unchanged.
    """
    loader = as_loader(data, batch_size, shuffle=False, seed=0, name="data", where="evaluate", even=False)
    device = torch.device(device)
    loss_mean = Mean()
    scores = {name: copy.deepcopy(metric) for name, metric in (metrics or {}).items()}
    for metric in scores.values():
        metric.reset()
    was_training = model.training
    model.eval()
    try:
        for batch in loader:
            output = step_fn(model, batch_fn(batch, device), loss)
            loss_mean.update(output.loss, output.size)
            if output.outputs is not None:
                for metric in scores.values():
                    metric.update(output.outputs, output.targets)
    finally:
        model.train(was_training)
    return {"loss": loss_mean.compute()} | {name: m.compute() for name, m in scores.items()}
