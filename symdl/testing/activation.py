"""check_activation: every entry point of an elementwise kernel bundle
against its spec evaluated by mpmath.

Entry points: ``forward``; ``backward`` (dx, and each learnable parameter's
gradient); the fused ``forward_backward`` (y, dx, parameter gradients); each
in float64 and float32, on the serial kernels (the sample points) and on the
``prange`` kernels (the same points tiled past the runtime's parallel
threshold).  Learnable parameters (found from the spec) are checked two ways:
one value per element (the per-channel path: x of shape (1, n) with n
channels, so each channel's gradient is one element's g·∂f/∂w) and one scalar
(the kernel's float64 sum over every element).
"""
from __future__ import annotations

import math

import mpmath
import numpy as np
import sympy as sp

from symdl.specs.functions import to_definition

from .bounds import CheckResult, compare, compare_sum, double_double, take
from .truth import DPS, evaluate, limit_at, sample_points, truths


def grad_weights(n: int, dtype) -> np.ndarray:
    """The upstream gradient g: 0.5 .. 1.5 in steps of 1/8 (exact in float32),
    so a kernel that drops or squares g is caught."""
    return ((4 + np.arange(n) % 9) / 8).astype(dtype)


def _param_truths(spec, variant, params, xs, noise) -> dict:
    """{param name: [∂f/∂param at each x]} for each learnable parameter."""
    x = spec.x
    definition = to_definition(spec.definition(variant))
    values = {p.symbol: params.get(p.name, p.default) for p in spec.real_params}
    subs = {s: sp.Rational(float(v)) for s, v in values.items()}
    extra = {spec.noise_symbol: noise} if spec.noise else {}
    out = {}
    for p in spec.learnable:
        d = sp.diff(definition, p.symbol).subs(subs)
        vals = evaluate(d, x, xs, extra)
        for i, xv in enumerate(xs):
            if math.isinf(float(xv)):
                e = d.subs(spec.noise_symbol, sp.Rational(float(noise[i]))) if spec.noise else d
                lim = limit_at(e, x, sp.oo if xv > 0 else -sp.oo)
                vals[i] = None if lim is None else mpmath.mpf(lim)
        out[p.name] = vals
    return out


def _times(vals, g, big):
    """g·v for the truths v; where v itself is beyond the dtype's range the
    kernel's g·f' is that infinity (f' is not representable; g < 1 does not
    bring it back), so the truth is too."""
    out = []
    with mpmath.workdps(DPS):
        for v, gi in zip(vals, g):
            if v is None or mpmath.isnan(v):
                out.append(v)
            elif abs(v) > big:
                out.append(mpmath.inf if v > 0 else -mpmath.inf)
            else:
                out.append(v * mpmath.mpf(float(gi)))
    return out


def rebind(bundle, **params):
    """The same kernels with other parameter values (a mutant keeps its mutation)."""
    if hasattr(bundle, "with_params"):
        return bundle.with_params(**params)
    return type(bundle)(bundle.name, bundle.meta, bundle._module, **{**bundle.choices, **bundle.params, **params})


def _threshold():
    from symdl.runtime.elementwise import PARALLEL_THRESHOLD
    return PARALLEL_THRESHOLD


_TABLES: dict = {}


def _truth_table(spec, variant, params, dt, n_random, seed):
    """(points, noise, g, {output: double-double truth}); kept per spec object
    and arguments, so re-checking (a mutation run) skips mpmath."""
    key = (id(spec), spec.name, spec.content_hash(), repr(sorted(variant.items())),
           repr(sorted(params.items())), dt.name, n_random, seed)
    hit = _TABLES.get(key)
    if hit is not None:
        return hit
    xs = sample_points(spec, params, dt, n_random=n_random, seed=seed)
    n = xs.size
    noise = None
    if spec.noise:
        rng = np.random.default_rng(1)
        lo = params.get("lower", spec.param("lower").default)
        hi = params.get("upper", spec.param("upper").default)
        noise = rng.uniform(lo, hi, n).astype(dt)
    g = grad_weights(n, dt)
    big = float(np.finfo(dt).max)
    t = truths(spec, variant, params, xs, noise)
    T = {"y": double_double(t["forward"]), "dx": double_double(_times(t["dx"], g, big))}
    pt = _param_truths(spec, variant, params, xs, noise) if spec.learnable else {}
    for pn, vals in pt.items():
        T["d " + pn] = double_double(_times(vals, g, big))
    T["_slope"] = _slopes(spec, variant, params, xs, noise, g)
    _TABLES[key] = (xs, noise, g, T)
    return _TABLES[key]


