"""LaTeX derivations of a spec: definition, derivatives, simplified and
stabilized forms, kink conventions, limits and (optionally) chain-rule steps."""
from __future__ import annotations

import sympy as sp

from symdl.specs.functions import to_definition

from .elementwise import derive_all
from .steps import chain_steps
from .tex import tex
from .timeout import TimeLimit, time_limit


def _simplified(expr, seconds=10.0):
    try:
        with time_limit(seconds):
            return sp.simplify(expr)
    except TimeLimit:
        return expr


def activation_latex(spec, steps: bool = False) -> str:
    x = spec.x
    out = [f"% symdl derivation of {spec.name} ({spec.source})", f"% {spec.doc}"]
    if spec.params:
        out.append("% parameters: " + ", ".join(
            f"{p.name}={p.default!r}" + (" (learnable)" if p.learnable else "") for p in spec.params))
    for d in derive_all(spec):
        tag = ", ".join(f"{k}={v!r}" for k, v in d.variant.items())
        f = sp.Function(r"\operatorname{%s}" % spec.name.replace("_", r"\_"))(x)
        out.append("")
        if tag:
            out.append(f"% variant: {tag}")
        out.append(r"\text{definition:}\quad " + f"{tex(f)} = {tex(d.definition)}")
        out.append(r"\text{derivative:}\quad " + f"{tex(sp.Derivative(f, x))} = {tex(d.raw_dx)}")
        simp = _simplified(d.raw_dx)
        if simp != d.raw_dx:
            out.append(r"\text{simplified:}\quad " + f"{tex(sp.Derivative(f, x))} = {tex(simp)}")
        stable_f = spec.stable_form(d.variant)
        if stable_f is not None or d.forward != d.definition:
            out.append(r"\text{stable forward:}\quad " + f"{tex(f)} = {tex(d.forward)}")
        out.append(r"\text{stable derivative:}\quad " + f"{tex(sp.Derivative(f, x))} = {tex(d.dx)}")
        for name, e in d.dparams.items():
            w = spec.param(name).symbol
            out.append(r"\text{learnable:}\quad " + r"\frac{\partial %s}{\partial %s} = %s"
                       % (tex(f), tex(w), tex(e)))
        for k, v in spec.kink_derivative.items():
            out.append(r"\text{convention at the kink } x = %s:\quad %s = %s"
                       % (tex(k), tex(sp.Derivative(f, x)), tex(v)))
        for which, lim in d.limits.items():
            if lim is None:
                continue
            pos, neg = lim
            label = "f" if which == "forward" else ("f'" if which == "dx" else f"d/d{which}")
            out.append(r"\text{limits of } %s:\quad +\infty \to %s,\ -\infty \to %s"
                       % (label, tex(pos) if pos is not None else "?", tex(neg) if neg is not None else "?"))
        if d.trace:
            names = []
            for rule, _, _ in d.trace:
                if rule not in names:
                    names.append(rule)
            out.append("% stabilization rules applied: " + ", ".join(names))
        if steps:
            out.append("% chain rule, step by step (on the definition):")
            for rule, eq in chain_steps(to_definition(d.definition), x):
                out.append(f"% {rule}")
                out.append(eq)
    return "\n".join(out) + "\n"
