"""Per-step options: block layer norm, recurrent dropout masks, zoneout weights."""

import torch

from convrnn.layers.recurrent.options import (
    BlockLayerNorm,
    recurrent_dropout_mask,
    zoneout_weights,
)


def test_block_layer_norm_matches_torch_layer_norm_on_each_block():
    norm = BlockLayerNorm(3, 5).double()
    with torch.no_grad():
        norm.weight.uniform_(0.5, 1.5)
        norm.bias.uniform_(-1, 1)
    z = torch.randn(4, 10, dtype=torch.float64)           # blocks 1 and 2
    out = norm(z, first=1)
    for block, gate in ((0, 1), (1, 2)):
        expected = torch.nn.functional.layer_norm(z[:, 5 * block:5 * block + 5], (5,),
                                                  norm.weight[gate], norm.bias[gate], eps=1e-5)
        torch.testing.assert_close(out[:, 5 * block:5 * block + 5], expected, rtol=0, atol=1e-12)


def test_block_layer_norm_gradients_pass_gradcheck():
    norm = BlockLayerNorm(2, 3).double()
    z = torch.randn(2, 6, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda z, w, b: torch.func.functional_call(
        norm, {"weight": w, "bias": b}, (z,)), (z, norm.weight, norm.bias))


def test_recurrent_dropout_mask_is_inverted_dropout_per_sequence_and_unit():
    like = torch.zeros((), dtype=torch.float64)
    mask = recurrent_dropout_mask(400, 50, 0.25, like)
    assert mask.shape == (400, 50) and mask.dtype == torch.float64
    assert set(mask.unique().tolist()) == {0.0, 1 / 0.75}
    assert abs(float(mask.mean()) - 1.0) < 0.02                # E[m] = 1: no rescale at test time


def test_zoneout_weights_draw_per_step_in_training_and_are_p_in_evaluation():
    like = torch.zeros(())
    drawn = zoneout_weights(0.3, True, 200, 20, (5, 7), like)
    assert [tuple(k.shape) for k in drawn] == [(200, 20, 5), (200, 20, 7)]
    assert set(drawn[0].unique().tolist()) == {0.0, 1.0}
    assert abs(float(drawn[1].mean()) - 0.3) < 0.02
    assert not torch.equal(drawn[0][0], drawn[0][1])           # a fresh draw at every step
    assert zoneout_weights(0.3, False, 200, 20, (5, 7), like) == (0.3, 0.3)
