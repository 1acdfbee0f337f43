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
           "ratio_offset", "vjp_pivot"]


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
