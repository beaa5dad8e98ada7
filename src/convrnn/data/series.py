"""Time series and sequence-classification data: statsmodels' CSV series (sunspots, CO2,
Nile, El Niño) and sktime's ``.ts`` files (JapaneseVowels).
"""

from __future__ import annotations

import csv
import math
import os
from pathlib import Path

import numpy as np

from convrnn.data.fetch import ensure_fetched
from convrnn.functional._checks import check_choice

STATSMODELS_SERIES = {"sunspots": "sunspots/sunspots.csv", "co2": "co2/co2.csv",
                      "nile": "nile/nile.csv", "elnino": "elnino/elnino.csv"}


def read_csv_columns(path: str | os.PathLike[str]) -> dict[str, np.ndarray]:
    """``{column: values (R,) float64}`` from a CSV with a header row; empty cells are NaN."""
    path = Path(path)
    with open(path, newline="", encoding="utf-8") as file:
        rows = list(csv.reader(file))
    if not rows:
        raise ValueError(f"{path.name}: expected a header row, got an empty file")
    header, body = rows[0], [row for row in rows[1:] if row]
    columns: dict[str, np.ndarray] = {}
    for index, name in enumerate(header):
        try:
            columns[name] = np.array([float(row[index]) if row[index].strip() else math.nan
                                      for row in body], dtype=np.float64)
        except (ValueError, IndexError) as error:
            raise ValueError(f"{path.name}: column {name!r} is not numeric: {error}") from None
    return columns


def statsmodels_series(name: str = "sunspots", *, cache: str | os.PathLike[str] | None = None,
                       download: bool = True) -> dict[str, np.ndarray]:
    """A statsmodels data set as columns, e.g. ``{"YEAR": (309,), "SUNACTIVITY": (309,)}``.

    ``name``: ``"sunspots"`` (yearly 1700–2008), ``"co2"`` (weekly Mauna Loa, 1958–2001, with
    gaps as NaN), ``"nile"`` (yearly flow 1871–1970) or ``"elnino"`` (monthly sea temperature).
    """
    name = check_choice("name", name, list(STATSMODELS_SERIES))
    directory = ensure_fetched("sunspots", cache=cache, download=download)
    return read_csv_columns(directory / STATSMODELS_SERIES[name])


def read_ts(path: str | os.PathLike[str]) -> tuple[list[np.ndarray], list[str], dict[str, str]]:
    """Parse an sktime/UEA ``.ts`` file.

    Returns ``(series, labels, header)``: ``series[i]`` is ``(T_i, C) float64`` (one column per
    dimension, ``?`` as NaN), ``labels[i]`` the class label string, ``header`` the ``@key value``
    lines (``classLabel`` holds the labels in their declared order, space-separated).
    Layout after ``@data``: one case per line, dimensions separated by ``:``, values by ``,``,
    the class label last.
    """
    path = Path(path)
    header: dict[str, str] = {}
    series: list[np.ndarray] = []
    labels: list[str] = []
    in_data = False
    with open(path, encoding="utf-8") as file:
        for number, raw in enumerate(file, start=1):
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            if not in_data:
                if line.lower() == "@data":
                    in_data = True
                elif line.startswith("@"):
                    key, _, value = line[1:].partition(" ")
                    header[key] = value.strip()
                continue
            *dimensions, label = line.split(":")
            try:
                columns = [np.array([math.nan if v == "?" else float(v) for v in d.split(",")])
                           for d in dimensions]
            except ValueError as error:
                raise ValueError(f"{path.name}, line {number}: {error}") from None
            if not columns or len({len(column) for column in columns}) != 1:
                raise ValueError(f"{path.name}, line {number}: expected dimensions of one length, "
                                 f"got lengths {[len(column) for column in columns]}")
            series.append(np.stack(columns, axis=1))
            labels.append(label.strip())
    if not in_data:
        raise ValueError(f"{path.name}: no @data line")
    return series, labels, header


def japanese_vowels(split: str = "train", *, cache: str | os.PathLike[str] | None = None,
                    download: bool = True) -> tuple[list[np.ndarray], np.ndarray]:
    """JapaneseVowels: ``(series, labels)`` with ``series[i]`` ``(T_i, 12)``, T_i in 7–29, and
    ``labels (N,) int64`` in 0–8 (speaker 1–9). ``split``: ``"train"`` (270) or ``"test"`` (370).
    """
    split = check_choice("split", split, ["train", "test"])
    directory = ensure_fetched("japanese-vowels", cache=cache, download=download)
    series, labels, header = read_ts(directory / f"JapaneseVowels_{split.upper()}.ts")
    # "@classLabel true 1 2 … 9": the first word says labels exist, the rest declares them.
    declared = header.get("classLabel", "").split()[1:]
    order = declared or sorted(set(labels))
    return series, np.array([order.index(label) for label in labels], dtype=np.int64)
