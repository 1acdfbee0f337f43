"""Stable forms for the softmax normalizer's cancellations (rewrite rules).

After the max shift (``reduce_rules.shift_logsumexp``) a softmax-family or
class-loss kernel works with M = max_c u and S = sum_c exp(u - M).  At a
row with one dominant class S = 1 + s' with s' tiny, and three derived
expressions then cancel:

* ``log1p_normalizer``  log S rounds to log(1) = 0 where the truth is s'
  (log_softmax at the argmax, logsumexp, the loss of a confident class);
* ``ratio_offset``      k·e/S + R with k·e/S ≈ -R (cross_entropy's p - y at
  the target class: 1 - p rounds to a multiple of the ulp of 1);
* ``vjp_pivot``         h - Σ_c h e / S (the softmax VJP) at the dominant
  class, where Σ h e / S ≈ h.

Each rule rewrites through s' = S - 1 computed without cancelling:
s' = Σ_c (e_c - [u_c = M]) + (Σ_c [u_c = M] - 1) -- at a maximum e = 1
exactly, so its term is exactly 0, and the count of maxima minus one is an
exact small integer.  The rules are identities for *any* values of the mask
[u = M] (they use only S = 1 + s' and Σ_c e_c = S), so they are applied to
the derived forward and backward expressions, after differentiation; each
is proven equal to what it replaces by ``tests/test_reduce_stable.py``.
``Shifted(a, b)`` (a - b kept as one operation) fixes the order of the
additions that must happen first.
"""
from __future__ import annotations

from dataclasses import dataclass

import sympy as sp
from sympy.codegen.cfunctions import log1p

from symdl.specs.softmax import ArgmaxMask, RSum, Shifted

__all__ = ["Normalizer", "normalizers", "RULES", "stabilize_normalizers", "log1p_normalizer",
           "ratio_offset", "vjp_pivot", "Where", "TargetSelect", "target_select", "onehot_gather",
           "valid_select", "smoothing_select", "TARGET_RULES", "select_target"]


@dataclass(frozen=True)
class Normalizer:
    """S = Σ_axis exp(Shifted(u, M)) with M = max_axis u (S, M: the graph's
    symbols for those reduction nodes, or any symbols in a test)."""

    S: sp.Symbol
    M: sp.Symbol
    u: sp.Expr
    axis: sp.Symbol

    @property
    def e(self):
        return sp.exp(Shifted(self.u, self.M))

    @property
    def mask(self):
        return ArgmaxMask(self.u, self.M)

    @property
    def rest(self):
        """s' = S - 1, summed without cancellation."""
        return RSum(self.e - self.mask, self.axis) + Shifted(RSum(self.mask, self.axis), sp.S.One)


def normalizers(d) -> list[Normalizer]:
    """The softmax normalizers of a derivation: sum nodes whose body is
    exp(Shifted(u, M)) for a max node M over u."""
    out = []
    nodes = d.graph.nodes
    for sym, n in nodes.items():
        if n.kind != "sum":
            continue
        body = d.node_body(sym)
        if not (isinstance(body, sp.exp) and isinstance(body.args[0], Shifted)):
            continue
        u, m = body.args[0].args
        mn = nodes.get(m)
        if mn is None or mn.kind != "max" or mn.axis != n.axis or d.node_body(m) != u:
            continue
        out.append(Normalizer(sym, m, u, sp.Symbol(n.axis)))
    return out


# ----------------------------------------------------------------------------- the rules
def log1p_normalizer(expr, nz: Normalizer):
    """log S -> log1p(s')."""
    return expr.xreplace({sp.log(nz.S): log1p(nz.rest)})


def _split_ratio(add, nz: Normalizer):
    """(K, R): add = K·e/S + R with R free of e and S, or None."""
    K, R = [], []
    for term in add.args:
        if term.has(nz.S) or term.has(nz.e):
            k = term * nz.S / nz.e
            if k.has(nz.S) or k.has(nz.e):
                return None
            K.append(k)
        else:
            R.append(term)
    if not K or not R:
        return None
    return sp.Add(*K), sp.Add(*R)


def ratio_offset(expr, nz: Normalizer, seed=None):
    """K·e/S + R -> (Shifted(K·e, -R) + R·s') / S: at a dominant class
    K·e + R is formed first (e = 1 there, exactly), so p - 1 = -s'/S.  An
    offset R holding the cotangent ``seed`` (log_softmax's g - p·Σg) is left
    alone: it does not cancel against K at the dominant class."""
    def rule(a):
        split = _split_ratio(a, nz)
        if split is None:
            return a
        K, R = split
        if seed is not None and R.has(seed):
            return a
        return (Shifted(K * nz.e, -R) + R * nz.rest) / nz.S

    return expr.replace(lambda a: isinstance(a, sp.Add), rule)


