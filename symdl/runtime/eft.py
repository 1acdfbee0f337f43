"""Error-free transformations (Dekker 1971), for compensated kernels.

``two_prod_err_f64(a, b)`` returns the exact rounding error of the product
fl(a*b), i.e. a*b - fl(a*b): one fused multiply-add where the CPU has it
(exact unless the error underflows), else Dekker's splitting with arithmetic
only (vectorizable; exact for |a|, |b| below ~1e300 (float64) / ~1e35
(float32)).
Hand-written: this is floating-point bookkeeping, not a formula of a spec.
"""
import numpy as np
from numba import njit

from symdl.runtime.bits import HAS_FMA, fma

_SPLIT64 = 134217729.0           # 2**27 + 1
_SPLIT32 = np.float32(4097.0)    # 2**12 + 1


@njit(cache=True, error_model="numpy")
def two_prod_err_f64(a, b):
    p = a * b
    if HAS_FMA:  # a compile-time constant: one exact fused multiply-add
        return fma(a, b, -p)
    c = _SPLIT64 * a
    ah = c - (c - a)
    al = a - ah
    d = _SPLIT64 * b
    bh = d - (d - b)
    bl = b - bh
    return ((ah * bh - p) + ah * bl + al * bh) + al * bl


@njit(cache=True, error_model="numpy")
def two_prod_err_f32(a, b):
    p = a * b
    if HAS_FMA:
        return fma(a, b, -p)
    c = _SPLIT32 * a
    ah = c - (c - a)
    al = a - ah
    d = _SPLIT32 * b
    bh = d - (d - b)
    bl = b - bh
    return ((ah * bh - p) + ah * bl + al * bh) + al * bl
