"""Stable primitives that specs and the stabilizer may use, as SymPy functions.

Each primitive is defined by a plain formula (``definition``) and carries a
numerically stable implementation (``implementation``) that the code
generator expands before printing.  Their derivatives are *derived*: ``fdiff``
differentiates the definition with SymPy and maps the result back onto the
primitives; a test proves both the implementation and the derivative equal the
definition.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import sympy as sp
from sympy.codegen.cfunctions import expm1, log1p

__all__ = ["sigmoid", "softplus", "ncdf", "Erfc", "prod_err", "log1p", "expm1", "PRIMITIVES", "Rule",
           "FOLDING_RULES", "fold_primitives", "improve"]


class _Primitive(sp.Function):
    nargs = 1

    @classmethod
    def definition(cls, u):  # pragma: no cover - abstract
        raise NotImplementedError

    @classmethod
    def implementation(cls, u, let=lambda e: e):  # pragma: no cover - abstract
        """Stable formula; ``let(expr)`` may bind a subexpression to a symbol
        that the code generator computes once (e.g. a shared exp)."""
        raise NotImplementedError

    def _eval_is_real(self):
        return self.args[0].is_real

    def _eval_rewrite_as_exp(self, u, **kw):
        return self.definition(u)

    def _eval_evalf(self, prec):
        return self.definition(self.args[0])._eval_evalf(prec)

    def fdiff(self, argindex=1):
        s = sp.Dummy("s", real=True)
        raw = sp.diff(self.definition(s), s)
        # map the raw derivative back onto primitives (the folding rules below)
        return fold_primitives(raw).subs(s, self.args[0])


class sigmoid(_Primitive):
    r"""Logistic sigmoid :math:`\sigma(u) = 1/(1+e^{-u})`."""

    @classmethod
    def definition(cls, u):
        return 1 / (1 + sp.exp(-u))

    @classmethod
    def implementation(cls, u, let=lambda e: e):
        # one exp of a non-positive argument: never overflows
        e = let(sp.exp(-sp.Abs(u)))
        return sp.Piecewise((1 / (1 + e), u >= 0), (e / (1 + e), True))

    def _latex(self, printer, exp=None):
        s = r"\sigma\left(%s\right)" % printer._print(self.args[0])
        return s if exp is None else r"%s^{%s}" % (s, exp)

    def fdiff(self, argindex=1):
        # sigma' derived: exp(-u)/(1+exp(-u))^2, which the sigmoid rules map to
        # sigma(u) * sigma(-u) (stable for both signs, unlike sigma(1 - sigma)).
        return super().fdiff(argindex)


class softplus(_Primitive):
    r"""Softplus :math:`\log(1+e^{u})`."""

    @classmethod
    def definition(cls, u):
        return sp.log(1 + sp.exp(u))

    @classmethod
    def implementation(cls, u, let=lambda e: e):
        return sp.Max(u, 0) + log1p(let(sp.exp(-sp.Abs(u))))

    def _latex(self, printer, exp=None):
        s = r"\operatorname{softplus}\left(%s\right)" % printer._print(self.args[0])
        return s if exp is None else r"%s^{%s}" % (s, exp)


class prod_err(sp.Function):
    """The rounding error of the floating-point product a·b: exactly 0 in real
    arithmetic, and a·b − fl(a·b) in a kernel (Dekker's two-product).  Added
    by the ``trig_product`` rule so that sin(a·b) is evaluated as if a·b had
    not been rounded (sin is ill-conditioned for large arguments)."""

    nargs = 2

    @classmethod
    def eval(cls, a, b):
        if a.is_number and b.is_number:
            return sp.S.Zero

    def fdiff(self, argindex=1):
        return sp.S.Zero

    def _eval_rewrite_as_exp(self, a, b, **kw):
        return sp.S.Zero

    def _eval_evalf(self, prec):
        return sp.Float(0)

    def _latex(self, printer, exp=None):
        return r"\delta_{%s \cdot %s}" % (printer._print(self.args[0]), printer._print(self.args[1]))


class _AngleSum(sp.Function):
    """f(u + d) for a rounded angle u and its rounding error d (a double-word
    argument): kernels reduce u exactly and add d to the reduced angle, so
    the sum is never rounded back to u.  Made by the ``trig_product`` rule;
    ``to_definition`` gives f(u + d)."""

    nargs = 2
    func_name = ""

    def definition(self):
        return getattr(sp, self.func_name)(self.args[0] + self.args[1])

    def _eval_evalf(self, prec):
        return self.definition()._eval_evalf(prec)

    def _latex(self, printer, exp=None):
        s = r"\%s\left(%s + %s\right)" % (self.func_name, printer._print(self.args[0]),
                                           printer._print(self.args[1]))
        return s if exp is None else r"%s^{%s}" % (s, exp)


class SinSum(_AngleSum):
    """sin(u + d), d the rounding error of u (see _AngleSum)."""

    func_name = "sin"

    def fdiff(self, argindex=1):
        return CosSum(*self.args)


class CosSum(_AngleSum):
    """cos(u + d), d the rounding error of u (see _AngleSum)."""

    func_name = "cos"

    def fdiff(self, argindex=1):
        return -SinSum(*self.args)


class Erfc(sp.Function):
    """erfc that SymPy does not rewrite: ``sympy.erfc(-u)`` auto-evaluates to
    ``2 - erfc(u)``, which cancels catastrophically for large u.  Printed as
    erfc; only the code generator creates it."""

    nargs = 1

    def _eval_evalf(self, prec):
        return sp.erfc(self.args[0])._eval_evalf(prec)


class ncdf(_Primitive):
    r"""Standard normal CDF :math:`\Phi(u) = (1 + \operatorname{erf}(u/\sqrt2))/2`."""

    @classmethod
    def definition(cls, u):
        return (1 + sp.erf(u / sp.sqrt(2))) / 2

    @classmethod
    def implementation(cls, u, let=lambda e: e):
        # erfc of the negated argument: relative accuracy in the lower tail
        return Erfc(-u / sp.sqrt(2)) / 2

    def _latex(self, printer, exp=None):
        s = r"\Phi\left(%s\right)" % printer._print(self.args[0])
        return s if exp is None else r"%s^{%s}" % (s, exp)


PRIMITIVES = (sigmoid, softplus, ncdf)


def cosh_implementation(u, let=lambda e: e):
    """cosh(u) = (1 + E^2)/(2E) with E = exp(-|u|) <= 1: one exp, no overflow
    before the result itself overflows (then 1/cosh^2 is 0, as it should be)."""
    e = let(sp.exp(-sp.Abs(u)))
    return (1 + e * e) / (2 * e)


def to_definition(expr):
    """Replace every primitive (and log1p/expm1) by its plain definition."""
    out = expr
    for cls in PRIMITIVES:
        out = out.replace(lambda e: isinstance(e, cls), lambda e, c=cls: c.definition(e.args[0]))
    out = out.replace(lambda e: isinstance(e, log1p), lambda e: sp.log(1 + e.args[0]))
    out = out.replace(lambda e: isinstance(e, _AngleSum), lambda e: e.definition())
    out = out.replace(lambda e: isinstance(e, prod_err), lambda e: sp.S.Zero)
    out = out.replace(lambda e: isinstance(e, Erfc), lambda e: sp.erfc(e.args[0]))
    out = out.replace(lambda e: isinstance(e, expm1), lambda e: sp.exp(e.args[0]) - 1)
    return out


# ------------------------------------------------------------ folding rules
# A primitive's derivative is derived from its definition and folded back onto
# the primitives by the rules below (log(1+e^u) -> softplus(u), ...).  They are
# facts about the primitives, so they live here; symdl.derive.rules adds them
# to its stabilization table (the derivation stage imports the spec stage,
# never the other way round).

HAZARD_COST = 25


@dataclass(frozen=True)
class Rule:
    name: str
    doc: str
    hazards: Callable[[sp.Expr], int]
    apply: Callable[[sp.Expr], sp.Expr]

    def __call__(self, expr):
        return self.apply(expr)


def _count(pred):
    def hazards(expr):
        return sum(1 for e in sp.preorder_traversal(expr) if isinstance(e, sp.Basic) and pred(e))
    return hazards


def _is_one_plus(e, inner=None):
    """e == 1 + u (u not containing a bare 1); returns u or None."""
    if not e.is_Add:
        return None
    c, rest = e.as_coeff_Add()
    if c != 1 or rest == 0:
        return None
    if inner is not None and not inner(rest):
        return None
    return rest


# -- log(1 + exp(u)) -> softplus(u) -------------------------------------------------
def _softplus_match(e):
    return isinstance(e, sp.log) and _is_one_plus(e.args[0], lambda r: isinstance(r, sp.exp)) is not None


def _softplus_apply(expr):
    return expr.replace(_softplus_match, lambda e: softplus(_is_one_plus(e.args[0]).args[0]))


SOFTPLUS = Rule("softplus", "log(1 + exp(u)) -> softplus(u) = max(u,0) + log1p(exp(-|u|))",
                _count(_softplus_match), _softplus_apply)


# -- log(sigmoid(u)) -> -softplus(-u) ------------------------------------------------
def _logsig_match(e):
    return isinstance(e, sp.log) and isinstance(e.args[0], sigmoid)


def _logsig_apply(expr):
    return expr.replace(_logsig_match, lambda e: -softplus(-e.args[0].args[0]))


LOG_SIGMOID = Rule("log_sigmoid", "log(sigmoid(u)) -> -softplus(-u)", _count(_logsig_match), _logsig_apply)


# -- (1 + exp(v))^-k -> sigmoid(-v)^k, then exp(v) * sigmoid(-v) -> sigmoid(v) ---------
def _recip_match(e):
    return (e.is_Pow and e.exp.is_Integer and e.exp < 0
            and _is_one_plus(e.base, lambda r: isinstance(r, sp.exp)) is not None)


def _sigmoid_apply(expr):
    def recip(e):
        v = _is_one_plus(e.base).args[0]
        return sigmoid(-v) ** (-e.exp)

    out = expr.replace(_recip_match, recip)

    def merge(m):
        if not m.is_Mul:
            return m
        factors = list(m.args)
        changed = True
        while changed:
            changed = False
            for i, f in enumerate(factors):
                base, k = (f.base, f.exp) if f.is_Pow else (f, sp.S.One)
                if not isinstance(base, sp.exp) or not (k.is_Integer and k > 0):
                    continue
                v = base.args[0]
                for j, g in enumerate(factors):
                    gb, gk = (g.base, g.exp) if g.is_Pow else (g, sp.S.One)
                    if isinstance(gb, sigmoid) and sp.expand(gb.args[0] + v) == 0 and gk.is_Integer and gk > 0:
                        # exp(v) * sigmoid(-v) = sigmoid(v)
                        new = [h for t, h in enumerate(factors) if t not in (i, j)]
                        new += [sigmoid(v), base ** (k - 1), gb ** (gk - 1)]
                        factors = [h for h in new if h != 1]
                        changed = True
                        break
                if changed:
                    break
        return sp.Mul(*factors)

    return out.replace(lambda e: e.is_Mul, merge)


SIGMOID = Rule("sigmoid",
               "1/(1 + exp(v)) -> sigmoid(-v); exp(v)·sigmoid(-v) -> sigmoid(v) "
               "(so sigma' = sigma(u)·sigma(-u), stable for both signs)",
               _count(_recip_match), _sigmoid_apply)


#: The rules that recognize a primitive's definition in an expression.
FOLDING_RULES = (SOFTPLUS, LOG_SIGMOID, SIGMOID)


def improve(expr, rules, cost, trace: list | None = None):
    """Apply each rule of ``rules`` whose rewrite lowers ``cost(expr)``; repeat
    until none does (at most four rounds)."""
    current, best = expr, cost(expr)
    for _ in range(4):
        improved = False
        for rule in rules:
            if not rule.hazards(current):
                continue
            candidate = rule.apply(current)
            c = cost(candidate)
            if c < best:
                if trace is not None:
                    trace.append((rule.name, current, candidate))
                current, best, improved = candidate, c, True
        if not improved:
            break
    return current


def _folding_cost(expr) -> int:
    return sp.count_ops(expr) + HAZARD_COST * sum(r.hazards(expr) for r in FOLDING_RULES)


def fold_primitives(expr):
    """``expr`` with the primitives' definitions folded back into them."""
    return improve(expr, FOLDING_RULES, _folding_cost)
