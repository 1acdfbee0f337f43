"""Where a derivative is not compared: the kinks.

A candidate point (a branch boundary of a Piecewise, a zero of the argument of
Abs/sign/Max/Min/Heaviside, or a kink the spec declares) is a kink only if the
function really is not differentiable there: its value or one of its
derivatives up to the claimed order jumps across the point.  sinc (smooth) and
the C1 joins of a spline are therefore compared like any other point.
"""
from __future__ import annotations

import mpmath
import sympy as sp

#: half-width of the two-sided probe and its working precision
_H = mpmath.mpf("1e-20")
_DPS = 60
#: values of the other symbols of a kink test (the kink may depend on them)
_OTHERS = (mpmath.mpf("0.7"), mpmath.mpf("-1.3"), mpmath.mpf("2.1"))


def nonsmooth_points(expr, var) -> list:
    """Values of ``var`` where ``expr`` may fail to be differentiable (branch
    boundaries of Piecewise, zeros of the arguments of Abs/sign/Max/Min/Heaviside)."""
    out = []
    cands = []
    if not isinstance(expr, sp.Basic):
        return out
    for sub in sp.preorder_traversal(expr):
        if isinstance(sub, sp.Piecewise):
            for _, c in sub.args:
                if isinstance(c, sp.Basic):
                    for rel in c.atoms(sp.core.relational.Relational):
                        cands.append(rel.lhs - rel.rhs)
        elif isinstance(sub, (sp.Abs, sp.sign, sp.Heaviside)):
            cands.append(sub.args[0])
        elif isinstance(sub, (sp.Max, sp.Min)):
            args = sub.args
            for i in range(len(args)):
                for j in range(i + 1, len(args)):
                    cands.append(args[i] - args[j])
    for f in cands:
        if not f.has(var):
            continue
        try:
            poly = sp.Poly(f, var)
        except Exception:
            continue
        if poly.degree() != 1:
            continue
        c1, c0 = poly.all_coeffs()
        root = sp.simplify(-c0 / c1)
        if root.is_real is False or root.has(sp.oo, -sp.oo, sp.zoo, sp.nan):
            continue
        if root not in out:
            out.append(root)
    return out


def as_expr(v):
    """A number from a spec (int, float, SymPy) as a SymPy expression, exactly."""
    from fractions import Fraction

    if isinstance(v, sp.Basic):
        return v
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise TypeError(f"not a number: {v!r}")
    f = Fraction(v) if isinstance(v, int) else Fraction(repr(float(v)))
    return sp.Rational(f.numerator, f.denominator)


def is_kink(f, var, point, order: int = 1) -> bool:
    """True unless f and its derivatives up to ``order`` are continuous at var = point
    (probed at point -+ 1e-20 with 60 digits).  Undecidable probes count as kinks."""
    from .numeric import Compiler, Undefined

    if not isinstance(f, sp.Basic):
        return True
    others = sorted((f.free_symbols | getattr(point, "free_symbols", set())) - {var},
                    key=lambda s: s.name)
    try:
        derivs = [sp.diff(f, var, k) for k in range(order + 1)]
    except Exception:
        return True
    sets = [dict(zip(others, (_OTHERS[(i + j) % 3] for j in range(len(others)))))
            for i in range(3 if others else 1)]
    with mpmath.workdps(_DPS):
        try:
            comp = Compiler()
            fp = comp.compile(as_expr(point))
            fs = [comp.compile(d) for d in derivs]
        except Exception:
            return True
        for env in sets:
            try:
                p = fp(env)
                for g in fs:
                    lo, hi = g({**env, var: p - _H}), g({**env, var: p + _H})
                    if isinstance(lo, bool) or isinstance(hi, bool):
                        return True
                    d = abs(hi - lo)
                    if d > mpmath.mpf("1e-15") and d > mpmath.mpf("1e-10") * max(abs(lo), abs(hi)):
                        return True
            except (Undefined, ZeroDivisionError, ValueError, OverflowError, TypeError, KeyError):
                return True
    return False
