"""A small tensor IR over SymPy with named axes, and reverse mode over it.

Values are *per-element* SymPy expressions: a symbol stands for one element of
a tensor whose axes are recorded in the graph (``z`` over ("r", "c") is
z[r, c]); operands broadcast by axis name.  Three node kinds:

* ``input``       -- an array (or scalar/size) the kernel loads; may carry
  declared constraints, e.g. ``Simplex("c")``: sum_c y = 1;
* ``elementwise`` -- a scalar SymPy expression of its operands' symbols;
* ``sum``/``mean``/``max`` -- a reduction of one operand over a named axis.

The only hand-written calculus is the VJP rule of each kind (see
``Graph._vjp_node``): elementwise partials come from ``sympy.diff``; a sum
broadcasts its cotangent back (g), a mean divides it by the axis size (g/N),
a max routes it to the argmax (g at x = max, split evenly between ties).
Reverse mode accumulates cotangents over the graph by the chain rule, and
after each node the cotangent is simplified by the reduction rules of
``reduce_rules.py`` (linearity of sums, folding a sum back into the node that
computes it, declared constraints).  That is how a max used as a *shift*
(logsumexp's m) is seen to receive a zero cotangent: the engine proves it,
no node kind special-cases it.

Specs are written as plain SymPy formulas with ``RSum``/``RMax`` over axis
symbols; ``Graph.from_expr`` turns a formula into nodes (one per reduction,
one elementwise node per reduction body and for the result).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import sympy as sp

__all__ = ["RSum", "RMax", "ArgmaxMask", "Shifted", "Simplex", "axis_size", "Node", "Graph",
           "Backward", "axes_of"]


from symdl.specs.softmax import ArgmaxMask, RMax, RSum, Shifted  # noqa: E402  (the atoms)

from .axes import Simplex, axes_of, axis_size, unshift  # noqa: E402,F401  (the vocabulary)
from .reduce_rules import ReductionSimplifier, shift_logsumexp  # noqa: E402


# --------------------------------------------------------------------------- nodes
@dataclass(eq=False)
class Node:
    sym: sp.Symbol
    kind: str                      # input | elementwise | sum | mean | max
    axes: tuple
    expr: sp.Expr | None = None    # elementwise: in its operands' symbols
    operand: sp.Symbol | None = None
    axis: str | None = None
    differentiable: bool = False
    constraints: tuple = ()
    source: tuple = ()             # inputs: how a kernel loads it (codegen's business)

    @property
    def operands(self) -> list:
        if self.kind == "elementwise":
            return sorted(self.expr.free_symbols, key=lambda s: s.name)
        return [self.operand] if self.operand is not None else []


class Graph:
    """Nodes in insertion (= topological) order, keyed by their symbol."""

    def __init__(self, axes=("r", "c")):
        self.axis_order = tuple(axes)
        self.nodes: dict[sp.Symbol, Node] = {}
        self._names: set = set()
        self._from_expr: dict = {}

    # ---- building ---------------------------------------------------------------
    def _ordered(self, axes) -> tuple:
        axes = set(axes)
        unknown = axes - set(self.axis_order)
        if unknown:
            raise ValueError(f"unknown axes {sorted(unknown)}; graph axes: {self.axis_order}")
        return tuple(a for a in self.axis_order if a in axes)

    def _new(self, name, **kw) -> sp.Symbol:
        if name in self._names:
            raise ValueError(f"node name {name!r} used twice")
        self._names.add(name)
        sym = sp.Symbol(name, real=True)
        self.nodes[sym] = Node(sym, **kw)
        return sym

    def input(self, name, axes=(), *, differentiable=False, constraints=(), source=None) -> sp.Symbol:
        return self._new(name, kind="input", axes=self._ordered(axes), differentiable=differentiable,
                         constraints=tuple(constraints), source=tuple(source or ("array", name)))

    def size(self, axis: str) -> sp.Symbol:
        s = axis_size(axis)
        if s not in self.nodes:
            self._names.add(s.name)
            self.nodes[s] = Node(s, "input", (), source=("size", axis))
        return s

    def let(self, name, expr) -> sp.Symbol:
        expr = sp.sympify(expr)
        for s in expr.free_symbols:
            if s not in self.nodes:
                raise ValueError(f"{name}: {s} is not a node of the graph")
        axes = self._ordered(set().union(*[self.nodes[s].axes for s in expr.free_symbols]))
        return self._new(name, kind="elementwise", axes=axes, expr=expr)

    def _reduce(self, kind, name, operand, axis):
        node = self.nodes[operand]
        if axis not in node.axes:
            raise ValueError(f"{name}: {operand} has axes {node.axes}, not {axis!r}")
        self.size(axis)
        return self._new(name, kind=kind, axes=tuple(a for a in node.axes if a != axis),
                         operand=operand, axis=axis)

    def sum(self, name, operand, axis):
        return self._reduce("sum", name, operand, axis)

    def mean(self, name, operand, axis):
        return self._reduce("mean", name, operand, axis)

    def max(self, name, operand, axis):
        return self._reduce("max", name, operand, axis)

    def from_expr(self, name, expr) -> sp.Symbol:
        """Add the nodes computing a formula written with RSum/RMax over axis
        symbols (``sp.Symbol("c")``); returns the node of the result.  Equal
        reductions share one node."""
        names = iter(f"{name}_{k}" for k in range(10**6))

        def build(e):
            def lift(red):
                body = build(red.body)
                key = (type(red), body, red.axis)
                if key not in self._from_expr:
                    kind = "sum" if isinstance(red, RSum) else "max"
                    self._from_expr[key] = self._reduce(kind, next(names), body, red.axis)
                return self._from_expr[key]
            inner = e.replace(lambda a: isinstance(a, (RSum, RMax)), lift) if e.has(RSum, RMax) else e
            if inner.is_Symbol and inner in self.nodes:
                return inner
            key = ("let", inner)
            if key not in self._from_expr:
                self._from_expr[key] = self.let(next(names), inner)
            return self._from_expr[key]

        out = build(sp.sympify(expr))
        if out.name != name:
            out = self.let(name, out)
        return out

    # ---- queries ------------------------------------------------------------------
    def axes_of(self, expr) -> frozenset:
        return axes_of(expr, self)

    def inputs(self) -> list[Node]:
        return [n for n in self.nodes.values() if n.kind == "input"]

    def inline(self, expr, keep_reductions=True):
        """Replace elementwise node symbols by their expressions (recursively);
        reduction nodes stay symbols (``keep_reductions``) or become
        RSum/RMax of their inlined operands."""
        memo = {}

        def sub(e):
            syms = [s for s in e.free_symbols if s in self.nodes and self.nodes[s].kind != "input"]
            if not syms:
                return e
            rep = {}
            for s in syms:
                if s not in memo:
                    n = self.nodes[s]
                    if n.kind == "elementwise":
                        memo[s] = sub(n.expr)
                    elif keep_reductions:
                        memo[s] = s
                    else:
                        body = sub(n.operand)
                        ax = sp.Symbol(n.axis)
                        memo[s] = {"sum": RSum(body, ax), "mean": RSum(body, ax) / axis_size(n.axis),
                                   "max": RMax(body, ax)}[n.kind]
                rep[s] = memo[s]
            return e.xreplace(rep) if any(rep[s] != s for s in rep) else e

        def deep(e):
            e = sub(e)
            if e.has(RSum, RMax):  # bodies of reductions created by the VJP
                e = e.replace(lambda a: isinstance(a, (RSum, RMax)),
                              lambda a: type(a)(sub(a.args[0]), a.args[1]))
            return e

        return deep(sp.sympify(expr))

    def depends_on(self, targets) -> set:
        """Nodes whose value depends on any of ``targets``."""
        dep = set(targets)
        for s, n in self.nodes.items():
            if any(o in dep for o in n.operands):
                dep.add(s)
        return dep

    def value(self, sym):
        """The node's value as one formula of the inputs (RSum/RMax inlined)."""
        return self.inline(sym, keep_reductions=False)

    # ---- reverse mode ----------------------------------------------------------------
    def _vjp_node(self, node: Node, gbar, operand) -> sp.Expr:
        """The cotangent contribution of ``node`` to one ``operand``: the only
        hand-written calculus of the engine."""
        if node.kind == "elementwise":
            part = gbar * sp.diff(node.expr, operand)
            for ax in node.axes:          # broadcasting: sum over the axes the operand lacks
                if ax not in self.nodes[operand].axes and part != 0:
                    part = RSum(part, sp.Symbol(ax))
            return part
        if node.kind == "sum":
            return gbar                   # broadcast back along the summed axis
        if node.kind == "mean":
            return gbar / axis_size(node.axis)
        if node.kind == "max":
            if gbar == 0:
                return sp.S.Zero
            mask = ArgmaxMask(operand, node.sym)
            return gbar * mask / RSum(mask, sp.Symbol(node.axis))
        raise ValueError(node.kind)

    def backward(self, out: sp.Symbol, seed: sp.Expr, wrt=None, simplify=None) -> "Backward":
        """Reverse mode from ``out`` with cotangent ``seed`` (an expression
        with at most out's axes) to every differentiable input (or ``wrt``)."""
        simp = simplify or ReductionSimplifier(self)
        wrt = list(wrt) if wrt is not None else [n.sym for n in self.inputs() if n.differentiable]
        live = self.depends_on(wrt)
        order = list(self.nodes)
        stop = order.index(out)
        contribs: dict = {out: [sp.sympify(seed)]}
        steps = []
        cot = {}
        for sym in reversed(order[:stop + 1]):
            if sym not in contribs or sym not in live:
                continue
            raw = sp.Add(*contribs.pop(sym))
            g = simp(raw)
            cot[sym] = g
            node = self.nodes[sym]
            steps.append(BackwardStep(sym, node.kind, raw, g))
            if node.kind == "input":
                continue
            for op in node.operands:
                if op in live:
                    part = self._vjp_node(node, g, op)
                    if part != 0:
                        contribs.setdefault(op, []).append(part)
        grads = {w: cot.get(w, sp.S.Zero) for w in wrt}
        return Backward(self, out, sp.sympify(seed), grads, steps, cot)


