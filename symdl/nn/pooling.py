"""Pooling as reductions over windows: ``MaxPool2d``, ``AvgPool2d``,
``AdaptiveAvgPool2d`` (torch's names and arguments; no parameters).

A pooling is a reduction (max or mean) over the window axes of P x, P the
window map of ``symdl.runtime.windows``.  Its backward is the reduction
rule -- max: the cotangent goes to the first argmax of each window; mean: it
is divided by the window's count -- followed by Pᵀ (``fold``).  The adaptive
average is separable: y = A_H · x · A_Wᵀ with A the (out, in) averaging
matrices of torch's windows [floor(i·n/o), ceil((i+1)·n/o)), so its backward
is the transpose rule dx = A_Hᵀ · g · A_W.
"""
from __future__ import annotations

import numpy as np

from symdl.errors import ParameterError, ShapeError
from symdl.runtime.windows import fold, max_vjp, mean_vjp, out_size, unfold, window_max

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
        if ceil_mode:
            raise ParameterError(f"{name}: ceil_mode=True is not supported (floor mode only)")
        self.ceil_mode = False
        for p, k in zip(self.padding, self.kernel_size):
            if p > k // 2:
                raise ParameterError(f"{name}: padding {self.padding} must be at most half the "
                                     f"kernel size {self.kernel_size} (as torch)")
        self._pad = tuple((p, p) for p in self.padding)
        self._saved = None

    def extra_repr(self):
        s = f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"
        return s + (f", dilation={self.dilation}" if self.dilation != (1, 1) else "")

    def _windows(self, x):
        x = self._input(x)
        _check4(self, x)
        o = tuple(out_size(x.shape[2 + i], self.kernel_size[i], self.stride[i], *self._pad[i],
                           self.dilation[i]) for i in range(2))
        if min(o) < 1:
            raise ShapeError(f"{self._where()}: input shape {x.shape} is too small: the computed "
                             f"output size is {o} (kernel {self.kernel_size}, dilation "
                             f"{self.dilation}, padding {self.padding}, stride {self.stride}); "
                             f"each must be >= 1")
        return x, unfold(x, self.kernel_size, self.stride, self._pad, self.dilation, self.fill)

    def _check_grad(self, grad):
        if self._saved is None:
            raise RuntimeError(f"{self._where()}: backward() before forward()")
        g = self._input(grad)
        if g.shape != self._oshape:
            raise ShapeError(f"{self._where()}: grad has shape {g.shape} but the last forward "
                             f"produced shape {self._oshape}")
        return g

    def _transpose(self, dcols):
        return fold(dcols, self._xshape, self.stride, self._pad, self.dilation)

    def _clear(self):
        self._saved = None


class MaxPool2d(_Pool2d):
    """Max over kh×kw windows (padding reads -inf); backward routes the
    gradient to the first maximum of each window, as torch."""
    fill = -np.inf

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, return_indices=False,
                 ceil_mode=False, *, dtype=np.float32):
        if return_indices:
            raise ParameterError("MaxPool2d: return_indices=True is not supported")
        super().__init__(kernel_size, stride, padding, dilation, ceil_mode, dtype=dtype)

    def config(self):
        return {"kernel_size": list(self.kernel_size), "stride": list(self.stride),
                "padding": list(self.padding), "dilation": list(self.dilation)}

    def forward(self, x, training=False, out=None):
        x, cols = self._windows(x)
        y, arg = window_max(cols)
        self._saved, self._xshape, self._oshape = arg, x.shape, y.shape
        return y

    def backward(self, grad, out=None, input_grad=True):
        g = self._check_grad(grad)
        return self._transpose(max_vjp(g, self._saved, self.kernel_size))


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
                "padding": list(self.padding), "count_include_pad": self.count_include_pad,
                "divisor_override": self.divisor_override}

    def _count(self, x):
        if self.divisor_override is not None:
            return float(self.divisor_override)
        if self.count_include_pad or not any(self.padding):
            return float(self.kernel_size[0] * self.kernel_size[1])
        ones = np.ones((1, 1, x.shape[2], x.shape[3]), dtype=x.dtype)
        inside = unfold(ones, self.kernel_size, self.stride, self._pad, self.dilation, 0.0)
        return inside.sum(axis=(2, 3))[0, 0]        # (OH, OW): the positions inside x

    def forward(self, x, training=False, out=None):
        x, cols = self._windows(x)
        count = self._count(x)
        y = (cols.sum(axis=(2, 3)) / count).astype(self.dtype, copy=False)
        self._saved, self._xshape, self._oshape = count, x.shape, y.shape
        return y

    def backward(self, grad, out=None, input_grad=True):
        g = self._check_grad(grad)
        return self._transpose(mean_vjp(g, self._saved, self.kernel_size))


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
