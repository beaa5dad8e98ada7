"""Sampling from a sequence model: the seeds' "weighted die", thrown once per token.

The prompt x_0 … x_{P−1} is run through the network once; then, for each new token,

    p = softmax(z_t / τ)  (restricted to the top-k / the top-p nucleus)
    x_{t+1} ~ p                       (or x_{t+1} = argmax z_t when greedy)

and x_{t+1} alone is fed back with the carried state. Generating n tokens therefore costs one
pass over the prompt and n − 1 one-token steps — the prefix is never recomputed.

A model here is anything called as ``model(tokens (1, t), state=state) -> (logits (1, t, V),
state)`` with ``state=None`` meaning "start fresh", e.g. :class:`convrnn.models.LanguageModel`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Iterator, Sequence

import torch
from torch import Tensor, nn

from convrnn.functional._checks import check_int, check_tensor


def next_token_probabilities(logits: Tensor, *, temperature: float = 1.0, top_k: int | None = None,
                             top_p: float | None = None) -> Tensor:
    """The distribution the next token is drawn from.

    p_i ∝ exp(z_i / τ) over the kept tokens, 0 elsewhere. ``top_k`` keeps the k largest logits;
    ``top_p`` then keeps the smallest set of most probable tokens whose probability reaches p
    (the nucleus, Holtzman et al., 2020; the most probable token is always kept).

    logits: (…, V). Returns probabilities (…, V), float32 or the logits' float dtype.
    """
    check_tensor("logits", logits, floating=True, where="next_token_probabilities")
    _check_options(temperature, top_k, top_p, "next_token_probabilities")
    scaled = logits / temperature
    if top_k is not None and top_k < scaled.shape[-1]:
        kth = torch.topk(scaled, top_k, dim=-1).values[..., -1:]
        scaled = scaled.masked_fill(scaled < kth, float("-inf"))
    probabilities = torch.softmax(scaled, dim=-1)
    if top_p is not None and top_p < 1.0:
        sorted_probabilities, order = torch.sort(probabilities, dim=-1, descending=True)
        mass_before = torch.cumsum(sorted_probabilities, dim=-1) - sorted_probabilities
        drop_sorted = mass_before >= top_p  # the nucleus already holds p without this token
        drop = drop_sorted.scatter(-1, order, drop_sorted)
        probabilities = probabilities.masked_fill(drop, 0.0)
        probabilities = probabilities / probabilities.sum(dim=-1, keepdim=True)
    return probabilities


def generate(model: nn.Module, prompt: Sequence[int] | Tensor, length: int, *, temperature: float = 1.0,
             top_k: int | None = None, top_p: float | None = None, greedy: bool = False, seed: int | None = None,
             stop: int | Collection[int] | None = None, forbid: Collection[int] | None = None) -> Iterator[int]:
    """Yield up to ``length`` new token ids one by one, as they are drawn (for streaming).

    Args:
        model: see the module docstring; put in ``eval()`` mode while the generator runs.
        prompt: (P,) token ids, P ≥ 1; the text to continue.
        length: the most tokens to generate.
        temperature: τ > 0; τ → 0 approaches greedy, τ > 1 flattens the distribution.
        top_k, top_p: see :func:`next_token_probabilities`.
        greedy: take the most probable token every time (deterministic; ignores the rest).
        seed: seeds the draws (same seed, same model, same text); None draws a fresh seed.
        stop: a token id, or several; generation ends when one is drawn (it is not yielded).
        forbid: token ids never drawn (their logits are set to −∞ before everything else), e.g.
            a vocabulary's padding, unknown and begin-of-sequence tokens.
    """
    where = "generate"
    prompt = _check_prompt(prompt, where)
    if isinstance(length, bool) or not isinstance(length, int) or length < 0:
        raise ValueError(f"{where}: argument 'length' expected an int ≥ 0, got {length!r}")
    _check_options(temperature, top_k, top_p, where)
    if seed is not None:
        check_int("seed", seed, minimum=0, maximum=2**32 - 1, where=where)
    stops = _stop_set(stop, where)
    banned = sorted(_stop_set(forbid, where, "forbid"))
    if length == 0:
        return
    parameter = next(model.parameters(), None)
    device = parameter.device if parameter is not None else torch.device("cpu")
    generator = torch.Generator(device=device)
    if seed is None:
        generator.seed()
    else:
        generator.manual_seed(seed)
    was_training = model.training
    model.eval()
    try:
        tokens, state = prompt.to(device).unsqueeze(0), None
        for produced in range(length):
            # no_grad per call, not around the yields: the caller's code between tokens keeps
            # its own grad mode
            with torch.no_grad():
                logits, state = model(tokens, state=state)
                last = logits[0, -1].float()
                if banned:
                    if banned[0] < 0 or banned[-1] >= last.shape[-1]:
                        raise ValueError(f"{where}: argument 'forbid' expected token ids in [0, {last.shape[-1]}), "
                                         f"got {banned}")
                    if len(banned) == last.shape[-1]:
                        raise ValueError(f"{where}: argument 'forbid' leaves no token to draw "
                                         f"(all {last.shape[-1]} are forbidden)")
                    last[banned] = float("-inf")
                if greedy:
                    token = int(torch.argmax(last))
                else:
                    probabilities = next_token_probabilities(last, temperature=temperature, top_k=top_k, top_p=top_p)
                    token = int(torch.multinomial(probabilities, 1, generator=generator))
            if token in stops:
                return
            yield token
            if produced + 1 < length:
                tokens = torch.tensor([[token]], device=device)
    finally:
        model.train(was_training)


def sample(model: nn.Module, prompt: Sequence[int] | Tensor, length: int, *, temperature: float = 1.0,
           top_k: int | None = None, top_p: float | None = None, greedy: bool = False, seed: int | None = None,
           stop: int | Collection[int] | None = None, callback: Callable[[int], object] | None = None,
           forbid: Collection[int] | None = None) -> list[int]:
    """The new token ids (at most ``length``) continuing ``prompt``; see :func:`generate` for the
    arguments. ``callback(token)`` is called with each token as soon as it is drawn, e.g. to print
    text as it is generated."""
    tokens = []
    for token in generate(model, prompt, length, temperature=temperature, top_k=top_k, top_p=top_p,
                          greedy=greedy, seed=seed, stop=stop, forbid=forbid):
        tokens.append(token)
        if callback is not None:
            callback(token)
    return tokens


def _check_prompt(prompt: Sequence[int] | Tensor, where: str) -> Tensor:
    if isinstance(prompt, str):
        raise TypeError(f"{where}: argument 'prompt' expected token ids, got a str (encode it with the "
                        "model's vocabulary first)")
    tensor = torch.as_tensor(prompt)
    if tensor.numel() == 0:
        raise ValueError(f"{where}: argument 'prompt' expected at least one token (the model needs an input "
                         "to start from), got an empty prompt")
    if tensor.dim() != 1 or tensor.is_floating_point() or tensor.dtype == torch.bool:
        raise ValueError(f"{where}: argument 'prompt' expected a 1-d sequence of token ids, "
                         f"got shape {tuple(tensor.shape)} dtype {tensor.dtype}")
    return tensor.long()


def _check_options(temperature: float, top_k: int | None, top_p: float | None, where: str) -> None:
    if isinstance(temperature, bool) or not isinstance(temperature, int | float) or not 0 < temperature < math.inf:
        raise ValueError(f"{where}: argument 'temperature' expected a finite number > 0, got {temperature!r}")
    if top_k is not None and (isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1):
        raise ValueError(f"{where}: argument 'top_k' expected None or an int ≥ 1, got {top_k!r}")
    if top_p is not None and (isinstance(top_p, bool) or not isinstance(top_p, int | float) or not 0 < top_p <= 1):
        raise ValueError(f"{where}: argument 'top_p' expected None or a number in (0, 1], got {top_p!r}")


def _stop_set(stop: int | Collection[int] | None, where: str, name: str = "stop") -> frozenset[int]:
    if stop is None:
        return frozenset()
    values = [stop] if isinstance(stop, int) else list(stop)
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        raise TypeError(f"{where}: argument '{name}' expected None, a token id or token ids, got {stop!r}")
    return frozenset(values)


__all__ = ["generate", "next_token_probabilities", "sample"]
