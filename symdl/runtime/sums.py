"""Float64 sums of float32/float64 arrays that vectorize (runtime helpers).

The learnable-parameter gradients (prelu's weight, swish's beta) are summed
per row inside the activation kernels; these loops add up the per-row partial
sums (and the per-channel ones).  ``ndarray.sum(dtype=np.float64)`` on float32
data converts element by element and is slow.  These loops accumulate in
float64 with LLVM's ``reassoc`` flag only (``runtime.bits.add_reassoc``): it
lets the sum be split over vector lanes (a different summation order, each
lane still in float64); no other fast-math flag is set, so inf and nan
propagate as IEEE says.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from symdl.runtime.bits import add_reassoc, prefer_wide_vectors

__all__ = ["sum_f64", "channel_sums_f64"]


@njit(cache=True, error_model="numpy")
def _sum(a, start, stop):
    s = 0.0
    for i in range(start, stop):
        prefer_wide_vectors()
        s = add_reassoc(s, np.float64(a[i]))
    return s


@njit(cache=True, error_model="numpy")
def sum_f64(a):
    """sum(a) accumulated in float64 (a: 1-D float32 or float64)."""
    return _sum(a, 0, a.shape[0])


@njit(cache=True, error_model="numpy")
def _channel_sums(a, C, inner, out):
    outer = a.shape[0] // (C * inner)
    for c in range(C):
        out[c] = 0.0
    for o in range(outer):
        for c in range(C):
            base = (o * C + c) * inner
            out[c] += _sum(a, base, base + inner)


def channel_sums_f64(a, C: int, inner: int) -> np.ndarray:
    """Sums over axes 0 and 2 of ``a`` viewed as (outer, C, inner), in float64."""
    out = np.empty(C, dtype=np.float64)
    _channel_sums(a, C, inner, out)
    return out
