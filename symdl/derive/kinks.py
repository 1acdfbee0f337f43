"""Which candidate points of a formula are true kinks (not differentiable).

The branch boundaries of a Piecewise and the zeros of the arguments of
Abs/sign/Max/Min are only *candidates*: sparse_plus's joins at x = +-1 are
C1 (its derivative is continuous there), relu's 0 is a kink.  A candidate
is kept when one of f, f', ..., f^(order) takes different one-sided limits
there, or when that cannot be decided (conservative).
"""
from __future__ import annotations

import sympy as sp

__all__ = ["true_kinks"]


def _sign_near_zero(f, h):
    """The sign of f(h) for every small h > 0 (None: undecided)."""
    for _ in range(3):
        f0 = sp.simplify(f.subs(h, 0))
        if f0.is_positive:
            return 1
        if f0.is_negative:
            return -1
        if f0 != 0:
            return None
        f = sp.diff(f, h)
    return None


def _decide(rel, h):
    """A relational in h, as h -> 0+ (itself when undecided)."""
    if not isinstance(rel, sp.core.relational.Relational) or not rel.has(h):
        return rel
    s = _sign_near_zero(rel.lhs - rel.rhs, h)
    if s is None:
        return rel
    return sp.sympify({sp.Lt: s < 0, sp.Le: s < 0, sp.Gt: s > 0, sp.Ge: s > 0,
                       sp.Eq: False, sp.Ne: True}.get(type(rel), rel))


def _one_sided(e, var, at, side):
    h = sp.Dummy("h", positive=True)
    shifted = e.xreplace({var: at + h if side == "+" else at - h})
    if shifted.has(sp.Piecewise):
        rels = shifted.atoms(sp.core.relational.Relational)
        shifted = shifted.xreplace({r: _decide(r, h) for r in rels})
    return sp.limit(shifted, h, 0, "+")


def _jumps(e, var, at) -> bool:
    try:
        left, right = _one_sided(e, var, at, "-"), _one_sided(e, var, at, "+")
    except Exception:
        return True
    if left.has(sp.Piecewise, sp.Limit) or right.has(sp.Piecewise, sp.Limit):
        return True
    diff = sp.simplify(left - right)
    return diff != 0


def true_kinks(expr, var, order: int, candidates) -> list:
    """The candidates where ``expr`` or one of its first ``order``
    derivatives in ``var`` is discontinuous."""
    if not candidates:
        return []
    derivs = [expr]
    for _ in range(order):
        derivs.append(sp.diff(derivs[-1], var))
    return [k for k in candidates if any(_jumps(d, var, k) for d in derivs)]
