"""Convolutions as linear maps: ``Conv1d``, ``Conv2d`` (torch's names,
arguments, weight layout and state-dict keys).

y = W · P x + b, with P the window (im2col) map of ``symdl.runtime.windows``
and W the weight viewed as (groups, out/groups, in/groups·kh·kw).  The backward
is the transpose rules of that product, nothing else:
dW = g · (P x)ᵀ,  db = Σ g,  dx = Pᵀ (Wᵀ g).
With cblas (``symdl.runtime.blas``) the layer runs ``symdl.runtime.conv``'s
per-sample kernels: each sample's columns in a reused scratch, [W | b] ·
[P x[n] ; 1] straight into y[n], the batch split over Numba's threads when
OpenBLAS runs one thread (as inside ``Sequential`` and ``symdl.train``'s steps
for a model with convolutions: ``blas_mode``).  Without it (``SYMDL_BLAS=numpy``), NumPy's matmul:
one GEMM per group over the whole batch's columns ((in·kh·kw, N·oh·ow),
``unfold(channels_first=True)``) and Pᵀ by ``runtime.conv.fold_cf``.
``padding_mode`` 'reflect', 'replicate' or 'circular' (torch's) first pads
x by a gather E x (``pad_gather``), so P reads no padding and dx = Eᵀ Pᵀ (Wᵀ g).
``Conv1d`` is ``Conv2d`` on a height-1 image.
"""
from __future__ import annotations

import contextlib
import difflib
import math

import numpy as np

from symdl.errors import ParameterError, ShapeError
from symdl.runtime import blas as _blas
from symdl.runtime.windows import PAD_MODES, out_size, pad_gather, pad_index, pad_scatter, unfold

from . import init as _init
from .layers import LAYERS, Module

__all__ = ["Conv1d", "Conv2d", "CONV_LAYERS"]


def _int(where, name, v, minimum):
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < minimum:
        raise ParameterError(f"{where}: {name} must be an integer >= {minimum}, got {v!r}")
    return int(v)


def _tuple(where, name, v, n, minimum):
    """An int or a length-n sequence of ints (torch's ``_pair``/``_single``)."""
    if isinstance(v, (list, tuple)):
        if len(v) != n:
            raise ParameterError(f"{where}: {name} takes {n} value{'s' if n > 1 else ''}, got {v!r}")
        return tuple(_int(where, name, e, minimum) for e in v)
    return (_int(where, name, v, minimum),) * n


