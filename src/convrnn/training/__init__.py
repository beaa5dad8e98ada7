"""Training, the loop only: ``fit``, callbacks, metrics, checkpoints, truncated BPTT over sequences and
streams, seeding and torchrun helpers (the process group, each rank's share of global batches). No
task lives here: task kinds are in :mod:`convrnn.tasks`.

    from convrnn.training import Accuracy, Checkpoint, fit, seed_everything

    seed_everything(0)
    model = ...
    history = fit(model, train_set, val_set, batch_size=128, epochs=3,
                  loss=nn.CrossEntropyLoss(), optimizer=torch.optim.Adam(model.parameters()),
                  metrics={"accuracy": Accuracy()}, callbacks=[Checkpoint("out/checkpoints")])
"""

from convrnn.training.callbacks import Callback, Checkpoint, EarlyStopping, TimeLimit
from convrnn.training.checkpoint import (
    CheckpointError,
    LoadedCheckpoint,
    load_checkpoint,
    load_model_weights,
    read_config,
    recover_interrupted_save,
    save_checkpoint,
    save_model,
)
from convrnn.training.distributed import (
    Launch,
    LostRankError,
    init_distributed,
    is_distributed,
    is_main_process,
    launch,
    process_group,
    unwrap_model,
    wrap_model,
)
from convrnn.training.evaluate import evaluate
from convrnn.training.finite import FiniteLoss, NonFiniteLossError
from convrnn.training.fit import fit
from convrnn.training.fit_state import FitState, History
from convrnn.training.loggers import CSVLogger, ProgressBar, TensorBoardLogger
from convrnn.training.metrics import Accuracy, Mean, MeanAbsoluteError, Metric, edit_distance
from convrnn.training.run_lock import RunLock, RunLockedError
from convrnn.training.sampling import ResumableSampler, make_loader
from convrnn.training.seeding import get_rng_state, seed_everything, set_rng_state
from convrnn.training.sharding import RowShard, ShardedBatchSampler, per_rank, shard_loader
from convrnn.training.steps import StepOutput, move_to_device, supervised_step
from convrnn.training.streams import CarriedStateStep, PassPartSampler, stream_loss
from convrnn.training.tbptt import gradient_norms_through_time, spectral_radius, truncated_bptt

__all__ = [
    "Accuracy",
    "CSVLogger",
    "Callback",
    "CarriedStateStep",
    "Checkpoint",
    "CheckpointError",
    "EarlyStopping",
    "FiniteLoss",
    "FitState",
    "History",
    "Launch",
    "LoadedCheckpoint",
    "LostRankError",
    "Mean",
    "MeanAbsoluteError",
    "Metric",
    "NonFiniteLossError",
    "PassPartSampler",
    "ProgressBar",
    "ResumableSampler",
    "RowShard",
    "RunLock",
    "RunLockedError",
    "ShardedBatchSampler",
    "StepOutput",
    "TensorBoardLogger",
    "TimeLimit",
    "edit_distance",
    "evaluate",
    "fit",
    "get_rng_state",
    "gradient_norms_through_time",
    "init_distributed",
    "is_distributed",
    "is_main_process",
    "launch",
    "load_checkpoint",
    "load_model_weights",
    "make_loader",
    "move_to_device",
    "per_rank",
    "process_group",
    "read_config",
    "recover_interrupted_save",
    "save_checkpoint",
    "save_model",
    "seed_everything",
    "set_rng_state",
    "shard_loader",
    "spectral_radius",
    "stream_loss",
    "supervised_step",
    "truncated_bptt",
    "unwrap_model",
    "wrap_model",
]
