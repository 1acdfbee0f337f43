"""Numba loops over sliding windows (no SymPy import; imported lazily by
``symdl.nn.pooling``, so ``import symdl.nn`` does not load Numba).

* ``maxpool2d_forward`` / ``maxpool2d_backward``: max over each window, and
  the max rule's transpose -- the cotangent goes to the saved argmax (a flat
  index h·W + w into the input plane, torch's ``return_indices``).  The loop
  is torch's: it starts at the first in-bounds position with -inf, and a later
  entry wins only if it is greater or NaN (so the first of tied maxima, the
  last NaN); positions in the padding are never read.  Windows inside x
  (the common case) take a path without bounds tests that notes NaN on the
  side and reruns torch's loop only when one is present.

The loops are serial: pooling moves little data per flop, and a second
thread pool (Numba's beside OpenBLAS's) costs more in hand-offs on a
2-core machine than it saves.
"""
from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["maxpool2d_forward", "maxpool2d_backward"]


@njit(cache=True)
def _window_max(xf, W, H, h0, w0, kh, kw, dh, dw):
    """torch's loop over one window (any padding): (max, flat argmax)."""
    hf = h0
    while hf < 0:
        hf += dh
    wf = w0
    while wf < 0:
        wf += dw
    best = -np.inf
    bi = hf * W + wf
    for i in range(kh):
        h = h0 + i * dh
        if h < 0 or h >= H:
            continue
        for j in range(kw):
            w = w0 + j * dw
            if w < 0 or w >= W:
                continue
            v = xf[h * W + w]
            if v > best or v != v:
                best = v
                bi = h * W + w
    return best, bi


@njit(cache=True)
def _maxpool_fwd(x, kh, kw, sh, sw, ph, pw, dh, dw, y, idx):
    N, C, H, W = x.shape
    OH, OW = y.shape[2], y.shape[3]
    for n in range(N):
        for c in range(C):
            xf = x[n, c].reshape(-1)
            for oh in range(OH):
                h0 = oh * sh - ph
                for ow in range(OW):
                    w0 = ow * sw - pw
                    if h0 >= 0 and w0 >= 0 and h0 + (kh - 1) * dh < H and w0 + (kw - 1) * dw < W:
                        # inside x (the common case): the plain comparison, NaN noted on the side
                        r0 = h0 * W + w0
                        best = xf[r0]
                        bi = r0
                        nan = best != best
                        if kh == 2 and kw == 2 and dh == 1 and dw == 1:     # the usual 2×2
                            for r in (r0 + 1, r0 + W, r0 + W + 1):
                                v = xf[r]
                                nan |= v != v
                                if v > best:
                                    best = v
                                    bi = r
                        else:
                            for i in range(kh):
                                r = r0 + i * dh * W
                                for j in range(kw):
                                    v = xf[r + j * dw]
                                    nan |= v != v
                                    if v > best:
                                        best = v
                                        bi = r + j * dw
                        if nan:
                            best, bi = _window_max(xf, W, H, h0, w0, kh, kw, dh, dw)
                    else:
                        best, bi = _window_max(xf, W, H, h0, w0, kh, kw, dh, dw)
                    y[n, c, oh, ow] = best
                    idx[n, c, oh, ow] = bi


@njit(cache=True)
def _maxpool_bwd(g, idx, dx):
    N, C, H, W = dx.shape
    OH, OW = g.shape[2], g.shape[3]
    dx[...] = 0
    for n in range(N):
        for c in range(C):
            d = dx[n, c].reshape(-1)
            gc = g[n, c]
            ic = idx[n, c]
            for oh in range(OH):
                for ow in range(OW):
                    d[ic[oh, ow]] += gc[oh, ow]


def maxpool2d_forward(x, kernel, stride, padding, dilation, out_hw):
    """(values (N, C, OH, OW), argmax indices int64 (N, C, OH, OW)) of x (N, C, H, W)."""
    N, C = x.shape[:2]
    y = np.empty((N, C) + tuple(out_hw), dtype=x.dtype)
    idx = np.empty((N, C) + tuple(out_hw), dtype=np.int64)
    _maxpool_fwd(np.ascontiguousarray(x), kernel[0], kernel[1], stride[0], stride[1], padding[0], padding[1],
                 dilation[0], dilation[1], y, idx)
    return y, idx


def maxpool2d_backward(g, idx, in_shape):
    """dx (in_shape): each g[n, c, oh, ow] added at its window's argmax."""
    dx = np.empty(in_shape, dtype=g.dtype)
    _maxpool_bwd(np.ascontiguousarray(g), idx, dx)
    return dx
