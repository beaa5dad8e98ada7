"""The Huffman tree of hierarchical softmax (Morin & Bengio, 2005; Mikolov et al., 2013b, §2.1), built
as word2vec.c's ``CreateBinaryTree`` and gensim's ``hs=1`` build it.

Letters: V vocabulary size, c_w the count of word w, E vector size, L_w the code length of w.

The V words are the leaves of a binary tree with V − 1 inner nodes; inner node j owns a vector
``inner[j]`` (word2vec.c's ``syn1``), j = V − 2 being the root. Word w's path from the root is the
inner nodes n_1 … n_{L_w} (``points``) and the branches b_1 … b_{L_w} ∈ {0, 1} taken at them
(``codes``). The seeds' softmax over the vocabulary, p(w | h) = exp(h·O[w]) / Σ_v exp(h·O[v]),
becomes a product of L_w binary decisions,

    p(w | h) = Π_d σ((1 − 2 b_d) · h · inner[n_d]),

which sums to 1 over the leaves of any full binary tree. Huffman's tree (the two least frequent
subtrees merged first) minimises the expected path length Σ_w c_w L_w, so a frequent word costs
few of these decisions: the average is about the entropy of the unigram distribution in bits
instead of V terms.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor


@dataclass(frozen=True)
class HuffmanTree:
    """Every word's code and path, stored flat and contiguous as the compiled loop reads them:
    word w's branches are ``codes[offsets[w]:offsets[w+1]]`` ((L_w,) uint8, root first) and the
    inner nodes they are taken at ``points[offsets[w]:offsets[w+1]]`` ((L_w,) int32, in 0 … V − 2).
    ``offsets``: (V+1,) int64."""

    codes: Tensor
    points: Tensor
    offsets: Tensor

    @classmethod
    def build(cls, counts: Sequence[int] | Tensor) -> HuffmanTree:
        """The Huffman tree of words with ``counts`` (any order, each ≥ 1), by word2vec.c's linear-time
        merge of two sorted queues (leaves by decreasing count, then the merged nodes in the order
        they are made); of two equal counts the merged node is taken first, as there. Inner node
        V − 1 + k − V = k is the k-th merge; the second-smallest subtree of a merge is branch 1."""
        values = np.asarray(torch.as_tensor(counts, dtype=torch.int64))
        if values.ndim != 1 or values.size == 0:
            raise ValueError(f"HuffmanTree.build: argument 'counts' expected a non-empty 1-D sequence, "
                             f"got shape {values.shape}")
        if (values < 1).any():
            raise ValueError(f"HuffmanTree.build: argument 'counts' expected counts ≥ 1, got {values.min()}")
        size = values.size
        order = np.argsort(-values, kind="stable")  # leaf position p holds word order[p]
        count = np.concatenate([values[order], np.full(max(size - 1, 0), np.iinfo(np.int64).max)]).tolist()
        parent = [0] * (2 * size - 1)
        branch = [0] * (2 * size - 1)
        leaf, merged = size - 1, size  # the next leaf (counting down) and the next merged node (up)
        for k in range(size - 1):
            smallest = []
            for _ in range(2):
                if leaf >= 0 and count[leaf] < count[merged]:
                    smallest.append(leaf)
                    leaf -= 1
                else:
                    smallest.append(merged)
                    merged += 1
            count[size + k] = count[smallest[0]] + count[smallest[1]]
            parent[smallest[0]] = parent[smallest[1]] = size + k
            branch[smallest[1]] = 1
        root = 2 * size - 2
        paths: list[tuple[list[int], list[int]]] = [([], [])] * size
        for position, word in enumerate(order.tolist()):
            codes, points = [], []
            node = position
            while node != root:
                codes.append(branch[node])
                node = parent[node]
                points.append(node - size)
            paths[word] = (codes[::-1], points[::-1])
        lengths = np.fromiter((len(c) for c, _ in paths), dtype=np.int64, count=size)
        offsets = np.zeros(size + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        flat_codes = np.fromiter((b for c, _ in paths for b in c), dtype=np.uint8, count=int(offsets[-1]))
        flat_points = np.fromiter((n for _, p in paths for n in p), dtype=np.int32, count=int(offsets[-1]))
        return cls(torch.from_numpy(flat_codes), torch.from_numpy(flat_points), torch.from_numpy(offsets))

    def __len__(self) -> int:
        return self.offsets.numel() - 1

    @property
    def lengths(self) -> Tensor:
        """L_w: (V,) int64 code lengths."""
        return self.offsets[1:] - self.offsets[:-1]

    def code(self, word: int) -> tuple[list[int], list[int]]:
        """Word ``word``'s branches and inner nodes, root first."""
        if not 0 <= word < len(self):
            raise IndexError(f"HuffmanTree.code: argument 'word' expected an id in [0, {len(self)}), got {word}")
        start, stop = int(self.offsets[word]), int(self.offsets[word + 1])
        return self.codes[start:stop].tolist(), self.points[start:stop].tolist()

    def padded(self, device: torch.device | str = "cpu") -> tuple[Tensor, Tensor, Tensor]:
        """The paths padded to L = max_w L_w for vectorised use: codes (V, L) float32, points (V, L)
        int64 (0 in padding) and mask (V, L) bool, on ``device``."""
        lengths = self.lengths
        width = max(int(lengths.max()), 1)
        mask = torch.arange(width)[None, :] < lengths[:, None]
        codes = torch.zeros(len(self), width)
        points = torch.zeros(len(self), width, dtype=torch.int64)
        codes[mask] = self.codes.to(torch.float32)
        points[mask] = self.points.to(torch.int64)
        return codes.to(device), points.to(device), mask.to(device)

    def log_probabilities(self, hidden: Tensor, inner: Tensor) -> Tensor:
        """log p(w | h) = Σ_d log σ((1 − 2 b_d) h · inner[n_d]) for every word: hidden (N, E),
        inner (V − 1, E) → (N, V); each row's probabilities sum to 1."""
        if hidden.dim() != 2 or inner.dim() != 2 or inner.shape != (len(self) - 1, hidden.shape[1]):
            raise ValueError(f"HuffmanTree.log_probabilities: expected hidden (N, E) and inner ({len(self) - 1}, E), "
                             f"got {tuple(hidden.shape)} and {tuple(inner.shape)}")
        codes, points, mask = self.padded(hidden.device)
        dots = torch.einsum("ne,vle->nvl", hidden, inner[points]) if len(inner) else hidden.new_zeros(
            hidden.shape[0], *codes.shape)
        signs = (1 - 2 * codes).to(hidden.dtype)
        return (torch.nn.functional.logsigmoid(signs * dots) * mask).sum(-1)


__all__ = ["HuffmanTree"]
