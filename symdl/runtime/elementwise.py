"""Kernel bundles for elementwise specs: what ``symdl.kernel(name)`` returns.

A bundle binds a spec's parameter values and dispatches to the generated
Numba kernels by dtype (float32/float64) and size (serial below
``PARALLEL_THRESHOLD`` elements, ``prange`` above).  Any shape works: arrays
are flattened around the 1-D kernels and reshaped back.
"""
from __future__ import annotations

import numbers

import numpy as np

from symdl.errors import ParameterError

from .arrays import as_float_array, check_out, same_shape
from .blocks import aligned_head
from .sums import channel_sums_f64, sum_f64

#: element count from which the prange variant is used (2 cores: thread
#: start-up costs ~10 µs, i.e. tens of thousands of elements)
PARALLEL_THRESHOLD = 1 << 16
#: elements per row when a learnable parameter is a single scalar
BLOCK = 1 << 14

_SUFFIX = {np.dtype(np.float32): "f32", np.dtype(np.float64): "f64"}


def bind_params(name: str, meta: dict, given: dict) -> tuple[dict, dict]:
    """Check user parameters against a spec's metadata.

    Returns (choices, reals): the static choice values and the real values
    (learnable ones may be arrays).  Unknown or ill-typed parameters raise a
    ParameterError naming the spec's parameters.
    """
    params = {p["name"]: p for p in meta["params"]}
    listing = ", ".join(f"{p['name']}={p['default']!r}" for p in meta["params"]) or "none"
    unknown = sorted(set(given) - set(params))
    if unknown:
        raise ParameterError(f"{name} has no parameter {', '.join(map(repr, unknown))}; "
                             f"its parameters are: {listing}")
    choices, reals = {}, {}
    for pname, p in params.items():
        v = given.get(pname, p["default"])
        if p["kind"] == "choice":
            if v not in p["choices"]:
                raise ParameterError(f"{name}: {pname}={v!r} is not one of {p['choices']}")
            choices[pname] = v
            continue
        if p["learnable"] and isinstance(v, (np.ndarray, list, tuple)):
            arr = np.asarray(v)
            if arr.ndim > 1 or arr.dtype.kind not in "iuf" or arr.size == 0:
                raise ParameterError(f"{name}: {pname} must be a real scalar or a 1-D array "
                                     f"(one value per channel), got {arr.dtype} of shape {arr.shape}")
            reals[pname] = arr.astype(np.float64)
            continue
        if isinstance(v, bool) or not isinstance(v, numbers.Real):
            raise ParameterError(f"{name}: {pname} must be a real number, got {v!r} "
                                 f"({type(v).__name__}); its parameters are: {listing}")
        v = float(v)
        if p["positive"] and not v > 0:
            raise ParameterError(f"{name}: {pname} must be > 0, got {v!r}")
        if p["nonzero"] and v == 0:
            raise ParameterError(f"{name}: {pname} must be nonzero")
        reals[pname] = v
    return choices, reals


