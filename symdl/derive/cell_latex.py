"""LaTeX of a recurrent cell: the linear maps, the gate-block equations and
every partial derivative the derivation engine computed (``symdl latex lstm_cell``)."""
from __future__ import annotations

import sympy as sp

from symdl.specs.functions import sigmoid

from .cells import cotangent, derive_block

#: how the notes write the spec's symbols (subscript t: this step; t-1: the previous)
NOTATION = {"a": "a_t", "h1": "h_t", "h": "h_{t-1}", "c1": "C_t", "c": "C_{t-1}", "n": r"\tilde{h}_t",
            "g": r"\tilde{C}_t", "rh": r"(r \odot h)_t"}


def _tex_symbol(s) -> sp.Symbol:
    name = s.name
    if name in NOTATION:
        return sp.Symbol(NOTATION[name])
    if name.startswith("a_"):
        return sp.Symbol(f"a_{{{name[2:]},t}}")
    if name.startswith(("x_", "h_")):
        return sp.Symbol(f"{name[0]}_{{{name[2:]},t}}")
    if name.startswith("w_"):
        return sp.Symbol(f"w_{{{name[2:]}}}")
    return sp.Symbol(f"{name}_t")


def _tex(expr, rename) -> str:
    return sp.latex(expr.xreplace(rename))


def cell_latex(cell, steps: bool = False) -> str:
    out = [f"% symdl derivation of {cell.name} ({cell.source})", f"% {cell.doc}"]
    for variant, blocks in cell.variants.items():
        out += ["", f"% variant: {variant}" + (" (default)" if variant == cell.default else "")]
        out += [r"\text{linear maps:}\quad " + r"\text{" + line.replace("_", r"\_") + "}"
                for line in cell.linear[variant]]
        for b in blocks:
            d = derive_block(b)
            syms = {*b.inputs, *b.vectors, *dict(b.steps), *(cotangent(y) for y in b.outputs)}
            rename = {s: _tex_symbol(s) for s in syms}
            rename.update({cotangent(y): sp.Symbol(r"\bar{%s}" % sp.latex(_tex_symbol(y))) for y in b.outputs})
            out.append(f"% gate block {b.name}: {b.doc}")
            for s, e in b.steps:
                out.append(f"{_tex(s, rename)} = {_tex(e, rename)}")
            # partials in the gates' notation (steps substituted back, as the notes write them)
            steps = dict(b.steps)
            back = {full: s for s, full in d.full.items()
                    if s in steps and (s not in b.outputs or s in b.saved)}
            sig = {sigmoid(-e.args[0]): 1 - s for s, e in d.full.items() if isinstance(e, sigmoid)}
            for (y, u), p in d.partials.items():
                lhs = r"\frac{\partial %s}{\partial %s}" % (_tex(y, rename), _tex(u, rename))
                readable = sp.factor_terms(p.xreplace(back).xreplace(sig))
                out.append(f"{lhs} = {_tex(readable, rename)}")
                if steps:
                    out.append(r"\quad\text{(sympy.diff of the expanded output:)}\quad " + _tex(p, rename))
            if steps:
                out.append(r"\text{backward (VJP, the kernel's stable form; } \bar{v} = "
                           r"\partial L/\partial v\text{):}")
                for u, e in d.backward_recomputed.items():   # (the kernel reads these σ, tanh, sech² saved)
                    out.append(r"\bar{%s} = %s" % (_tex(u, rename), _tex(e, rename)))
    return "\n".join(out) + "\n"
