r"""``symdl verify --spec batch_norm --derivative "..."``: check a claimed
backward (dL/dx) or forward of a normalization spec.

The claim is written per element of one statistics group, in this
vocabulary (LaTeX or, with ``--sympy``, Python syntax):

  x  g (the upstream gradient dL/dy)  \gamma  \beta  \mu  \sigma (= sqrt(var + eps))
  \hat{x} (= (x - mu)/sigma)  \hat{g} (= gamma·g)  \varepsilon  N (elements per group)
  \operatorname{mean}(u) or \bar{u} (the mean over the group)

e.g. ``\frac{\gamma}{\sigma}\left(g - \operatorname{mean}(g) - \hat{x}\operatorname{mean}(g\hat{x})\right)``.
The claim becomes a formula of the derivation engine's own symbols; the
reduction rules and SymPy decide equality with the derived gradient
(``holds``); otherwise both are evaluated on random groups at 30 digits and a
disagreement is a counterexample (``refuted``).
"""
from __future__ import annotations

import random

import sympy as sp

from .check import HOLDS, HOLDS_NUM, REFUTED, UNDECIDED, Verdict
from .lexer import ParseError
from .nodes import Node, render

__all__ = ["verify_norm_spec", "VOCABULARY"]

VOCABULARY = ("x", "g", "gamma", "beta", "mu", "sigma", "xhat", "ghat", "epsilon", "N", "mean")
_FUNCS = {"mean": "mean", "sqrt": "sqrt"}


def _symbols(d):
    from symdl.specs.normalization import mean_over
    from symdl.specs.softmax import Shifted

    spec = d.spec
    x, w, b, g = spec.x, spec.weight, spec.bias, d.seed
    eps = sp.Symbol("eps", real=True)
    sigma = sp.sqrt(d.var_node / d.count + eps)
    mu = d.mean_node / d.count if d.mean_node is not None else sp.S.Zero
    xhat = (Shifted(x, mu) if d.mean_node is not None else x) / sigma
    table = {"x": x, "g": g, "gamma": w, "beta": b, "mu": mu, "sigma": sigma, "xhat": xhat,
             "ghat": g * w, "epsilon": eps, "varepsilon": eps, "eps": eps, "N": d.count,
             "M": d.count, "m": d.count}
    return table, (lambda u: mean_over(u, spec.stat_axes))


class _Convert:
    def __init__(self, table, mean):
        self.table, self.mean = table, mean

    def sym(self, name):
        if name in self.table:
            return self.table[name]
        if name.endswith("bar") and name[:-3] in self.table:      # \bar{g}: the mean of g
            return self.mean(self.table[name[:-3]])
        raise ValueError(f"unknown symbol {name!r}; the vocabulary is {', '.join(VOCABULARY)}")

    def __call__(self, n: Node):
        k, a = n.k, n.a
        if k == "num":
            return sp.Rational(a[0])
        if k == "sym":
            return self.sym(a[0])
        if k == "const":
            return sp.E if a[0] == "E" else sp.pi
        if k == "add":
            return self(a[0]) + self(a[1])
        if k == "sub":
            return self(a[0]) - self(a[1])
        if k == "neg":
            return -self(a[0])
        if k == "div":
            return self(a[0]) / self(a[1])
        if k == "pow":
            return self(a[0]) ** self(a[1])
        if k == "mul":
            return self.mul(a[0], a[1])
        if k in ("spec", "func") and a[0] in ("mean", "sqrt"):
            args = a[-1]
            if len(args) != 1:
                raise ValueError(f"{a[0]} takes one argument")
            return self.mean(self(args[0])) if a[0] == "mean" else sp.sqrt(self(args[0]))
        raise ValueError(f"cannot interpret {render(n)!r} in a normalization claim")

    def mul(self, left, right):
        """LaTeX reads \\operatorname{mean}(u) as the symbol mean times (u): the
        factor right after a 'mean' is its argument."""
        if left.k == "sym" and left.a[0] == "mean":
            return self.mean(self(right))
        if left.k == "mul" and _ends_with_mean(left):
            return self(left.a[0]) * self.mul(left.a[1], right)
        return self(left) * self(right)


def _ends_with_mean(n):
    while n.k == "mul":
        n = n.a[1]
    return n.k == "sym" and n.a[0] == "mean"


