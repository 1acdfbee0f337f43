"""LaTeX of a regularizer spec: the penalty and its derived gradient
(``symdl latex l2``, ``symdl latex orthogonality``)."""
from __future__ import annotations

import sympy as sp

__all__ = ["regularizer_latex"]


def regularizer_latex(spec, steps: bool = False) -> str:
    grad = spec.gradient()
    names = {p.symbol: n for p, n in zip(spec.params, (r"\lambda", r"\alpha"))}

    def tex(e):
        return sp.latex(e, symbol_names=names)

    lam = r"\lambda"
    lines = [f"% {spec.name}: {spec.doc}"]
    if spec.kind == "elementwise":
        lines += [r"R(W) = \sum_i r(w_i), \qquad r(w) = " + tex(spec.expr),
                  r"\frac{\partial R}{\partial w_i} = r'(w_i), \qquad r'(w) = " + tex(grad)]
        if steps:
            lines.append(r"% r'(w) = \frac{d}{dw}\left(" + tex(spec.expr) + r"\right)"
                         r" (sympy.diff; sign(0) = 0 is the subgradient at the kink)")
    else:
        lines += [r"R(W) = " + tex(spec.expr)
                  + r" = " + lam + r"\,\lVert W^{T} W - \mathbb{I} \rVert_F^2",
                  r"\frac{\partial R}{\partial W} = " + tex(grad)]
    return "\n".join(lines) + "\n"


def schedule_latex(spec) -> str:
    """A learning-rate schedule's closed form η(t) (``symdl latex cosine_annealing``)."""
    from symdl.specs.schedules import eta_0

    names = {eta_0: r"\eta_0", sp.Symbol("eta_min", positive=True): r"\eta_{\min}",
             sp.Symbol("gamma", positive=True): r"\gamma"}
    params = ", ".join(f"{p.name}={p.default!r}" for p in spec.params)
    return (f"% {spec.name}: {spec.doc} (defaults: {params}; runtime: {spec.runtime})\n"
            r"\eta(t) = " + sp.latex(spec.expr, symbol_names=names) + "\n")
