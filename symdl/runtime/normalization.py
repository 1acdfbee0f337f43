"""Runtime side of the normalization kernels (no SymPy): the group layout of
each spec, dtype checks and kernel dispatch.

``kernels(name)`` gives a ``NormKernels`` with

* ``train_forward(x, weight, bias, eps, **layout)`` -> (y, mean, rstd, var)
  (per group, float64 for both dtypes: the mean as a double-float, shape
  (2, R): mean[0] the rounded mean, mean[1] its rounding error; 1/sqrt(var + eps);
  the biased variance);
* ``normalize(x, weight, bias, mean, rstd, **layout)`` -> y (eval mode);
* ``backward(x, grad, weight, mean, rstd, eps, **layout)`` -> (dx, dweight[, dbias])
  (``eval_mode=True``: statistics that were running estimates, constants);
* ``rstd(var, eps)``; ``running_update(running_mean, running_var, mean, var,
  factor, count)`` in place (specs with running estimates).
"""
from __future__ import annotations

import importlib
import math

import numpy as np

from symdl.errors import UnknownNameError

__all__ = ["layout", "kernels", "NormKernels", "PARALLEL_MIN", "make_bundle", "NAMES"]

NAMES = ("batch_norm", "layer_norm", "group_norm", "instance_norm", "rms_norm")
#: elements from which the prange kernels run (below: the serial ones)
PARALLEL_MIN = 1 << 16
#: the (N, C) column kernels run in parallel from PARALLEL_MIN times this
#: many elements: below it (e.g. BatchNorm1d (256, 512)) the two-thread
#: kernels were at best 8-17% faster than the serial ones (min of 600
#: interleaved steps), and on a loaded 2-core machine their median step was
#: 2x (float32) to 100x (float64) the serial one; at (1024, 512) parallel
#: is 27-36% faster
COL_PARALLEL_FACTOR = 4
#: at most this many row blocks (per-block parameter partials, summed in
#: block order: the count is fixed, not the pool's thread count, so a result
#: is the same bit for bit on any machine).  Numba's prange hands each thread
#: one contiguous share of the blocks, so blocks beyond the threads only cost
#: partial rows to zero, fill and sum; 64 blocks made the LayerNorm (2048, 512)
#: float32 backward kernel 10-15% slower than 16 on 2 threads (interleaved
#: runs, 2026-12-08: 0.43-0.45 vs 0.39 ms median)
MAX_BLOCKS = 16
_SUFFIX = {np.dtype(np.float32): "f32", np.dtype(np.float64): "f64"}


def _check_dtype(what, a):
    if a.dtype not in _SUFFIX:
        raise TypeError(f"{what}: dtype {a.dtype} is not supported; use float32 or float64")
    return _SUFFIX[a.dtype]


_layouts: dict = {}


def layout(name: str, shape, *, num_groups: int | None = None, normalized_ndim: int = 1) -> dict:
    """The group view of an input of ``shape`` for spec ``name`` (see the
    generated modules' docstring): R groups of O x I elements, element (o, i)
    of group r at r*rs + o*os + i, the inner axis contiguous.  Cached per
    argument set (a layer calls this on every forward): treat it as read-only."""
    key = (name, tuple(shape), num_groups, normalized_ndim)
    lay = _layouts.get(key)
    if lay is None:
        lay = _layout(name, tuple(int(s) for s in shape), num_groups, normalized_ndim)
        if len(_layouts) < 256:
            _layouts[key] = lay
    return lay


