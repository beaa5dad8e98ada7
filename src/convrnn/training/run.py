"""Fit a model into a run directory and keep its best epoch (what every task kind's training ends in).

A run directory holds, for its main model (``name="model"``)::

    OUT/checkpoints/{last,best}/   resumable checkpoints (safetensors + JSON)
    OUT/log.csv                    one row per epoch
    OUT/model/                     the best epoch's weights + config

and for a further model ``name`` (a recipe's CNN or baseline): ``OUT/<name>_checkpoints/``,
``OUT/<name>_log.csv`` and ``OUT/<name>/``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from torch import nn

from convrnn.training import distributed
from convrnn.training.callbacks import Callback, Checkpoint
from convrnn.training.checkpoint import load_checkpoint, recover_interrupted_save, save_model
from convrnn.training.fit import fit
from convrnn.training.fit_state import History
from convrnn.training.loggers import CSVLogger
from convrnn.training.sharding import per_rank


def fit_to_best(model: nn.Module, train: Any, val: Any, *, out: Path, config: dict[str, Any], monitor: str,
                mode: str = "max", name: str = "model", resume: bool = False, missing_ok: bool = False,
                callbacks: Sequence[Callback] = (), **fit_options: Any) -> History:
    """:func:`convrnn.training.fit` with a :class:`Checkpoint` (the best epoch by ``monitor``, and the
    last) and a CSV log in ``out``; then the best weights are loaded into ``model`` and saved with
    ``config`` as ``out/name``. ``resume`` continues from the last checkpoint bit for bit; a missing
    one is an error unless ``missing_ok`` (then training starts afresh — for a recipe's second
    model that had not started when the run stopped). ``fit_options`` go to ``fit``.

    Batches are global here, as a recipe states them: under torchrun the loaders' batches and a data
    set's ``batch_size`` are split over the processes (:func:`convrnn.training.sharding.per_rank`),
    rank 0 alone writes ``out``, and every rank ends with the best weights (the run directory must
    be one every rank can read: on several machines, a shared file system)."""
    main = name == "model"
    checkpoints = Checkpoint(out / ("checkpoints" if main else f"{name}_checkpoints"), monitor=monitor, mode=mode)
    log = out / ("log.csv" if main else f"{name}_log.csv")
    last = checkpoints.last
    if resume and not (recover_interrupted_save(last) / "config.json").is_file():
        if not missing_ok:
            raise FileNotFoundError(f"train: --resume found no checkpoint at '{last}'")
        resume = False
    train, val, fit_options["batch_size"] = per_rank(train, val, fit_options.get("batch_size"))
    history = fit(model, train, val, callbacks=[checkpoints, CSVLogger(log), *callbacks],
                  resume=last if resume else None, config=config, **fit_options)
    distributed.barrier()  # rank 0 has written the best checkpoint
    load_checkpoint(checkpoints.best_path, model)
    if distributed.is_main_process():
        save_model(out / name, model, config, metadata={"history": history.records})
    return history


__all__ = ["fit_to_best"]
