"""Residual, Parallel, and the re-exported vec/unvec."""

import pytest
import torch
from torch import nn

from convrnn.layers import Conv2d, Flatten, Parallel, Residual, Unflatten


def test_vec_then_unvec_round_trips():
    x = torch.randn(2, 3, 4, 5)
    flat = Flatten()(x)
    assert flat.shape == (2, 60)
    assert torch.equal(Unflatten(1, (3, 4, 5))(flat), x)


def test_residual_adds_identity_or_shortcut():
    block = Conv2d(3, 3, 3, padding="same")
    x = torch.randn(2, 3, 5, 5)
    torch.testing.assert_close(Residual(block)(x), block(x) + x)
    down = Conv2d(3, 6, 3, stride=2, padding="same")
    shortcut = Conv2d(3, 6, 1, stride=2)
    torch.testing.assert_close(Residual(down, shortcut)(x), down(x) + shortcut(x))


def test_residual_shape_mismatch_names_both_shapes():
    with pytest.raises(ValueError, match=r"output shape \(2, 6, 3, 3\) differs from the shortcut's \(2, 3, 5, 5\)"):
        Residual(Conv2d(3, 6, 3, stride=2, padding="same"))(torch.randn(2, 3, 5, 5))


def test_parallel_wide_convolutions_concatenate_channels():
    branches = [Conv2d(3, 2, k, padding="same") for k in (1, 3, 5)]
    x = torch.randn(2, 3, 7, 7)
    y = Parallel(*branches)(x)
    assert y.shape == (2, 6, 7, 7)
    torch.testing.assert_close(y[:, 2:4], branches[1](x))


@pytest.mark.parametrize(("merge", "reduce"), [("sum", torch.sum), ("mean", torch.mean)])
def test_parallel_sum_and_mean(merge, reduce):
    branches = [nn.Linear(4, 3) for _ in range(3)]
    x = torch.randn(5, 4)
    expected = reduce(torch.stack([b(x) for b in branches]), dim=0)
    torch.testing.assert_close(Parallel(*branches, merge=merge)(x), expected)


def test_parallel_refuses_unknown_merge_and_no_branch():
    with pytest.raises(ValueError, match=r"'merge' expected one of .*got 'max'"):
        Parallel(nn.Identity(), merge="max")
    with pytest.raises(ValueError, match="at least one branch"):
        Parallel()
