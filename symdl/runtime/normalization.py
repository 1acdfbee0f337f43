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
#: at most this many row blocks (per-block parameter partials)
MAX_BLOCKS = 64
_SUFFIX = {np.dtype(np.float32): "f32", np.dtype(np.float64): "f64"}


def _check_dtype(what, a):
    if a.dtype not in _SUFFIX:
        raise TypeError(f"{what}: dtype {a.dtype} is not supported; use float32 or float64")
    return _SUFFIX[a.dtype]


def layout(name: str, shape, *, num_groups: int | None = None, normalized_ndim: int = 1) -> dict:
    """The group view of an input of ``shape`` for spec ``name`` (see the
    generated modules' docstring): R groups of O x I elements, element (o, i)
    of group r at r*rs + o*os + i, the inner axis contiguous."""
    shape = tuple(int(s) for s in shape)
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
#: kernels take all C at once, the prange ones C / threads: long contiguous
#: runs; the block size changes no result, every column is summed row by row)
COL_BLOCK = 16


def _mean2(mean, R):
    """The saved mean as a double-float (2, R) array (mean[0] + mean[1]);
    a plain (R,) mean (e.g. a running estimate) gets a zero low part."""
    mean = np.asarray(mean, np.float64)
    if mean.ndim == 2:
        return np.ascontiguousarray(mean)
    out = np.zeros((2, R), np.float64)
    out[0] = mean
    return out


class NormKernels:
    def __init__(self, name: str, module):
        self.name, self.module = name, module
        self.meta = module.SPECS[name]
        self.has_bias = self.meta["has_bias"]

    def _fn(self, kind, dt, size):
        par = "_par" if size >= PARALLEL_MIN else ""
        return getattr(self.module, f"{kind}_{dt}{par}")

    @staticmethod
    def _contig(x):
        return np.ascontiguousarray(x)

    def _args(self, lay, size):
        if lay.get("cols"):
            c = lay["R"]
            if size >= PARALLEL_MIN:
                from numba import get_num_threads   # numba loads with the kernels, not at import

                c = -(-c // get_num_threads())
            return [lay["O"], lay["R"], max(COL_BLOCK, -(-c // COL_BLOCK) * COL_BLOCK)]   # N, C, cb
        return [lay[k] for k in _ORDER]

    @staticmethod
    def _kind(kind, lay):
        return kind + "_cols" if lay.get("cols") else kind

    def _affine(self, what, a, dt, n, dtype):
        if a is None:
            return np.ones(n, dtype) if what == "weight" else np.zeros(n, dtype)
        a = np.ascontiguousarray(a).reshape(-1)
        if _check_dtype(f"{self.name} {what}", a) != dt:
            raise TypeError(f"{self.name}: {what} dtype {a.dtype} does not match the input's {dtype}")
        if a.size != n:
            raise ValueError(f"{self.name}: {what} has {a.size} elements, the input needs {n}")
        return a

    def train_forward(self, x, weight, bias, eps, lay, out=None):
        x = self._contig(x)
        dt = _check_dtype(self.name, x)
        w = self._affine("weight", weight, dt, lay["naff"], x.dtype)
        y = np.empty_like(x) if out is None else out
        # statistics in float64 for every dtype (a float32 mean rounded to
        # float32 would cost x - mean its digits when the variance is small);
        # the mean as a double-float: mean[0] + mean[1]
        mean = np.zeros((2, lay["R"]), np.float64)
        rstd = np.empty(lay["R"], np.float64)
        var = np.empty(lay["R"], np.float64)
        args = [x.reshape(-1), w]
        if self.has_bias:
            args.append(self._affine("bias", bias, dt, lay["naff"], x.dtype))
        self._fn(self._kind("forward_train", lay), dt, x.size)(*args, float(eps), *self._args(lay, x.size), y.reshape(-1),
                                               mean, rstd, var)
        return y, mean, rstd, var

    def normalize(self, x, weight, bias, mean, rstd, lay, out=None):
        x = self._contig(x)
        dt = _check_dtype(self.name, x)
        w = self._affine("weight", weight, dt, lay["naff"], x.dtype)
        y = np.empty_like(x) if out is None else out
        args = [x.reshape(-1), w]
        if self.has_bias:
            args.append(self._affine("bias", bias, dt, lay["naff"], x.dtype))
        self._fn(self._kind("normalize", lay), dt, x.size)(*args, _mean2(mean, lay["R"]),
                                           np.ascontiguousarray(rstd, np.float64), *self._args(lay, x.size),
                                           y.reshape(-1))
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
        w = self._affine("weight", weight, dt, lay["naff"], x.dtype)
        dx = np.empty_like(x)
        dw = np.empty(lay["naff"], x.dtype)
        outs = [dw]
        if self.has_bias:
            outs.append(np.empty(lay["naff"], x.dtype))
        extra = [] if lay.get("cols") else [lay["naff"]]
        kind = self._kind("backward_eval" if eval_mode else "backward", lay)
        self._fn(kind, dt, x.size)(
            x.reshape(-1), grad.reshape(-1), w, _mean2(mean, lay["R"]),
            np.ascontiguousarray(rstd, np.float64), float(eps), *self._args(lay, x.size), *extra,
            dx.reshape(-1), *outs)
        return (dx, *outs)

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
        getattr(self.module, f"running_{dt}")(running_mean, running_var,
                                               np.ascontiguousarray(mean, np.float64),
                                               np.ascontiguousarray(var, np.float64),
                                               float(factor), float(count))


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