class _ConvNd(Module):
    nd = 2

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1,
                 groups=1, bias=True, padding_mode="zeros", *, dtype=np.float32, rng=None):
        super().__init__(dtype)
        name, nd = type(self).__name__, self.nd
        self.in_channels = _int(name, "in_channels", in_channels, 1)
        self.out_channels = _int(name, "out_channels", out_channels, 1)
        self.groups = _int(name, "groups", groups, 1)
        if self.in_channels % self.groups or self.out_channels % self.groups:
            raise ParameterError(f"{name}: in_channels ({self.in_channels}) and out_channels "
                                 f"({self.out_channels}) must both be divisible by groups ({self.groups})")
        self.kernel_size = _tuple(name, "kernel_size", kernel_size, nd, 1)
        self.stride = _tuple(name, "stride", stride, nd, 1)
        self.dilation = _tuple(name, "dilation", dilation, nd, 1)
        if padding_mode not in PAD_MODES:
            close = difflib.get_close_matches(str(padding_mode), PAD_MODES, n=2)
            raise ParameterError(f"{name}: padding_mode={padding_mode!r} is not one of {PAD_MODES}"
                                 + (f" (did you mean {' or '.join(map(repr, close))}?)" if close else ""))
        self.padding_mode = padding_mode
        if isinstance(padding, str):
            if padding not in ("same", "valid"):
                raise ParameterError(f"{name}: padding={padding!r}; expected 'same', 'valid', an "
                                     f"integer or {nd} integers")
            if padding == "same" and any(s != 1 for s in self.stride):
                raise ParameterError(f"{name}: padding='same' needs stride 1 (as torch), got "
                                     f"stride={self.stride}")
            self.padding = padding
            if padding == "valid":
                self._pad = ((0, 0),) * nd
            else:   # torch: total d·(k-1), the extra one on the right
                tot = [d * (k - 1) for d, k in zip(self.dilation, self.kernel_size)]
                self._pad = tuple((t // 2, t - t // 2) for t in tot)
        else:
            self.padding = _tuple(name, "padding", padding, nd, 0)
            self._pad = tuple((p, p) for p in self.padding)
        cg = self.in_channels // self.groups
        fan_in = cg * math.prod(self.kernel_size)
        bound = 1.0 / math.sqrt(fan_in)   # torch's kaiming_uniform(a=√5) and bias default
        w = np.empty((self.out_channels, cg, *self.kernel_size))
        _init.uniform_(w, -bound, bound, rng=rng)
        self._add_param("weight", w.astype(self.dtype))
        if bias:
            b = np.empty(self.out_channels)
            _init.uniform_(b, -bound, bound, rng=rng)
            self._add_param("bias", b.astype(self.dtype))
        self._cols = self._x4 = None
        #: scratch buffers of runtime.conv, reused between calls
        self._store = {}

    # ---- description --------------------------------------------------------------------
    def config(self):
        return {"in_channels": self.in_channels, "out_channels": self.out_channels,
                "kernel_size": list(self.kernel_size), "stride": list(self.stride),
                "padding": self.padding if isinstance(self.padding, str) else list(self.padding),
                "dilation": list(self.dilation), "groups": self.groups, "bias": "bias" in self.params,
                "padding_mode": self.padding_mode}

    def extra_repr(self):
        s = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        if self.padding != (0,) * self.nd:
            s += f", padding={self.padding!r}"
        if self.dilation != (1,) * self.nd:
            s += f", dilation={self.dilation}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.padding_mode != "zeros":
            s += f", padding_mode={self.padding_mode!r}"
        if "bias" not in self.params:
            s += ", bias=False"
        return s + ("" if self.dtype == np.float32 else f", dtype={self.dtype.name}")

    # ---- 2-D view (Conv1d is a height-1 Conv2d) -----------------------------------------
    def _geometry(self):
        if self.nd == 2:
            return self.kernel_size, self.stride, self._pad, self.dilation
        return ((1, *self.kernel_size), (1, *self.stride), ((0, 0), *self._pad), (1, *self.dilation))

    def _check(self, x):
        nd, where = self.nd, self._where()
        want = ("N", "C", "L") if nd == 1 else ("N", "C", "H", "W")
        if x.ndim != nd + 2:
            raise ShapeError(f"{where} expects a {nd + 2}-D input {tuple(want)}, got shape {x.shape} "
                             f"(weight shape {self.params['weight'].shape})")
        if x.shape[1] != self.in_channels:
            raise ShapeError(f"{where} expects {self.in_channels} input channels (axis 1), got input "
                             f"shape {x.shape} for weight shape {self.params['weight'].shape} "
                             f"(out_channels, in_channels/groups, *kernel_size)")
        k, s, p, d = self._geometry()
        spatial = x.shape[2:] if nd == 2 else (1, x.shape[2])
        o = tuple(out_size(n, k[i], s[i], *p[i], d[i]) for i, n in enumerate(spatial))
        if min(o) < 1:
            shown = o if nd == 2 else o[1:]
            raise ShapeError(f"{where}: input shape {x.shape} is too small: the computed output size "
                             f"is {shown} (kernel {self.kernel_size}, dilation {self.dilation}, "
                             f"padding {self.padding}, stride {self.stride}); each must be >= 1")
        return o

    # ---- computation ----------------------------------------------------------------------
    def forward(self, x, training=False, out=None):
        x = self._input(x)
        OH, OW = self._check(x)
        k, s, p, d = self._geometry()
        x4 = x if self.nd == 2 else x[:, :, None, :]
        N, G, O = x.shape[0], self.groups, self.out_channels
        self._xshape = x4.shape
        if self._gather:                                       # E x: the padding as a gather
            x4 = pad_gather(x4, *self._pad_indices(x4.shape))
            p = ((0, 0), (0, 0))
        self._oshape = (N, O, OH, OW)
        W2 = self.params["weight"].reshape(G, O // G, -1)
        b = self.params.get("bias")
        gemm = _blas.gemm(self.dtype)
        if gemm is not None:
            # per sample, W · P x[n] + b straight into y[n]: the columns of one sample at a
            # time in a reused scratch, the batch split over the threads (runtime.conv)
            from symdl.runtime.conv import conv2d_forward

            self._x4, self._cols = x4, None
            y = conv2d_forward(gemm, x4, W2.reshape(O, -1), b, G, k, s, p, d, (OH, OW), self._store,
                               out=out if self.nd == 2 else None)
            return y if self.nd == 2 else y.reshape(N, O, OW)
        # no cblas: NumPy's matmul, one GEMM per group over the whole batch's columns
        cols = unfold(x4, k, s, p, d, 0.0, out=self._cols, channels_first=True)   # P x
        self._cols, self._x4 = cols, None
        # W · P x: (O, N·OH·OW)
        y = np.matmul(W2, cols.reshape(G, W2.shape[2], N * OH * OW)).reshape(O, N, OH * OW)
        y = np.add(y.transpose(1, 0, 2), b[:, None]) if b is not None else \
            np.ascontiguousarray(y.transpose(1, 0, 2))
        return y.reshape(self._oshape) if self.nd == 2 else y

    def backward(self, grad, out=None, input_grad=True):
        cols, x4 = self._cols, self._x4
        if cols is None and x4 is None:
            raise RuntimeError(f"{self._where()}: backward() before forward()")
        g = self._input(grad)
        want = self._oshape if self.nd == 2 else (self._oshape[0], self._oshape[1], self._oshape[3])
        if g.shape != want:
            raise ShapeError(f"{self._where()}: grad has shape {g.shape} but the last forward "
                             f"produced shape {want}")
        N, O, OH, OW = self._oshape
        G = self.groups
        W2 = self.params["weight"].reshape(G, O // G, -1)
        k, s, p, d = self._geometry()
        if self._gather:
            p = ((0, 0), (0, 0))
        if x4 is not None:
            # per sample (runtime.conv): P x[n] again, dW += g[n] (P x[n])ᵀ, db += Σ g[n],
            # dx[n] = Pᵀ (Wᵀ g[n])
            from symdl.runtime.conv import conv2d_backward

            dW, db, dx = conv2d_backward(_blas.gemm(self.dtype), x4, W2.reshape(O, -1), "bias" in self.grads,
                                         g.reshape(self._oshape), G, k, s, p, d, self._store,
                                         need_dx=input_grad,
                                         out=out if (self.nd == 2 and not self._gather) else None)
            self.grads["weight"].reshape(O, -1)[...] = dW
            if "bias" in self.grads:
                self.grads["bias"][...] = db
            if not input_grad:
                return None
            if self._gather:
                dx = pad_scatter(dx, *self._pad_indices(self._xshape), self._xshape)   # Eᵀ
            return dx if self.nd == 2 else dx.reshape(N, self.in_channels, -1)
        c2 = cols.reshape(G, W2.shape[2], N * OH * OW)
        g2 = np.ascontiguousarray(g.reshape(N, O, OH * OW).transpose(1, 0, 2)).reshape(G, O // G, -1)
        # transpose rules of y = W · c:  dW = g cᵀ (formed as (c gᵀ)ᵀ, BLAS's faster
        # orientation for these shapes),  dc = Wᵀ g
        dWt = np.matmul(c2, g2.transpose(0, 2, 1))
        self.grads["weight"].reshape(W2.shape)[...] = dWt.transpose(0, 2, 1)
        if "bias" in self.grads:
            self.grads["bias"][...] = g2.reshape(O, -1).sum(axis=1)
        if not input_grad:
            return None
        dcols = np.matmul(W2.transpose(0, 2, 1), g2).reshape(cols.shape)
        from symdl.runtime.conv import fold_cf      # Pᵀ as one Numba loop (windows.fold's map)
        if self._gather:
            ih, iw = self._pad_indices(self._xshape)
            dxp = fold_cf(dcols, self._xshape[:2] + (len(ih), len(iw)), s, p, d)
            dx = pad_scatter(dxp, ih, iw, self._xshape)                      # Eᵀ Pᵀ (Wᵀ g)
        else:
            dx = fold_cf(dcols, self._xshape, s, p, d)                         # Pᵀ (Wᵀ g)
        return dx if self.nd == 2 else dx.reshape(N, self.in_channels, -1)

    @property
    def _gather(self):
        """Padding by reflect/replicate/circular (with no padding, every mode is the same)."""
        return self.padding_mode != "zeros" and any(any(p) for p in self._pad)

    def _pad_indices(self, shape4):
        """Per-axis source indices of the padded input (padding_mode != 'zeros')."""
        key = shape4[2:]
        if getattr(self, "_pidx", (None,))[0] != key:
            p = self._geometry()[2]
            try:
                self._pidx = (key, pad_index(key[0], *p[0], self.padding_mode),
                              pad_index(key[1], *p[1], self.padding_mode))
            except ValueError as e:
                shown = shape4 if self.nd == 2 else (shape4[0], shape4[1], shape4[3])
                raise ShapeError(f"{self._where()}: input shape {shown} with padding "
                                 f"{self.padding}: {e}") from None
        return self._pidx[1:]

    def _clear(self):
        self._cols = self._x4 = None
        self._store = {}


class Conv1d(_ConvNd):
    """1-D convolution over (N, C, L) inputs; weight (out, in/groups, k), bias (out,)."""
    nd = 1


class Conv2d(_ConvNd):
    """2-D convolution over (N, C, H, W) inputs; weight (out, in/groups, kh, kw),
    bias (out,); ``padding`` an int, a pair, "valid" or "same" (stride 1)."""
    nd = 2


CONV_LAYERS = (Conv1d, Conv2d)

_NULL = contextlib.nullcontext()


def blas_mode(layers):
    """``blas.OneThread()`` when ``layers`` hold a convolution and OpenBLAS's
    thread count can be pinned, else a null context (both reusable).  Inside,
    the conv layers split the batch over Numba's threads and every product of
    the model runs on one OpenBLAS thread: one thread pool in the process.
    Used by ``Sequential.forward``/``backward`` and ``symdl.train``'s steps.
    The conv layer does not switch by itself: OpenBLAS's worker spins ~0.1 s
    after each threaded product (NumPy's default), and a split conv run
    meanwhile took 1.1-1.8x as long as the unsplit one (benchmarks/conv.py's
    docstring); a model knows its own products, a lone layer does not."""
    if _has_conv(layers) and _blas.can_split():
        return _blas.OneThread()
    return _NULL


def _has_conv(layers):
    """A conv layer among ``layers`` or inside a nested model's ``layers``."""
    return any(isinstance(layer, _ConvNd) or _has_conv(getattr(layer, "layers", ())) for layer in layers)
LAYERS.update({c.__name__: c for c in CONV_LAYERS})
