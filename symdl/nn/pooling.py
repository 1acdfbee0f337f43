"""Pooling as reductions over windows: ``MaxPool2d``, ``AvgPool2d``,
``AdaptiveAvgPool2d`` (torch's names and arguments; no parameters).

A pooling is a reduction (max or mean) over the window axes of P x, P the
window map of ``symdl.runtime.windows``.  Its backward is the reduction
rule -- max: the cotangent goes to the first argmax of each window; mean: it
is divided by the window's count -- followed by Pᵀ (``fold``).  Max pooling
runs as one Numba loop (``symdl.runtime.conv``) that saves the argmax
positions in the forward and scatters g to them in the backward, so it never
forms P x.  ``ceil_mode`` and the divisors follow torch's rules.  The adaptive
average is separable: y = A_H · x · A_Wᵀ with A the (out, in) averaging
matrices of torch's windows [floor(i·n/o), ceil((i+1)·n/o)), so its backward
is the transpose rule dx = A_Hᵀ · g · A_W.
"""
from __future__ import annotations

import numpy as np

from symdl.errors import ParameterError, ShapeError
from symdl.runtime.windows import fold, mean_vjp, pool_out_size, unfold

from .conv import _int, _tuple
from .layers import LAYERS, Module

__all__ = ["MaxPool2d", "AvgPool2d", "AdaptiveAvgPool2d", "POOL_LAYERS"]


def _check4(layer, x):
    if x.ndim != 4:
        raise ShapeError(f"{layer._where()} expects a 4-D input (N, C, H, W), got shape {x.shape}")


class _Pool2d(Module):
    fill = 0.0

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, *,
                 dtype=np.float32):
        super().__init__(dtype)
        name = type(self).__name__
        self.kernel_size = _tuple(name, "kernel_size", kernel_size, 2, 1)
        self.stride = self.kernel_size if stride is None or stride == [] else \
            _tuple(name, "stride", stride, 2, 1)
        self.padding = _tuple(name, "padding", padding, 2, 0)
        self.dilation = _tuple(name, "dilation", dilation, 2, 1)
        self.ceil_mode = bool(ceil_mode)
        for p, k, d in zip(self.padding, self.kernel_size, self.dilation):
            if p > ((k - 1) * d + 1) // 2:
                raise ParameterError(f"{name}: padding {self.padding} must be at most half the "
                                     f"effective kernel size {self.kernel_size} (dilation "
                                     f"{self.dilation}), as torch")
        self._saved = None

    def extra_repr(self):
        s = f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"
        s += f", dilation={self.dilation}" if self.dilation != (1, 1) else ""
        return s + (", ceil_mode=True" if self.ceil_mode else "")

    def _out_hw(self, x):
        x = self._input(x)
        _check4(self, x)
        o = tuple(pool_out_size(x.shape[2 + i], self.kernel_size[i], self.stride[i], self.padding[i],
                                self.dilation[i], self.ceil_mode) for i in range(2))
        if min(o) < 1:
            raise ShapeError(f"{self._where()}: input shape {x.shape} is too small: the computed "
                             f"output size is {o} (kernel {self.kernel_size}, dilation "
                             f"{self.dilation}, padding {self.padding}, stride {self.stride}); "
                             f"each must be >= 1")
        return x, o

    def _pad(self, x, o):
        """((top, bottom), (left, right)): ceil mode's last windows may reach past
        the padding; those positions read ``fill`` too and are dropped by Pᵀ."""
        return tuple((p, max(p, (n - 1) * s + d * (k - 1) + 1 - size - p))
                     for p, n, s, d, k, size in zip(self.padding, o, self.stride, self.dilation,
                                                    self.kernel_size, x.shape[2:]))

    def _check_grad(self, grad):
        if self._saved is None:
            raise RuntimeError(f"{self._where()}: backward() before forward()")
        g = self._input(grad)
        if g.shape != self._oshape:
            raise ShapeError(f"{self._where()}: grad has shape {g.shape} but the last forward "
                             f"produced shape {self._oshape}")
        return g

    def _clear(self):
        self._saved = None


class MaxPool2d(_Pool2d):
    """Max over kh×kw windows (padding is never read); backward routes the
    gradient to the first maximum of each window, as torch.  With
    ``return_indices`` the forward returns (output, indices): int64 flat
    positions h·W + w of each maximum in its input plane, as torch."""

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, return_indices=False,
                 ceil_mode=False, *, dtype=np.float32):
        super().__init__(kernel_size, stride, padding, dilation, ceil_mode, dtype=dtype)
        self.return_indices = bool(return_indices)

    def config(self):
        return {"kernel_size": list(self.kernel_size), "stride": list(self.stride),
                "padding": list(self.padding), "dilation": list(self.dilation),
                "return_indices": self.return_indices, "ceil_mode": self.ceil_mode}

    def forward(self, x, training=False, out=None):
        from symdl.runtime.conv import maxpool2d_forward

        x, o = self._out_hw(x)
        y, idx = maxpool2d_forward(x, self.kernel_size, self.stride, self.padding, self.dilation, o)
        self._saved, self._xshape, self._oshape = idx, x.shape, y.shape
        return (y, idx) if self.return_indices else y

    def backward(self, grad, out=None, input_grad=True):
        from symdl.runtime.conv import maxpool2d_backward

        g = self._check_grad(grad)
        return maxpool2d_backward(g, self._saved, self._xshape)     # the max rule: g to the argmax


