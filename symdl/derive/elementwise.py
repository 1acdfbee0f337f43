"""Derivation of elementwise specs: forward, d/dx, d/dparam, stable forms.

Nothing here is typed by hand per spec: derivatives come from ``sympy.diff``
of the spec's (declared stable, else defining) expression, then the named
stabilization rules (``rules.py``), a Taylor branch where the spec declares a
point of cancellation, and the limits at ±inf (so inf·0 never leaks out of a
kernel whose true value there is finite).
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, field

import sympy as sp

from symdl.specs.base import Activation
from symdl.specs.functions import to_definition

from . import accuracy
from .rules import cost, stabilize
from .timeout import TimeLimit, time_limit

#: Wall-clock guard for SymPy's simplify/limit.  It is a runaway guard only:
#: the slowest call takes ~2 s on a quiet machine, and a guard that fires under
#: load would make the generated code depend on the machine's load.
GUARD_SECONDS = 120.0

#: Taylor branches are truncated once a term is below this fraction of the value.
SERIES_TOL = sp.Rational(1, 2**60)


@dataclass
class Derived:
    spec: Activation
    variant: dict
    key: str                      # kernel base name, e.g. "gelu__tanh"
    definition: sp.Expr
    forward: sp.Expr              # what the kernel evaluates for y
    dx: sp.Expr                   # what the kernel evaluates for dy/dx
    dparams: dict                 # learnable name -> dy/dparam (kernel form)
    raw_dx: sp.Expr               # diff(definition, x), unsimplified
    limits: dict = field(default_factory=dict)   # output -> (at +inf, at -inf) or None
    trace: list = field(default_factory=list)    # (rule, before, after)

    @property
    def x(self):
        return self.spec.x

    @property
    def runtime_params(self):
        return [p for p in self.spec.real_params]

    @property
    def learnable(self):
        return [p.name for p in self.spec.learnable]


def variant_key(spec: Activation, variant: dict) -> str:
    if not spec.choice_params:
        return spec.name
    return spec.name + "".join(f"__{variant.get(p.name, p.default)}" for p in spec.choice_params)


def _general_branch(expr):
    """The catch-all branch of a Piecewise (for series expansion)."""
    if isinstance(expr, sp.Piecewise):
        return expr.args[-1].expr
    return expr


def series_branch(expr, x, x0, radius):
    """A Horner-form Taylor polynomial of ``expr`` around x0, truncated where
    the next terms fall below SERIES_TOL of the value at the radius."""
    f = _general_branch(expr)
    at_r = abs(sp.N(to_definition(f).subs(x, x0 + radius), 40))
    n = 4
    while n < 80:
        s = sp.series(f, x, x0, n).removeO()
        poly = sp.Poly(s, x - x0) if x0 != 0 else sp.Poly(s, x)
        terms = [t for t in poly.terms() if t[1] != 0]
        top = max(m[0] for m, _ in terms)
        last = sum(abs(c) * radius ** m[0] for m, c in terms if m[0] >= top - 1)
        if sp.N(last, 40) < SERIES_TOL * at_r and len(terms) >= 2:
            break
        n += 2
    else:
        raise ValueError(f"series of {expr} does not converge fast enough at radius {radius}")
    return sp.horner(s, x) if x0 == 0 else s


def simplify_stable(expr, trace=None, seconds=GUARD_SECONDS):
    """Stabilize, then keep SymPy's ``simplify`` of the result only if it
    lowers the cost (fewer operations, no new hazard) and is still stable."""
    expr = stabilize(expr, trace=trace)
    try:
        with time_limit(seconds):
            cand = stabilize(sp.simplify(expr))
    except TimeLimit:
        return expr
    if cost(cand) < cost(expr) and not cand.has(sp.erfc):
        if trace is not None:
            trace.append(("simplify", expr, cand))
        return cand
    return expr


def _real_far_out(expr, x, direction, seconds):
    """False if a log/sqrt argument of expr tends to a negative value: SymPy's
    limit would then report a value where the function is not even real."""
    for e in sp.preorder_traversal(expr):
        if isinstance(e, sp.log) or (e.is_Pow and not e.exp.is_Integer):
            u = e.args[0] if isinstance(e, sp.log) else e.base
            if not u.has(x):
                continue
            try:
                with time_limit(seconds):
                    lu = sp.limit(u, x, direction)
            except (TimeLimit, NotImplementedError, ValueError, TypeError):
                return False
            if lu == -sp.oo or lu.is_negative or lu.has(sp.AccumBounds, sp.Limit):
                return False
    return True


def _limit_once(expr, x, direction, seconds):
    try:
        with time_limit(seconds):
            if not _real_far_out(expr, x, direction, seconds):
                return None
            lim = sp.limit(expr, x, direction)
    except (TimeLimit, NotImplementedError, ValueError, TypeError, RecursionError,
            AttributeError):
        return None
    if lim in (sp.oo, -sp.oo):
        return lim
    bad = (sp.AccumBounds, sp.Limit, sp.Piecewise, sp.Order)
    if lim.has(*bad) or lim.has(sp.nan, sp.zoo, sp.I, sp.oo, -sp.oo) or not lim.is_real:
        return None
    return lim


def _limit(expr, x, direction, seconds=GUARD_SECONDS):
    """lim expr as x -> direction, in closed form in the params, or None.

    When the limit depends on the sign of a real parameter (swish's beta), it
    is taken for beta > 0, beta < 0 and beta = 0 and returned as a Piecewise.
    """
    expr = to_definition(expr)
    lim = _limit_once(expr, x, direction, seconds)
    if lim is not None:
        return lim
    free = [s for s in expr.free_symbols - {x} if s.is_positive is None]
    if len(free) != 1:
        return None
    (p,) = free
    q = sp.Dummy("q", positive=True)
    up = _limit_once(expr.subs(p, q), x, direction, seconds)
    down = _limit_once(expr.subs(p, -q), x, direction, seconds)
    zero = _limit_once(expr.subs(p, 0), x, direction, seconds)
    if up is None or down is None or zero is None:
        return None
    return sp.Piecewise((up.subs(q, p), p > 0), (down.subs(q, -p), p < 0), (zero, True))


def _limits(expr, x):
    pos, neg = _limit(expr, x, sp.oo), _limit(expr, x, -sp.oo)
    return None if pos is None and neg is None else (pos, neg)


def _measured_choice(spec, current, definition, wrt, trace):
    """The derivative of the stable form (``current``) or of the definition,
    whichever ``accuracy.prefer`` measures better.  Only for a spec with a
    stable form (otherwise the two are the same expression) and no kinks
    (the kernel form's branch conditions carry the conventions there)."""
    truth = sp.diff(definition, wrt)
    if truth.has(sp.DiracDelta, sp.Heaviside):   # sign/Max in the definition: keep the kernel form
        return current
    alternative = simplify_stable(truth)
    if alternative == current:
        return current
    if accuracy.prefer(current, alternative, truth, spec.x, accuracy.param_sets(spec), cost):
        trace.append(("measured accuracy", current, alternative))
        return alternative
    return current


@functools.lru_cache(maxsize=None)
def _derive(spec: Activation, variant_items: tuple) -> Derived:
    variant = dict(variant_items)
    x = spec.x
    definition = spec.definition(variant)
    base = spec.stable_form(variant)
    base = definition if base is None else base
    trace: list = []
    forward = stabilize(base, trace=trace)
    dx = simplify_stable(sp.diff(forward, x), trace)
    dparams = {p.name: simplify_stable(sp.diff(forward, p.symbol), trace) for p in spec.learnable}
    if spec.stable_form(variant) is not None and not spec.kinks:   # (kinks: the kernel form's conventions)
        general = _general_branch(definition) if spec.series is not None else definition
        dx = _measured_choice(spec, dx, general, x, trace)
        dparams = {p.name: _measured_choice(spec, dparams[p.name], general, p.symbol, trace)
                   for p in spec.learnable}
    if spec.series is not None:
        x0, r = spec.series
        forward = sp.Piecewise((series_branch(definition, x, x0, r), sp.Abs(x - x0) < r),
                               (forward, True))
        dx_def = sp.diff(_general_branch(definition), x)
        dx = sp.Piecewise((series_branch(dx_def, x, x0, r), sp.Abs(x - x0) < r), (dx, True))
    raw_dx = sp.diff(definition, x)
    limits = {"forward": _limits(definition, x), "dx": _limits(raw_dx, x)}
    for name in dparams:
        limits[name] = _limits(sp.diff(definition, spec.param(name).symbol), x)
    return Derived(spec, variant, variant_key(spec, variant), definition, forward, dx,
                   dparams, raw_dx, limits, trace)


def derive(spec: Activation, variant: dict | None = None) -> Derived:
    """Derive one variant of an activation (cached per spec and variant)."""
    full = {p.name: p.default for p in spec.choice_params}
    full.update(variant or {})
    return _derive(spec, tuple(sorted(full.items())))


def derive_all(spec: Activation) -> list[Derived]:
    return [derive(spec, v) for v in spec.variants()]
