"""CUDA-graph replay of the stepwise loops (opt-in; untested on a GPU so far).

The stepwise strategy launches two or four kernels per step; at small batches launching, not
computing, can set the pace. A loop whose buffers and arguments are all the same as a previous
call's — the caching allocator hands a training loop the same addresses at every iteration — is
captured as a CUDA graph at its second occurrence and replayed from then on: one launch per loop.
The key is every tensor's address, shape, strides and dtype and every other argument, so a replay
can only ever run on exactly the tensors it was captured with. At most ``LIMIT`` graphs are kept
(each holds its own memory pool); the oldest is dropped first.

Off by default (:func:`capture_graphs`): no GPU has run it yet, and its gain is unmeasured.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence

import torch
from torch import Tensor

LIMIT = 32
_state: dict[str, object] = {"enabled": False}
_seen: OrderedDict[Hashable, object] = OrderedDict()


def capture_graphs(enabled: bool = True) -> None:
    """Replay the GPU kernels' stepwise time loops as CUDA graphs (see the module docstring)."""
    if not isinstance(enabled, bool):
        raise TypeError(f"capture_graphs: argument 'enabled' expected a bool, got {enabled!r}")
    _state["enabled"] = enabled
    if not enabled:
        _seen.clear()


def key_of(tensors: Sequence[Tensor], values: Sequence[Hashable]) -> Hashable:
    return (tuple((t.data_ptr(), tuple(t.shape), t.stride(), t.dtype) for t in tensors), tuple(values))


def run(loop: Callable[[], None], device: torch.device, key: Callable[[], Hashable] | None = None) -> None:
    """Run ``loop``: eagerly, or on a CUDA device with capture on, from a graph of it (captured the
    second time the same ``key()`` comes; the first run compiles the kernels)."""
    if not _state["enabled"] or device.type != "cuda" or key is None or torch.cuda.is_current_stream_capturing():
        loop()
        return
    identity = key()
    entry = _seen.get(identity)
    if entry is None:
        _seen[identity] = "seen"
        loop()
    elif entry == "seen":
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            loop()
        _seen[identity] = graph
        graph.replay()
    else:
        _seen.move_to_end(identity)
        entry.replay()
    while len(_seen) > LIMIT:
        _seen.popitem(last=False)
