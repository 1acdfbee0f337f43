"""Ground truth for reduction kernels: a spec's formula instantiated at small
concrete sizes as a plain SymPy expression of explicit symbols (one per array
element), evaluated by mpmath at >= 50 digits and differentiated by SymPy.

Nothing here uses the derivation engine or the kernels' (outer, C, inner)
view: rows are the fibres along the class axis, taken by numpy on arrays of
symbols.
"""
from __future__ import annotations

import math

import mpmath
import numpy as np
import sympy as sp

from symdl.specs.softmax import RMax, RSum

DPS = 60
BOUNDS = {np.dtype(np.float64): (1e-12, 1e-15), np.dtype(np.float32): (1e-5, 1e-6)}
N_c = sp.Symbol("N_c", positive=True, integer=True)
N_r = sp.Symbol("N_r", positive=True, integer=True)


def symbols_like(name, shape):
    arr = np.empty(shape, dtype=object)
    for idx in np.ndindex(*shape):
        arr[idx] = sp.Symbol(f"{name}_" + "_".join(map(str, idx)), real=True)
    return arr


def rows_of(arr, dim):
    """(R, C) view of an object array around ``dim`` (rows in C order)."""
    moved = np.moveaxis(arr, dim, -1)
    return moved.reshape(-1, arr.shape[dim])


def instantiate(expr, env: dict, sizes: dict, idx=None):
    """The formula with every RSum/RMax written out.  env maps an element
    symbol name to its values: an array (R, C), (R,) or (C,) indexed by
    (r, c) / r / c, or a scalar."""
    idx = idx or {}

    def inst_at(e, ix):
        if isinstance(e, (RSum, RMax)):
            ax = e.axis
            terms = [inst_at(e.args[0], {**ix, ax: i}) for i in range(sizes[ax])]
            return sp.Add(*terms) if isinstance(e, RSum) else sp.Max(*terms)
        if isinstance(e, sp.Symbol):
            if e == N_c:
                return sp.Integer(sizes["c"])
            if e == N_r:
                return sp.Integer(sizes["r"])
            if e.name in env:
                val, axes = env[e.name]
                if not axes:
                    return val
                return val[tuple(ix[a] for a in axes)]
            return e
        if not e.args:
            return e
        return e.func(*[inst_at(a, ix) for a in e.args])

    return inst_at(sp.sympify(expr), dict(idx))


def exact(v):
    """A float as an exact SymPy rational (inf stays inf)."""
    v = float(v)
    if math.isinf(v):
        return sp.oo if v > 0 else -sp.oo
    return sp.Rational(v)


def mp_eval(exprs, subs: dict, dps=DPS):
    """Evaluate SymPy expressions at exact values with mpmath, at ``dps``
    digits and then at twice as many until two evaluations agree to 40
    digits (cancellation inside a definition eats digits)."""
    syms = list(subs)
    f = sp.lambdify(syms, list(exprs), modules="mpmath")

    def run(d):
        with mpmath.workdps(d):
            args = [mpmath.mpf(sp.Float(v, d + 10)) if v.is_finite else
                    (mpmath.inf if v > 0 else -mpmath.inf) for v in (subs[s] for s in syms)]
            return [+r for r in f(*args)]

    d = dps
    while True:   # a definition may cancel to an exact 0 (log(1 - sigmoid(1e3))): more digits
        try:
            prev = run(d)
            break
        except (ZeroDivisionError, ValueError):
            if d >= 1920:
                raise
            d *= 2
    limit = max(960, 2 * d)
    while d < limit:
        d *= 2
        cur = run(d)
        with mpmath.workdps(d):
            same = all(a == b or (not mpmath.isnan(b) and abs(a - b) <= mpmath.mpf(10) ** -40 * abs(b))
                       for a, b in zip(prev, cur))
        prev = cur
        if same:
            break
    return prev


def compare(got, truth, dtype, what=""):
    """Failures [(index, got, truth)] of |got - t| <= rtol·|t| + atol, never
    inf/nan where the truth is finite; returns (failures, worst rel error)."""
    rtol, atol = BOUNDS[np.dtype(dtype)]
    got = np.asarray(got, dtype=np.float64).reshape(-1)
    fails, worst = [], 0.0
    for i, (g, t) in enumerate(zip(got, truth)):
        if mpmath.isnan(t):
            continue
        if mpmath.isinf(t) or abs(t) > float(np.finfo(dtype).max):
            if not (math.isinf(g) and (g > 0) == (t > 0)):
                fails.append((what, i, g, float(t)))
            continue
        if not math.isfinite(g):
            fails.append((what, i, g, float(t)))
            continue
        err = abs(mpmath.mpf(g) - t)
        if err > rtol * abs(t) + atol:
            fails.append((what, i, g, float(t)))
        if abs(t) > float(np.finfo(dtype).tiny):
            worst = max(worst, float(err / abs(t)))
    return fails, worst


def logits(kind: str, shape, rng):
    """Test inputs, representable in float32 (so both dtypes share a truth)."""
    if kind == "random":
        x = rng.normal(0, 3, shape)
    elif kind == "extreme":   # ±1e3 next to O(1) and tiny values
        x = rng.choice([1e3, -1e3, 999.5, -999.0, 0.0, 1e-7, -3e-9, 2.5, -1.25, 700.0], size=shape)
    elif kind == "close":     # one dominant logit per row: p ≈ 1 - tiny
        x = rng.normal(0, 1, shape)
        x.reshape(-1)[:: max(shape[-1], 1)] += 40.0
    else:
        raise ValueError(kind)
    return x.astype(np.float32).astype(np.float64)
