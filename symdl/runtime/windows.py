"""Sliding windows as a linear map, its transpose, and the reduction rules
over windows (no SymPy import).

Convolution and pooling share one data-movement operator, the window
(im2col) map P:

    P x [n, c, kh, kw, oh, ow] = x_pad[n, c, oh·sh + kh·dh, ow·sw + kw·dw]

where x_pad is x with ``pad`` values on each side (zero for convolution and
average pooling, -inf for max pooling).  P is linear (in x, with zero
padding); its transpose Pᵀ (``fold``, col2im) scatter-adds every window
entry back to the input position it was read from and drops the padding.
So:

* a convolution is y = W · P x (a GEMM), and its backward is the transpose
  rules of that product:  dW = g · (P x)ᵀ,  dx = Pᵀ (Wᵀ g);
* a pooling is a reduction over the window axes of P x, and its backward is
  the reduction engine's rule followed by Pᵀ:  max routes g to the argmax
  (``max_vjp``: first index on ties, NaN wins, as torch), mean divides g by the
  window count (``mean_vjp``).

The max rule here is torch's: on ties the whole cotangent goes to the first
maximum (the symbolic engine's rule, ``Graph._vjp_node``, shares it equally
among tied maxima -- the same almost everywhere, different at exact ties).

The loops run over the kernel offsets only (kh·kw NumPy slice copies of the
whole batch), so no per-shape compilation is needed; the contraction is
NumPy's BLAS matmul.  Measured against a direct Numba convolution loop
(float32, one thread, forward): (32, 1, 8, 8) -> 16 ch 0.03 vs 0.06 ms,
(32, 16, 8, 8) -> 32 ch 0.26 vs 4.1 ms, (8, 16, 28, 28) -> 32 ch 2.4 vs 7.0 ms,
so im2col + GEMM is the one used.
"""
from __future__ import annotations

import numpy as np

__all__ = ["out_size", "unfold", "fold", "window_max", "max_vjp", "mean_vjp"]


def out_size(size, k, stride, pad_lo, pad_hi, dilation):
    """Output length along one axis (floor mode); may be < 1 (callers report it)."""
    return (size + pad_lo + pad_hi - dilation * (k - 1) - 1) // stride + 1


def _padded(x, pad, fill):
    (pt, pb), (pl, pr) = pad
    if not (pt or pb or pl or pr):
        return x
    N, C, H, W = x.shape
    xp = np.empty((N, C, H + pt + pb, W + pl + pr), dtype=x.dtype)
    if fill == 0:
        xp[...] = 0
    else:
        xp[...] = fill
    xp[:, :, pt:pt + H, pl:pl + W] = x
    return xp


def unfold(x, kernel, stride, pad, dilation, fill=0.0, out=None, channels_first=False):
    """P x: (N, C, H, W) -> (N, C, KH, KW, OH, OW) (contiguous); ``pad`` is
    ((top, bottom), (left, right)), positions outside x read ``fill``.
    ``channels_first``: the layout (C, KH, KW, N, OH, OW) instead, whose
    (C·KH·KW, N·OH·OW) view is one GEMM operand for the whole batch."""
    N, C, H, W = x.shape
    (KH, KW), (sh, sw), (dh, dw) = kernel, stride, dilation
    OH = out_size(H, KH, sh, *pad[0], dh)
    OW = out_size(W, KW, sw, *pad[1], dw)
    xp = _padded(x, pad, fill)
    if channels_first:
        xp = np.ascontiguousarray(xp.transpose(1, 0, 2, 3))
        shape = (C, KH, KW, N, OH, OW)
    else:
        shape = (N, C, KH, KW, OH, OW)
    cols = out if (out is not None and out.shape == shape and out.dtype == x.dtype) else \
        np.empty(shape, dtype=x.dtype)
    for kh in range(KH):
        r0 = kh * dh
        for kw in range(KW):
            c0 = kw * dw
            src = xp[:, :, r0:r0 + sh * (OH - 1) + 1:sh, c0:c0 + sw * (OW - 1) + 1:sw]
            if channels_first:
                cols[:, kh, kw] = src
            else:
                cols[:, :, kh, kw] = src
    return cols


def fold(cols, in_shape, stride, pad, dilation, channels_first=False):
    """Pᵀ c: the transpose of ``unfold`` (col2im): (N, C, KH, KW, OH, OW) (or
    (C, KH, KW, N, OH, OW) with ``channels_first``) -> (N, C, H, W), each
    window entry added to the input position it came from; entries that came
    from the padding are dropped."""
    if channels_first:
        C, KH, KW, N, OH, OW = cols.shape
    else:
        N, C, KH, KW, OH, OW = cols.shape
    H, W = in_shape[2], in_shape[3]
    (sh, sw), (dh, dw) = stride, dilation
    (pt, pb), (pl, pr) = pad
    lead = (C, N) if channels_first else (N, C)
    xp = np.zeros(lead + (H + pt + pb, W + pl + pr), dtype=cols.dtype)
    for kh in range(KH):
        r0 = kh * dh
        for kw in range(KW):
            c0 = kw * dw
            xp[:, :, r0:r0 + sh * (OH - 1) + 1:sh, c0:c0 + sw * (OW - 1) + 1:sw] += \
                cols[:, kh, kw] if channels_first else cols[:, :, kh, kw]
    if channels_first:
        xp = xp.transpose(1, 0, 2, 3)
    elif not (pt or pb or pl or pr):
        return xp
    return np.ascontiguousarray(xp[:, :, pt:pt + H, pl:pl + W])


# ----------------------------------------------------------------------------- reduction rules
def window_max(cols):
    """max over the window axes of (N, C, KH, KW, OH, OW): values (N, C, OH, OW)
    and the flat window index of the maximum -- torch's rule: a later entry
    wins only if it is greater (so the first of tied maxima) or NaN.  One
    contiguous pass per window offset."""
    N, C, KH, KW, OH, OW = cols.shape
    flat = cols.reshape(N, C, KH * KW, OH, OW)
    m = flat[:, :, 0].copy()
    arg = np.zeros(m.shape, dtype=np.int32)
    kk = np.empty(m.shape, dtype=np.int32)
    better = np.empty(m.shape, dtype=bool)
    nan = np.empty(m.shape, dtype=bool)
    for k in range(1, KH * KW):
        v = flat[:, :, k]
        np.greater(v, m, out=better)
        better |= np.isnan(v, out=nan)
        np.maximum(m, v, out=m)          # the same values (NaN propagates), no masked copy
        # k grows: where this entry wins it is the largest index seen so far
        np.maximum(arg, np.multiply(better, np.int32(k), out=kk), out=arg)
    return m, arg


def max_vjp(g, arg, window_shape):
    """The max rule: the cotangent g of max_a u goes to u at the argmax, 0 elsewhere."""
    N, C, OH, OW = g.shape
    KH, KW = window_shape
    d = np.empty((N, C, KH * KW, OH, OW), dtype=g.dtype)
    zero = g.dtype.type(0)
    for k in range(KH * KW):
        d[:, :, k] = np.where(arg == k, g, zero)
    return d.reshape(N, C, KH, KW, OH, OW)


def mean_vjp(g, count, window_shape):
    """The mean rule: the cotangent g of (1/count)·sum_a u is g/count at every
    u of the window (``count``: a number or an (OH, OW) array)."""
    N, C, OH, OW = g.shape
    KH, KW = window_shape
    share = (g / count).astype(g.dtype, copy=False)
    return np.broadcast_to(share[:, :, None, None], (N, C, KH, KW, OH, OW))