@dataclass
class BackwardStep:
    sym: sp.Symbol
    kind: str
    raw: sp.Expr          # sum of the VJP contributions, as produced by the rules
    simplified: sp.Expr   # after the reduction rules


@dataclass
class Backward:
    graph: Graph
    out: sp.Symbol
    seed: sp.Expr
    grads: dict
    steps: list = field(default_factory=list)
    cotangents: dict = field(default_factory=dict)

    def shifts(self) -> list:
        """(max node, its cotangent) for each max whose cotangent was proved 0."""
        return [(s.sym, s.raw, s.simplified) for s in self.steps
                if s.kind == "max" and s.simplified == 0]


# ----------------------------------------------------------------------------- specs
@dataclass
class ReductionDerivation:
    """Everything derived for one variant of a softmax-family or loss spec."""

    spec: object
    variant: dict
    key: str
    graph: Graph
    definition: sp.Expr       # the spec's formula (RSum/RMax over axis symbols)
    stable: sp.Expr           # after the max-shift rule
    out: sp.Symbol            # the output node
    x: sp.Symbol              # the differentiated input (the first of ``wrt``)
    seed: sp.Symbol           # the output's cotangent g
    out_axes: tuple
    backward: Backward
    forward_expr: sp.Expr     # what kernels evaluate for the output (reduction nodes as symbols)
    grad_expr: sp.Expr        # what kernels evaluate for d out / d x (times g)
    trace: list = field(default_factory=list)
    grads: dict = field(default_factory=dict)   # every differentiated input -> d out / d it (times g)

    @property
    def wrt(self) -> list:
        return list(self.grads) or [self.x]

    @property
    def simplifier(self):
        return ReductionSimplifier(self.graph)

    def node_body(self, sym):
        """A reduction node's body in canonical form (inputs + other reduction nodes)."""
        n = self.graph.nodes[sym]
        return self.simplifier.reduce(self.graph.inline(n.operand, keep_reductions=False))


