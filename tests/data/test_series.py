"""statsmodels CSV and sktime .ts readers on hand-made files."""

from __future__ import annotations

import math

import numpy as np
import pytest

from convrnn.data.series import japanese_vowels, read_csv_columns, read_ts, statsmodels_series

TS = """#A comment line
@problemName Tiny
@univariate false
@dimensions 2
@classLabel true 1 2 3
@data
1.0,2.0,3.0:4.0,5.0,?:2
0.5,0.25:1,2:3
"""


def test_ts_cases_become_time_by_channel_arrays_with_labels(tmp_path):
    path = tmp_path / "Tiny_TRAIN.ts"
    path.write_text(TS)
    series, labels, header = read_ts(path)
    assert labels == ["2", "3"] and header["classLabel"] == "true 1 2 3"
    assert series[0].shape == (3, 2) and series[1].shape == (2, 2)
    np.testing.assert_array_equal(series[1], [[0.5, 1.0], [0.25, 2.0]])
    assert series[0][1, 1] == 5.0 and math.isnan(series[0][2, 1])


def test_ts_dimensions_of_unequal_length_are_refused(tmp_path):
    path = tmp_path / "Bad.ts"
    path.write_text("@data\n1,2,3:4,5:1\n")
    with pytest.raises(ValueError, match=r"Bad.ts, line 2: .* got lengths \[3, 2\]"):
        read_ts(path)


def test_japanese_vowels_labels_follow_the_declared_order(tmp_path, planted):
    planted(tmp_path, "japanese-vowels", {"JapaneseVowels_TRAIN.ts": TS.encode(),
                                          "JapaneseVowels_TEST.ts": TS.encode()})
    series, labels = japanese_vowels("test", cache=tmp_path)
    assert labels.tolist() == [1, 2] and labels.dtype == np.int64 and len(series) == 2


def test_csv_columns_with_gaps_and_the_statsmodels_layout(tmp_path, planted):
    planted(tmp_path, "sunspots", {"sunspots/sunspots.csv": b'"YEAR","SUNACTIVITY"\n1700,5\n1701,11\n',
                                   "co2/co2.csv": b"date,co2\n19580329,316.1\n19580405,\n"})
    sunspots = statsmodels_series("sunspots", cache=tmp_path)
    np.testing.assert_array_equal(sunspots["YEAR"], [1700, 1701])
    np.testing.assert_array_equal(sunspots["SUNACTIVITY"], [5.0, 11.0])
    co2 = read_csv_columns(tmp_path / "sunspots" / "co2" / "co2.csv")
    assert co2["co2"][0] == 316.1 and math.isnan(co2["co2"][1])
    with pytest.raises(ValueError, match="'name' expected one of"):
        statsmodels_series("lynx", cache=tmp_path)
