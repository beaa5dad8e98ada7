"""Training over one long token stream with truncated BPTT: ``fit`` reads the stream's windows in
order and each row's state is carried from one window to the next, detached.

:class:`convrnn.data.lm_stream.LanguageModelStream` cuts the stream into N rows read k steps at a
time; :class:`CarriedStateStep` is ``fit``'s step function that carries the state (so gradients
flow back at most k steps while the state remembers the whole row); :class:`PassPartSampler`
splits each pass over the stream into several fit "epochs" (so long passes are validated and
checkpointed along the way); :func:`stream_loss` scores a model over a whole stream.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from torch import Tensor, nn
from torch.utils.data import DataLoader, Sampler

from convrnn.data.batching import IGNORE_INDEX
from convrnn.data.lm_stream import LanguageModelStream
from convrnn.training.evaluate import evaluate
from convrnn.training.steps import StepOutput
from convrnn.training.tbptt import detach_state


class CarriedStateStep:
    """``fit``'s step function for stream windows: carry each row's state to the next window.

    The model is called as ``model(inputs, state=state) -> (logits (N, k, V), state)``. The state
    restarts from zero at window 0 (a new pass), and training and evaluation keep separate states
    (keyed by ``model.training``), so a validation pass never disturbs the training rows. Loss:
    mean cross-entropy over the window's real targets; its weight in the epoch mean is their
    number, so epoch means are exact nats per token.
    """

    def __init__(self) -> None:
        self.states: dict[bool, Any] = {}

    def __call__(self, model: nn.Module, batch: dict[str, Any], loss: Callable[..., Tensor]) -> StepOutput:
        state = None if batch["window"] == 0 else self.states.get(model.training)
        logits, state = model(batch["inputs"], state=state)
        self.states[model.training] = detach_state(state)
        targets = batch["targets"]
        count = int((targets != IGNORE_INDEX).sum())
        return StepOutput(loss(logits.flatten(0, 1), targets.flatten()), None, None, count)


class PassPartSampler(Sampler[int]):
    """Fit epoch e reads part e mod P of the windows 0 … W−1 (P = ``parts``), in order, so P fit
    epochs make one pass over the stream and the state carries over from one part to the next."""

    def __init__(self, windows: int, parts: int) -> None:
        self.windows, self.parts, self.epoch = windows, max(1, min(parts, windows)), 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def _bounds(self) -> tuple[int, int]:
        part = self.epoch % self.parts
        return part * self.windows // self.parts, (part + 1) * self.windows // self.parts

    def __len__(self) -> int:
        start, end = self._bounds()
        return end - start

    def __iter__(self) -> Iterator[int]:
        return iter(range(*self._bounds()))


def stream_loss(model: nn.Module, stream: LanguageModelStream, device: str = "cpu") -> float:
    """Mean nats per token of ``model`` over the whole ``stream`` (state carried, no dropout)."""
    scores = evaluate(model, DataLoader(stream, batch_size=None), loss=nn.CrossEntropyLoss(),
                      device=device, step_fn=CarriedStateStep())
    return scores["loss"]


__all__ = ["CarriedStateStep", "PassPartSampler", "stream_loss"]
