"""summary(): parameter formulas, multiply-adds and receptive fields against hand computations."""

import torch
from torch import nn

from convrnn.inspect import count_parameters, summary
from convrnn.layers import Conv2d, ConvTranspose2d, Flatten
from convrnn.layers.pool import Pool
from convrnn.models import build_model


def test_seed_208_parameter_layer_row():
    table = summary(nn.Sequential(Conv2d(1, 8, 5)), (1, 28, 28))
    (row,) = table.rows
    assert row.output_shape == (8, 24, 24)
    assert row.params == 208
    assert row.formula == "8×5×5×1 + 8"
    assert row.macs == 8 * 24 * 24 * 25
    assert row.receptive == (5, 5)
    assert "8×5×5×1 + 8 = 208" in str(table)


def test_receptive_field_and_macs_through_the_seed_cnn():
    model, shape = build_model("seed-cnn")
    table = summary(model, shape)
    fields = [row.receptive for row in table.rows if row.kind in ("Conv2d", "Conv", "Pool")]
    assert fields == [(5, 5), (6, 6), (14, 14), (16, 16)]
    linear = [row for row in table.rows if row.kind == "Linear"]
    assert linear[0].params == 64 * 7 * 7 * 128 + 128 and linear[0].receptive == ()
    assert table.total_params == count_parameters(model)
    conv2 = [row for row in table.rows if row.kind in ("Conv2d", "Conv")][1]
    assert conv2.macs == 64 * 14 * 14 * (32 * 25)


def test_same_padding_with_stride_and_transpose_rows():
    model = nn.Sequential(Conv2d(3, 4, 3, stride=2, padding="same"), ConvTranspose2d(4, 2, 2, stride=2),
                          Pool((2, 2)), Flatten())
    table = summary(model, (3, 9, 9))
    assert [row.output_shape for row in table.rows] == [(4, 5, 5), (2, 10, 10), (2, 5, 5), (50,)]
    assert table.rows[0].receptive == (3, 3)
    assert table.rows[1].receptive is None  # undefined after upsampling
    assert table.rows[1].formula == "2×2×2×4 + 2"


def test_summary_leaves_the_model_mode_and_weights_alone():
    model, shape = build_model("seed-cnn")
    model.train()
    before = [p.clone() for p in model.parameters()]
    summary(model, shape)
    assert model.training
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))


def test_a_recurrent_stack_is_one_row_holding_all_its_parameters():
    from convrnn.models.language_model import LanguageModel

    model = LanguageModel(88, 64, 256, 2)
    table = summary(model, example=torch.zeros(1, 12, dtype=torch.long))
    (rnn,) = [row for row in table.rows if row.kind == "RNN"]
    assert rnn.output_shape == (12, 256)
    # per layer 4H·(F + H) weights and two 4H biases; layer 1 reads F = 64, layer 2 F = H = 256
    assert rnn.params == 4 * 256 * (64 + 256) + 4 * 256 * (256 + 256) + 2 * (2 * 4 * 256)
    assert table.total_params == count_parameters(model)
    assert all(row.name != "(not run)" for row in table.rows)


def test_parallel_branches_each_grow_from_their_input_and_merge_at_the_widest():
    """Branches 3×3 and (5×5 after 3×3) side by side after a 3×3 stem, then a 1×1: by hand the stem
    sees 3, the branches 5 and 9 (not 3 + 2 + 2 + 4 as one chain through all of them), the
    concatenation the widest, 9; a Residual's shortcut does not add to its block's field either."""
    from convrnn.layers import Parallel, Residual

    model = nn.Sequential(
        Conv2d(1, 2, 3, padding=1),
        Parallel(Conv2d(2, 2, 3, padding=1), nn.Sequential(Conv2d(2, 2, 3, padding=1), Conv2d(2, 2, 5, padding=2))),
        Conv2d(4, 4, 1),
        Residual(Conv2d(4, 4, 3, padding=1), Conv2d(4, 4, 1)),
    )
    fields = [row.receptive for row in summary(model, (1, 16, 16)).rows]
    assert fields == [(3, 3), (5, 5), (5, 5), (9, 9), (9, 9), (11, 11), (9, 9)]
