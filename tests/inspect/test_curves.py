"""Training curves: the log's columns read back and grouped train beside validation."""

import numpy as np
import pytest

from convrnn.inspect.curves import curve_groups, plot_curves, read_log


def _log(tmp_path):
    (tmp_path / "log.csv").write_text("epoch,train_loss,train_accuracy,val_loss,val_accuracy,lr,train_seconds\n"
                                      "1,2.0,0.5,1.5,0.6,0.001,3\n2,1.0,0.7,,0.8,0.002,3\n")
    return read_log(tmp_path)


def test_log_columns_and_groups(tmp_path):
    log = _log(tmp_path)
    np.testing.assert_array_equal(log["train_loss"], [2.0, 1.0])
    assert np.isnan(log["val_loss"][1])
    assert curve_groups(log) == {"loss": ["train_loss", "val_loss"], "accuracy": ["train_accuracy", "val_accuracy"],
                                 "lr": ["lr"]}


def test_missing_log_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="no training log"):
        read_log(tmp_path)


def test_curves_plot(tmp_path):
    pytest.importorskip("matplotlib")
    assert plot_curves(_log(tmp_path)).startswith(b"\x89PNG")
