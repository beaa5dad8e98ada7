"""Batch image transforms for training: normalisation and random-shift augmentation.

Both work on whole batches ``images: (N, C, H, W)`` at once, so augmenting a batch costs a few
tensor operations rather than one Python call per image.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from convrnn.functional._checks import check_tensor


def normalize(images: Tensor, mean: float, std: float) -> Tensor:
    """``(x − μ) / σ`` elementwise, with the data set's pixel mean μ and standard deviation σ.

    Shapes: ``images (N, C, H, W)`` (any shape works) → the same shape.
    """
    check_tensor("images", images, floating=True, where="normalize")
    if not std > 0:
        raise ValueError(f"normalize: argument 'std' expected a positive number, got {std!r}")
    return (images - mean) / std


def shift(images: Tensor, offsets: Tensor, *, fill: float = 0.0) -> Tensor:
    """Translate each image by its own whole-pixel offset, filling the uncovered border.

        out[n, c, i, j] = images[n, c, i − Δi_n, j − Δj_n]   when that pixel exists,
                        = fill                               otherwise.

    Shapes: ``images (N, C, H, W)``, ``offsets (N, 2)`` integer ``(Δi, Δj)`` (positive moves
    content down and right) → ``(N, C, H, W)``.
    """
    check_tensor("images", images, dims=4, where="shift")
    check_tensor("offsets", offsets, dims=2, where="shift")
    if offsets.shape != (images.shape[0], 2) or offsets.is_floating_point():
        raise ValueError(f"shift: argument 'offsets' expected an integer tensor of shape "
                         f"({images.shape[0]}, 2), got {offsets.dtype} {tuple(offsets.shape)}")
    N, C, H, W = images.shape
    reach = int(offsets.abs().max()) if N else 0
    # Pad once by the largest offset, then pick each image's rows and then its columns with
    # two gathers (about twice as fast as one advanced-indexing gather of both).
    padded = F.pad(images, (reach, reach, reach, reach), value=fill)
    offsets = offsets.to(images.device)
    rows = (reach - offsets[:, :1]) + torch.arange(H, device=images.device)  # (N, H)
    cols = (reach - offsets[:, 1:]) + torch.arange(W, device=images.device)  # (N, W)
    picked_rows = padded.gather(2, rows.view(N, 1, H, 1).expand(N, C, H, W + 2 * reach))
    return picked_rows.gather(3, cols.view(N, 1, 1, W).expand(N, C, H, W))


def random_shift(images: Tensor, max_shift: int, *, fill: float = 0.0,
                 generator: torch.Generator | None = None) -> Tensor:
    """Translate each image by offsets drawn uniformly from ``{−k, …, k}²`` (``k = max_shift``).

    The classic augmentation for digit images: a CNN should not care where the digit sits.
    ``fill`` is the background value (0 for raw images, ``−μ/σ`` after :func:`normalize`).
    Shapes: ``images (N, C, H, W)`` → ``(N, C, H, W)``.
    """
    if isinstance(max_shift, bool) or not isinstance(max_shift, int) or max_shift < 0:
        raise ValueError(f"random_shift: argument 'max_shift' expected an int ≥ 0, "
                         f"got {max_shift!r}")
    check_tensor("images", images, dims=4, where="random_shift")
    if max_shift == 0:
        return images
    offsets = torch.randint(-max_shift, max_shift + 1, (images.shape[0], 2), generator=generator)
    return shift(images, offsets, fill=fill)