def _declare(graph: Graph, spec, variant):
    """Declare the inputs of a spec on a graph; returns (wrt, seed, out_axes)
    with ``wrt`` the differentiated inputs in the spec's order."""
    if getattr(spec, "family", "") == "loss":
        wrt = []
        for d in spec.inputs(variant):
            s = graph.input(d.name, d.axes, differentiable=d.differentiable,
                            constraints=(Simplex(d.simplex),) if d.simplex else (), source=d.source)
            if d.differentiable:
                wrt.append(s)
        if hasattr(spec, "out_axes"):
            out_axes = tuple(spec.out_axes(variant))
        else:
            out_axes = ("r",) if variant["reduction"] == "none" else ()
    else:
        wrt = [graph.input("x", ("r", "c"), differentiable=True, source=("array", "input"))]
        for name, axes, src in getattr(spec, "extra_inputs", ()):
            graph.input(name, axes, source=src)
        out_axes = tuple(spec.out_axes)
    graph.size("c")
    graph.size("r")
    seed = graph.input("g", out_axes, source=("array" if out_axes else "scalar", "grad"))
    return wrt, seed, out_axes


_CACHE: dict = {}


def derive_reduction(spec, variant: dict | None = None) -> ReductionDerivation:
    """Derive forward and backward of one variant of a reduction spec (cached)."""
    variant = dict(variant or (spec.variants()[0] if spec.variants() else {}))
    ck = (spec.name, id(spec), tuple(sorted(variant.items())))
    if ck in _CACHE:
        return _CACHE[ck]
    graph = Graph(("r", "c"))
    wrt, seed, out_axes = _declare(graph, spec, variant)
    definition = spec.formula(variant) if hasattr(spec, "formula") else spec.definition(variant)
    trace: list = []
    stable = definition
    if getattr(spec, "kind", "") == "term" and not spec.has_stable:
        from .rules import stabilize   # log(1 - x) -> log1p(-x), log(1 + exp(u)) -> softplus(u), ...
        stable = stabilize(definition)
        if stable != definition:
            trace.append(("stabilize", definition, stable))
    stable = shift_logsumexp(stable, trace)
    out = graph.from_expr("out", stable)
    term = getattr(spec, "kind", "") == "term"
    # term losses keep the structure of their (stable) formula: expanding
    # (1 - y)·log(1 - x) would cancel where y is close to 1
    simp = ReductionSimplifier(graph, expand=not term)
    bw = graph.backward(out, seed, wrt=wrt, simplify=simp)
    fwd = stable if term else simp(graph.inline(out, keep_reductions=False))
    key = spec.key(spec.name, variant) if hasattr(spec, "key") else spec.name
    grads = {w: bw.grads[w] for w in wrt}
    d = ReductionDerivation(spec, variant, key, graph, definition, stable, out, wrt[0], seed, out_axes,
                            bw, fwd, grads[wrt[0]], trace, grads)
    _CACHE[ck] = d
    return d