def _pivot_pair(add, nz: Normalizer):
    """(coef, h, term): add holds coef·RSum(h·e)/S and -coef·h, or None."""
    terms = list(add.args)
    for term in terms:
        sums = [f for f in sp.Mul.make_args(term) if isinstance(f, RSum) and f.args[1] == nz.axis]
        if len(sums) != 1:
            continue
        red = sums[0]
        rest = term / red * nz.S
        if rest.has(nz.S) or rest.has(nz.e):
            continue
        h = sp.cancel(red.args[0] / nz.e)
        if h.has(nz.e) or h.has(nz.S) or h.has(RSum):
            continue
        if (-rest * h) in terms or sp.expand(-rest * h) in terms:
            return rest, h, term, (-rest * h) if (-rest * h) in terms else sp.expand(-rest * h)
    return None


def vjp_pivot(expr, nz: Normalizer):
    """-c·h + c·Σ_c h e / S -> -c·(Shifted(h, G) + Σ_c e·Shifted(G, h) / S) with
    G = Σ_c [u = M] h / Σ_c [u = M], the mean of h over the maxima: at a single
    dominant class h - G = 0 exactly, and the rest is small terms only."""
    def rule(a):
        found = _pivot_pair(a, nz)
        if found is None:
            return a
        coef, h, t1, t2 = found
        G = RSum(nz.mask * h, nz.axis) / RSum(nz.mask, nz.axis)
        new = -coef * (Shifted(h, G) + RSum(nz.e * Shifted(G, h), nz.axis) / nz.S)
        return a - t1 - t2 + new

    return expr.replace(lambda a: isinstance(a, sp.Add), rule)


#: (name, rule) in the order they are applied
RULES = (("vjp_pivot", vjp_pivot), ("ratio_offset", ratio_offset), ("log1p_normalizer", log1p_normalizer))


def stabilize_normalizers(exprs: dict, nzs, trace: list | None = None, seed=None) -> dict:
    """Every rule, for every normalizer, on each expression of ``exprs``
    (``seed``: the cotangent symbol, see ``ratio_offset``)."""
    out = {}
    for k, e in exprs.items():
        for nz in nzs:
            for name, rule in RULES:
                new = rule(e, nz, seed) if rule is ratio_offset else rule(e, nz)
                if trace is not None and new != e:
                    trace.append((name, e, new))
                e = new
        out[k] = e
    return out


# ============================================================================= class-index targets
# A class-index target is seen by the formula as the one-hot t (r, c) and the
# row's validity v (0 where the target is ignore_index).  Written as products
# they are exact only for finite factors: Σ_c t_c·x_c is nan when any x_c of
# the row is nan (0·nan), and v·ℓ is nan for an ignored row holding a nan or
# an inf, where the definition selects (the one-hot picks one class, an
# ignored row contributes nothing) and torch gives -w_t·x_t and exactly 0.
# Three rules render the selection as a selection:
#
# * ``onehot_gather``  Σ_c t·f(x_c, w_c, ...) -> f(x_T, w_T, ...), with x_T =
#   x[row, target] and w_T = w[target] row inputs read by one gather per row
#   (O(1) per row instead of a pass over the classes);
# * ``valid_select``   v·E -> Where(v, E): E where the row is valid, else 0;
# * ``smoothing_select`` eps·Σ_c(...) -> Where(eps, eps·Σ_c(...)): the
#   label-smoothing term is absent at eps = 0 even for a -inf logit.
#
# All are identities wherever the product form is finite (t one-hot, v in
# {0, 1}); tests/test_reduce_stable.py proves them on every rendered
# expression with x_T, w_T bound to the target's elements.


class Where(sp.Function):
    """Where(v, e): e where v != 0, else 0 -- a selection, so that an ignored
    row's nan or inf does not leak through 0·e."""

    nargs = 2

    def _eval_is_real(self):
        return True

    def fdiff(self, argindex=2):
        if argindex == 2:
            return Where(self.args[0], sp.S.One)
        return sp.S.Zero

    def _eval_rewrite_as_Mul(self, v, e, **kw):
        return v * e

    def _symdl_kernel(self, printer):
        return "(%s if %s != %s else %s)" % (printer._print(self.args[1]), printer._print(self.args[0]),
                                             printer._print(sp.S.Zero), printer._print(sp.S.Zero))

    def _latex(self, printer, exp=None):
        return r"\left[%s \neq 0\right] %s" % (printer._print(self.args[0]),
                                                printer.parenthesize(self.args[1], 50))


