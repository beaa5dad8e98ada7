"""The credit-card fraud CSV reader, the model's features and the chronological split, on
generated files of the published format (the real file only under -m slow)."""

import numpy as np
import pytest

from convrnn.data.credit_card import (
    FEATURE_COLUMNS,
    chronological_split,
    credit_card_fraud,
    read_transactions,
    transaction_features,
)


def write_csv(path, rows, columns=(*FEATURE_COLUMNS, "Class"), quote_class=True):
    """``rows`` of numbers as the published file writes them: quoted header, Class quoted."""
    lines = [",".join(f'"{c}"' for c in columns)]
    for row in rows:
        cells = [repr(float(v)) for v in row]
        if quote_class and columns[-1] == "Class":
            cells[-1] = f'"{int(row[-1])}"'
        lines.append(",".join(cells))
    path.write_text("\n".join(lines) + "\n")
    return path


def generated_rows(count, seed=0):
    generator = np.random.default_rng(seed)
    time = np.sort(generator.integers(0, 1000, count)).astype(float)
    v = generator.standard_normal((count, 28))
    amount = generator.exponential(50.0, count).round(2)
    labels = (generator.random(count) < 0.1).astype(float)
    return np.column_stack([time, v, amount, labels])


def test_reader_returns_the_table_in_column_order_and_the_labels(tmp_path):
    rows = generated_rows(20)
    table, labels = read_transactions(write_csv(tmp_path / "t.csv", rows))
    np.testing.assert_array_equal(table, rows[:, :30])
    np.testing.assert_array_equal(labels, rows[:, 30].astype(int))
    assert table.shape == (20, 30) and labels.dtype == np.int64


def test_reader_finds_columns_by_name_in_any_order_and_unlabelled_files(tmp_path):
    rows = generated_rows(5)
    columns = ("Class", *reversed(FEATURE_COLUMNS))
    shuffled = np.column_stack([rows[:, 30], rows[:, 29::-1]])
    table, labels = read_transactions(write_csv(tmp_path / "t.csv", shuffled, columns, quote_class=False))
    np.testing.assert_array_equal(table, rows[:, :30])
    table, labels = read_transactions(write_csv(tmp_path / "u.csv", rows[:, :30], FEATURE_COLUMNS), labelled=False)
    assert labels is None and table.shape == (5, 30)


@pytest.mark.parametrize(("edit", "message"), [
    (lambda rows, cols: (rows[:, 1:], cols[1:]), "missing Time$"),
    (lambda rows, cols: (np.where(np.arange(31) == 29, -1.0, rows), cols), "Amount expected amounts ≥ 0"),
    (lambda rows, cols: (np.where(np.arange(31) == 30, 2.0, rows), cols), "Class expected 0 or 1"),
    (lambda rows, cols: (rows[:0], cols), "no rows"),
])
def test_bad_files_are_value_errors_naming_the_file(tmp_path, edit, message):
    rows, columns = edit(generated_rows(3), (*FEATURE_COLUMNS, "Class"))
    path = write_csv(tmp_path / "bad.csv", rows, columns, quote_class=False)
    with pytest.raises(ValueError, match=message) as error:
        read_transactions(path)
    assert "bad.csv" in str(error.value)


def test_a_row_that_is_not_numbers_is_a_value_error(tmp_path):
    path = write_csv(tmp_path / "t.csv", generated_rows(2))
    path.write_text(path.read_text() + "1,abc\n")
    with pytest.raises(ValueError, match=r"read_transactions: .* not 31 numbers"):
        read_transactions(path)


def test_features_drop_time_and_take_the_log_of_the_amount():
    rows = generated_rows(4)[:, :30]
    features = transaction_features(rows)
    np.testing.assert_array_equal(features[:, :28], rows[:, 1:29])
    np.testing.assert_allclose(np.exp(features[:, 28]) - 1, rows[:, 29])
    with pytest.raises(ValueError, match="transaction_features: argument 'table' expected shape"):
        transaction_features(rows[:, :29])


def test_split_is_chronological_complete_and_keeps_ties_together():
    generator = np.random.default_rng(1)
    time = generator.integers(0, 40, 500).astype(float)   # many equal times
    parts = chronological_split(time)
    joined = np.concatenate([parts["train"], parts["validation"], parts["test"]])
    assert sorted(joined.tolist()) == list(range(500))
    assert time[parts["train"]].max() < time[parts["validation"]].min()
    assert time[parts["validation"]].max() < time[parts["test"]].min()
    assert abs(len(parts["train"]) - 300) < 40 and abs(len(parts["validation"]) - 100) < 40
    distinct = chronological_split(np.arange(10.0)[::-1])   # file order is not time order
    assert distinct["train"].tolist() == [9, 8, 7, 6, 5, 4] and distinct["test"].tolist() == [1, 0]
    with pytest.raises(ValueError, match="chronological_split: argument 'fractions'"):
        chronological_split(time, (0.8, 0.3))


@pytest.mark.slow
def test_the_real_file_has_284807_transactions_and_492_frauds():
    splits = credit_card_fraud()
    assert sum(len(labels) for _, labels in splits.values()) == 284_807
    assert sum(int(labels.sum()) for _, labels in splits.values()) == 492
    assert splits["train"][0][:, 0].max() <= splits["validation"][0][:, 0].min()
