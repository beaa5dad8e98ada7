"""Convert a fetched data set once into ``.npy`` arrays per split, then load those in a blink.

Decompressing and parsing the original files (a gzipped pickle, gzipped IDX, CSV) takes
seconds; reading the converted ``.npy`` files takes a fraction of one.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from convrnn.data.cache import load_array, save_array_atomic
from convrnn.data.fetch import ensure_fetched
from convrnn.data.rank_order import in_rank_order
from convrnn.functional._checks import check_choice

SPLITS = ("train", "validation", "test", "train+validation")
_ALIASES = {"train_full": "train+validation", "val": "validation", "valid": "validation"}


def check_split(split: str, *, where: str = "") -> str:
    """The canonical split name (``train_full`` → ``train+validation``); ``ValueError``
    if unknown, naming ``where`` (the function or class given the split)."""
    split = _ALIASES.get(split, split) if isinstance(split, str) else split
    return check_choice("split", split, SPLITS, where=where)


def prepared_arrays(name: str, keys: Sequence[str],
                    build: Callable[[Path], dict[str, np.ndarray]], *,
                    wanted: Sequence[str] | None = None,
                    cache: str | os.PathLike[str] | None = None,
                    download: bool = True) -> dict[str, np.ndarray]:
    """Arrays ``wanted`` (default: all ``keys``) of data set ``name``, from
    ``<cache>/<name>/arrays/<key>.npy``.

    On the first call the data set is fetched if needed, ``build(fetched_directory)`` converts
    it to a dict holding (at least) ``keys``, and each array is saved atomically; later calls
    only load the wanted ``.npy`` files. A re-fetch replaces the directory and the arrays. Under
    torch.distributed rank 0 does this first (:func:`convrnn.data.rank_order.in_rank_order`).
    """
    return in_rank_order(lambda: _prepared_arrays(name, keys, build, wanted, cache, download), f"data set {name!r}")


def _prepared_arrays(name: str, keys: Sequence[str], build: Callable[[Path], dict[str, np.ndarray]],
                     wanted: Sequence[str] | None, cache: str | os.PathLike[str] | None,
                     download: bool) -> dict[str, np.ndarray]:
    wanted = list(keys if wanted is None else wanted)
    directory = ensure_fetched(name, cache=cache, download=download)
    paths = {key: directory / "arrays" / f"{key}.npy" for key in keys}
    if all(path.is_file() for path in paths.values()):
        return {key: load_array(paths[key]) for key in wanted}
    built = build(directory)
    missing = [key for key in keys if key not in built]
    if missing:
        raise RuntimeError(f"building {name!r} produced no arrays {missing}")  # a bug, not input
    for key, path in paths.items():
        save_array_atomic(path, np.ascontiguousarray(built[key]))
    return {key: built[key] for key in wanted}


def select_split(arrays: dict[str, np.ndarray], split: str) -> tuple[np.ndarray, np.ndarray]:
    """``(images, labels)`` of ``split`` from arrays named ``<split>-images``/``<split>-labels``;
    ``train+validation`` concatenates the two."""
    split = check_split(split, where="select_split")
    if split != "train+validation":
        return arrays[f"{split}-images"], arrays[f"{split}-labels"]
    parts = ("train", "validation")
    images = np.concatenate([arrays[f"{part}-images"] for part in parts])
    labels = np.concatenate([arrays[f"{part}-labels"] for part in parts])
    return images, labels


def split_keys(split: str | None = None) -> list[str]:
    """The array names :func:`select_split` reads for ``split`` (default: every split)."""
    if split is None:
        parts: tuple[str, ...] = SPLITS[:3]
    else:
        split = check_split(split, where="split_keys")
        parts = ("train", "validation") if split == "train+validation" else (split,)
    return [f"{part}-{kind}" for part in parts for kind in ("images", "labels")]