def _layout(name, shape, num_groups, normalized_ndim):
    if name in ("layer_norm", "rms_norm"):
        d = math.prod(shape[len(shape) - normalized_ndim:])
        n = math.prod(shape[:len(shape) - normalized_ndim])
        lay = dict(R=n, P=1, rs=d, O=1, os=d, I=d, AR=0, naff=d)
    else:
        if len(shape) < 2:
            raise ValueError(f"{name}: expected an input (N, C, *spatial), got shape {shape}")
        n, c, s = shape[0], shape[1], math.prod(shape[2:])
        if name == "batch_norm":
            # one group per channel: N runs of s elements, c*s apart
            lay = dict(R=c, P=c, rs=s, O=n, os=c * s, I=s, AR=1, naff=c)
            # (N, C): the column kernels (rows of channels, one accumulator per channel)
            lay["cols"] = s == 1
        elif name == "instance_norm":
            lay = dict(R=n * c, P=c, rs=s, O=1, os=s, I=s, AR=1, naff=c)
        elif name == "group_norm":
            g = int(num_groups)
            if c % g:
                raise ValueError(f"group_norm: {c} channels do not divide into {g} groups")
            cg = c // g
            lay = dict(R=n * g, P=g, rs=cg * s, O=cg, os=s, I=s, AR=cg, naff=c)
        else:
            raise UnknownNameError("normalization", name, NAMES)
    lay["rb"] = max(1, -(-lay["R"] // MAX_BLOCKS))
    lay["count"] = lay["O"] * lay["I"]
    return lay


_ORDER = ("R", "P", "rs", "O", "os", "I", "AR", "rb")
#: at least this many columns per block of the (N, C) kernels (the serial
#: kernels take all C at once, the prange ones C / the pool's threads
#: (numba.config.NUMBA_NUM_THREADS: fixed, so computed once per layout): long
#: contiguous runs; the block size changes no result, every column is summed
#: row by row)
COL_BLOCK = 16


def _mean2(mean, R):
    """The saved mean as a double-float (2, R) array (mean[0] + mean[1]);
    a plain (R,) mean (e.g. a running estimate) gets a zero low part."""
    if type(mean) is np.ndarray and mean.ndim == 2 and mean.dtype == np.float64 and mean.flags.c_contiguous:
        return mean
    mean = np.asarray(mean, np.float64)
    if mean.ndim == 2:
        return np.ascontiguousarray(mean)
    out = np.zeros((2, R), np.float64)
    out[0] = mean
    return out


def _f64(a):
    if type(a) is np.ndarray and a.dtype == np.float64 and a.flags.c_contiguous:
        return a
    return np.ascontiguousarray(a, np.float64)


def _col_block(c, par):
    """Columns per block of the (N, C) kernels: all of them serially, C over
    the pool's threads in parallel (a multiple of COL_BLOCK)."""
    if par:
        import numba   # loaded with the kernels, not at import

        c = -(-c // numba.config.NUMBA_NUM_THREADS)
    return max(COL_BLOCK, -(-c // COL_BLOCK) * COL_BLOCK)


class NormKernels:
    def __init__(self, name: str, module):
        self.name, self.module = name, module
        self.meta = module.SPECS[name]
        self.has_bias = self.meta["has_bias"]
        self._fns: dict = {}

    def _call(self, kind, lay, dt, size):
        """(kernel, layout arguments) of ``kind`` for this layout, dtype and
        size (serial below PARALLEL_MIN elements); the kernel looked up once."""
        cols = bool(lay.get("cols"))
        par = size >= (PARALLEL_MIN * COL_PARALLEL_FACTOR if cols else PARALLEL_MIN)
        key = (kind, dt, par, cols)
        fn = self._fns.get(key)
        if fn is None:
            fn = self._fns[key] = getattr(self.module, f"{kind}{'_cols' if cols else ''}_{dt}{'_par' if par else ''}")
        if cols:
            return fn, (lay["O"], lay["R"], _col_block(lay["R"], par))   # N, C, cb
        return fn, tuple(lay[k] for k in _ORDER)

    @staticmethod
    def _contig(x):
        return np.ascontiguousarray(x)

    def _affine(self, what, a, dt, n, dtype):
        if a is None:
            return np.ones(n, dtype) if what == "weight" else np.zeros(n, dtype)
        if not (type(a) is np.ndarray and a.dtype == dtype and a.size == n and a.flags.c_contiguous):
            a = np.ascontiguousarray(a)
            if _check_dtype(f"{self.name} {what}", a) != dt:
                raise TypeError(f"{self.name}: {what} dtype {a.dtype} does not match the input's {dtype}")
            if a.size != n:
                raise ValueError(f"{self.name}: {what} has {a.size} elements, the input needs {n}")
        return a.reshape(-1)

    def train_forward(self, x, weight, bias, eps, lay, out=None):
        x = self._contig(x)
        dt = _check_dtype(self.name, x)
        w = self._affine("weight", weight, dt, lay["naff"], x.dtype)
        y = np.empty_like(x) if out is None else out
        # statistics in float64 for every dtype (a float32 mean rounded to
        # float32 would cost x - mean its digits when the variance is small);
        # the mean as a double-float: mean[0] + mean[1]
        R = lay["R"]
        mean = np.zeros((2, R), np.float64)
        rstd = np.empty(R, np.float64)
        var = np.empty(R, np.float64)
        fn, largs = self._call("forward_train", lay, dt, x.size)
        if self.has_bias:
            fn(x.reshape(-1), w, self._affine("bias", bias, dt, lay["naff"], x.dtype), float(eps), *largs,
               y.reshape(-1), mean, rstd, var)
        else:
            fn(x.reshape(-1), w, float(eps), *largs, y.reshape(-1), mean, rstd, var)
        return y, mean, rstd, var

    def normalize(self, x, weight, bias, mean, rstd, lay, out=None):
        x = self._contig(x)
        dt = _check_dtype(self.name, x)
        w = self._affine("weight", weight, dt, lay["naff"], x.dtype)
        y = np.empty_like(x) if out is None else out
        args = [x.reshape(-1), w]
        if self.has_bias:
            args.append(self._affine("bias", bias, dt, lay["naff"], x.dtype))
        fn, largs = self._call("normalize", lay, dt, x.size)
        fn(*args, _mean2(mean, lay["R"]), _f64(rstd), *largs, y.reshape(-1))
        return y

    def backward(self, x, grad, weight, mean, rstd, eps, lay, eval_mode=False):
        """Gradients from the saved statistics; ``eval_mode``: the statistics
        were running estimates (constants: the eval-mode derivation)."""
        x = self._contig(x)
        grad = self._contig(grad)
        dt = _check_dtype(self.name, x)
        if grad.dtype != x.dtype or grad.shape != x.shape:
            raise ValueError(f"{self.name}: grad {grad.shape} {grad.dtype} does not match the input "
                             f"{x.shape} {x.dtype}")
        naff = lay["naff"]
        w = self._affine("weight", weight, dt, naff, x.dtype)
        dx = np.empty_like(x)
        dw = np.empty(naff, x.dtype)
        fn, largs = self._call("backward_eval" if eval_mode else "backward", lay, dt, x.size)
        m2, r = _mean2(mean, lay["R"]), _f64(rstd)
        if lay.get("cols"):
            if self.has_bias:
                db = np.empty(naff, x.dtype)
                fn(x.reshape(-1), grad.reshape(-1), w, m2, r, float(eps), *largs, dx.reshape(-1), dw, db)
                return dx, dw, db
            fn(x.reshape(-1), grad.reshape(-1), w, m2, r, float(eps), *largs, dx.reshape(-1), dw)
            return dx, dw
        if self.has_bias:
            db = np.empty(naff, x.dtype)
            fn(x.reshape(-1), grad.reshape(-1), w, m2, r, float(eps), *largs, naff, dx.reshape(-1), dw, db)
            return dx, dw, db
        fn(x.reshape(-1), grad.reshape(-1), w, m2, r, float(eps), *largs, naff, dx.reshape(-1), dw)
        return dx, dw

    def rstd(self, var, eps, dtype):
        var = np.ascontiguousarray(var)
        out = np.empty(var.shape[0], np.float64)
        getattr(self.module, f"rstd_{_SUFFIX[np.dtype(dtype)]}")(var, float(eps), out)
        return out

    def running_update(self, running_mean, running_var, mean, var, factor, count):
        """running <- (1 - factor)·running + factor·statistic, in place
        (the variance unbiased: var·count/(count - 1))."""
        dt = _check_dtype(f"{self.name} running_mean", running_mean)
        mean = np.asarray(mean, np.float64)
        if mean.ndim == 2:        # a saved double-float mean: its rounded value
            mean = mean[0]
        fn = self._fns.get(("running", dt))
        if fn is None:
            fn = self._fns[("running", dt)] = getattr(self.module, f"running_{dt}")
        fn(running_mean, running_var, _f64(mean), _f64(var), float(factor), float(count))


_cache: dict = {}


def kernels(name: str) -> NormKernels:
    if name not in _cache:
        if name not in NAMES:
            raise UnknownNameError("normalization", name, NAMES)
        _cache[name] = NormKernels(name, importlib.import_module(f"symdl.generated.normalization.{name}"))
    return _cache[name]


def make_bundle(name, meta, module, **params):
    """Registry factory (``symdl.kernel("batch_norm")``): the spec's NormKernels."""
    if params:
        raise TypeError(f"{name}: kernel parameters are passed per call (eps, layout), got {sorted(params)}")
    return kernels(name)
