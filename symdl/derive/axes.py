"""The vocabulary of reductions over named axes that the reverse-mode graph
(``graph``) and its simplification rules (``reduce_rules``) share: axis sizes,
declared constraints, which axes an expression varies along, unshifting.
(The atoms RSum, RMax, Shifted, ArgmaxMask are the specs': symdl.specs.softmax.)"""
from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from symdl.specs.softmax import RMax, RSum, Shifted


def unshift(expr):
    """Replace every Shifted(u, m) by u - m."""
    return expr.replace(lambda e: isinstance(e, Shifted), lambda e: e.args[0] - e.args[1])


def axis_size(axis: str) -> sp.Symbol:
    """The size of a named axis (N_c is the number of classes C)."""
    return sp.Symbol(f"N_{axis}", positive=True, integer=True)


@dataclass(frozen=True)
class Simplex:
    """Declared constraint of an input: sum over ``axis`` equals 1 (a
    probability distribution, or a one-hot class target)."""

    axis: str

    def latex(self, sym) -> str:
        return r"\sum_{%s} %s = 1" % (self.axis, sp.latex(sym))


def axes_of(expr, graph) -> frozenset:
    """The named axes an expression varies along."""
    if isinstance(expr, sp.Symbol):
        n = graph.nodes.get(expr)
        return frozenset(n.axes) if n is not None else frozenset()
    if isinstance(expr, (RSum, RMax)):
        return axes_of(expr.args[0], graph) - {expr.axis}
    if not expr.args:
        return frozenset()
    return frozenset().union(*[axes_of(a, graph) for a in expr.args])
