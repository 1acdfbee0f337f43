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

* ``fold_cf``: Pᵀ (col2im), the transpose of the window map, from the
  channels-first column layout (C, KH, KW, N, OH, OW) of
  ``symdl.runtime.windows.unfold`` (the same map as ``windows.fold``, whose
  NumPy slice loop is its reference in tests/test_nn_conv.py): each (n, c)
  plane of dx is one loop iteration that adds its KH·KW·OH rows of columns
  into it from cache, without windows.fold's padded (C, N, H+2p, W+2p)
  buffer, its KH·KW read-modify-write passes and the final transposing copy.
  From ``PARALLEL_MIN`` column entries the planes are split over Numba's
  threads (they are disjoint).  Measured (float32, (32, 16, 28, 28), 3×3,
  padding 1): windows.fold 3.2-3.3 ms, this loop 1.5 ms serial, 0.7-1.2 ms
  on 2 threads.  The same kind of loop for P itself (im2col) was slower than
  windows.unfold's KH·KW slice copies (2.4 ms serial, 1.7-1.9 ms on 2
  threads against 1.4-1.6 ms): the copies are long and NumPy's are fast,
  while a loop pays for every 28-element row; so unfold stays NumPy.

The pooling loops are serial: pooling moves little data per flop, and a
second thread pool (Numba's beside OpenBLAS's) costs more in hand-offs on a
2-core machine than it saves.
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange

__all__ = ["maxpool2d_forward", "maxpool2d_backward", "fold_cf"]


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


# ----------------------------------------------------------------------------- im2col / col2im
@njit(cache=True)
def _ow_range(OW, sw, c0, W):
    """The ow with 0 <= ow·sw + c0 < W: [lo, hi) (c0 = kw·dw - pad_left)."""
    lo = 0
    if c0 < 0:
        lo = (-c0 + sw - 1) // sw
    hi = 0
    if W - c0 > 0:
        hi = (W - c0 + sw - 1) // sw
    if hi > OW:
        hi = OW
    if lo > hi:
        lo = hi
    return lo, hi


def _py_fold_cf(cols, sh, sw, pt, pl, dh, dw, dx):
    # one (n, c) plane of dx per iteration: the planes are disjoint
    N, C, H, W = dx.shape
    KH, KW, OH, OW = cols.shape[1], cols.shape[2], cols.shape[4], cols.shape[5]
    for b in prange(C * N):
        c = b // N
        n = b % N
        for kh in range(KH):
            for kw in range(KW):
                c0 = kw * dw - pl
                lo, hi = _ow_range(OW, sw, c0, W)
                for oh in range(OH):
                    h = oh * sh + kh * dh - pt
                    if h < 0 or h >= H:
                        continue
                    row = cols[c, kh, kw, n, oh]
                    if sw == 1:
                        dst = dx[n, c, h, lo + c0:hi + c0]
                        src = row[lo:hi]
                        for i in range(hi - lo):
                            dst[i] += src[i]
                    else:
                        dr = dx[n, c, h]
                        for i in range(lo, hi):
                            dr[i * sw + c0] += row[i]


#: column-matrix sizes (elements) from which the loops run on Numba's threads
PARALLEL_MIN = 1 << 18
_dispatchers = {}


def _kernel(name, parallel):
    """``_py_<name>`` compiled serially or with parallel=True, on first use
    (``runtime/jitcache.compile_body``; Numba's pool starts with symdl's short spin)."""
    key = (name, parallel)
    fn = _dispatchers.get(key)
    if fn is None:
        from symdl.runtime.jitcache import compile_body

        if parallel:
            from symdl.runtime.threads import install_short_spin

            install_short_spin()
        fn = _dispatchers[key] = compile_body(globals()["_py_" + name], parallel)
    return fn


def fold_cf(cols, in_shape, stride, pad, dilation):
    """Pᵀ c for c in the channels-first layout (C, KH, KW, N, OH, OW) -> (N, C, H, W):
    the same map as ``windows.fold(..., channels_first=True)``."""
    dx = np.zeros(tuple(in_shape), dtype=cols.dtype)
    (sh, sw), (dh, dw) = stride, dilation
    _kernel("fold_cf", cols.size >= PARALLEL_MIN)(np.ascontiguousarray(cols), sh, sw, pad[0][0], pad[1][0],
                                                  dh, dw, dx)
    return dx
