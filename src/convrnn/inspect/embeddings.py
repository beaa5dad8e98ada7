"""Word vectors in two dimensions: PCA (always) or t-SNE (where scikit-learn is installed).

PCA: with X (V, E) the chosen vectors and X̄ = X − mean, X̄ = U Σ Vᵀ (SVD), the projection is
X̄ V[:, :2] = U[:, :2] Σ[:2], the plane of largest variance. Letters: V words, E vector size.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from torch import Tensor

from convrnn.functional._checks import check_choice
from convrnn.inspect._plot import figure_png, require_matplotlib


def has_sklearn() -> bool:
    try:
        import sklearn  # noqa: F401
    except ImportError:
        return False
    return True


def pca_2d(vectors: Tensor | np.ndarray) -> np.ndarray:
    """Project vectors (V, E) onto their two principal axes: (V, 2). Axis signs are fixed so the
    largest |loading| of each axis is positive (SVD leaves them arbitrary)."""
    x = np.asarray(vectors.detach().cpu() if isinstance(vectors, Tensor) else vectors, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] < 2:
        raise ValueError(f"pca_2d: argument 'vectors' expected a (V, E) array with V ≥ 2, got shape {x.shape}")
    centred = x - x.mean(axis=0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    axes = vt[:2]
    axes *= np.sign(axes[np.arange(len(axes)), np.abs(axes).argmax(axis=1)])[:, None]
    points = centred @ axes.T
    return np.pad(points, ((0, 0), (0, 2 - points.shape[1])))


def project_2d(vectors: Tensor | np.ndarray, method: str = "auto", seed: int = 0) -> tuple[np.ndarray, str]:
    """(V, 2) points and the method used: "pca", "tsne", or "auto" (t-SNE where scikit-learn is
    installed and V > 5, else PCA)."""
    check_choice("method", method, ("auto", "pca", "tsne"), where="project_2d")
    x = np.asarray(vectors.detach().cpu() if isinstance(vectors, Tensor) else vectors, dtype=np.float64)
    use_tsne = method == "tsne" or (method == "auto" and has_sklearn() and x.shape[0] > 5)
    if not use_tsne:
        return pca_2d(x), "pca"
    if not has_sklearn():
        raise ImportError("project_2d: method='tsne' needs scikit-learn; install it with pip install scikit-learn")
    from sklearn.manifold import TSNE

    perplexity = min(30.0, max(1.0, (x.shape[0] - 1) / 3))
    return TSNE(2, perplexity=perplexity, random_state=seed, init="pca").fit_transform(x), "tsne"


def plot_embeddings(points: np.ndarray, words: Sequence[str], title: str = "embeddings") -> bytes:
    """PNG: each word written at its point (V, 2)."""
    plt = require_matplotlib()
    if len(words) != len(points):
        raise ValueError(f"plot_embeddings: argument 'words' expected {len(points)} words (one per point), "
                         f"got {len(words)}")
    figure, axes = plt.subplots(figsize=(5, 5))
    axes.scatter(points[:, 0], points[:, 1], s=8, color="tab:blue")
    for (x, y), word in zip(points, words, strict=True):
        axes.annotate(word, (x, y), fontsize=8, xytext=(2, 2), textcoords="offset points")
    axes.set_title(title)
    axes.grid(True, alpha=0.3)
    return figure_png(figure)


__all__ = ["pca_2d", "plot_embeddings", "project_2d"]
