"""Shifts and normalisation against naive per-pixel loops, gradients by gradcheck."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from convrnn.data.transforms import normalize, random_shift, shift


def _naive_shift(images: np.ndarray, offsets: np.ndarray, fill: float) -> np.ndarray:
    N, C, H, W = images.shape
    out = np.full_like(images, fill)
    for n in range(N):
        for i in range(H):
            for j in range(W):
                source_i, source_j = i - offsets[n, 0], j - offsets[n, 1]
                if 0 <= source_i < H and 0 <= source_j < W:
                    out[n, :, i, j] = images[n, :, source_i, source_j]
    return out


@given(n=st.integers(1, 4), c=st.integers(1, 3), h=st.integers(1, 7), w=st.integers(1, 7),
       reach=st.integers(0, 9), fill=st.sampled_from([0.0, -0.5]), seed=st.integers(0, 99))
def test_shift_matches_a_naive_loop(n, c, h, w, reach, fill, seed):
    generator = torch.Generator().manual_seed(seed)
    images = torch.rand(n, c, h, w, generator=generator, dtype=torch.float64)
    offsets = torch.randint(-reach, reach + 1, (n, 2), generator=generator)
    expected = _naive_shift(images.numpy(), offsets.numpy(), fill)
    np.testing.assert_array_equal(shift(images, offsets, fill=fill).numpy(), expected)


def test_shift_is_differentiable():
    images = torch.rand(2, 2, 5, 4, dtype=torch.float64, requires_grad=True)
    offsets = torch.tensor([[1, -2], [0, 3]])
    assert torch.autograd.gradcheck(lambda x: shift(x, offsets, fill=0.3), (images,))


def test_random_shift_draws_every_offset_in_range_and_no_other():
    # One bright pixel in the middle of a 9×9 image shows where each image moved.
    images = torch.zeros(2000, 1, 9, 9)
    images[:, 0, 4, 4] = 1.0
    moved = random_shift(images, 2, generator=torch.Generator().manual_seed(0))
    position = moved.flatten(1).argmax(1)
    offsets = torch.stack([position // 9 - 4, position % 9 - 4], dim=1)
    assert torch.all(moved.flatten(1).sum(1) == 1.0)  # content kept, never clipped at k ≤ 4
    seen = {tuple(o) for o in offsets.tolist()}
    assert seen == {(i, j) for i in range(-2, 3) for j in range(-2, 3)}


def test_random_shift_is_reproducible_with_a_generator_and_identity_at_zero():
    images = torch.rand(8, 1, 6, 6)
    a = random_shift(images, 3, generator=torch.Generator().manual_seed(5))
    b = random_shift(images, 3, generator=torch.Generator().manual_seed(5))
    assert torch.equal(a, b)
    assert random_shift(images, 0) is images


def test_normalize_matches_numpy_and_its_gradient_checks():
    x = torch.rand(3, 1, 4, 4, dtype=torch.float64)
    np.testing.assert_allclose(normalize(x, 0.13, 0.31).numpy(), (x.numpy() - 0.13) / 0.31)
    assert torch.autograd.gradcheck(lambda t: normalize(t, 0.13, 0.31), (x.requires_grad_(),))


def test_bad_arguments_are_clear_errors():
    images = torch.rand(2, 1, 4, 4)
    with pytest.raises(ValueError, match="'max_shift' expected an int ≥ 0, got -1"):
        random_shift(images, -1)
    with pytest.raises(ValueError, match="'images' expected a 4-d tensor, got shape"):
        random_shift(torch.rand(4, 4), 1)
    with pytest.raises(ValueError, match=r"'offsets' expected an integer tensor of shape \(2, 2\)"):
        shift(images, torch.zeros(3, 2, dtype=torch.int64))
    with pytest.raises(ValueError, match="'std' expected a positive number, got 0"):
        normalize(images, 0.5, 0)
    with pytest.raises(TypeError, match="'images' expected a floating-point tensor"):
        normalize(torch.ones(2, dtype=torch.int64), 0.5, 1.0)
