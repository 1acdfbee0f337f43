"""Reduction atoms and the softmax family as specs.

A reduction spec is a formula over *named axes*: a symbol such as ``x`` is one
element x[r, c] of a tensor viewed as rows r (every axis but ``dim``) and
classes c (the axis ``dim``); ``RSum(body, c)`` sums over c.  The formula is
the plain textbook definition (no max-shift: that is the derivation engine's
``logsumexp_shift`` rule); derivatives come from ``symdl.derive.graph``.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass

import sympy as sp

from .base import Param
from .functions import sigmoid

__all__ = ["RSum", "RMax", "ArgmaxMask", "Shifted", "R", "C", "VectorSpec", "SOFTMAX_SPECS",
           "softmax", "log_softmax", "softmin", "logsumexp", "glu", "maxout", "DIM"]

#: the axis symbols: rows (every axis but dim, flattened) and classes (dim)
R = sp.Symbol("r")
C = sp.Symbol("c")


# --------------------------------------------------------------------------- atoms
class _Reduction(sp.Function):
    """A reduction over the named axis ``args[1]`` (an ``sp.Symbol``) of ``args[0]``."""

    nargs = 2
    _template = ""  # LaTeX with slots for the axis and the body
    _parenthesize = False  # wrap an Add body in parentheses (the template has none)

    @property
    def body(self):
        return self.args[0]

    @property
    def axis(self) -> str:
        return self.args[1].name

    def _latex(self, printer, exp=None):
        body = printer.parenthesize(self.args[0], 50) if self._parenthesize else printer._print(self.args[0])
        s = self._template % (printer._print(self.args[1]), body)
        return s if exp is None else r"\left(%s\right)^{%s}" % (s, exp)


class RSum(_Reduction):
    """sum over the named axis of ``body``."""

    _template = r"\sum_{%s} \left(%s\right)"


class RMax(_Reduction):
    """max over the named axis of ``body``."""

    _template = r"\max_{%s} %s"
    _parenthesize = True


class ArgmaxMask(sp.Function):
    """[x = m]: 1 where the element equals the max m, else 0 (piecewise
    constant: zero derivative)."""

    nargs = 2

    def fdiff(self, argindex=1):
        return sp.S.Zero

    def _eval_is_real(self):
        return True

    def _symdl_kernel(self, printer):
        return "(%s if %s == %s else %s)" % (printer._print(sp.S.One), printer._print(self.args[0]),
                                             printer._print(self.args[1]), printer._print(sp.S.Zero))

    def _latex(self, printer, exp=None):
        return r"\mathbb{1}\left[%s = %s\right]" % (printer._print(self.args[0]), printer._print(self.args[1]))


class Shifted(sp.Function):
    """u - m kept as one atom: the max-shifted argument of exp.  Keeping it
    whole means kernels compute the difference first (exactly, or rounded
    relative to itself) and linearity does not split it into u and m."""

    nargs = 2

    def fdiff(self, argindex=1):
        return sp.S.One if argindex == 1 else sp.S.NegativeOne

    def _eval_is_real(self):
        return True

    def _eval_evalf(self, prec):
        return (self.args[0] - self.args[1])._eval_evalf(prec)

    def _eval_rewrite_as_Add(self, u, m, **kw):
        return u - m

    def _symdl_kernel(self, printer):
        return "(%s - %s)" % (printer._print(self.args[0]), printer.parenthesize(self.args[1], 50))

    def _latex(self, printer, exp=None):
        s = r"\left(%s - %s\right)" % (printer._print(self.args[0]), printer._print(self.args[1]))
        return s if exp is None else r"%s^{%s}" % (s, exp)



#: the ``dim`` parameter of every softmax-family spec (torch's default differs
#: per function; symdl uses dim=-1 like torch's recommended explicit call)
DIM = Param("dim", -1, kind="axis", doc="the axis reduced over (negative counts from the end)")


@dataclass(frozen=True, eq=False)
class VectorSpec:
    """A softmax-family function of x[r, c], reduced over c (``dim``).

    expr: the definition in ``x`` (axes r, c) with RSum over ``C``.
    out_axes: ("r", "c") for a map (softmax) or ("r",) for a reduction
        (logsumexp: the output loses ``dim``).
    """

    name: str
    expr: sp.Expr
    out_axes: tuple = ("r", "c")
    params: tuple = (DIM,)
    source: str = ""
    torch: str | None = None
    doc: str = ""
    family: str = "softmax"
    #: how the runtime views the input as (rows, classes): "dim" (c = the
    #: axis dim), "halves" (c = which half of dim: glu), "pool" (c = the
    #: position inside a group of pool_size along dim: maxout)
    layout: str = "dim"
    #: further inputs of the formula: (symbol name, axes, source), e.g. the
    #: class selector [c = 0] of glu
    extra_inputs: tuple = ()

    @property
    def x(self) -> sp.Symbol:
        return sp.Symbol("x", real=True)

    def variants(self) -> list[dict]:
        return [{}]

    def param(self, name):
        for p in self.params:
            if p.name == name:
                return p
        raise KeyError(name)

    def definition(self, variant=None) -> sp.Expr:
        return self.expr

    def content_hash(self) -> str:
        parts = [self.name, self.family, repr(self.out_axes), sp.srepr(self.expr),
                 repr([(p.name, p.default, p.kind) for p in self.params])]
        if self.layout != "dim" or self.extra_inputs:
            parts += [self.layout, repr(self.extra_inputs)]
        return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


def _x():
    return sp.Symbol("x", real=True)


def _log_softmax(u):
    return u - sp.log(RSum(sp.exp(u), C))


def _softmax(u):
    return sp.exp(u) / RSum(sp.exp(u), C)


SEEDS = "seed 000 (softmax output layer), seed 001 §6 (softmax, log-sum-exp), seed 002 §6.2.2.3, seed 003"

softmax = VectorSpec(
    "softmax", _softmax(_x()), source=SEEDS + "; softmax(x)_c = e^{x_c} / sum_k e^{x_k}",
    torch="torch.nn.functional.softmax", doc="Normalized exponentials along dim.")
log_softmax = VectorSpec(
    "log_softmax", _log_softmax(_x()), source=SEEDS + "; log_softmax = x - log sum exp x",
    torch="torch.nn.functional.log_softmax", doc="Logarithm of softmax, computed without forming softmax.")
softmin = VectorSpec(
    "softmin", _softmax(-_x()), source=SEEDS + "; softmin(x) = softmax(-x)",
    torch="torch.nn.functional.softmin", doc="softmax(-x) along dim.")
logsumexp = VectorSpec(
    "logsumexp", sp.log(RSum(sp.exp(_x()), C)), out_axes=("r",),
    source=SEEDS + "; LSE(x) = log sum_c exp(x_c)", torch="torch.logsumexp",
    doc="log of the sum of exponentials along dim (dim is removed).")

#: glu: the two halves a, b of dim picked by selectors [c = 0], [c = 1]
#: (inputs of the formula: the input viewed as (rows, 2) by the runtime)
_s0, _s1 = sp.Symbol("s0", real=True), sp.Symbol("s1", real=True)
glu = VectorSpec(
    "glu", RSum(_s0 * _x(), C) * sigmoid(RSum(_s1 * _x(), C)), out_axes=("r",),
    layout="halves", extra_inputs=(("s0", ("c",), ("cindex", 0)), ("s1", ("c",), ("cindex", 1))),
    source="Dauphin et al., Language Modeling with Gated Convolutional Networks (2017)",
    torch="torch.nn.functional.glu",
    doc="a * sigmoid(b) where a, b are the first and second half of x along dim (torch: dim=-1).")
maxout = VectorSpec(
    "maxout", RMax(_x(), C), out_axes=("r",), layout="pool",
    params=(Param("dim", 1, kind="axis", doc="the channel axis"),
            Param("pool_size", 2, kind="int", doc="channels per group (dim's size must divide by it)")),
    source="Goodfellow et al., Maxout Networks (2013)", torch=None,
    doc="max over consecutive groups of pool_size channels along dim (C -> C / pool_size); "
        "the gradient of a tie is split evenly between the maxima (torch.amax's convention).")

SOFTMAX_SPECS = (softmax, log_softmax, softmin, logsumexp, glu, maxout)
