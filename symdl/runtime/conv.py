"""Numba loops over sliding windows (no SymPy import; imported lazily by
``symdl.nn.conv`` and ``symdl.nn.pooling``, so ``import symdl.nn`` does not
load Numba).

* ``maxpool2d_forward`` / ``maxpool2d_backward``: max over each window, and
  the max rule's transpose -- the cotangent goes to the saved argmax (a flat
  index h·W + w into the input plane, torch's ``return_indices``).  The loop
  is torch's: it starts at the first in-bounds position with -inf, and a later
  entry wins only if it is greater or NaN (so the first of tied maxima, the
  last NaN); positions in the padding are never read.

Every kernel runs one (n, c) plane per parallel iteration, so the scatter-adds
of the backward never race.
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange

__all__ = ["maxpool2d_forward", "maxpool2d_backward"]


@njit(cache=True, parallel=True)
def _maxpool_fwd(x, kh, kw, sh, sw, ph, pw, dh, dw, y, idx):
    N, C, H, W = x.shape
    OH, OW = y.shape[2], y.shape[3]
    for p in prange(N * C):
        n = p // C
        c = p - n * C
        for oh in range(OH):
            h0 = oh * sh - ph
            hf = h0
            while hf < 0:
                hf += dh
            for ow in range(OW):
                w0 = ow * sw - pw
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
                        v = x[n, c, h, w]
                        if v > best or v != v:
                            best = v
                            bi = h * W + w
                y[n, c, oh, ow] = best
                idx[n, c, oh, ow] = bi


@njit(cache=True, parallel=True)
def _maxpool_bwd(g, idx, dx):
    N, C, H, W = dx.shape
    OH, OW = g.shape[2], g.shape[3]
    for p in prange(N * C):
        n = p // C
        c = p - n * C
        for i in range(H):
            for j in range(W):
                dx[n, c, i, j] = 0
        for oh in range(OH):
            for ow in range(OW):
                k = idx[n, c, oh, ow]
                dx[n, c, k // W, k % W] += g[n, c, oh, ow]


def maxpool2d_forward(x, kernel, stride, padding, dilation, out_hw):
    """(values (N, C, OH, OW), argmax indices int64 (N, C, OH, OW)) of x (N, C, H, W)."""
    N, C = x.shape[:2]
    y = np.empty((N, C) + tuple(out_hw), dtype=x.dtype)
    idx = np.empty((N, C) + tuple(out_hw), dtype=np.int64)
    _maxpool_fwd(x, kernel[0], kernel[1], stride[0], stride[1], padding[0], padding[1],
                 dilation[0], dilation[1], y, idx)
    return y, idx


def maxpool2d_backward(g, idx, in_shape):
    """dx (in_shape): each g[n, c, oh, ow] added at its window's argmax."""
    dx = np.empty(in_shape, dtype=g.dtype)
    _maxpool_bwd(np.ascontiguousarray(g), idx, dx)
    return dx
