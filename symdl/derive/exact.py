"""Exact values of a SymPy expression with mpmath: the precision is raised
until two evaluations agree.  The derivation stage measures candidate forms
against it (``symdl.derive.accuracy``); the test helpers (``symdl.testing``)
compare kernels with it."""
from __future__ import annotations

import functools
import math

import mpmath
import sympy as sp

from symdl.specs.functions import to_definition

DPS = 50


@functools.lru_cache(maxsize=None)
def _compiled(expr, arg_names: tuple):
    by_name = {s.name: s for s in expr.free_symbols}
    syms = [by_name.get(n, sp.Symbol(n, real=True)) for n in arg_names]
    return sp.lambdify(syms, to_definition(expr), modules="mpmath")


def _mp(v):
    return mpmath.mpf(float(v))


def _eval_point(f, args, dps):
    with mpmath.workdps(dps):
        r = f(*[_mp(a) for a in args])
        if isinstance(r, mpmath.mpc):
            tiny = mpmath.mpf(10) ** (-dps + 5) * max(1, abs(r))
            r = r.real if abs(r.imag) <= tiny else mpmath.nan
        return +r


def evaluate(expr, x, values, extra=None) -> list:
    """expr(x) at each value with mpmath: at DPS digits, then with doubled
    precision until two results agree to 30 digits (cancellation inside the
    definition, e.g. 1 - tanh(x)^2 at x = 56, eats ~50 digits).  Complex or
    failing points give nan; nan in gives nan out."""
    extra = extra or {}
    names = (x.name,) + tuple(s.name for s in extra)
    f = _compiled(expr, names)
    out = []
    for i, v in enumerate(values):
        if v != v:  # policy: nan in -> nan out
            out.append(mpmath.nan)
            continue
        args = [v] + [vals[i] for vals in extra.values()]
        # Start with enough digits to resolve the scales the point brings in:
        # tiny |x| (exp(x) - 1 inside a condition) and exp(-|x|) next to 1
        # (log(1 + exp(x)) at x = -316 needs 137 digits before cancellation).
        # Past ~400 digits every such term is below float64's smallest subnormal.
        a = abs(float(v))
        dps = DPS + (int(-math.log10(a)) if 0 < a < 1 else min(400, int(min(a, 1e4) / 2.3)))
        try:
            r = _eval_point(f, args, dps)
            while dps < 1600:
                dps *= 2
                r2 = _eval_point(f, args, dps)
                if mpmath.isnan(r) and mpmath.isnan(r2):
                    break
                if r == r2 or (not mpmath.isnan(r2) and not mpmath.isnan(r)
                               and abs(r2 - r) <= mpmath.mpf(10) ** -30 * abs(r2)):
                    break
                r = r2
            out.append(r2 if not mpmath.isnan(r2) else r)
        except (ZeroDivisionError, ValueError, TypeError, OverflowError):
            out.append(mpmath.nan)
    return out
