"""convrnn: convolutional and recurrent neural networks on PyTorch.

Floors (each imports only the floors below it):
``functional`` → ``layers`` → ``nn``/``models``/``data`` → ``training``/``inspect`` → ``tasks`` → ``recipes`` → ``cli``.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
