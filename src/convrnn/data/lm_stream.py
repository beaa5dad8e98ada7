"""One long token stream cut into N parallel streams and k-step windows, for truncated BPTT.

A language model reads x_0 … x_{L−2} and predicts x_1 … x_{L−1}. To keep N sequences busy at
once, the L − 1 (input, target) pairs are cut into N contiguous rows (row n continues where row
n − 1 stops), and the rows are read k steps at a time: window w holds steps [w·k, (w+1)·k) of
every row. The state after window w is the right initial state for window w + 1 of the same row,
so it is carried across windows (detached), never reset inside an epoch::

    row 0:  x_0 … x_{M−1}        | window 0 | window 1 | … |
    row 1:  x_M … x_{2M−1}       | window 0 | window 1 | … |

Nothing is dropped: row lengths differ by at most one, and the steps past a shorter row's end
(in the last window only) hold ``padding_index`` as input and :data:`IGNORE_INDEX` as target,
so the loss never sees them. Reading the rows in order gives back the whole stream.

Letters: L stream length, N rows (the batch), M = ⌈(L−1)/N⌉ steps per row, k window steps.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence

import torch
from torch import Tensor
from torch.utils.data import Dataset

from convrnn.data.batching import IGNORE_INDEX


class LanguageModelStream(Dataset[dict[str, Tensor | int]]):
    """The windows of one token stream, in reading order (see the module docstring).

    Args:
        tokens: (L,) token ids, L ≥ N + 1.
        batch_size: N, the number of parallel rows.
        steps: k, the window length (the truncation length of truncated BPTT).
        padding_index: input id after a shorter row's end.

    Item w (also what iteration yields): ``{"inputs": (N, t), "targets": (N, t), "window": w}``
    with t = k except in the last window (t = M − w·k); ``targets[n, s]`` is the token after
    ``inputs[n, s]``. Wrap it in ``DataLoader(stream, batch_size=None)`` to feed ``fit``: the
    windows are already batches and must stay in order.
    """

    def __init__(self, tokens: Sequence[int] | Tensor, batch_size: int, steps: int, *, padding_index: int = 0) -> None:
        for name, value in (("batch_size", batch_size), ("steps", steps)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"LanguageModelStream: argument '{name}' expected an int ≥ 1, got {value!r}")
        tokens = torch.as_tensor(tokens)
        if tokens.dim() != 1 or tokens.is_floating_point() or tokens.dtype == torch.bool:
            raise ValueError(f"LanguageModelStream: argument 'tokens' expected a 1-d integer sequence, "
                             f"got shape {tuple(tokens.shape)} dtype {tokens.dtype}")
        pairs = tokens.numel() - 1
        if pairs < batch_size:
            raise ValueError(f"LanguageModelStream: argument 'tokens' expected at least batch_size + 1 = "
                             f"{batch_size + 1} tokens (one step per row), got {tokens.numel()}")
        base, extra = divmod(pairs, batch_size)
        self.row_lengths = torch.tensor([base + 1] * extra + [base] * (batch_size - extra), dtype=torch.long)
        self.batch_size, self.steps, self.token_count = batch_size, steps, pairs
        row_steps = base + (extra > 0)
        self.inputs = torch.full((batch_size, row_steps), padding_index, dtype=torch.long)
        self.targets = torch.full((batch_size, row_steps), IGNORE_INDEX, dtype=torch.long)
        start = 0
        for row, length in enumerate(self.row_lengths.tolist()):
            self.inputs[row, :length] = tokens[start:start + length]
            self.targets[row, :length] = tokens[start + 1:start + length + 1]
            start += length

    @property
    def row_steps(self) -> int:
        """M, the steps of the longest row."""
        return self.inputs.shape[1]

    def __len__(self) -> int:
        return math.ceil(self.row_steps / self.steps)

    def __getitem__(self, window: int) -> dict[str, Tensor | int]:
        if not -len(self) <= window < len(self):
            raise IndexError(f"LanguageModelStream: window {window} out of range for {len(self)} windows")
        window %= len(self)
        columns = slice(window * self.steps, (window + 1) * self.steps)
        return {"inputs": self.inputs[:, columns], "targets": self.targets[:, columns], "window": window}

    def __iter__(self) -> Iterator[dict[str, Tensor | int]]:
        for window in range(len(self)):
            yield self[window]

    def __repr__(self) -> str:
        return (f"LanguageModelStream({self.token_count} steps as {self.batch_size} rows of ≤ {self.row_steps}, "
                f"{len(self)} windows of {self.steps})")


__all__ = ["LanguageModelStream"]
