"""Simplification rules for reductions (linearity, folding, constraints).

Applied to every cotangent the reverse mode produces (``Graph.backward``):

* ``linearity``   sum_a (u + v) = sum_a u + sum_a v;  sum_a (k·u) = k·sum_a u
                  when k does not vary along a;  sum_a k = N_a·k;
* ``fold``        a sum (or max) whose body is the body of a reduction node
                  becomes that node (sum_c exp(z_c - m) is s: computed once);
* ``constraint``  a declared constraint of an input: sum_c y = 1 (Simplex);
* ``centered``    a sum of a kept-whole difference u - m (``Shifted``) is 0
                  when, written out, the rules above cancel it:
                  sum_a (x - mean_a x) = sum_a x - N_a·mean_a x = 0.  Otherwise
                  the difference stays whole (it is the accurate one).

With these, sum_c p_c = sum_c e_c/s = s/s = 1 for a softmax, and the
cotangent of a max used as a shift cancels to 0 by itself.
"""
from __future__ import annotations

import sympy as sp

from symdl.specs.softmax import RMax, RSum, Shifted

from .axes import Simplex, axes_of, axis_size, unshift

__all__ = ["ReductionSimplifier", "expand_linear", "RULE_DOCS"]

RULE_DOCS = {
    "linearity": r"\sum_a (k u + v) = k \sum_a u + \sum_a v \ (k \text{ constant along } a),\ "
                 r"\sum_a k = N_a k",
    "fold": r"\sum_a b = s \text{ when a node computes } s = \sum_a b",
    "constraint": r"\sum_c y_c = 1 \text{ for a declared distribution / one-hot target}",
    "centered": r"\sum_a (u - m) = \sum_a u - N_a m = 0 \text{ when } m = \tfrac{1}{N_a}\sum_a u",
}


def expand_linear(e):
    """Distribute products over sums at the top level only (never inside exp,
    log or powers: exp(a - b) must stay one exp)."""
    return sp.expand(e, deep=False, mul=True, multinomial=False, power_exp=False,
                     power_base=False, log=False, basic=False)


def tidy(e):
    """Combine like terms (expand the top level, so eps·a + (1 - eps)·a = a),
    then pull common factors out (g/N · (p - y))."""
    e = sp.expand(e, deep=True, mul=True, multinomial=False, power_exp=False, power_base=False,
                  log=False, basic=False)
    return sp.factor_terms(e)


