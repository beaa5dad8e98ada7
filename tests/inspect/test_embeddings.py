"""Embeddings in 2-D: PCA recovers the plane the points lie in."""

import numpy as np
import pytest

from convrnn.inspect.embeddings import pca_2d, plot_embeddings, project_2d


def test_pca_recovers_a_plane_up_to_rotation():
    rng = np.random.default_rng(0)
    plane = rng.normal(size=(30, 2)) * [5.0, 1.0]
    basis = np.linalg.qr(rng.normal(size=(8, 2)))[0]
    points = pca_2d(plane @ basis.T + 3.0)
    # distances are kept exactly: the points lie in the principal plane
    d_in = np.linalg.norm(plane[:, None] - plane[None], axis=-1)
    d_out = np.linalg.norm(points[:, None] - points[None], axis=-1)
    np.testing.assert_allclose(d_out, d_in, atol=1e-9)
    assert points[:, 0].var() > points[:, 1].var()


def test_pca_method_and_errors():
    points, method = project_2d(np.eye(4), method="pca")
    assert method == "pca" and points.shape == (4, 2)
    with pytest.raises(ValueError, match="'method' expected one of"):
        project_2d(np.eye(4), method="umap")
    with pytest.raises(ValueError, match="V ≥ 2"):
        pca_2d(np.ones((1, 3)))


def test_plot_embeddings():
    pytest.importorskip("matplotlib")
    assert plot_embeddings(np.zeros((2, 2)), ["a", "b"]).startswith(b"\x89PNG")
    with pytest.raises(ValueError, match="one per point"):
        plot_embeddings(np.zeros((2, 2)), ["a"])
