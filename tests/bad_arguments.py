"""The bad-argument tables' machinery: one :class:`Row` per (API, argument, kind of bad value), a hypothesis
strategy of bad values per row, and :func:`assert_refused`, which demands of every drawn value a ``ValueError`` or
``TypeError`` raised by convrnn's own code (the innermost frame of the traceback lies in the package, so never a
PyTorch error from deep inside an operator) whose message names the function or class, the argument in quotes, and
what was expected. The tables live beside the tests of each subpackage (tests/<subpackage>/test_bad_arguments.py);
each runs a few derandomized examples per row in CI and many more under the ``fuzz`` marker (also ``slow``)."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import convrnn

PACKAGE = Path(convrnn.__file__).resolve().parent

# Examples per row: a few in CI (derandomized by the "ci" profile), many under the fuzz marker.
CI_EXAMPLES = 4
FUZZ_EXAMPLES = 150


@dataclass(frozen=True)
class Row:
    """``call(value)`` passes ``value`` as ``argument`` of ``api`` (a function, a constructor or a method such as
    ``LSTM.forward``); ``values`` draws bad values of one ``kind``. The error message must contain ``where`` (default:
    ``api``), ``'argument'`` (quoted, or one of its parts such as ``'state (h)'``; ``named`` overrides the text) and
    what was expected, as the word ``says`` ("expected" unless a row's message words it otherwise)."""

    api: str
    argument: str
    kind: str
    call: Callable[[Any], object]
    values: st.SearchStrategy[Any]
    where: str | None = None
    named: str | None = None
    says: str = "expected"

    @property
    def id(self) -> str:
        return f"{self.api}-{self.argument}-{self.kind}"


def assert_refused(row: Row, value: Any) -> None:
    """``row.call(value)`` raises a ValueError/TypeError from convrnn's code that names the API, the argument and
    what was expected."""
    try:
        row.call(value)
    except (ValueError, TypeError) as error:
        tb = error.__traceback__
        while tb is not None and tb.tb_next is not None:
            tb = tb.tb_next
        assert tb is not None
        origin = Path(tb.tb_frame.f_code.co_filename).resolve()
        assert PACKAGE in origin.parents, (
            f"{row.id}: {value!r} raised {type(error).__name__} from {origin}:{tb.tb_lineno}, outside convrnn: {error}")
        message = str(error)
        where = row.where or row.api
        argument = f"'{row.named or row.argument}'"
        part = f"'{row.named or row.argument} ("   # a part of a structured argument: 'state (h)'
        assert where in message and (argument in message or part in message) and row.says in message, (
            f"{row.id}: {value!r}: the message does not name {where}, {argument} and what was expected "
            f"({row.says!r}): {message}")
    else:
        pytest.fail(f"{row.id}: the bad value {value!r} was accepted")


def run_rows(rows: Sequence[Row], examples: int) -> Callable[[Row], None]:
    """A test body checking ``examples`` drawn values of one row."""

    def check(row: Row) -> None:
        @settings(max_examples=examples, deadline=None, database=None,
                  suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
        @given(value=row.values)
        def each(value: Any) -> None:
            assert_refused(row, value)

        each()

    return check


def table(rows: Iterable[Row]) -> str:
    """The rows counted per API and kind of bad value, as the report prints them."""
    counts = Counter((row.api.split(".")[0], row.kind) for row in rows)
    lines = [f"{api:28s} {kind:24s} {count}" for (api, kind), count in sorted(counts.items())]
    return "\n".join(lines)


def covered_names(rows: Iterable[Row]) -> set[str]:
    """The public names the rows exercise (``LSTM.forward`` counts for ``LSTM``)."""
    return {row.api.split(".")[0] for row in rows}


# ------------------------------------------------------------------------------------------------------------
# Strategies of bad values shared by the tables

NAN_INF = st.sampled_from([math.nan, math.inf, -math.inf])
NOT_A_NUMBER = st.one_of(st.text(max_size=3), st.none(), st.just([1.0]), st.just(object()))
NOT_AN_INT = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=3), st.none(),
                       st.just([1, 2]).map(lambda v: {"a": v}), st.just(object()))
NOT_A_BOOL = st.one_of(st.text(max_size=4), st.integers(), st.floats(), st.none(), st.just([True]))
NOT_A_TENSOR = st.one_of(st.none(), st.integers(), st.floats(), st.text(max_size=3),
                         st.lists(st.floats(-1, 1), min_size=1, max_size=3))
NON_POSITIVE = st.integers(max_value=0)
NEGATIVE = st.integers(max_value=-1)
NEGATIVE_INT64 = st.integers(-(2**62), -1)   # for torch.tensor(...): an unbounded draw overflows int64
INTEGER_DTYPES = st.sampled_from([torch.int64, torch.int32, torch.uint8, torch.bool])
FLOAT_DTYPES_OTHER_THAN_FLOAT32 = st.sampled_from([torch.float64, torch.float16, torch.bfloat16])
NOT_INTEGER_DTYPES = st.sampled_from([torch.float32, torch.float64, torch.bool])


def bad_choice(choices: Iterable[Any]) -> st.SearchStrategy[Any]:
    """A value outside ``choices``: other strings, numbers, None."""
    allowed = set(choices)
    return st.one_of(st.text(max_size=8), st.integers(), st.none()).filter(lambda v: v not in allowed)


def wrong_length(n: int, element: st.SearchStrategy[Any] | None = None) -> st.SearchStrategy[tuple[Any, ...]]:
    """Tuples of valid-looking ints whose length is not ``n``."""
    element = element if element is not None else st.integers(1, 3)
    return st.lists(element, max_size=n + 2).filter(lambda v: len(v) != n).map(tuple)


def on_meta(make: Callable[[], torch.Tensor]) -> st.SearchStrategy[torch.Tensor]:
    """The tensor ``make()`` builds, on the meta device (shapes, no values)."""
    return st.builds(lambda: make().to("meta"))