class Elementwise:
    """forward / backward / forward_backward for one elementwise spec."""

    def __init__(self, name: str, meta: dict, module, **params):
        self.name, self.meta, self._module = name, meta, module
        self.choices, self.params = bind_params(name, meta, params)
        self.key = next(k for v, k in meta["variants"]
                        if all(self.choices.get(n) == c for n, c in v.items()))
        plist = [p for p in meta["params"] if p["kind"] == "real"]
        self.scalar_names = [p["name"] for p in plist if not p["learnable"]]
        self.learnable = [p["name"] for p in plist if p["learnable"]]
        self.noise = meta["noise"]
        self._cache = {}

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in {**self.choices, **self.params}.items())
        return f"<symdl kernel {self.name}({args})>"

    # ---- dispatch ------------------------------------------------------------------
    def _fn(self, kind: str, dtype, n: int):
        par = "_par" if n >= PARALLEL_THRESHOLD else ""
        fname = f"{self.key}_{kind}_{_SUFFIX[dtype]}{par}"
        fn = self._cache.get(fname)
        if fn is None:
            fn = self._cache[fname] = getattr(self._module, fname)
        return fn

    def _scalars(self):
        return [self.params[n] for n in self.scalar_names]

    def _learn_arrays(self, x):
        """(arrays, inner): each learnable value as a 1-D float64 array of
        length C (1 or the size of axis 1) and the row length for the kernels."""
        arrays, C = [], 1
        for n in self.learnable:
            v = np.atleast_1d(np.asarray(self.params[n], dtype=np.float64))
            if v.size > 1:
                if x.ndim < 2 or x.shape[1] != v.size:
                    raise ParameterError(
                        f"{self.name}: {n} has {v.size} values (one per channel) but the input "
                        f"has shape {x.shape}; axis 1 must have {v.size} channels")
                C = v.size
            arrays.append(np.ascontiguousarray(v))
        if C == 1:
            arrays = [a[:1] if a.size == 1 else a for a in arrays]
            return arrays, BLOCK
        inner = int(np.prod(x.shape[2:], dtype=np.int64)) if x.ndim > 2 else 1
        return arrays, max(inner, 1)

    def _noise(self, x, noise):
        if self.noise is None:
            if noise is not None:
                raise ParameterError(f"{self.name} takes no noise input")
            return []
        if noise is None:
            return None  # eval mode
        nz = as_float_array(noise, self.noise, dtype=x.dtype)
        same_shape(x, nz, "x", self.noise)
        return [nz.reshape(-1)]

    def _eval_slope(self):
        return 0.5 * (self.params["lower"] + self.params["upper"])

    def sample_noise(self, shape, rng=None, dtype=np.float64):
        """rrelu's training-mode slopes: U(lower, upper) per element."""
        if self.noise is None:
            raise ParameterError(f"{self.name} has no noise input")
        rng = np.random.default_rng() if rng is None else rng
        return rng.uniform(self.params["lower"], self.params["upper"], size=shape).astype(dtype)

    def _prepare(self, x, grad=None):
        x = as_float_array(x, "x")
        g = None
        if grad is not None:
            g = as_float_array(grad, "grad", dtype=x.dtype)
            if g.shape != x.shape:
                g = np.ascontiguousarray(np.broadcast_to(g, x.shape)) if g.ndim == 0 else g
            same_shape(x, g)
        return x, g

    def _outs(self, out, shapes, dtype):
        if out is None:
            return [np.empty(s, dtype=dtype) for s in shapes], None
        outs = list(out) if isinstance(out, (tuple, list)) else [out]
        if len(outs) != len(shapes):
            raise ParameterError(f"out= needs {len(shapes)} array(s), got {len(outs)}")
        for o, s in zip(outs, shapes):
            check_out(o, s, dtype)
        return outs, outs

    # ---- public API ---------------------------------------------------------------------
    def forward(self, x, out=None, *, noise=None):
        """y = f(x).  ``noise``: rrelu's per-element slopes (training mode)."""
        x, _ = self._prepare(x)
        nz = self._noise(x, noise)
        if nz is None:  # rrelu in eval mode is leaky_relu with the mean slope
            return _eval_rrelu(self).forward(x, out=out)
        (y,), _ = self._outs(out, [x.shape], x.dtype)
        flat = x.reshape(-1)
        fn = self._fn("forward", x.dtype, flat.size)
        if self.learnable:
            arrays, inner = self._learn_arrays(x)
            yflat = y.reshape(-1)
            for a, b in _parts(yflat, arrays):
                fn(flat[a:b], *(z[a:b] for z in nz), *self._scalars(), *arrays, inner, yflat[a:b])
        else:
            fn(flat, *nz, *self._scalars(), y.reshape(-1))
        return y

    def backward(self, x, grad, out=None, *, noise=None):
        """grad·f'(x); with learnable parameters a tuple (dx, d<param>, ...)."""
        return self._backward("backward", x, grad, out, noise)

    def forward_backward(self, x, grad, out=None, *, noise=None):
        """(y, dx) -- or (y, dx, d<param>...) -- in one fused pass."""
        return self._backward("forward_backward", x, grad, out, noise)

    def _backward(self, kind, x, grad, out, noise):
        x, g = self._prepare(x, grad)
        nz = self._noise(x, noise)
        if nz is None:
            return getattr(_eval_rrelu(self), kind)(x, g, out=out)
        fused = kind == "forward_backward"
        n_arrays = 2 if fused else 1
        shapes = [x.shape] * n_arrays
        if out is not None and self.learnable:
            outs_given = list(out) if isinstance(out, (tuple, list)) else [out]
            out = outs_given[:n_arrays] if len(outs_given) > n_arrays else outs_given
        outs, _ = self._outs(out, shapes, x.dtype)
        flat = x.reshape(-1)
        gflat = g.reshape(-1)
        fn = self._fn(kind, x.dtype, flat.size)
        oflat = [o.reshape(-1) for o in outs]
        if not self.learnable:
            fn(flat, *nz, gflat, *self._scalars(), *oflat)
            return tuple(outs) if fused else outs[0]
        arrays, inner = self._learn_arrays(x)
        # the kernel sums each row's g·∂f/∂w in float64 in the same vectorized
        # pass (runtime.bits.add_reassoc): one partial sum per row of `inner`
        # elements, i.e. per (outer index, channel)
        partials = []
        for a, b in _parts(oflat[0], arrays):
            partial = np.empty((len(self.learnable), -(-(b - a) // inner)), dtype=np.float64)
            fn(flat[a:b], *(z[a:b] for z in nz), gflat[a:b], *self._scalars(), *arrays, inner,
               *(o[a:b] for o in oflat), partial)
            partials.append(partial)
        partial = partials[0] if len(partials) == 1 else np.concatenate(partials, axis=1)
        grads = []
        for k, n in enumerate(self.learnable):
            v = np.asarray(self.params[n])
            C = arrays[k].size
            if C > 1:  # rows in (outer, C) order, one weight per channel
                gw = channel_sums_f64(partial[k], C, 1)
            else:
                gw = sum_f64(partial[k])
            grads.append(np.asarray(gw, dtype=x.dtype).reshape(v.shape) if v.ndim else x.dtype.type(gw))
        return (*outs, *grads)


def _parts(out_flat, arrays):
    """[(start, stop)] element ranges for the learnable-parameter kernels, whose
    rows of BLOCK elements (one shared value: no channel structure) would
    otherwise start wherever NumPy put the array (16 bytes past a cache line,
    so every 512-bit access straddles two; symdl.runtime.blocks): the elements
    before out's first 64-byte boundary go in a call of their own.  With one
    value per channel the rows follow the channels: one call."""
    n = out_flat.size
    if n == 0 or any(a.size != 1 for a in arrays):
        return [(0, n)]
    h = aligned_head(out_flat, n)
    return [(0, n)] if h in (0, n) else [(0, h), (h, n)]


def make_bundle(name: str, meta: dict, module, **params) -> Elementwise:
    """The registry's factory for the activation family."""
    return Elementwise(name, meta, module, **params)


def _eval_rrelu(bundle):
    from symdl.registry import kernel
    return kernel("leaky_relu", negative_slope=bundle._eval_slope())
