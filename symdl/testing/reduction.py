"""Ground truth for reduction kernels: a spec's formula instantiated at small
concrete sizes as a plain SymPy expression of explicit symbols (one per array
element), evaluated by mpmath at >= 60 digits and differentiated by SymPy.

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


def no_delta(e):
    """The derivative of a step (Heaviside, from Max) is 0 away from its jump."""
    return e.replace(sp.DiracDelta, lambda *a: sp.S.Zero)


def exact(v):
    """A float as an exact SymPy rational (inf stays inf, nan is sp.nan:
    pass nan only as the value of a symbol, see mp_eval)."""
    v = float(v)
    if math.isnan(v):
        return sp.nan
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
            args = [mpmath.nan if v is sp.nan else mpmath.mpf(sp.Float(v, d + 10)) if v.is_finite else
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
            same = all(a == b or (mpmath.isnan(a) and mpmath.isnan(b))
                       or (not mpmath.isnan(b) and abs(a - b) <= mpmath.mpf(10) ** -40 * abs(b))
                       for a, b in zip(prev, cur))
        prev = cur
        if same:
            break
    return prev
