"""Split a nested state (dicts, lists, tuples of tensors and scalars) into JSON and named tensors.

Optimizer and scheduler state dicts mix tensors with numbers, strings, tuples and int-keyed
dicts. Pickling them would make checkpoints executable, so :func:`flatten` stores each tensor
under a dotted key (``"state.0.exp_avg"``) for safetensors and leaves a JSON tree with a
reference in its place; :func:`unflatten` rebuilds the original exactly — tuples stay tuples,
int keys stay ints, floats round-trip bit for bit through their shortest ``repr``.
"""

from __future__ import annotations

from typing import Any

from torch import Tensor

__all__ = ["flatten", "unflatten"]

# JSON objects carrying one of these keys are encodings, never user dicts: a user dict whose
# keys start with "__" is itself stored as a tagged list of pairs, so the tags cannot collide.
_TENSOR, _TUPLE, _DICT = "__tensor__", "__tuple__", "__dict__"
_SCALARS = (bool, int, float, str, type(None))


def flatten(tree: Any, *, where: str = "state") -> tuple[Any, dict[str, Tensor]]:
    """Return ``(json_tree, tensors)``: ``json_tree`` is ``json.dumps``-able, ``tensors`` maps
    dotted paths to contiguous CPU tensors.

    Raises ``TypeError`` naming the dotted path of any leaf that is neither a tensor nor a
    JSON scalar (a function, an arbitrary object), since it could not be stored without pickle.
    """
    tensors: dict[str, Tensor] = {}

    def encode(value: Any, path: str) -> Any:
        if isinstance(value, Tensor):
            key = path
            while key in tensors:  # a dict key containing "." could collide with a nested path
                key += "_"
            # clone: safetensors refuses tensors that share storage (tied weights, views)
            tensors[key] = value.detach().to("cpu", copy=True).contiguous()
            return {_TENSOR: key}
        if isinstance(value, _SCALARS):
            return value
        if isinstance(value, tuple):
            return {_TUPLE: [encode(v, f"{path}.{i}") for i, v in enumerate(value)]}
        if isinstance(value, list):
            return [encode(v, f"{path}.{i}") for i, v in enumerate(value)]
        if isinstance(value, dict):
            plain = all(isinstance(k, str) and not k.startswith("__") for k in value)
            if plain:
                return {k: encode(v, f"{path}.{k}") for k, v in value.items()}
            for k in value:
                if not isinstance(k, _SCALARS):
                    raise TypeError(
                        f"{where}: key {k!r} at '{path}' expected a str, int, float, bool or "
                        f"None, got {type(k).__name__}"
                    )
            return {_DICT: [[k, encode(v, f"{path}.{k}")] for k, v in value.items()]}
        raise TypeError(
            f"{where}: value at '{path}' expected a tensor, number, string, bool, None, list, "
            f"tuple or dict, got {type(value).__name__}; it cannot be stored without pickle"
        )

    return encode(tree, where), tensors


def unflatten(json_tree: Any, tensors: dict[str, Tensor]) -> Any:
    """Invert :func:`flatten`. Raises ``KeyError`` naming a tensor the JSON refers to but
    ``tensors`` lacks."""

    def decode(value: Any) -> Any:
        if isinstance(value, list):
            return [decode(v) for v in value]
        if not isinstance(value, dict):
            return value
        if _TENSOR in value:
            key = value[_TENSOR]
            if key not in tensors:
                raise KeyError(f"state refers to tensor '{key}', which the tensor file lacks")
            return tensors[key]
        if _TUPLE in value:
            return tuple(decode(v) for v in value[_TUPLE])
        if _DICT in value:
            return {k: decode(v) for k, v in value[_DICT]}
        return {k: decode(v) for k, v in value.items()}

    return decode(json_tree)
