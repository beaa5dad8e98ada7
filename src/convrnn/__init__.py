"""convrnn: convolutional and recurrent neural networks on PyTorch.

Floors (each imports only the floors below it):
``functional`` → ``layers`` → ``nn``/``models``/``data`` → ``training``/``inspect`` → ``tasks`` → ``recipes`` → ``cli``.
"""

from typing import Any

__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    # ``convrnn.stream(model)`` without importing the streaming package at ``import convrnn``
    if name == "stream":
        import convrnn.stream

        return convrnn.stream
    raise AttributeError(f"module 'convrnn' has no attribute {name!r}")


__all__ = ["__version__", "stream"]
