"""Input/output array checks shared by every kernel bundle (no SymPy)."""
from __future__ import annotations

import numpy as np

from symdl.errors import ShapeError

FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def as_float_array(a, name="x", dtype=None):
    """Return a C-contiguous float32/float64 array.

    Integer (and bool-free) integer arrays become float64; float32/float64
    keep their dtype (or take ``dtype`` when given, to match a first
    argument); anything else is a TypeError naming the dtype.
    """
    arr = np.asarray(a)
    if dtype is not None:
        if arr.dtype != dtype:
            if arr.dtype.kind in "iu" or (arr.dtype in FLOAT_DTYPES):
                arr = arr.astype(dtype)
            else:
                raise TypeError(f"{name} has dtype {arr.dtype}; expected {dtype} "
                                f"(symdl kernels take float32 or float64)")
    elif arr.dtype.kind in "iu":
        arr = arr.astype(np.float64)
    elif arr.dtype not in FLOAT_DTYPES:
        raise TypeError(f"{name} has dtype {arr.dtype}; symdl kernels take float32 or float64 "
                        f"(integer arrays are converted to float64)")
    # (np.ascontiguousarray would turn a 0-d array into shape (1,))
    return arr if arr.flags.c_contiguous else arr.copy(order="C")


def check_out(out, shape, dtype, name="out"):
    """Validate a caller-supplied output buffer; return its flat view."""
    if not isinstance(out, np.ndarray):
        raise TypeError(f"{name} must be a numpy array, got {type(out).__name__}")
    if out.shape != tuple(shape) or out.dtype != dtype:
        raise ShapeError(f"{name} has shape {out.shape} and dtype {out.dtype}; "
                         f"expected shape {tuple(shape)} and dtype {dtype}")
    if not out.flags.c_contiguous or not out.flags.writeable:
        raise ShapeError(f"{name} must be a writeable C-contiguous array")
    return out.reshape(-1)


def same_shape(a, b, an="x", bn="grad"):
    if a.shape != b.shape:
        raise ShapeError(f"{an} has shape {a.shape} but {bn} has shape {b.shape}; they must match")
