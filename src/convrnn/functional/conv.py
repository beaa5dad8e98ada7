"""N-d convolution with every boundary condition, and transposed convolution ("deconvolution").

One implementation serves 1, 2 and 3 spatial dimensions; the number of spatial dimensions is read
off the weight, ``weight: (C_out, C_in/groups, *kernel)``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import SymInt, Tensor

from convrnn.functional import shapes
from convrnn.functional._checks import (
    as_tuple,
    check_flag,
    check_like,
    check_real,
    check_tensor,
    is_tracing,
    static_sizes,
)
from convrnn.functional.border_conv import border_conv
from convrnn.functional.boundary import BOUNDARIES, Padding, check_reflect_padding, normalize_padding, pad

_CONV = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}
_CONV_TRANSPOSE = {1: F.conv_transpose1d, 2: F.conv_transpose2d, 3: F.conv_transpose3d}
PADDING_NAMES = ("valid", "same", "full")


def resolve_padding(padding: str | Padding, sizes: Sequence[int], kernel: Sequence[int],
                    stride: Sequence[int], dilation: Sequence[int],
                    where: str = "conv") -> tuple[tuple[int, int], ...]:
    """Per-dimension ``(low, high)`` padding for ``"valid"``, ``"same"``, ``"full"`` or explicit amounts.

    ``"same"`` gives ``⌈n / s⌉`` outputs for any stride (asymmetric when the total is odd, the extra
    cell on the high side, as TensorFlow does); ``"full"`` pads ``d·(k − 1)`` on each side.
    """
    dims = len(kernel)
    for name, values in (("sizes", sizes), ("stride", stride), ("dilation", dilation)):
        if len(values) != dims:
            raise ValueError(f"{where}: argument '{name}' expected {dims} values (one per spatial dimension of "
                             f"the kernel {tuple(kernel)}), got {tuple(values)}")
    if isinstance(padding, str):
        if padding == "valid":
            return ((0, 0),) * dims
        if padding == "same":
            return tuple(shapes.same_padding(n, k, s, d)
                         for n, k, s, d in zip(sizes, kernel, stride, dilation, strict=True))
        if padding == "full":
            return tuple(shapes.full_padding(k, d) for k, d in zip(kernel, dilation, strict=True))
        raise ValueError(
            f"{where}: argument 'padding' expected one of {list(PADDING_NAMES)}, an int, "
            f"{dims} ints or {dims} (low, high) pairs, got {padding!r}"
        )
    return normalize_padding(padding, dims, where=where)


def conv(x: Tensor, weight: Tensor, bias: Tensor | None = None, *,
         stride: int | Sequence[int] = 1, padding: str | Padding = "valid",
         dilation: int | Sequence[int] = 1, groups: int = 1, boundary: str = "zeros",
         value: float = 0.0, flip: bool = False) -> Tensor:
    """Convolution of ``x`` with a bank of filters, past the edges by a boundary condition.

    For output channel ``o`` in group ``g`` and output position ``n`` (a multi-index), with the
    padded input ``x̃`` (see :func:`convrnn.functional.pad`):

        y[o, n] = b[o] + Σ_c Σ_m w[o, c, m] · x̃[g·C_in/groups + c, s ∘ n + d ∘ m]

    which is the cross-correlation CNNs use. ``flip=True`` flips the kernel first,
    ``w[o, c, K − 1 − m]``, giving the true convolution of the seeds, (a ⋆ b)(n) = Σ_m a(m) b(n − m).

    Args:
        x: ``(N, C_in, *spatial)`` with 1, 2 or 3 spatial dimensions.
        weight: ``(C_out, C_in/groups, *kernel)``; ``C_out`` divisible by ``groups``.
        bias: ``(C_out,)`` or ``None``.
        stride, dilation: an int or one int per spatial dimension, ≥ 1.
        padding: ``"valid"`` (none), ``"same"`` (⌈n/s⌉ outputs for any stride), ``"full"``
            (``d·(k−1)`` each side), an int, one int per dimension, or one ``(low, high)`` pair per
            dimension.
        groups: input and output channels split into this many independent groups.
        boundary: how padded cells are filled: ``"zeros"``, ``"constant"`` (Dirichlet, ``value``),
            ``"neumann"`` (outward difference ``value``), ``"reflect"``, ``"symmetric"``,
            ``"circular"``.
        value: the boundary's constant.
        flip: convolve (flip the kernel) instead of cross-correlate.

    Returns:
        ``(N, C_out, *out)`` with ``out[i] = ⌊(n_i + p_lo + p_hi − d_i(k_i − 1) − 1)/s_i⌋ + 1``.
    """
    check_tensor("weight", weight, dims=(3, 4, 5), where="conv")
    dims = weight.dim() - 2
    check_tensor("x", x, dims=dims + 2, where="conv")
    if bias is not None:
        check_tensor("bias", bias, dims=1, where="conv")
    _check_operands("conv", x, weight, bias)
    flip = check_flag("flip", flip, where="conv")
    value = check_real("value", value, where="conv")
    if isinstance(groups, bool) or not isinstance(groups, int) or groups < 1:
        raise ValueError(f"conv: argument 'groups' expected an int ≥ 1, got {groups!r}")
    if boundary not in BOUNDARIES:
        raise ValueError(f"conv: argument 'boundary' expected one of {list(BOUNDARIES)}, got {boundary!r}")
    stride_t = as_tuple("stride", stride, dims, minimum=1, where="conv")
    dilation_t = as_tuple("dilation", dilation, dims, minimum=1, where="conv")
    kernel = static_sizes(weight)
    sizes = static_sizes(x)
    if not is_tracing():
        _check_conv_shapes(x, weight, bias, groups)
    pairs = resolve_padding(padding, sizes, kernel, stride_t, dilation_t)
    if not is_tracing():
        for axis, (n, (low, high), k, d) in enumerate(zip(sizes, pairs, kernel, dilation_t, strict=True)):
            if n + low + high < shapes.effective_kernel(k, d):
                raise ValueError(
                    f"conv: argument 'x' expected a padded input no smaller than the kernel, but the "
                    f"kernel spans {shapes.effective_kernel(k, d)} cells along spatial "
                    f"dimension {axis} (kernel {k}, dilation {d}) but the padded input has "
                    f"{n + low + high} (size {n} + padding {(low, high)})"
                )
    if flip:
        weight = weight.flip(tuple(range(2, weight.dim())))
    symmetric = all(low == high for low, high in pairs)
    if boundary == "zeros" and symmetric:
        native_padding: tuple[int, ...] = tuple(low for low, _ in pairs)
    elif symmetric and not is_tracing():  # the native kernel plus a correction on the border, no padded copy
        if boundary == "reflect":
            check_reflect_padding(pairs, sizes, where="conv")
        return border_conv(x, weight, bias, stride_t, tuple(low for low, _ in pairs), dilation_t, groups,
                           boundary, value)
    else:
        x = pad(x, pairs, boundary, value)
        native_padding = (0,) * dims
    return _CONV[dims](x, weight, bias, stride_t, native_padding, dilation_t, groups)


def _check_operands(where: str, x: Tensor, weight: Tensor, bias: Tensor | None) -> None:
    """``x``, ``weight`` and ``bias`` on one device with one numeric dtype (bool has no products)."""
    if weight.dtype == torch.bool:
        raise TypeError(f"{where}: argument 'weight' expected a numeric dtype, got {weight.dtype}")
    check_like("x", x, weight, where=where, reference_name="weight")
    if bias is not None:
        check_like("bias", bias, weight, where=where, reference_name="weight")


def _check_conv_shapes(x: Tensor, weight: Tensor, bias: Tensor | None, groups: int) -> None:
    c_out, c_in_per_group = weight.shape[0], weight.shape[1]
    if x.shape[1] != c_in_per_group * groups:
        raise ValueError(
            f"conv: argument 'x' expected {c_in_per_group * groups} input channels "
            f"(weight {tuple(weight.shape)} × groups={groups}), got shape {tuple(x.shape)}"
        )
    if c_out % groups:
        raise ValueError(
            f"conv: argument 'weight' expected C_out divisible by groups={groups}, got C_out={c_out}"
        )
    if bias is not None and bias.shape[0] != c_out:
        raise ValueError(f"conv: argument 'bias' expected shape ({c_out},), got {tuple(bias.shape)}")


def conv_transpose(x: Tensor, weight: Tensor, bias: Tensor | None = None, *,
                   stride: int | Sequence[int] = 1, padding: Padding = 0,
                   output_padding: int | Sequence[int] = 0, dilation: int | Sequence[int] = 1,
                   groups: int = 1, output_size: Sequence[int] | None = None) -> Tensor:
    """Transposed convolution, the seeds' "de-convolution": each input cell stamps a scaled copy of
    the kernel onto the output ("rubber stamp"), the adjoint of :func:`conv` with the same options.

        y[o, s ∘ n + d ∘ m − p_lo] += w[c, o, m] · x[c, n]        (+ b[o])

    Args:
        x: ``(N, C_in, *spatial)`` with 1, 2 or 3 spatial dimensions.
        weight: ``(C_in, C_out/groups, *kernel)`` (the layout of ``torch.nn.ConvTranspose``).
        bias: ``(C_out,)`` or ``None``.
        stride, dilation: an int or one per spatial dimension, ≥ 1.
        padding: cells cropped from the output: an int, one per dimension, or ``(low, high)`` pairs.
        output_padding: cells added on the high side, each ``< max(stride, dilation)``; resolves
            which of the ``stride`` input sizes that map to the same size a strided conv had.
        output_size: the wanted spatial output size (``len == dims``, or the full ``(N, C, *out)``);
            overrides ``output_padding``.

    Returns:
        ``(N, C_out, *out)`` with ``out[i] = (n_i − 1)·s_i − p_lo − p_hi + d_i(k_i − 1) + 1 + op_i``.
    """
    check_tensor("weight", weight, dims=(3, 4, 5), where="conv_transpose")
    dims = weight.dim() - 2
    check_tensor("x", x, dims=dims + 2, where="conv_transpose")
    if bias is not None:
        check_tensor("bias", bias, dims=1, where="conv_transpose")
    _check_operands("conv_transpose", x, weight, bias)
    if isinstance(groups, bool) or not isinstance(groups, int) or groups < 1:
        raise ValueError(f"conv_transpose: argument 'groups' expected an int ≥ 1, got {groups!r}")
    if not is_tracing() and x.shape[1] != weight.shape[0]:
        raise ValueError(
            f"conv_transpose: argument 'x' expected {weight.shape[0]} input channels "
            f"(weight {tuple(weight.shape)}), got shape {tuple(x.shape)}"
        )
    if not is_tracing() and weight.shape[0] % groups:
        raise ValueError(
            f"conv_transpose: argument 'weight' expected C_in={weight.shape[0]} divisible by "
            f"groups={groups}"
        )
    if not is_tracing() and bias is not None and bias.shape[0] != weight.shape[1] * groups:
        raise ValueError(f"conv_transpose: argument 'bias' expected shape ({weight.shape[1] * groups},) "
                         f"(C_out = weight.shape[1] × groups), got {tuple(bias.shape)}")
    stride_t = as_tuple("stride", stride, dims, minimum=1, where="conv_transpose")
    dilation_t = as_tuple("dilation", dilation, dims, minimum=1, where="conv_transpose")
    pairs = normalize_padding(padding, dims, where="conv_transpose")
    kernel = static_sizes(weight)
    if output_size is not None:
        # a symbolic size (torch.export with dynamic H, W) stays symbolic: int() would pin it
        if isinstance(output_size, str | bytes) or not isinstance(output_size, Sequence) or not all(
                isinstance(v, SymInt | Tensor) or (isinstance(v, int) and not isinstance(v, bool))
                for v in output_size):
            raise TypeError(f"conv_transpose: argument 'output_size' expected a sequence of ints, got {output_size!r}")
        wanted = tuple(v if isinstance(v, SymInt) else int(v) for v in output_size)
        if len(wanted) == dims + 2:
            wanted = wanted[2:]
        if len(wanted) != dims:
            raise ValueError(
                f"conv_transpose: argument 'output_size' expected {dims} spatial sizes, got {tuple(output_size)}"
            )
        extra = []
        for axis, (n, k, s, d, p, want) in enumerate(zip(static_sizes(x), kernel, stride_t, dilation_t,
                                                         pairs, wanted, strict=True)):
            smallest = shapes.conv_transpose_output_size(n, k, s, p, d)
            symbolic = isinstance(want, SymInt) or isinstance(smallest, SymInt)
            if not symbolic and not smallest <= want < smallest + max(s, d):
                raise ValueError(
                    f"conv_transpose: argument 'output_size' expected sizes in "
                    f"[{smallest}, {smallest + max(s, d) - 1}] along spatial dimension {axis}, "
                    f"got {want}"
                )
            # symbolic in an ONNX export (dynamic sizes): the most padding, cropped to the size below,
            # since ONNX's ConvTranspose takes output padding as constants only (torch.export keeps
            # the symbolic padding, and could not prove the cropped size equal to the wanted one)
            extra.append(max(s, d) - 1 if symbolic and _onnx_export() else want - smallest)
        output_padding_t = tuple(extra)
    else:
        output_padding_t = as_tuple("output_padding", output_padding, dims, minimum=0,
                                    where="conv_transpose")
        for axis, (op, s, d) in enumerate(zip(output_padding_t, stride_t, dilation_t, strict=True)):
            if op >= max(s, d):
                raise ValueError(
                    f"conv_transpose: argument 'output_padding' expected < max(stride, dilation) "
                    f"= {max(s, d)} along spatial dimension {axis}, got {op}"
                )
    # PyTorch crops symmetrically; crop the asymmetric remainder afterwards.
    native = tuple(min(low, high) for low, high in pairs)
    y = _CONV_TRANSPOSE[dims](x, weight, bias, stride_t, native, output_padding_t, groups,
                              dilation_t)
    if any(low != high for low, high in pairs):
        index: list[slice] = [slice(None), slice(None)]
        for low, high in pairs:
            start = low - min(low, high)
            stop = -(high - min(low, high)) or None
            index.append(slice(start, stop))
        y = y[tuple(index)]
    if output_size is not None and _onnx_export() and any(isinstance(v, SymInt) for v in y.shape[2:]):
        y = y[(slice(None), slice(None), *(slice(0, want) for want in wanted))]   # output padding adds at the end
    return y


def _onnx_export() -> bool:
    import torch.onnx

    return torch.onnx.is_in_onnx_export()
