"""LaTeX derivations of the normalization specs: the definition, the
``center`` rule, the graph, reverse mode node by node (each cotangent as the
VJP rules produce it and after the reduction rules, with the rules named),
the cancellation sum (x - mean) = 0, and the compact backward.

``symdl latex batch_norm --steps`` ends in
dx = weight/sigma·(g - mean(g) - x̂·mean(g·x̂)); every right-hand side is
computed by the engine, never typed."""
from __future__ import annotations

import sympy as sp

from .normalization import derive_norm
from .reduce_rules import RULE_DOCS

__all__ = ["norm_latex"]


def _display(d):
    spec = d.spec
    sub = lambda axes: "".join(axes)   # noqa: E731
    rep = {}
    for s, n in d.graph.nodes.items():
        if n.kind == "input" and n.source[0] != "size":
            if s.name == "weight":
                rep[s] = sp.Symbol(r"\gamma_{%s}" % sub(n.axes), real=True)
            elif s.name == "bias":
                rep[s] = sp.Symbol(r"\beta_{%s}" % sub(n.axes), real=True)
            elif s.name == "eps":
                rep[s] = sp.Symbol(r"\varepsilon", real=True)
            elif n.axes:
                rep[s] = sp.Symbol(f"{s.name}_{{{sub(n.axes)}}}", real=True)
        elif n.kind != "input":
            rep[s] = sp.Symbol(r"\mathrm{%s}" % s.name.replace("_", ""), real=True)
    if d.mean_node is not None:
        rep[d.mean_node] = sp.Symbol(r"S_{1}", real=True)
    rep[d.var_node] = sp.Symbol(r"S_{2}", real=True)
    rep[sp.Symbol("eps", positive=True)] = sp.Symbol(r"\varepsilon", real=True)
    return rep


def _L(e, rep):
    return sp.latex(e.xreplace(rep))


def norm_latex(spec, steps: bool = False) -> str:
    d = derive_norm(spec)
    rep = _display(d)
    name = r"\operatorname{%s}" % spec.name.replace("_", r"\_")
    M = sp.latex(d.count.xreplace(rep))
    out = [f"% symdl derivation of {spec.name} ({spec.source})", f"% {spec.doc}",
           f"% axes {spec.axes}; statistics over {spec.stat_axes}; affine over {spec.affine_axes}",
           r"\text{definition:}\quad %s = %s" % (name, _L(d.definition, rep))]
    if spec.centered:
        out.append(r"\text{rule center: } x - \tfrac{1}{%s}\textstyle\sum x \text{ is kept whole "
                   r"(computed first: the two-pass variance)}" % M)
    if steps:
        out.append("")
        out.append("% the graph: one node per reduction and per elementwise block")
        for s, n in d.graph.nodes.items():
            if n.kind == "input":
                continue
            sym = sp.latex(rep.get(s, s))
            if n.kind == "elementwise":
                rhs = _L(n.expr, rep)
            else:
                rhs = r"\sum_{%s} %s" % (n.axis, _L(n.operand, rep))
            out.append(f"{sym} = {rhs}")
        if d.mean_node is not None:
            out.append(r"\text{so } S_1 = \textstyle\sum x \text{ and } \mu = S_1/%s,\ "
                       r"S_2 = \textstyle\sum (x - \mu)^2,\ \sigma = \sqrt{S_2/%s + \varepsilon}" % (M, M))
        out.append("")
        out.append(r"% reverse mode: chain rule node by node (elementwise: sympy.diff; sum: "
                   r"broadcast g back), each cotangent simplified by the reduction rules")
        for rule, doc in RULE_DOCS.items():
            out.append(r"\text{rule %s:}\quad %s" % (rule, doc))
        for st in d.backward.steps:
            bar = r"\bar{%s}" % sp.latex(rep.get(st.sym, st.sym))
            if st.raw != st.simplified:
                out.append(f"{bar} = {_L(st.raw, rep)} = {_L(st.simplified, rep)}")
            else:
                out.append(f"{bar} = {_L(st.simplified, rep)}")
        cancels = [(b, a) for r, b, a in d.trace if r == "centered"]
        for before, _ in cancels[:2]:
            out.append(r"\text{rule centered:}\quad %s = 0" % _L(before, rep))
    out.append("")
    xs = sp.latex(rep.get(spec.x, spec.x))
    for w in d.grads:
        lhs = r"\frac{\partial %s}{\partial %s}" % (name, sp.latex(rep.get(w, w)))
        out.append(r"\text{gradient (times } g\text{):}\quad %s = %s" % (lhs, _L(d.grads[w], rep)))
    xhat = r"\hat{x} = (x - \mu)/\sigma" if spec.centered else r"\hat{x} = x/\sigma"
    if spec.centered and not (set(spec.affine_axes) & set(spec.stat_axes)):
        form = r"\frac{\gamma}{\sigma}\left(g - \operatorname{mean}(g) - \hat{x}\,\operatorname{mean}(g\hat{x})\right)"
    elif spec.centered:
        form = (r"\frac{1}{\sigma}\left(\hat{g} - \operatorname{mean}(\hat{g}) - \hat{x}\,"
                r"\operatorname{mean}(\hat{g}\hat{x})\right),\ \hat{g} = \gamma g")
    else:
        form = (r"\frac{1}{\sigma}\left(\hat{g} - \hat{x}\,\operatorname{mean}(\hat{g}\hat{x})\right),\ "
                r"\hat{g} = \gamma g")
    # the name of the form above (tests/test_normalization_derive.py proves the two equal)
    out.append(r"\text{compact form, } %s:\quad "
               r"\frac{\partial L}{\partial %s} = %s" % (xhat, xs, form))
    return "\n".join(out) + "\n"
