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
  the reduction engine's rule followed by Pᵀ:  mean divides g by the window
  count (``mean_vjp``); max routes g to the argmax (a Numba loop,
  ``symdl.runtime.conv``, that never forms P x).

The max rule there is torch's: on ties the whole cotangent goes to the first
maximum (the symbolic engine's rule, ``Graph._vjp_node``, shares it equally
among tied maxima -- the same almost everywhere, different at exact ties).

Padding modes other than zeros ('reflect', 'replicate', 'circular', as
torch's ``F.pad``) are a gather x_pad = x[i_H, i_W] with per-axis source
indices (``pad_index``), a linear map whose transpose scatter-adds back
(``pad_scatter``).

The loops run over the kernel offsets only (kh·kw NumPy slice copies of the
whole batch), so no per-shape compilation is needed; the contraction is
NumPy's BLAS matmul.  Measured against a direct Numba convolution loop
(float32, one thread, forward): (32, 1, 8, 8) -> 16 ch 0.03 vs 0.06 ms,
(32, 16, 8, 8) -> 32 ch 0.26 vs 4.1 ms, (8, 16, 28, 28) -> 32 ch 2.4 vs 7.0 ms,
so im2col + GEMM is the one used.
"""
from __future__ import annotations

import numpy as np

__all__ = ["out_size", "pool_out_size", "PAD_MODES", "pad_index", "pad_gather", "pad_scatter",
           "unfold", "fold", "mean_vjp"]


def out_size(size, k, stride, pad_lo, pad_hi, dilation):
    """Output length along one axis (floor mode); may be < 1 (callers report it)."""
    return (size + pad_lo + pad_hi - dilation * (k - 1) - 1) // stride + 1


def pool_out_size(size, k, stride, pad, dilation, ceil_mode):
    """torch's pooling output length: floor or ceil of the window count, but
    in ceil mode the last window must start inside the input or left padding."""
    o = (size + 2 * pad - dilation * (k - 1) - 1 + (stride - 1 if ceil_mode else 0)) // stride + 1
    if ceil_mode and (o - 1) * stride >= size + pad:
        o -= 1
    return o


PAD_MODES = ("zeros", "reflect", "replicate", "circular")


def pad_index(size, lo, hi, mode):
    """Source index of each of the lo + size + hi positions of x padded by
    ``mode`` ('reflect', 'replicate' or 'circular', torch's ``F.pad``), or a
    ValueError naming the limit (reflect: each pad < size; circular: <= size)."""
    j = np.arange(-lo, size + hi)
    if mode == "reflect":
        if max(lo, hi) >= size:
            raise ValueError(f"padding_mode='reflect' needs each padding ({lo}, {hi}) to be less "
                             f"than the input size {size}")
        return np.where(j < 0, -j, np.where(j >= size, 2 * (size - 1) - j, j))
    if mode == "replicate":
        return np.clip(j, 0, size - 1)
    if mode == "circular":
        if max(lo, hi) > size:
            raise ValueError(f"padding_mode='circular' needs each padding ({lo}, {hi}) to be at "
                             f"most the input size {size}")
        return j % size
    raise ValueError(f"unknown padding mode {mode!r}; expected one of {PAD_MODES}")


def pad_gather(x, ih, iw):
    """x_pad[n, c, a, b] = x[n, c, ih[a], iw[b]]."""
    return np.ascontiguousarray(x[:, :, ih][:, :, :, iw])


def pad_scatter(g, ih, iw, in_shape):
    """The transpose of ``pad_gather``: every g entry added to the x position it was read from."""
    N, C, H, W = in_shape
    t = np.zeros((N, C, g.shape[2], W), dtype=g.dtype)
    np.add.at(t, (slice(None), slice(None), slice(None), iw), g)
    dx = np.zeros(in_shape, dtype=g.dtype)
    np.add.at(dx, (slice(None), slice(None), ih), t)
    return dx


def _padded(x, pad, fill):
    """x (any 4-D view) with ``fill`` around its last two axes: one copy of x,
    the borders written once (no padding: x itself)."""
    (pt, pb), (pl, pr) = pad
    if not (pt or pb or pl or pr):
        return x
    A, B, H, W = x.shape
    xp = np.empty((A, B, H + pt + pb, W + pl + pr), dtype=x.dtype)
    xp[:, :, :pt] = fill
    xp[:, :, pt + H:] = fill
    xp[:, :, pt:pt + H, :pl] = fill
    xp[:, :, pt:pt + H, pl + W:] = fill
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
    # channels first: pad the (C, N, H, W) view, so that x is copied once (or not at all)
    xp = _padded(x.transpose(1, 0, 2, 3) if channels_first else x, pad, fill)
    if channels_first:
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
def mean_vjp(g, count, window_shape):
    """The mean rule: the cotangent g of (1/count)·sum_a u is g/count at every
    u of the window (``count``: a number or an (OH, OW) array)."""
    N, C, OH, OW = g.shape
    KH, KW = window_shape
    share = (g / count).astype(g.dtype, copy=False)
    return np.broadcast_to(share[:, :, None, None], (N, C, KH, KW, OH, OW))
