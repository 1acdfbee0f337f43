"""Chain-rule steps for ``symdl latex NAME --steps``.

Walks the expression top-down; at each node it states the rule used (sum,
product, quotient-as-power, chain) with the children's derivatives left
unevaluated, then continues into those children.  Every step's right-hand side
is computed by SymPy, never typed.
"""
from __future__ import annotations

import sympy as sp


def _D(e, x):
    return sp.Derivative(e, x, evaluate=False)


def _latex(e):
    from .tex import tex
    return tex(e)


def chain_steps(expr, x, limit: int = 40) -> list[tuple[str, str]]:
    """[(rule name, LaTeX equation)] for d expr / dx."""
    steps: list[tuple[str, str]] = []
    seen = set()

    def visit(e):
        if len(steps) >= limit or e in seen or not e.has(x) or e == x:
            return
        seen.add(e)
        lhs = r"\frac{d}{d%s}\left[%s\right]" % (_latex(x), _latex(e))
        if e.is_Add:
            rhs = sp.Add(*[_D(a, x) for a in e.args if a.has(x)], evaluate=False)
            steps.append(("sum rule", f"{lhs} = {_latex(rhs)}"))
            kids = list(e.args)
        elif e.is_Mul:
            const = sp.Mul(*[a for a in e.args if not a.has(x)])
            var = [a for a in e.args if a.has(x)]
            if len(var) == 1:
                rhs = sp.Mul(const, _D(var[0], x), evaluate=False)
                steps.append(("constant factor", f"{lhs} = {_latex(rhs)}"))
            else:
                terms = []
                for i, v in enumerate(var):
                    others = sp.Mul(*(var[:i] + var[i + 1:]))
                    terms.append(sp.Mul(const, others, _D(v, x), evaluate=False))
                steps.append(("product rule", f"{lhs} = {_latex(sp.Add(*terms, evaluate=False))}"))
            kids = var
        elif e.is_Pow:
            b, n = e.args
            if not n.has(x):
                u = sp.Dummy("u")
                outer = sp.diff(u ** n, u).subs(u, b)
                rhs = sp.Mul(outer, _D(b, x), evaluate=False)
                steps.append(("power rule + chain rule" if b != x else "power rule", f"{lhs} = {_latex(rhs)}"))
                kids = [b]
            else:
                rhs = sp.Mul(e, _D(n * sp.log(b), x), evaluate=False)
                steps.append(("logarithmic differentiation", f"{lhs} = {_latex(rhs)}"))
                kids = [n * sp.log(b)]
        elif isinstance(e, sp.Piecewise):
            parts = [r"%s & \text{if } %s" % (_latex(_D(b, x)), _latex(c)) for b, c in e.args]
            steps.append(("piecewise: differentiate each branch",
                          lhs + r" = \begin{cases}" + r" \\ ".join(parts) + r"\end{cases}"))
            kids = [b for b, _ in e.args]
        elif isinstance(e, sp.Function) and len(e.args) == 1:
            (inner,) = e.args
            u = sp.Symbol("u")
            outer = sp.diff(e.func(u), u)
            if inner == x:
                steps.append((f"derivative of {e.func.__name__}", f"{lhs} = {_latex(outer.subs(u, x))}"))
                kids = []
            else:
                rhs = sp.Mul(outer.subs(u, inner), _D(inner, x), evaluate=False)
                steps.append((f"chain rule: {_latex(e.func(u))}' = {_latex(outer)}", f"{lhs} = {_latex(rhs)}"))
                kids = [inner]
        else:
            steps.append(("SymPy", f"{lhs} = {_latex(sp.diff(e, x))}"))
            kids = []
        for k in kids:
            visit(k)

    visit(expr)
    result = sp.diff(expr, x)
    steps.append(("result", r"\frac{d}{d%s}\left[%s\right] = %s" % (_latex(x), _latex(expr), _latex(result))))
    return steps
