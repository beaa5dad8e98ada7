"""Attention: a query scores every key, a softmax over the valid keys turns the scores into
weights, and the weighted mean of the values is the context (the seeds' "query, keys, softmax").

Letters: N batch, S source positions (keys/values), T_q queries per example (optional), H_q, H_k,
H_v the query, key and value sizes, A the additive attention's hidden size.

    attention = Attention("additive", query_size=256, key_size=512)
    context, weights = attention(query, keys, values, lengths=source_lengths)
    # query (N, H_q) → context (N, H_v), weights (N, S); padded positions get weight exactly 0
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from convrnn.functional._checks import check_choice, check_flag, check_int, check_like, check_tensor, is_tracing

ATTENTION_KINDS = ("dot", "additive")


class Attention(nn.Module):
    r"""Dot-product (Luong et al., 2015; Vaswani et al., 2017) or additive (Bahdanau et al., 2015)
    attention over a padded source.

    For a query q and keys k_1 … k_S with values v_1 … v_S, of which the first S_i are real:

        dot:       e_j = (W_q q)ᵀ k_j / √H_k        (W_q = identity when H_q = H_k, else a learned
                                                    (H_k, H_q) matrix: Luong's "general" score;
                                                    the √H_k only with ``scale=True``)
        additive:  e_j = vᵀ tanh(W_q q + W_k k_j + b)     (W_q (A, H_q), W_k (A, H_k), b, v (A,))

        α_j = exp(e_j) / Σ_{j' < S_i} exp(e_j')   for j < S_i,   α_j = 0 for j ≥ S_i (padding)
        context = Σ_j α_j v_j

    The weights sum to 1 over the real positions and are exactly 0 on padding, so neither the
    number of padded positions nor what they hold changes the context.

    Args:
        kind: "dot" or "additive".
        query_size: H_q.
        key_size: H_k.
        hidden_size: A, for "additive" (default H_k).
        scale: divide dot-product scores by √H_k (as ``scaled_dot_product_attention``).

    Shapes:
        query: (N, H_q), or (N, T_q, H_q) for T_q queries against the same keys at once.
        keys: (N, S, H_k); values: (N, S, H_v) (default: the keys).
        lengths: (N,) integers in [1, S] — positions j < lengths[i] are real; or
        mask: (N, S) bool, True at real positions (at least one per row). Neither: all real.
        Returns context (N, H_v) and weights (N, S) — or (N, T_q, H_v) and (N, T_q, S).
    """

    def __init__(self, kind: str = "dot", query_size: int | None = None, key_size: int | None = None, *,
                 hidden_size: int | None = None, scale: bool = True) -> None:
        super().__init__()
        self.kind = check_choice("kind", kind, ATTENTION_KINDS, where="Attention")
        for name, value in (("query_size", query_size), ("key_size", key_size)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"Attention: argument '{name}' expected a positive int, got {value!r}")
        hidden_size = key_size if hidden_size is None else hidden_size
        if isinstance(hidden_size, bool) or not isinstance(hidden_size, int) or hidden_size < 1:
            raise ValueError(f"Attention: argument 'hidden_size' expected a positive int, got {hidden_size!r}")
        self.query_size, self.key_size, self.scale = query_size, key_size, check_flag("scale", scale, where="Attention")
        self.hidden_size = hidden_size if kind == "additive" else None
        self.query_projection: nn.Linear | None = None
        if kind == "dot":
            if query_size != key_size:
                self.query_projection = nn.Linear(query_size, key_size, bias=False)
        else:
            self.query_projection = nn.Linear(query_size, hidden_size, bias=False)
            self.key_projection = nn.Linear(key_size, hidden_size, bias=True)
            self.score_vector = nn.Parameter(torch.empty(hidden_size))
            nn.init.uniform_(self.score_vector, -1 / math.sqrt(hidden_size), 1 / math.sqrt(hidden_size))

    def extra_repr(self) -> str:
        extra = f", hidden_size={self.hidden_size}" if self.kind == "additive" else f", scale={self.scale}"
        return f"kind={self.kind!r}, query_size={self.query_size}, key_size={self.key_size}{extra}"

    def scores(self, query: Tensor, keys: Tensor) -> Tensor:
        """The unnormalised scores e: query (N, T_q, H_q), keys (N, S, H_k) → (N, T_q, S)."""
        if self.kind == "dot":
            q = query if self.query_projection is None else self.query_projection(query)
            e = q @ keys.transpose(1, 2)
            return e / math.sqrt(self.key_size) if self.scale else e
        assert self.query_projection is not None
        # (N, T_q, 1, A) + (N, 1, S, A) → (N, T_q, S, A) → (N, T_q, S)
        hidden = torch.tanh(self.query_projection(query).unsqueeze(2) + self.key_projection(keys).unsqueeze(1))
        return hidden @ self.score_vector

    def forward(self, query: Tensor, keys: Tensor, values: Tensor | None = None, *,
                lengths: Tensor | None = None, mask: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """``(context, weights)`` of the query against the keys; see the class docstring."""
        where = "Attention.forward"
        check_tensor("query", query, dims=(2, 3), floating=True, where=where)
        check_tensor("keys", keys, dims=3, floating=True, where=where)
        values = keys if values is None else values
        check_tensor("values", values, dims=3, floating=True, where=where)
        check_like("keys", keys, query, where=where, reference_name="query")
        check_like("values", values, query, where=where, reference_name="query")
        weight = next(self.parameters(), None)
        if weight is not None:
            check_like("query", query, weight, where=where, reference_name="the layer's parameters")
        batch, steps = keys.shape[:2]
        if query.shape[0] != batch or query.shape[-1] != self.query_size:
            raise ValueError(f"{where}: argument 'query' expected shape (N={batch}, [T_q,] H_q={self.query_size}), "
                             f"got {tuple(query.shape)}")
        if keys.shape[-1] != self.key_size:
            raise ValueError(f"{where}: argument 'keys' expected shape (N, S, H_k={self.key_size}), "
                             f"got {tuple(keys.shape)}")
        if values.shape[:2] != keys.shape[:2]:
            raise ValueError(f"{where}: argument 'values' expected shape (N={batch}, S={steps}, H_v), "
                             f"got {tuple(values.shape)}")
        valid = source_mask(batch, steps, lengths=lengths, mask=mask, device=keys.device, where=where)
        single = query.dim() == 2
        context, weights = self.attend(query.unsqueeze(1) if single else query, keys, values, valid)
        return (context.squeeze(1), weights.squeeze(1)) if single else (context, weights)

    def attend(self, query: Tensor, keys: Tensor, values: Tensor, valid: Tensor) -> tuple[Tensor, Tensor]:
        """:meth:`forward` without the checks (and without a host sync), for decoding loops:
        query (N, T_q, H_q), keys (N, S, H_k), values (N, S, H_v), valid (N, S) bool →
        context (N, T_q, H_v), weights (N, T_q, S)."""
        weights = masked_softmax(self.scores(query, keys), valid.unsqueeze(1))
        return weights @ values, weights


def masked_softmax(scores: Tensor, valid: Tensor) -> Tensor:
    """Softmax over the last dimension of ``scores`` counting only ``valid`` (True) entries;
    invalid entries get exactly 0. ``valid`` broadcasts against ``scores`` and has at least one
    True per row."""
    where = "masked_softmax"
    check_tensor("scores", scores, floating=True, where=where)
    check_tensor("valid", valid, where=where)
    if valid.dtype != torch.bool:
        raise TypeError(f"{where}: argument 'valid' expected a bool tensor, got dtype {valid.dtype}")
    if not is_tracing():
        try:
            torch.broadcast_shapes(scores.shape, valid.shape)
        except RuntimeError:
            raise ValueError(f"{where}: argument 'valid' expected a shape that broadcasts against scores "
                             f"{tuple(scores.shape)}, got {tuple(valid.shape)}") from None
    return torch.softmax(scores.masked_fill(~valid, float("-inf")), dim=-1)


def source_mask(batch: int, steps: int, *, lengths: Tensor | None = None, mask: Tensor | None = None,
                device: torch.device | None = None, where: str = "source_mask") -> Tensor:
    """(N, S) bool, True at real positions, from ``lengths`` (N,) or a ``mask`` (N, S); all True
    when neither is given. Every row needs at least one real position."""
    if lengths is not None and mask is not None:
        raise ValueError(f"{where}: give argument 'lengths' or argument 'mask', not both")
    if not torch.compiler.is_compiling():
        check_int("batch", batch, minimum=0, where=where)
        check_int("steps", steps, minimum=1, where=where)
    for name, given in (("lengths", lengths), ("mask", mask)):
        if isinstance(given, Tensor) and given.device.type == "meta":
            raise ValueError(f"{where}: argument '{name}' expected a tensor with values, got one on the meta device")
    if lengths is not None:
        if (not isinstance(lengths, Tensor) or lengths.shape != (batch,) or lengths.is_floating_point()
                or lengths.dtype == torch.bool or lengths.is_complex()):
            raise ValueError(f"{where}: argument 'lengths' expected an integer tensor of shape (N={batch},), got "
                             f"{tuple(lengths.shape) if isinstance(lengths, Tensor) else type(lengths).__name__}")
        lengths = lengths.to(device)
        if not torch.compiler.is_compiling() and bool(((lengths < 1) | (lengths > steps)).any()):
            raise ValueError(f"{where}: argument 'lengths' expected values in [1, S={steps}], "
                             f"got {lengths.tolist()}")
        return torch.arange(steps, device=device) < lengths.unsqueeze(1)
    if mask is not None:
        if not isinstance(mask, Tensor) or mask.dtype != torch.bool or mask.shape != (batch, steps):
            raise ValueError(f"{where}: argument 'mask' expected a bool tensor of shape (N={batch}, S={steps}), got "
                             f"{(mask.dtype, tuple(mask.shape)) if isinstance(mask, Tensor) else type(mask).__name__}")
        if not torch.compiler.is_compiling() and not bool(mask.any(1).all()):
            raise ValueError(f"{where}: argument 'mask' expected at least one True (real position) per row")
        return mask.to(device)
    return torch.ones(batch, steps, dtype=torch.bool, device=device)


__all__ = ["ATTENTION_KINDS", "Attention", "masked_softmax", "source_mask"]
