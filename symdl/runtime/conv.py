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

* ``conv2d_forward`` / ``conv2d_backward``: the convolution y = W · P x + b
  and its transpose rules, one sample at a time when NumPy's OpenBLAS is
  callable through cblas (``symdl.runtime.blas``): the sample's columns
  [P x[n] ; 1] (a row of ones closing each group's rows: the bias is a column
  of the weight, [W | b]) are formed in a scratch that stays in cache and is
  reused, and the products go straight to their place -- y[n] = [W | b] ·
  [P x[n] ; 1] into y's (O, OH·OW) block, [dW | db]ᵀ += [P x[n] ; 1] · g[n]ᵀ,
  d(P x[n]) = Wᵀ g[n], then Pᵀ (``_col2im``) into dx[n].  No whole-batch
  column matrix (14.5 MB at (32, 16, 28, 28), 3×3), no transposes, no bias or
  bias-gradient pass.  The backward forms P x[n] again (18 us a sample in
  cache; keeping all N samples' columns measured no faster).  When OpenBLAS
  runs on one thread, the batch is split over Numba's threads, each with its
  own scratch, taking the next sample (forward) or the next chunk of
  ``DW_CHUNK`` samples (backward: one dW partial sum per chunk, summed in
  chunk order after) from a shared atomic counter: a thread that loses its
  core for a while to another process takes fewer samples (a fixed half each
  measured 6.7-10.4 ms median, this 6.5-8.2 ms, same minimum ~6.2 ms), and
  dW does not depend on the number of threads nor on who took what.
  Otherwise one thread loops over the samples and each GEMM runs on
  OpenBLAS's threads: two thread pools on the same cores fight (``_parts``).

* ``fold_cf``: Pᵀ (col2im), the transpose of the window map, from the
  channels-first column layout (C, KH, KW, N, OH, OW) of
  ``symdl.runtime.windows.unfold`` (the same map as ``windows.fold``, whose
  NumPy slice loop is its reference in tests/test_nn_conv.py), for the conv
  layers' path without cblas: each (n, c) plane of dx is one loop iteration
  that adds its KH·KW·OH rows of columns into it from cache.  From
  ``PARALLEL_MIN`` column entries the planes are split over Numba's threads
  (they are disjoint).  Measured (float32, (32, 16, 28, 28), 3×3, padding 1):
  windows.fold 3.2-3.3 ms, this loop 1.5 ms serial, 0.7-1.2 ms on 2 threads.

The pooling loops are serial: pooling moves little data per flop, and a
second thread pool (Numba's beside OpenBLAS's) costs more in hand-offs on a
2-core machine than it saves.
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange, types
from numba.extending import intrinsic

__all__ = ["maxpool2d_forward", "maxpool2d_backward", "fold_cf", "conv2d_forward", "conv2d_backward"]


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


# ----------------------------------------------------------------------------- per-sample im2col + GEMM
# One sample's columns are laid out per group g as Kg = C/G·KH·KW rows (c, kh, kw) and
# a row of ones: [P x[n] ; 1] of y = [W | b] · [P x[n] ; 1], so the bias is part of the
# GEMM (forward), and dW, db come out of one GEMM (backward) -- no pass of their own.
# Offsets are unsigned (np.uint64): with a signed index Numba tests every access for
# wraparound (a negative index counts from the end), and those loops do not vectorize:
# one sample's im2col at (16, 28, 28), 3x3, took 125 us with signed indices, 33 us so.
@njit(cache=True, error_model="numpy")
def _rows_span(H, W, KH, KW, kh, kw, pt, pl, dh, dw, OH):
    """Stride 1 and OW == W: the column row (kh, kw) reads x[c, oh + r0, j + c0] for
    oh in [oh_lo, oh_hi), j in [lo, hi), i.e. x's flat plane at off + (oh·W + j)."""
    c0 = kw * dw - pl
    lo, hi = _ow_range(W, 1, c0, W)
    r0 = kh * dh - pt
    oh_lo = max(0, -r0)
    oh_hi = max(oh_lo, min(OH, H - r0))
    return lo, hi, oh_lo, oh_hi, r0 * W + c0


@njit(cache=True, error_model="numpy")
def _im2col_rows(xf, C, H, W, Cg, KH, KW, pt, pl, dh, dw, OH, cf):
    """``_im2col`` at stride 1 with OW == W ('same' width): the in-bounds rows of a
    column row are one contiguous run of x's plane, copied at once; the entries
    that ran into the neighbouring image row are then set to 0 (18 vs 33 us a
    sample at (16, 28, 28), 3x3, padding 1)."""
    P = OH * W
    for c in range(C):
        for kh in range(KH):
            for kw in range(KW):
                rb = ((c * KH + kh) * KW + kw + c // Cg) * P
                lo, hi, oh_lo, oh_hi, off = _rows_span(H, W, KH, KW, kh, kw, pt, pl, dh, dw, OH)
                off += c * H * W
                for i in range(oh_lo * W):
                    cf[np.uint64(rb + i)] = 0
                for i in range(oh_hi * W, P):
                    cf[np.uint64(rb + i)] = 0
                if oh_hi == oh_lo:
                    continue
                for i in range(oh_lo * W + lo, (oh_hi - 1) * W + hi):
                    cf[np.uint64(rb + i)] = xf[np.uint64(off + i)]
                for oh in range(oh_lo, oh_hi):
                    b = rb + oh * W
                    for j in range(lo):
                        cf[np.uint64(b + j)] = 0
                    for j in range(hi, W):
                        cf[np.uint64(b + j)] = 0


@njit(cache=True, error_model="numpy")
def _col2im_rows(cf, C, H, W, Cg, KH, KW, pt, pl, dh, dw, OH, dxf):
    """``_col2im`` at stride 1 with OW == W: the entries of cf that Pᵀ drops (read
    from the padding) are set to 0 -- cf is scratch -- and each column row is
    added to x's plane in one contiguous run (+0.0 where it runs into the
    neighbouring image row): 19 vs 24 us a sample at (16, 28, 28), 3x3, padding 1."""
    P = OH * W
    for i in range(C * H * W):
        dxf[i] = 0
    for c in range(C):
        for kh in range(KH):
            for kw in range(KW):
                rb = ((c * KH + kh) * KW + kw + c // Cg) * P
                lo, hi, oh_lo, oh_hi, off = _rows_span(H, W, KH, KW, kh, kw, pt, pl, dh, dw, OH)
                if oh_hi == oh_lo:
                    continue
                off += c * H * W
                for oh in range(oh_lo, oh_hi):
                    b = rb + oh * W
                    for j in range(lo):
                        cf[np.uint64(b + j)] = 0
                    for j in range(hi, W):
                        cf[np.uint64(b + j)] = 0
                for i in range(oh_lo * W + lo, (oh_hi - 1) * W + hi):
                    dxf[np.uint64(off + i)] += cf[np.uint64(rb + i)]


@njit(cache=True, error_model="numpy")
def _im2col(xf, C, H, W, Cg, KH, KW, sh, sw, pt, pl, dh, dw, OH, OW, cf):
    """P x for one sample: xf (C·H·W,) -> cf, row (c, kh, kw) of group c // Cg at
    row (c·KH + kh)·KW + kw + c // Cg (each group's block ends in a row not written
    here), columns (oh, ow); positions in the padding read 0."""
    P = OH * OW
    if sh == 1 and sw == 1 and OW == W:
        _im2col_rows(xf, C, H, W, Cg, KH, KW, pt, pl, dh, dw, OH, cf)
        return
    for c in range(C):
        for kh in range(KH):
            for kw in range(KW):
                rb = ((c * KH + kh) * KW + kw + c // Cg) * P
                c0 = kw * dw - pl
                lo, hi = _ow_range(OW, sw, c0, W)
                for oh in range(OH):
                    h = oh * sh + kh * dh - pt
                    b = np.uint64(rb + oh * OW)
                    if h < 0 or h >= H:
                        for i in range(OW):
                            cf[b + np.uint64(i)] = 0
                        continue
                    for i in range(lo):
                        cf[b + np.uint64(i)] = 0
                    s = np.uint64((c * H + h) * W + c0)     # wraps, and s + i·sw back
                    for i in range(lo, hi):
                        cf[b + np.uint64(i)] = xf[s + np.uint64(i * sw)]
                    for i in range(hi, OW):
                        cf[b + np.uint64(i)] = 0


@njit(cache=True, error_model="numpy")
def _col2im(cf, C, H, W, Cg, KH, KW, sh, sw, pt, pl, dh, dw, OH, OW, dxf):
    """Pᵀ c for one sample (the transpose of ``_im2col``, same row layout): every
    column entry added to the x position it was read from; dxf (C·H·W,) is overwritten.
    24 us a sample at (16, 28, 28), 3x3 (summing each dx row from its KH·KW
    segments while in cache, then writing it once, took 60 us)."""
    P = OH * OW
    if sh == 1 and sw == 1 and OW == W:
        _col2im_rows(cf, C, H, W, Cg, KH, KW, pt, pl, dh, dw, OH, dxf)
        return
    for i in range(C * H * W):
        dxf[i] = 0
    for c in range(C):
        for kh in range(KH):
            for kw in range(KW):
                rb = ((c * KH + kh) * KW + kw + c // Cg) * P
                c0 = kw * dw - pl
                lo, hi = _ow_range(OW, sw, c0, W)
                for oh in range(OH):
                    h = oh * sh + kh * dh - pt
                    if h < 0 or h >= H:
                        continue
                    b = np.uint64(rb + oh * OW)
                    d = np.uint64((c * H + h) * W + c0)
                    for i in range(lo, hi):
                        dxf[d + np.uint64(i * sw)] += cf[b + np.uint64(i)]


@njit(cache=True, error_model="numpy")
def _ones_rows(cf, G, Kg, P):
    """The row of ones closing each group's block of columns."""
    for g in range(G):
        r = np.uint64((g * (Kg + 1) + Kg) * P)
        for i in range(P):
            cf[r + np.uint64(i)] = 1


@intrinsic
def _take(typingctx, ctr):
    """The value of ctr[0] (an int64 array), incremented atomically: the next sample
    for the calling thread (dynamic scheduling)."""
    sig = types.int64(ctr)

    def codegen(context, builder, sig, args):
        ary = context.make_array(sig.args[0])(context, builder, args[0])
        one = context.get_constant(types.int64, 1)
        return builder.atomic_rmw("add", ary.data, one, "monotonic")
    return sig, codegen


def _py_conv_fwd(gemm, x, wa, G, Kg, KH, KW, sh, sw, pt, pl, dh, dw, OH, OW, cols, y, ctr):
    # x (N, C, H, W); wa (O, Ka): [W | b] (Ka = Kg + 1) or W (Ka = Kg); y (N, O·OH·OW);
    # cols (T, G·(Kg + 1)·OH·OW): one scratch per thread, which takes samples from ctr[0]
    # (an int64 counter, 0 on entry) until the batch is done (the backward forms
    # the columns again: keeping all N samples' for it measured no faster, 14.5 MB
    # written to memory and read back, against 18-33 us a sample from x in cache)
    N, C, H, W = x.shape
    O, Ka = wa.shape
    Og = O // G
    P = OH * OW
    T = cols.shape[0]
    xf = x.reshape(N, C * H * W)
    for t in prange(T):
        cf = cols[t]
        _ones_rows(cf, G, Kg, P)
        while True:
            n = _take(ctr)
            if n >= N:
                break
            _im2col(xf[n], C, H, W, C // G, KH, KW, sh, sw, pt, pl, dh, dw, OH, OW, cf)
            yn = y[n]
            for g in range(G):        # y[n] (group rows) = [W_g | b_g] · [P x[n] ; 1]
                gemm(101, 111, 111, Og, P, Ka, 1.0, wa[g * Og:].ctypes, Ka, cf[g * (Kg + 1) * P:].ctypes, P,
                     0.0, yn[g * Og * P:].ctypes, P)
    return 0


def _py_conv_bwd(gemm, x, wa, gy, G, Kg, KH, KW, sh, sw, pt, pl, dh, dw, OH, OW, cols, dcols, dwp, S, dx, ctr):
    # gy (N, O·OH·OW); dwp (ceil(N / S), G, Kb, O/G): per chunk of S samples (taken whole by
    # one thread from ctr[0]), [dW_g | db_g]ᵀ (Kb = Kg + 1) or dW_gᵀ (Kb = Kg); dx (N, C, H, W),
    # or (0, 0, 0, 0): no input gradient; dcols its scratch
    N, C, H, W = x.shape
    O, Ka = wa.shape
    Og = O // G
    Kb = dwp.shape[2]
    P = OH * OW
    T = cols.shape[0]
    xf = x.reshape(N, C * H * W)
    need_dx = dx.shape[0] == N
    for t in prange(T):
        cf = cols[t]
        _ones_rows(cf, G, Kg, P)
        while True:
            c = _take(ctr)            # the next chunk of S samples, one dW partial sum
            if c * S >= N:
                break
            dwt = dwp[c]
            for n in range(c * S, min(N, c * S + S)):
                _im2col(xf[n], C, H, W, C // G, KH, KW, sh, sw, pt, pl, dh, dw, OH, OW, cf)
                gn = gy[n]
                beta = 0.0 if n == c * S else 1.0
                for g in range(G):        # [dW_g | db_g]ᵀ += [P x[n] ; 1] · g[n]ᵀ (group rows)
                    gemm(101, 111, 112, Kb, Og, P, 1.0, cf[g * (Kg + 1) * P:].ctypes, P,
                         gn[g * Og * P:].ctypes, P, beta, dwt[g].ctypes, Og)
                if need_dx:
                    dcf = dcols[t]
                    for g in range(G):    # d(P x[n]) = W_gᵀ · g[n]
                        gemm(101, 112, 111, Kg, P, Og, 1.0, wa[g * Og:].ctypes, Ka, gn[g * Og * P:].ctypes,
                             P, 0.0, dcf[g * (Kg + 1) * P:].ctypes, P)
                    _col2im(dcf, C, H, W, C // G, KH, KW, sh, sw, pt, pl, dh, dw, OH, OW,
                            dx[n].reshape(C * H * W))
    return 0


#: per-sample work (O·K·OH·OW multiply-adds of the forward GEMM, times the batch) from which
#: the batch is split over Numba's threads (each part's GEMMs on one OpenBLAS thread)
CONV_PARALLEL_MIN = 1 << 21
#: samples per partial sum of dW (fixed: the sum's order does not depend on the threads)
DW_CHUNK = 2


def _parts(N, work):
    """How many parts the batch is split into: one per Numba thread when OpenBLAS
    runs on one thread (one thread pool in the process), else 1: one thread, each
    GEMM on OpenBLAS's threads.  Two pools on the same cores fight: OpenBLAS's
    workers spin ~0.1 s after each threaded product, and a split conv run meanwhile
    took 2.5-3.5x as long (fwd+bwd at (32, 16, 28, 28), 3x3), a LeNet step with
    threaded Linear layers 35-130 ms instead of 10."""
    if N < 2 or work < CONV_PARALLEL_MIN:
        return 1
    from symdl.runtime import blas

    if blas.threads_get() != 1:
        return 1
    import numba

    from symdl.runtime.threads import install_short_spin

    install_short_spin()            # get_num_threads() starts Numba's pool: with symdl's short spin
    return max(1, min(N, numba.get_num_threads()))


def _scratch(store, name, shape, dtype):
    a = store.get(name)
    if a is None or a.shape != shape or a.dtype != dtype:
        a = store[name] = np.empty(shape, dtype=dtype)
    return a


def _run(name, T, args):
    return _kernel(name, T > 1)(*args)


def conv2d_forward(gemm, x, w2, bias, groups, kernel, stride, pad, dilation, out_hw, store, out=None):
    """y = W · P x + b per sample, (N, O, OH, OW), for x (N, C, H, W) (C-contiguous) and
    the weight as (O, C/groups·KH·KW); ``gemm``: ``blas.gemm(dtype)``; ``store``: a dict
    that keeps the scratch buffers between calls; ``out``: a buffer to write y into."""
    N = x.shape[0]
    O, Kg = w2.shape
    OH, OW = out_hw
    P = OH * OW
    T = _parts(N, N * O * Kg * groups * P)
    L = groups * (Kg + 1) * P
    cols = _scratch(store, "cols", (T, L), x.dtype)
    shape = (N, O, OH, OW)
    y = out if (out is not None and out.shape == shape and out.dtype == x.dtype
                and out.flags.c_contiguous) else np.empty(shape, dtype=x.dtype)
    wa = np.concatenate([w2, bias[:, None]], axis=1) if bias is not None else np.ascontiguousarray(w2)
    _run("conv_fwd", T, (gemm, x, wa, groups, Kg, *kernel, *stride, pad[0][0], pad[1][0], *dilation, OH, OW,
                         cols, y.reshape(N, O * P), np.zeros(1, np.int64)))
    return y


def conv2d_backward(gemm, x, w2, has_bias, g, groups, kernel, stride, pad, dilation, store, need_dx=True,
                    out=None):
    """(dW as (O, Kg), db (O,) or None, dx (N, C, H, W) or None) for the cotangent g
    (N, O, OH, OW) of ``conv2d_forward``'s y (for the same x): dW = Σ_n g[n] (P x[n])ᵀ,
    db = Σ g, dx[n] = Pᵀ (Wᵀ g[n])."""
    N = x.shape[0]
    O, Kg = w2.shape
    Og = O // groups
    OH, OW = g.shape[2], g.shape[3]
    P = OH * OW
    T = _parts(N, N * O * Kg * groups * P)
    L = groups * (Kg + 1) * P
    cols = _scratch(store, "cols", (T, L), x.dtype)
    dcols = _scratch(store, "dcols", (T, L), x.dtype) if need_dx else cols
    Kb = Kg + 1 if has_bias else Kg
    dwp = np.empty(((N + DW_CHUNK - 1) // DW_CHUNK, groups, Kb, Og), dtype=x.dtype)
    if need_dx:
        dx = out if (out is not None and out.shape == x.shape and out.dtype == x.dtype
                     and out.flags.c_contiguous) else np.empty(x.shape, dtype=x.dtype)
    else:
        dx = np.empty((0, 0, 0, 0), dtype=x.dtype)
    _run("conv_bwd", T, (gemm, x, np.ascontiguousarray(w2), g.reshape(N, O * P), groups, Kg, *kernel, *stride,
                         pad[0][0], pad[1][0], *dilation, OH, OW, cols, dcols, dwp, DW_CHUNK, dx,
                         np.zeros(1, np.int64)))
    d = dwp[0] if dwp.shape[0] == 1 else dwp.sum(axis=0)
    d = d.transpose(0, 2, 1).reshape(O, Kb)             # (G, Kb, Og) -> rows o = g·Og + j
    return d[:, :Kg], (d[:, Kg] if has_bias else None), (dx if need_dx else None)
