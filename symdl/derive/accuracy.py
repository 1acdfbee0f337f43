"""Measured accuracy of equivalent forms: which derivative a kernel evaluates.

Operation counts and hazard patterns (``rules.cost``) see the cancellations
the rules know about, not every one.  A spec's stable form fixes its
forward, but the derivative of that form can be a long expression -- isru's
x/sqrt(1 + a x^2) written as its stable form differentiates to 26
operations, while the derivative of the definition simplifies to
(1 + a x^2)^(-3/2) -- and the derivative of the definition can instead
cancel where the stable form's does not (squareplus' (1 + x/sqrt(x^2 + b))/2
at large negative x).  Neither form is always right, so the engine measures:
each candidate is evaluated in float64 with NumPy at probe points of its
own (log-spaced magnitudes of both signs, 1.37e-8 .. 1.37e4, off the
tests' grid), for the spec's default
and test parameters, against the exact derivative at 50 digits (mpmath),
and :func:`prefer` adopts the alternative only when it is clearly more
accurate, or about as accurate and clearly cheaper.

This only *chooses* among expressions SymPy has proven equal; the kernels
it leads to are checked against mpmath by the tests like every other.
"""
from __future__ import annotations

import math
import warnings

import mpmath
import numpy as np
import sympy as sp

#: probe points of its own: 49 log-spaced magnitudes per sign (1.37e-8 ..
#: 1.37e4) and 0 -- the ground-truth tests' grid (symdl.testing.sample_points:
#: 10^(k/4)) shifted by a factor 1.37, so a form is never chosen on the very
#: points that then judge it, yet sampled as densely
PROBES = np.concatenate([-np.logspace(4, -8, 49) * 1.37, [0.0], np.logspace(-8, 4, 49) * 1.37])

#: relative errors below this count as equal (a few float64 ulps)
FLOOR = 1e-15
#: "clearly more accurate": at least this factor
ACCURACY_GAIN = 16.0
#: "clearly cheaper": at most this fraction of the operations, at most this much less accurate
COST_GAIN, COST_SLACK = 0.75, 2.0


def _numeric(expr, x, subs):
    from symdl.specs.functions import to_definition
    e = to_definition(expr).subs(subs)
    if e.free_symbols - {x}:
        return None
    return sp.lambdify(x, e, modules="numpy")


def _truth(expr, x, subs):
    """The exact values at the probes (symdl.derive.exact.evaluate: mpmath with
    the precision raised until two evaluations agree), as float64; nan
    where they are not real."""
    from .exact import evaluate
    vals = evaluate(expr.subs(subs), x, list(PROBES))
    return np.array([float(v) if mpmath.isfinite(v) else math.nan for v in vals])


def max_error(expr, truth, x, param_sets, _truths=None) -> float:
    """Worst relative error of ``expr`` evaluated in float64 (NumPy) at the
    probe points, against ``truth`` (an equal expression, evaluated exactly),
    over the parameter substitutions ``param_sets``.  A non-finite result
    where the truth is finite counts as inf; points whose truth is not a
    normal float64 (or not real) are skipped.  (``_truths``: the truth's
    values per parameter set, when the caller has them already.)"""
    worst = 0.0
    for k, subs in enumerate(param_sets):
        f = _numeric(expr, x, subs)
        if f is None:
            return math.inf
        t = _truth(truth, x, subs) if _truths is None else _truths[k]
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                got = np.broadcast_to(np.asarray(f(PROBES.copy()), dtype=np.float64), PROBES.shape)
            except (TypeError, ValueError, ZeroDivisionError, OverflowError):
                return math.inf
        ok = np.isfinite(t) & (np.abs(t) >= np.finfo(np.float64).tiny)
        ok |= t == 0
        if not np.all(np.isfinite(got[ok])):
            return math.inf
        err = np.abs(got[ok] - t[ok]) / np.maximum(np.abs(t[ok]), np.finfo(np.float64).tiny)
        if err.size:
            worst = max(worst, float(err.max()))
    return worst


def prefer(current, alternative, truth, x, param_sets, cost) -> bool:
    """True if ``alternative`` should replace ``current`` (both equal to
    ``truth``): clearly more accurate, or clearly cheaper and about as
    accurate (see the module docstring)."""
    truths = [_truth(truth, x, subs) for subs in param_sets]
    ec = max(max_error(current, truth, x, param_sets, truths), FLOOR)
    ea = max(max_error(alternative, truth, x, param_sets, truths), FLOOR)
    if not math.isfinite(ea):
        return False
    if ea * ACCURACY_GAIN <= ec:
        return True
    return ea <= COST_SLACK * ec and cost(alternative) <= COST_GAIN * cost(current)


def param_sets(spec) -> list:
    """Substitutions for the probes: the spec's defaults, then each of its
    test parameter sets (finite real parameters only, as exact rationals)."""
    out = []
    for extra in ({},) + tuple(dict(t) for t in spec.test_params):
        subs = {}
        for p in spec.real_params:
            v = float(extra.get(p.name, p.default))
            if not math.isfinite(v):
                break
            subs[p.symbol] = sp.Rational(v)
        else:
            out.append(subs)
    return out
