"""One split of an image classification data set, held in memory as two tensors."""

from __future__ import annotations

import numbers
from collections.abc import Iterator, Sequence

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset

from convrnn.data.transforms import random_shift as shift_randomly
from convrnn.functional._checks import check_real, check_tensor


class ImageDataset(Dataset[tuple[Tensor, Tensor]]):
    """Images and labels of one split, kept as whole tensors for fast batching.

    Args:
        images: ``(N, C, H, W)`` float pixels in [0, 1].
        labels: ``(N,)`` integer class indices in ``[0, len(classes))``.
        classes: the class names, index ``k`` naming label ``k``.
        mean, std: when given, images are normalised once to ``(x − mean) / std``.
        random_shift: ``k > 0`` translates every image fetched through ``__getitem__``,
            ``__getitems__`` or :meth:`batch` by a random offset in ``{−k, …, k}²`` pixels
            (a training augmentation; :attr:`images` stays unshifted).
        generator: the random source for the shifts (default: torch's global one, which
            DataLoader seeds differently in each worker; a generator given here would be
            copied into every worker and repeat the same shifts there).

    ``dataset[i]`` is ``(image (C, H, W) float32, label () int64)``; ``dataset[[i, j, …]]``
    is a batch ``(images (B, C, H, W), labels (B,))``. For training without per-item Python
    overhead, use :attr:`images`/:attr:`labels` directly, :meth:`batches`, or
    ``DataLoader(dataset, sampler=BatchSampler(RandomSampler(dataset), B, False),
    batch_size=None)``.
    """

    def __init__(self, images: Tensor, labels: Tensor, *, classes: Sequence[str],
                 mean: float | None = None, std: float | None = None, random_shift: int = 0,
                 generator: torch.Generator | None = None) -> None:
        check_tensor("images", images, dims=4, floating=True, where="ImageDataset")
        check_tensor("labels", labels, dims=1, where="ImageDataset")
        if labels.shape[0] != images.shape[0]:
            raise ValueError(f"ImageDataset: expected one label per image, got {images.shape[0]} "
                             f"images and {labels.shape[0]} labels")
        if isinstance(random_shift, bool) or not isinstance(random_shift, int) or random_shift < 0:
            raise ValueError(f"ImageDataset: argument 'random_shift' expected an int ≥ 0, "
                             f"got {random_shift!r}")
        where = "ImageDataset"
        if labels.is_floating_point() or labels.is_complex() or labels.dtype == torch.bool:
            raise TypeError(f"{where}: argument 'labels' expected integer class indices, got dtype {labels.dtype}")
        if isinstance(classes, str | bytes) or not isinstance(classes, Sequence) or not classes \
                or not all(isinstance(name, str) for name in classes):
            raise TypeError(f"{where}: argument 'classes' expected a non-empty sequence of class names, "
                            f"got {classes!r}")
        if labels.numel() and (int(labels.min()) < 0 or int(labels.max()) >= len(classes)):
            raise ValueError(f"{where}: argument 'labels' expected class indices in [0, {len(classes)}) (one per "
                             f"class name), got min {int(labels.min())}, max {int(labels.max())}")
        if (mean is None) != (std is None):
            raise ValueError(f"{where}: arguments 'mean' and 'std' expected both or neither, got mean={mean!r}, "
                             f"std={std!r}")
        if mean is not None:
            check_real("mean", mean, where=where)
            check_real("std", std, above=0, where=where)
        if generator is not None and not isinstance(generator, torch.Generator):
            raise TypeError(f"{where}: argument 'generator' expected None or a torch.Generator, "
                            f"got {type(generator).__name__}")
        self.classes = tuple(classes)
        self.mean, self.std = mean, std
        self.random_shift = random_shift
        self.generator = generator
        images = images.to(torch.float32)
        if mean is not None and std is not None:
            images = (images - mean) / std
        self.images = images
        self.labels = labels.to(torch.int64)
        # The value an empty pixel takes after normalisation: what a shift uncovers.
        self.background = 0.0 if mean is None or std is None else -mean / std

    def _init_from_raw(self, images: np.ndarray, labels: np.ndarray, *, scale: float,
                       classes: Sequence[str], stats: tuple[float, float], normalize: bool,
                       random_shift: int, generator: torch.Generator | None) -> None:
        """Initialise from raw ``images (N, H, W)`` integer counts divided by ``scale`` and
        ``labels (N,)``; ``stats`` is the train split's ``(mean, std)``, used when ``normalize``."""
        mean, std = stats if normalize else (None, None)
        ImageDataset.__init__(self, torch.from_numpy(images).unsqueeze(1).float().div_(scale),
                              torch.from_numpy(labels), classes=classes, mean=mean, std=std,
                              random_shift=random_shift, generator=generator)

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """``(C, H, W)``."""
        return tuple(self.images.shape[1:])  # type: ignore[return-value]

    @property
    def tensors(self) -> tuple[Tensor, Tensor]:
        """The whole split: ``images (N, C, H, W)``, ``labels (N,)`` (no augmentation)."""
        return self.images, self.labels

    def __len__(self) -> int:
        return self.images.shape[0]

    def __getitem__(self, index: int | Sequence[int] | Tensor) -> tuple[Tensor, Tensor]:
        if isinstance(index, numbers.Integral) or getattr(index, "ndim", None) == 0:
            images, labels = self.batch(torch.as_tensor([int(index)]))
            return images[0], labels[0]
        # A whole batch of indices, as DataLoader(..., sampler=BatchSampler(...),
        # batch_size=None) asks for: no per-item work, no collation.
        return self.batch(torch.as_tensor(index))

    def __getitems__(self, indices: Sequence[int]) -> list[tuple[Tensor, Tensor]]:
        # DataLoader calls this with a whole batch of indices: augment them in one go.
        images, labels = self.batch(torch.as_tensor(indices))
        return list(zip(images.unbind(0), labels.unbind(0), strict=True))

    def batch(self, indices: Tensor) -> tuple[Tensor, Tensor]:
        """Images ``(B, C, H, W)`` and labels ``(B,)`` at ``indices (B,)``, augmented if set."""
        images = self.images[indices]
        if self.random_shift:
            images = shift_randomly(images, self.random_shift, fill=self.background,
                                    generator=self.generator)
        return images, self.labels[indices]

    def batches(self, batch_size: int, *, shuffle: bool = False, drop_last: bool = False,
                generator: torch.Generator | None = None) -> Iterator[tuple[Tensor, Tensor]]:
        """Iterate over the split in batches ``(images (B, C, H, W), labels (B,))``."""
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batches: argument 'batch_size' expected an int ≥ 1, "
                             f"got {batch_size!r}")
        n = len(self)
        order = torch.randperm(n, generator=generator) if shuffle else torch.arange(n)
        stop = n - n % batch_size if drop_last else n
        for start in range(0, stop, batch_size):
            yield self.batch(order[start:start + batch_size])

    def __repr__(self) -> str:
        extras = "" if self.mean is None else f", normalized (mean {self.mean}, std {self.std})"
        extras += f", random_shift={self.random_shift}" if self.random_shift else ""
        return (f"{type(self).__name__}({len(self)} images of {self.image_shape}, "
                f"{self.num_classes} classes{extras})")
