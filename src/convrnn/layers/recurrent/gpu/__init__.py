"""The GPU engine: Triton kernels for every recurrent cell and for the parallel layers' scan.

Imported lazily (Triton is an optional dependency, ``pip install convrnn[gpu]``): nothing here
imports Triton until a kernel runs. One folder per kernel family, each beside its naive
reference (the Python engine itself, or a step-by-step loop), like flash-linear-attention's
``ops/<op>/``:

- ``cells/``: ``spec.py`` (what a cell is to the kernels), ``forward.py`` and ``backward.py``
  (the kernels), ``launch.py`` (buffers, strategy rule, the stepwise loop), ``ops.py``
  (``torch.ops.convrnn_gpu.cell`` and ``cell_backward``), ``naive.py`` (the engine as reference);
- ``scan/``: ``kernel.py`` (h_t = a_t ∘ h_{t−1} + b_t), ``ops.py``
  (``torch.ops.convrnn_gpu.linear_scan``), ``naive.py``;
- ``pointwise.py``: the elementwise pieces both use; ``graphs.py``: CUDA-graph replay of the
  stepwise loops (opt-in);
- ``dispatch.py``: which backend runs a layer, and why (:func:`dispatch.backend`).
"""