def _numeric(d, claim, truth, trials=4, group=5):
    """Both formulas on random groups of ``group`` elements (every statistics
    axis but the first has size 1), 30 digits; (worst gap, counterexample)."""
    import mpmath as mp

    from symdl.specs.softmax import RSum, Shifted

    spec = d.spec
    first, *rest = spec.stat_axes
    sizes = {sp.Symbol(f"N_{first}", positive=True, integer=True): group}
    sizes.update({sp.Symbol(f"N_{a}", positive=True, integer=True): 1 for a in rest})
    per_elem = {"x", "g"} | ({"weight", "bias"} if set(spec.affine_axes) & set(spec.stat_axes) else set())
    rng = random.Random(1)
    worst, example = 0.0, None
    with mp.workdps(30):
        for _ in range(trials):
            vals = {n: [mp.mpf(rng.gauss(0, 1)) * 2 + 0.3 for _ in range(group)] for n in per_elem}
            row = {n: mp.mpf(rng.gauss(0, 1)) for n in ("weight", "bias") if n not in per_elem}
            eps = mp.mpf("1e-5")
            xs = vals["x"]
            S1 = mp.fsum(xs)
            S2 = mp.fsum((v - S1 / group) ** 2 for v in xs) if d.mean_node is not None else \
                mp.fsum(v * v for v in xs)

            def ev(e, i):
                if isinstance(e, RSum):
                    body = e.args[0]
                    while isinstance(body, RSum):
                        body = body.args[0]
                    return mp.fsum(ev(body, j) for j in range(group))
                if isinstance(e, Shifted):
                    return ev(e.args[0], i) - ev(e.args[1], i)
                if e.is_Symbol:
                    n = e.name
                    if n in vals:
                        return vals[n][i]
                    if n in row:
                        return row[n]
                    if n == "eps":
                        return eps
                    if d.mean_node is not None and e == d.mean_node:
                        return S1
                    if e == d.var_node:
                        return S2
                    raise KeyError(n)
                if e.is_Number:
                    return mp.mpf(sp.Rational(e).p) / sp.Rational(e).q if e.is_Rational else mp.mpf(float(e))
                if e.is_Add:
                    return mp.fsum(ev(a, i) for a in e.args)
                if e.is_Mul:
                    out = mp.mpf(1)
                    for a in e.args:
                        out *= ev(a, i)
                    return out
                if e.is_Pow:
                    return mp.power(ev(e.base, i), ev(e.exp, i))
                if e.func == sp.exp:
                    return mp.exp(ev(e.args[0], i))
                raise NotImplementedError(type(e))

            c, t = claim.xreplace(sizes), truth.xreplace(sizes)
            for i in range(group):
                a, b = ev(c, i), ev(t, i)
                gap = abs(a - b) / (1 + abs(b))
                if gap > worst:
                    worst = float(gap)
                    point = {"element": i, "x": [round(float(v), 6) for v in xs],
                             "g": [round(float(v), 6) for v in vals["g"]]}
                    point.update({k: round(float(v), 6) for k, v in row.items()})
                    example = {"point": point, "lhs": mp.nstr(a, 12), "rhs": mp.nstr(b, 12),
                               "difference": mp.nstr(a - b, 6)}
    return worst, example


def verify_norm_spec(name, *, forward=None, derivative=None, sympy_syntax=False) -> list:
    import symdl.specs as S
    from symdl.derive.normalization import derive_norm
    from symdl.derive.reduce_rules import ReductionSimplifier

    spec = S.get(name, family="normalization")
    d = derive_norm(spec)
    table, mean = _symbols(d)
    simp = ReductionSimplifier(d.graph)
    out = []
    for kind, text in (("forward", forward), ("derivative", derivative)):
        if text is None:
            continue
        truth = d.graph.inline(d.out) if kind == "forward" else d.grads[spec.x]
        label = f"{name} {'forward' if kind == 'forward' else 'dL/dx'} = {text}"
        v = Verdict(UNDECIDED, claim=label)
        try:
            from .parse import parse_claim
            ast, _ = parse_claim(text, sympy_syntax=sympy_syntax, functions=_FUNCS, expression=True)
            v.reading = render(ast)
            claim = _Convert(table, mean)(ast)
        except ParseError as err:
            v.reason = f"cannot parse: {err.message}"
            out.append(v)
            continue
        except ValueError as err:
            v.reason = f"cannot interpret: {err}"
            out.append(v)
            continue
        diff = sp.simplify(simp(claim - truth))
        if diff == 0:
            v.status, v.method = HOLDS, "reduction rules + SymPy"
            v.reason = "equals the gradient derived by the reduction engine"
        else:
            worst, example = _numeric(d, claim, truth)
            v.worst = worst
            if worst > 1e-20:
                v.status, v.method = REFUTED, "numeric, 30 digits"
                v.reason = f"differs from the derived gradient by up to {worst:.3g} (relative)"
                v.counterexample = example
            else:
                v.status, v.method = HOLDS_NUM, "random groups at 30 digits (symbolic simplification inconclusive)"
                v.reason = "agrees with the derived gradient on random groups"
        out.append(v)
    return out