@dataclass(frozen=True)
class TargetSelect:
    """The symbols of a class-index target in one derivation: the one-hot
    ``t``, the validity ``v`` and, for each (r, c) or (c) input that a gather
    reads, its row symbol at the target class (``gathered``: input -> row
    symbol)."""

    t: sp.Symbol
    v: sp.Symbol | None
    axis: sp.Symbol
    gathered: dict
    eps: sp.Symbol | None = None   # the label-smoothing weight, when the loss has it


def target_select(d) -> TargetSelect | None:
    """The one-hot target of a derivation, with a gathered row input
    (source ('gather', array, axes)) declared on its graph for every class
    input (x -> xT, w -> wT); None without a class-index target with a
    validity v (ignore_index)."""
    nodes = d.graph.nodes
    onehot = [s for s, n in nodes.items() if n.kind == "input" and n.source[0] == "onehot"]
    valid = [s for s, n in nodes.items() if n.kind == "input" and n.source[0] == "valid"]
    if not onehot or not valid:   # (only the class losses, whose runtime passes ignore_index: the
        return None               # gather's guard; a term loss's index target keeps its product form)
    gathered = {}
    for s, n in list(nodes.items()):
        if n.kind != "input" or n.source[0] != "array" or "c" not in n.axes:
            continue
        name = f"{s.name}T"
        sym = sp.Symbol(name, real=True)
        if sym not in nodes:
            d.graph.input(name, tuple(a for a in n.axes if a != "c"), source=("gather", n.source[1], n.axes))
        gathered[s] = sym
    eps = [s for s, n in nodes.items() if n.kind == "input" and n.source == ("scalar", "label_smoothing")]
    return TargetSelect(onehot[0], valid[0], sp.Symbol("c"), gathered,
                        eps[0] if eps else None)


def onehot_gather(expr, ts: TargetSelect):
    """Σ_c t·f -> f at the target class (every term of the sum's body must
    hold the factor t once; f's class inputs become their gathered row
    symbols, t itself 1)."""
    def at_target(red):
        if red.args[1] != ts.axis:
            return red
        terms = sp.Add.make_args(sp.expand(red.args[0], deep=False, mul=True, multinomial=False,
                                           power_exp=False, power_base=False, log=False, basic=False))
        out = []
        for term in terms:
            factors = sp.Mul.make_args(term)
            if factors.count(ts.t) != 1:
                return red
            f = sp.Mul(*[a for a in factors if a != ts.t])
            if f.has(ts.t) or f.has(RSum):
                return red
            out.append(f.xreplace(ts.gathered))
        return sp.Add(*out)

    return expr.replace(lambda a: isinstance(a, RSum), at_target)


def valid_select(expr, ts: TargetSelect):
    """v·E -> Where(v, E) for an output that is a product with the factor v."""
    if ts.v is None:
        return expr
    e = sp.factor_terms(expr) if not expr.is_Mul else expr
    if not e.is_Mul or ts.v not in e.args or (e / ts.v).has(ts.v):
        return expr
    return Where(ts.v, e / ts.v)


def smoothing_select(expr, ts: TargetSelect):
    """eps·Σ_c(...) -> Where(eps, eps·Σ_c(...)) for the label-smoothing
    weight eps: one kernel serves eps = 0 too, where the smoothing term
    Σ_c (x_c - M) is -inf for a -inf logit (a masked class) and 0·inf would
    be nan; the definition at eps = 0 has no such term (torch: finite)."""
    if ts.eps is None:
        return expr

    def rule(a):
        if ts.eps not in a.args or not any(f.has(RSum) for f in a.args):
            return a
        return Where(ts.eps, a)

    return expr.replace(lambda a: a.is_Mul and not isinstance(a, Where), rule)


#: (name, rule) for class-index targets, in the order they are applied
TARGET_RULES = (("onehot_gather", onehot_gather), ("smoothing_select", smoothing_select),
                ("valid_select", valid_select))


def select_target(exprs: dict, ts: TargetSelect | None, trace: list | None = None) -> dict:
    """The TARGET_RULES, in order, on each expression of ``exprs`` (unchanged
    without a class-index target)."""
    if ts is None:
        return dict(exprs)
    out = {}
    for k, e in exprs.items():
        for name, rule in TARGET_RULES:
            new = rule(e, ts)
            if trace is not None and new != e:
                trace.append((name, e, new))
            e = new
        out[k] = e
    return out