class ReductionSimplifier:
    """Callable: canonical form of a cotangent -- elementwise nodes inlined,
    reduction nodes kept as symbols, RSum/RMax reduced by the rules."""

    def __init__(self, graph, trace: list | None = None, expand: bool = True):
        self.graph = graph
        self.trace = trace
        self.expand = expand   # False: keep the rule results' structure (term losses)
        self.fold = {}
        self.ones = set()
        for n in graph.nodes.values():
            if n.kind in ("sum", "mean", "max"):
                body = graph.inline(n.operand)
                kind = "max" if n.kind == "max" else "sum"
                val = n.sym * axis_size(n.axis) if n.kind == "mean" else n.sym
                for term in ([body] if kind == "max" else [expand_linear(body)]):
                    self.fold.setdefault((kind, term, n.axis), val)
            for c in n.constraints:
                if isinstance(c, Simplex):
                    self.ones.add((n.sym, c.axis))

    def _note(self, rule, before, after):
        if self.trace is not None and before != after:
            self.trace.append((rule, before, after))

    def reduce_sum(self, red):
        ax = red.axis
        out = []
        for term in sp.Add.make_args(expand_linear(red.body)):
            inside, outside = [], []
            for f in sp.Mul.make_args(term):
                (inside if ax in axes_of(f, self.graph) else outside).append(f)
            k = sp.Mul(*outside)
            if not inside:
                out.append(axis_size(ax) * k)
                continue
            p = sp.Mul(*inside)
            if self._centered(p, red.args[1]):
                self._note("centered", RSum(p, red.args[1]), sp.S.Zero)
                continue
            if (p, ax) in self.ones:
                self._note("constraint", RSum(p, red.args[1]), sp.S.One)
                out.append(k)
            elif ("sum", p, ax) in self.fold:
                self._note("fold", RSum(p, red.args[1]), self.fold[("sum", p, ax)])
                out.append(k * self.fold[("sum", p, ax)])
            else:
                out.append(k * RSum(p, red.args[1]))
        result = sp.Add(*out)
        self._note("linearity", red, result)
        return result

    def _centered(self, p, axis) -> bool:
        """sum_a p = 0 for a body p made of kept-whole differences (Shifted)
        that the rules cancel once written out (Sigma (x - mean x) = 0)."""
        if not p.has(Shifted) or not (p.is_Add or p.is_Symbol or isinstance(p, (Shifted, RSum))):
            return False
        trace, self.trace = self.trace, None
        try:
            trial = self.reduce(unshift(RSum(p, axis)))
            if trial.has(RSum, RMax):
                trial = self.reduce(trial)
            return tidy(trial) == 0
        finally:
            self.trace = trace

    def reduce_max(self, red):
        if red.axis not in axes_of(red.body, self.graph):
            return red.body
        return self.fold.get(("max", red.body, red.axis), red)

    def reduce(self, expr):
        if not expr.has(RSum, RMax):
            return expr
        return expr.replace(lambda e: isinstance(e, (RSum, RMax)),
                            lambda e: self.reduce_sum(e) if isinstance(e, RSum) else self.reduce_max(e))

    def __call__(self, expr):
        e = self.reduce(self.graph.inline(sp.sympify(expr)))
        if e.has(RSum, RMax):   # a reduced body may expose new foldable sums
            e = self.reduce(e)
        return tidy(e) if self.expand else sp.factor_terms(e)


# ----------------------------------------------------------------------------- stabilization
def _summed_exps(expr):
    """Every RSum(exp(u), a) in expr whose u is not already max-shifted."""
    return sorted({e for e in sp.preorder_traversal(expr)
                   if isinstance(e, RSum) and isinstance(e.body, sp.exp)
                   and not e.body.args[0].has(Shifted)}, key=sp.default_sort_key)


def _has_pair(add, u, m):
    terms = add.args
    return (u in terms or (u.is_Add and all(t in terms for t in u.args))) and -m in terms


def _group(add, u, m):
    rest = add - u + m
    return rest + Shifted(u, m)


def shift_logsumexp(expr, trace: list | None = None):
    """The max-shift rule: with M = max_a u,

        sum_a exp(u) = exp(M) · sum_a exp(u - M),   exp(u) = exp(M) · exp(u - M),
        log(exp(M) · S) = M + log(S),

    so no exp ever sees a positive argument (exp(M) cancels in ratios and
    leaves logs as a sum).  The rewrite is an identity for every M; the engine
    later proves that M's cotangent is 0 (tests check both)."""
    out = expr
    for red in _summed_exps(expr):
        u, ax = red.body.args[0], red.args[1]
        m = RMax(u, ax)
        s = RSum(sp.exp(Shifted(u, m)), ax)
        before = out
        out = out.replace(lambda e: isinstance(e, sp.log) and e.args[0] == red, lambda e: m + sp.log(s))
        out = out.xreplace({red: sp.exp(m) * s})
        out = out.replace(lambda e: isinstance(e, sp.exp) and e.args[0] == u,
                          lambda e: sp.exp(m) * sp.exp(Shifted(u, m)))
        # u - M left in a sum (log-softmax: u - M - log S) becomes Shifted(u, M)
        out = out.replace(lambda e: e.is_Add and _has_pair(e, u, m), lambda e: _group(e, u, m))
        if trace is not None:
            trace.append(("logsumexp_shift", before, out))
    return out