def _slopes(spec, variant, params, xs, noise, g):
    """{output: function(indices) -> |x·∂(truth)/∂x| at those points}, by
    SymPy and mpmath, evaluated only where a float32 value needs it."""
    x = spec.x
    values = {p.symbol: sp.Rational(float(params.get(p.name, p.default))) for p in spec.real_params
              if math.isfinite(float(params.get(p.name, p.default)))}
    f = to_definition(spec.definition(variant))
    exprs = {"y": f, "dx": sp.diff(f, x)}
    for p in spec.learnable:
        exprs["d " + p.name] = sp.diff(f, p.symbol)
    cache = {}

    def make(key):
        # (the derivative of a step is 0 away from its jump; anything the
        # truth cannot evaluate gives slope 0: the strict pure bound)
        e = sp.diff(exprs[key], x).subs(values).replace(sp.DiracDelta, lambda *a: sp.S.Zero)
        scale = np.ones(xs.size) if key == "y" else np.abs(np.asarray(g, dtype=np.float64))

        def slope(indices):
            todo = [int(i) for i in indices if (key, int(i)) not in cache]
            if todo:
                extra = {spec.noise_symbol: [noise[i] for i in todo]} if spec.noise else {}
                try:
                    vals = evaluate(e, x, [xs[i] for i in todo], extra)
                except (NameError, TypeError, ValueError):
                    vals = [None] * len(todo)
                for i, v in zip(todo, vals):
                    ok = v is not None and mpmath.isfinite(v) and math.isfinite(float(xs[i]))
                    cache[(key, i)] = abs(float(xs[i]) * float(v)) * scale[i] if ok else 0.0
            return np.array([cache[(key, int(i))] for i in indices])
        return slope
    return {k: make(k) for k in exprs}


def check_activation(spec, bundle, variant=None, params=None, dtypes=(np.float64, np.float32),
                     n_random=96, seed=0, paths=("serial", "parallel")) -> CheckResult:
    """Compare every entry point of ``bundle`` with ``spec`` (at ``variant``
    and ``params``); returns a CheckResult (a list of Reports with ``.ok``,
    ``.failures`` and ``.assert_ok()``).  ``paths``: the serial kernels (small
    inputs) and/or the prange ones (inputs past the parallel threshold)."""
    unknown = set(paths) - {"serial", "parallel"}
    if unknown or not paths:
        raise ValueError(f"paths must be a non-empty subset of ('serial', 'parallel'), got {paths!r}")
    params = dict(params or {})
    variant = dict(variant or {})
    label = ",".join(f"{k}={v}" for k, v in {**variant, **params}.items())
    name = f"{spec.name}({label})" if label else spec.name
    learn = [p.name for p in spec.learnable]
    res = CheckResult()
    for dt in dtypes:
        dt = np.dtype(dt)
        xs, noise, g, T = _truth_table(spec, variant, params, dt, n_random, seed)
        n = xs.size
        reps = -(-_threshold() // n)
        for path, r in (("serial", 1), ("parallel", reps)):
            if path not in paths:
                continue
            idx = np.tile(np.arange(n), r)
            xin, gin = xs[idx], g[idx]
            kw = {"noise": noise[idx]} if spec.noise else {}
            tag = "" if path == "serial" else " [parallel]"

            def cmp(which, got, key, _xin=xin, _idx=idx, _tag=tag):
                res.append(compare(name, which + _tag, _xin, got, take(T[key], _idx), dt,
                                   slope=T["_slope"][key], idx=_idx))

            cmp("forward y", bundle.forward(xin, **kw), "y")
            if not learn:
                cmp("backward dx", bundle.backward(xin, gin, **kw), "dx")
                y, dx = bundle.forward_backward(xin, gin, **kw)
                cmp("forward_backward y", y, "y")
                cmp("forward_backward dx", dx, "dx")
                continue
            # one parameter value per element: the per-channel path
            per = rebind(bundle, **{pn: np.full(xin.size, float(params.get(pn, spec.param(pn).default)))
                                    for pn in learn})
            x2, g2 = xin.reshape(1, -1), gin.reshape(1, -1)
            kw2 = {k: v.reshape(1, -1) for k, v in kw.items()}
            out = per.backward(x2, g2, **kw2)
            cmp("backward dx", out[0], "dx")
            for pn, gw in zip(learn, out[1:]):
                cmp(f"backward d {pn} (per channel)", gw, "d " + pn)
            out = per.forward_backward(x2, g2, **kw2)
            cmp("forward_backward y", out[0], "y")
            cmp("forward_backward dx", out[1], "dx")
            for pn, gw in zip(learn, out[2:]):
                cmp(f"forward_backward d {pn} (per channel)", gw, "d " + pn)
            # one scalar value: the kernels' float64 sum, over the points where
            # every parameter's truth is finite
            fin = np.ones(n, dtype=bool)
            for pn in learn:
                h, _, s = T["d " + pn]
                fin &= ~s & np.isfinite(h)
            sel = idx[fin[idx]]
            kw3 = {"noise": noise[sel]} if spec.noise else {}
            for entry in ("backward", "forward_backward"):
                out = getattr(bundle, entry)(xs[sel], g[sel], **kw3)
                for pn, gw in zip(learn, out[-len(learn):]):
                    res.append(compare_sum(name, f"{entry} d {pn} (sum){tag}", gw, T["d " + pn], dt,
                                           np.bincount(sel, minlength=n)))
    return res
