"""LaTeX derivations of softmax-family and loss specs through the reduction
rules: definition, the max-shift, the chain rule over the graph (each node's
cotangent before and after the rules), and the simplified gradient.

``symdl latex cross_entropy --steps`` ends in dL/dz = g·(softmax(z) − y)/N;
``symdl latex log_softmax --steps`` shows the max-shift and that the shift's
cotangent cancels.
"""
from __future__ import annotations

import sympy as sp

from symdl.specs.softmax import Shifted

from .graph import derive_reduction
from .reduce_rules import RULE_DOCS, ReductionSimplifier

__all__ = ["reduction_latex", "default_variant", "softmax_form"]

_SUB = {("r", "c"): "{rc}", ("r",): "{r}", ("c",): "{c}"}


def default_variant(spec) -> dict:
    """The variant a derivation is shown for: probability targets and
    reduction='mean' for class losses (the textbook case), else the first."""
    vs = spec.variants()
    for v in vs:
        if v.get("target") == "probs" and not v.get("weighted") and v.get("reduction") == "mean":
            return v
    for v in vs:
        if not v.get("weighted") and v.get("reduction") == "mean":
            return v
    return vs[0] if vs else {}


def _display(d):
    """Element symbols -> indexed display symbols (x -> x_{rc})."""
    rep = {}
    for s, n in d.graph.nodes.items():
        if n.kind == "input" and n.source[0] != "size" and n.axes:
            rep[s] = sp.Symbol(f"{s.name}_{_SUB[tuple(n.axes)]}", real=True)
        elif n.kind != "input":
            rep[s] = sp.Symbol(rf"\mathrm{{{s.name.replace('_', '')}}}", real=True)
    rep[sp.Symbol("eps", real=True)] = sp.Symbol(r"\varepsilon", real=True)
    rep[sp.Symbol("N_c", positive=True, integer=True)] = sp.Symbol("C", positive=True)
    rep[sp.Symbol("N_r", positive=True, integer=True)] = sp.Symbol("N", positive=True)
    return rep


def softmax_form(d, expr):
    """Name the softmax: exp(u - m)/s -> p where s = sum exp(u - m) is a node."""
    p = sp.Symbol(r"\operatorname{softmax}(x)_{rc}", real=True)
    if d.spec.name == "softmin":
        p = sp.Symbol(r"\operatorname{softmin}(x)_{rc}", real=True)
    simp = ReductionSimplifier(d.graph)
    for s, n in d.graph.nodes.items():
        if n.kind == "sum":
            body = d.graph.inline(n.operand)
            if isinstance(body, sp.exp) and isinstance(body.args[0], Shifted):
                expr = simp.reduce(expr).subs(body, p * s)
    return sp.factor_terms(sp.expand(expr, power_exp=False, log=False))


def _L(e, rep):
    return sp.latex(e.xreplace(rep) if isinstance(e, sp.Basic) else e)


def reduction_latex(spec, steps: bool = False, variant: dict | None = None) -> str:
    variant = default_variant(spec) if variant is None else variant
    d = derive_reduction(spec, variant)
    rep = _display(d)
    name = sp.Symbol(r"\operatorname{%s}" % spec.name.replace("_", r"\_"))
    out = [f"% symdl derivation of {spec.name} ({getattr(spec, 'source', '')})",
           f"% {getattr(spec, 'doc', '')}"]
    if variant:
        out.append("% variant: " + ", ".join(f"{k}={v!r}" for k, v in variant.items()))
    for n in d.graph.inputs():
        for c in n.constraints:
            out.append(r"\text{declared:}\quad " + c.latex(rep.get(n.sym, n.sym)))
    out.append(r"\text{definition:}\quad " + f"{sp.latex(name)} = {_L(d.definition, rep)}")
    if d.stable != d.definition:
        out.append(r"\text{max-shift (rule logsumexp\_shift, } m = \max_c u\text{):}\quad "
                   r"\log \sum_c e^{u_c} = m + \log \sum_c e^{u_c - m}")
        out.append(r"\text{stable form:}\quad " + f"{sp.latex(name)} = {_L(d.stable, rep)}")
    if steps:
        out.append("")
        out.append(r"% the graph: one node per reduction and per elementwise block")
        for s, n in d.graph.nodes.items():
            if n.kind == "input":
                continue
            sym = rep.get(s, s)
            if n.kind == "elementwise":
                rhs = _L(n.expr, rep)
            else:
                op = {"sum": r"\sum_{%s}", "mean": r"\frac{1}{N_{%s}}\sum_{%s}", "max": r"\max_{%s}"}[n.kind]
                op = op % ((n.axis,) * op.count("%s"))
                rhs = f"{op} {_L(n.operand, rep)}"
            out.append(f"{sp.latex(sym)} = {rhs}")
        out.append("")
        out.append(r"% reverse mode: VJP rules (elementwise: sympy.diff; sum: broadcast; "
                   r"mean: g/N; max: g at the argmax), then the reduction rules")
        for rule, doc in RULE_DOCS.items():
            out.append(r"\text{rule %s:}\quad %s" % (rule, doc))
        for st in d.backward.steps:
            bar = r"\bar{%s}" % sp.latex(rep.get(st.sym, st.sym))
            if st.raw != st.simplified:
                out.append(f"{bar} = {_L(st.raw, rep)} = {_L(st.simplified, rep)}")
            else:
                out.append(f"{bar} = {_L(st.simplified, rep)}")
        for m, raw, _ in d.backward.shifts():
            out.append(r"\text{the shift } %s \text{ cancels:}\quad \bar{%s} = %s = 0"
                       % (sp.latex(rep.get(m, m)), sp.latex(rep.get(m, m)), _L(raw, rep)))
    out.append("")
    gsym = sp.latex(rep.get(d.seed, d.seed))
    dx = rep.get(d.x, d.x)
    lhs = r"\frac{\partial %s}{\partial %s}" % (sp.latex(name), sp.latex(dx))
    out.append(r"\text{gradient (times the cotangent } %s\text{):}\quad %s = %s"
               % (gsym, lhs, _L(softmax_form(d, d.grad_expr), rep)))
    eps = sp.Symbol("eps", real=True)
    if d.grad_expr.has(eps):
        plain = softmax_form(d, d.grad_expr.subs(eps, 0))
        out.append(r"\text{without label smoothing } (\varepsilon = 0)\text{:}\quad %s = %s"
                   % (lhs, _L(plain, rep)))
    out.append(r"\text{kernel forward:}\quad %s = %s" % (sp.latex(name), _L(d.forward_expr, rep)))
    return "\n".join(out) + "\n"

