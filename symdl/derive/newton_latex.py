"""LaTeX of a Newton objective (``symdl latex logistic_regression --steps``):
the objective, its gradient and its Hessian, each from ``sympy.diff``, and
the step θ ← θ − (H + δI)⁻¹ g."""
from __future__ import annotations

import sympy as sp

__all__ = ["objective_latex"]


def objective_latex(o, steps: bool = False) -> str:
    from symdl.derive.rules import stabilize
    from symdl.specs.regularizers import LAM

    names = {LAM.symbol: r"\lambda"}
    tex = lambda e: sp.latex(e, symbol_names=names)  # noqa: E731
    lines = [f"% {o.name}: {o.doc}"]
    if o.kind == "glm":
        l0, l1, l2 = o.term_derivatives()
        r0, r1, r2 = o.penalty_derivatives()
        lines += [
            r"L(\theta) = \sum_{i=1}^{n} \ell(x_i^{T}\theta, y_i) + \sum_j r(\theta_j), \qquad "
            r"\ell(s, y) = " + tex(l0) + r", \quad r(w) = " + tex(r0),
            r"\nabla L(\theta) = X^{T} \ell'(X\theta, y) + r'(\theta), \qquad "
            r"\ell'(s, y) = \frac{\partial \ell}{\partial s} = " + tex(l1),
            r"\nabla^2 L(\theta) = X^{T} \operatorname{diag}\left(\ell''(X\theta, y)\right) X + "
            r"\operatorname{diag}\left(r''(\theta)\right), \qquad \ell''(s, y) = " + tex(l2)
            + r", \quad r''(w) = " + tex(r2),
        ]
        if steps:
            lines += [r"% the chain rule through the linear map s_i = x_i^T theta: "
                      r"ds_i/dtheta = x_i, so d^2 l/dtheta^2 = l''(s_i) x_i x_i^T",
                      r"% r'(w) = " + tex(r1) + " (the l2 regularizer spec, sympy.diff)",
                      r"% stabilized for the kernel: \ell = " + tex(stabilize(l0))
                      + r", \ell' = " + tex(stabilize(l1)) + r", \ell'' = " + tex(stabilize(l2))]
    else:
        g, H = sp.Matrix(o.gradient()), o.hessian()
        lines += [r"f(" + ", ".join(map(sp.latex, o.params)) + ") = " + tex(o.expr),
                  r"\nabla f = " + tex(g),
                  r"\nabla^2 f = " + tex(H)]
        if steps:
            for i, p in enumerate(o.params):
                for j in range(i + 1):
                    lines.append(r"% \frac{\partial^2 f}{\partial " + sp.latex(p) + r"\,\partial "
                                 + sp.latex(o.params[j]) + "} = " + tex(H[i, j]))
    lines.append(r"\theta \leftarrow \theta - \left(\nabla^2 L(\theta) + \delta I\right)^{-1} \nabla L(\theta)")
    return "\n".join(lines) + "\n"