def _counts(size, k, s, p, o, include_pad):
    """torch's divisor along one axis: the window's length inside the padded
    input (include_pad) or inside the input itself."""
    start = np.arange(o) * s - p
    end = np.minimum(start + k, size + p)
    if include_pad:
        return end - start
    return np.minimum(end, size) - np.maximum(start, 0)


class AvgPool2d(_Pool2d):
    """Mean over kh×kw windows; ``count_include_pad`` (torch's default True)
    counts the zero padding, ``divisor_override`` replaces the count."""

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
                 divisor_override=None, *, dtype=np.float32):
        super().__init__(kernel_size, stride, padding, 1, ceil_mode, dtype=dtype)
        self.count_include_pad = bool(count_include_pad)
        self.divisor_override = None if divisor_override is None else \
            _int("AvgPool2d", "divisor_override", divisor_override, 1)

    def config(self):
        return {"kernel_size": list(self.kernel_size), "stride": list(self.stride),
                "padding": list(self.padding), "ceil_mode": self.ceil_mode,
                "count_include_pad": self.count_include_pad, "divisor_override": self.divisor_override}

    def _count(self, x, o):
        if self.divisor_override is not None:
            return float(self.divisor_override)
        ch, cw = (_counts(x.shape[2 + i], self.kernel_size[i], self.stride[i], self.padding[i], o[i],
                          self.count_include_pad) for i in range(2))
        return np.multiply.outer(ch, cw).astype(np.float64)        # (OH, OW)

    def forward(self, x, training=False, out=None):
        x, o = self._out_hw(x)
        pad = self._pad(x, o)
        cols = unfold(x, self.kernel_size, self.stride, pad, self.dilation, 0.0)
        count = self._count(x, o)
        y = (cols.sum(axis=(2, 3)) / count).astype(self.dtype, copy=False)
        self._saved, self._xshape, self._oshape, self._padding = count, x.shape, y.shape, pad
        return y

    def backward(self, grad, out=None, input_grad=True):
        g = self._check_grad(grad)
        return fold(mean_vjp(g, self._saved, self.kernel_size), self._xshape, self.stride,
                    self._padding, self.dilation)                    # Pᵀ (the mean rule)


def _averaging(n_in, n_out, dtype):
    """A[i, j] = 1/|window i| for j in torch's adaptive window i."""
    A = np.zeros((n_out, n_in), dtype=np.float64)
    for i in range(n_out):
        lo, hi = (i * n_in) // n_out, -((-(i + 1) * n_in) // n_out)
        A[i, lo:hi] = 1.0 / (hi - lo)
    return A.astype(dtype)


class AdaptiveAvgPool2d(Module):
    """Mean over torch's adaptive windows to a fixed ``output_size`` (an int,
    or a pair whose None entries keep the input's size)."""

    def __init__(self, output_size, *, dtype=np.float32):
        super().__init__(dtype)
        sizes = tuple(output_size) if isinstance(output_size, (list, tuple)) else (output_size,) * 2
        if len(sizes) != 2:
            raise ParameterError(f"AdaptiveAvgPool2d: output_size takes 2 values, got {output_size!r}")
        self.output_size = tuple(None if s is None else _int("AdaptiveAvgPool2d", "output_size", s, 1)
                                 for s in sizes)
        self._A = None

    def config(self):
        return {"output_size": list(self.output_size)}

    def extra_repr(self):
        return f"output_size={self.output_size}"

    def forward(self, x, training=False, out=None):
        x = self._input(x)
        _check4(self, x)
        H, W = x.shape[2:]
        oh, ow = (H if self.output_size[0] is None else self.output_size[0],
                  W if self.output_size[1] is None else self.output_size[1])
        key = (H, W, oh, ow, x.dtype)
        if self._A is None or self._A[0] != key:
            self._A = (key, _averaging(H, oh, x.dtype), _averaging(W, ow, x.dtype))
        _, AH, AW = self._A
        self._xshape = x.shape
        self._oshape = x.shape[:2] + (oh, ow)
        return np.matmul(np.matmul(AH, x), AW.T)            # A_H x A_Wᵀ

    def backward(self, grad, out=None, input_grad=True):
        if self._A is None:
            raise RuntimeError(f"{self._where()}: backward() before forward()")
        g = self._input(grad)
        if g.shape != self._oshape:
            raise ShapeError(f"{self._where()}: grad has shape {g.shape} but the last forward "
                             f"produced shape {self._oshape}")
        _, AH, AW = self._A
        return np.matmul(np.matmul(AH.T, g), AW)            # transpose rule: A_Hᵀ g A_W

    def _clear(self):
        self._A = None


POOL_LAYERS = (MaxPool2d, AvgPool2d, AdaptiveAvgPool2d)
LAYERS.update({c.__name__: c for c in POOL_LAYERS})
