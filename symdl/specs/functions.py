"""Stable primitives that specs and the stabilizer may use, as SymPy functions.

Each primitive is defined by a plain formula (``definition``) and carries a
numerically stable implementation (``implementation``) that the code
generator expands before printing.  Their derivatives are *derived*: ``fdiff``
differentiates the definition with SymPy and maps the result back onto the
primitives; a test proves both the implementation and the derivative equal the
definition.
"""
from __future__ import annotations

import sympy as sp
from sympy.codegen.cfunctions import expm1, log1p

__all__ = ["sigmoid", "softplus", "ncdf", "Erfc", "prod_err", "log1p", "expm1", "PRIMITIVES"]


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
        # map the raw derivative back onto primitives (deferred import: derive
        # sits below specs, but rules only need this module's classes)
        from symdl.derive.rules import stabilize

        return stabilize(raw).subs(s, self.args[0])


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
