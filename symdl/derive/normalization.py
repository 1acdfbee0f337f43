"""Derivation of the normalization specs through the reduction engine.

One graph per spec over the spec's named axes (batch norm: n, c, s; layer
norm: n, d; group norm: n, g, j, s; ...).  Before the derivation the rule
``center`` keeps every x - mean(x) of the formula whole (``Shifted``, the
same atom the max-shift uses): kernels compute the difference first (the
two-pass variance, accurate when |mean| >> std), and linearity does not split
it.  Reverse mode then applies the engine's VJP rules node by node, and the
reduction rules simplify each cotangent; the rule ``centered``
(sum_a (x - mean x) = 0) removes the mean's indirect terms, which leaves the
compact textbook backward

    dx = weight/sigma · (g - mean(g) - x̂·mean(g·x̂)),   x̂ = (x - mean x)/sigma,

with dweight = sum g·x̂ and dbias = sum g over the axes the affine lacks.
``compact_form`` builds that textbook expression from the derivation's own
symbols so a test can prove it is what came out.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import sympy as sp

from symdl.specs.normalization import count, mean_over
from symdl.specs.softmax import RSum, Shifted

from .graph import Backward, Graph, unshift
from .reduce_rules import ReductionSimplifier

__all__ = ["NormDerivation", "derive_norm", "center", "compact_form"]


def center(expr, x, axes):
    """Rule ``center``: every x - mean_axes(x) in expr becomes Shifted(x, mean)
    (an identity; the atom only fixes the order of evaluation)."""
    m = mean_over(x, axes)
    return expr.xreplace({x - m: Shifted(x, m)})


@dataclass
class NormDerivation:
    spec: object
    graph: Graph
    definition: sp.Expr
    stable: sp.Expr             # after the center rule
    out: sp.Symbol
    seed: sp.Symbol
    backward: Backward
    grads: dict                 # input symbol -> its gradient (times g), simplified
    mean_node: sp.Symbol | None  # sum node of x over the statistics axes (None: RMS)
    var_node: sp.Symbol         # sum node of (x - mean)^2 (RMS: of x^2)
    trace: list = field(default_factory=list)
    eval_mode: bool = False     # statistics are inputs (running estimates)

    @property
    def x(self):
        return self.spec.x

    @property
    def count(self):
        """Elements per statistic (1 in eval mode: the inputs are the mean and variance)."""
        return sp.S.One if self.eval_mode else count(self.spec.stat_axes)

    @property
    def forward_expr(self):
        return self.graph.inline(self.out)

    def stat_symbols(self):
        """The saved statistics as symbols: mean and rstd (1/sigma)."""
        return sp.Symbol("mean", real=True), sp.Symbol("rstd", positive=True)

    def to_saved(self, expr):
        """expr with the statistics' sum nodes written through the saved
        statistics: sum x = M·mean, sum (x - mean)^2 = M·(rstd^-2 - eps)."""
        mean, rstd = self.stat_symbols()
        rep = {self.var_node: self.count * (rstd ** -2 - sp.Symbol("eps", real=True))}
        if self.mean_node is not None:
            rep[self.mean_node] = self.count * mean
        out = self.graph.inline(expr).xreplace(rep)
        return sp.powsimp(out, force=True)

    def rstd_expr(self, var):
        """rstd as a function of a variance value (the formula's own root)."""
        return (self.graph.inline(self.var_node_root())).xreplace({self.var_node: self.count * var})

    def var_node_root(self):
        return 1 / sp.sqrt(self.var_node / self.count + self.spec.eps)


_CACHE: dict = {}


def _sum_chain(graph, body_sym, axes):
    """The node computing the nested sum of ``body_sym`` over ``axes`` (first innermost)."""
    cur = body_sym
    for a in axes:
        nxt = [s for s, n in graph.nodes.items() if n.kind == "sum" and n.operand == cur and n.axis == a]
        if not nxt:
            return None
        cur = nxt[0]
    return cur


def derive_norm(spec) -> NormDerivation:
    if spec.name in _CACHE and _CACHE[spec.name].spec is spec:
        return _CACHE[spec.name]
    graph = Graph(spec.axes)
    x = graph.input("x", spec.axes, differentiable=True, source=("array", "input"))
    w = graph.input("weight", spec.affine_axes, differentiable=True, source=("array", "weight"))
    wrt = [x, w]
    if spec.has_bias:
        wrt.append(graph.input("bias", spec.affine_axes, differentiable=True, source=("array", "bias")))
    graph.input("eps", (), source=("scalar", "eps"))
    for a in spec.axes:
        graph.size(a)
    seed = graph.input("g", spec.axes, source=("array", "grad"))
    definition = spec.formula().xreplace({spec.eps: sp.Symbol("eps", real=True)})
    eps_sym = sp.Symbol("eps", real=True)
    trace = []
    stable = center(definition, x, spec.stat_axes) if spec.centered else definition
    if stable != definition:
        trace.append(("center", definition, stable))
    out = graph.from_expr("out", stable)
    simp = ReductionSimplifier(graph, trace=trace)
    bw = graph.backward(out, seed, wrt=wrt, simplify=simp)
    # the statistics' nodes
    mean_node = _sum_chain(graph, x, spec.stat_axes) if spec.centered else None
    sq = [s for s, n in graph.nodes.items() if n.kind == "elementwise"
          and unshift(n.expr) in ((x - mean_node / count(spec.stat_axes)) ** 2 if spec.centered
                                  else x ** 2,)]
    var_node = _sum_chain(graph, sq[0], spec.stat_axes) if sq else None
    if var_node is None:
        raise RuntimeError(f"{spec.name}: no variance node in the graph")
    d = NormDerivation(spec, graph, definition, stable, out, seed, bw, dict(bw.grads), mean_node,
                       var_node, trace)
    d.spec_eps = eps_sym
    _CACHE[spec.name] = d
    return d


def derive_norm_eval(spec) -> NormDerivation:
    """Eval mode of a spec with running estimates: ``spec.eval_formula()``
    with running_mean, running_var as (non-differentiable) inputs per channel,
    differentiated by the same engine."""
    key = spec.name + ":eval"
    if key in _CACHE and _CACHE[key].spec is spec:
        return _CACHE[key]
    graph = Graph(spec.axes)
    x = graph.input("x", spec.axes, differentiable=True, source=("array", "input"))
    w = graph.input("weight", spec.affine_axes, differentiable=True, source=("array", "weight"))
    wrt = [x, w]
    if spec.has_bias:
        wrt.append(graph.input("bias", spec.affine_axes, differentiable=True, source=("array", "bias")))
    rm = graph.input("running_mean", spec.affine_axes, source=("array", "running_mean"))
    rv = graph.input("running_var", spec.affine_axes, source=("array", "running_var"))
    graph.input("eps", (), source=("scalar", "eps"))
    for a in spec.axes:
        graph.size(a)
    seed = graph.input("g", spec.axes, source=("array", "grad"))
    eps = sp.Symbol("eps", real=True)
    definition = spec.eval_formula().xreplace({spec.eps: eps,
                                               sp.Symbol("running_var", nonnegative=True): rv})
    # rule center: x - running_mean kept whole as well
    stable = definition.xreplace({x - rm: Shifted(x, rm)})
    trace: list = [("center", definition, stable)]
    out = graph.from_expr("out", stable)
    bw = graph.backward(out, seed, wrt=wrt, simplify=ReductionSimplifier(graph, trace=trace))
    d = NormDerivation(spec, graph, definition, stable, out, seed, bw, dict(bw.grads), rm, rv,
                       trace, eval_mode=True)
    _CACHE[key] = d
    return d


def compact_form(d: NormDerivation) -> dict:
    """The textbook backward in the derivation's own symbols: with
    ĝ = g·weight (the cotangent of x̂),
    dx = (ĝ - mean(ĝ) - x̂·mean(ĝ·x̂))/sigma, dw = sum g·x̂, db = sum g
    (RMS: x̂ = x/sigma, no mean(ĝ) term).  When the weight is constant over
    the statistics (batch and instance norm) the rules pull it out:
    dx = weight/sigma·(g - mean(g) - x̂·mean(g·x̂))."""
    spec, g = d.spec, d.seed
    x, w = sp.Symbol("x", real=True), sp.Symbol("weight", real=True)
    eps = sp.Symbol("eps", real=True)
    sigma = sp.sqrt(d.var_node / d.count + eps)
    axes = spec.stat_axes
    gh = g * w     # the cotangent of x̂
    if spec.centered:
        xhat = Shifted(x, d.mean_node / d.count) / sigma
        dx = (gh - mean_over(gh, axes) - xhat * mean_over(gh * xhat, axes)) / sigma
    else:
        xhat = x / sigma
        dx = (gh - xhat * mean_over(gh * xhat, axes)) / sigma
    other = [a for a in spec.axes if a not in spec.affine_axes]

    def total(u):
        for a in other:
            u = RSum(u, sp.Symbol(a))
        return u

    out = {"x": dx, "weight": total(g * xhat)}
    if spec.has_bias:
        out["bias"] = total(g)
    return out
