"""Objectives for Newton's method (seed 000: θ ← θ − (H + δI)⁻¹ g) as SymPy
specs: the gradient *and* the Hessian come from ``sympy.diff``.

Two kinds:

* ``glm``: a sum over the rows of a design matrix X (n, d) of a per-row term
  ℓ(s, y) of the score s = xᵢᵀθ, plus the ``l2`` regularizer spec ½λ‖θ‖²:

      L(θ) = Σᵢ ℓ(xᵢᵀθ, yᵢ) + Σⱼ r(θⱼ),
      ∇L  = Xᵀ ℓ'(Xθ, y) + r'(θ),     ∇²L = Xᵀ diag(ℓ''(Xθ, y)) X + diag(r''(θ))

  where ℓ', ℓ'' (∂/∂s) and r', r'' are ``sympy.diff`` of the spec's term and
  penalty, carried to θ by the chain rule through the linear map s = Xθ (its
  transpose rule).  ``ridge_regression`` (ℓ = ½(s − y)²) and
  ``logistic_regression`` (ℓ = log(1 + eˢ) − ys, y ∈ {0, 1}; the negative
  log-likelihood of p = σ(s)).
* ``expression``: any SymPy expression of a few scalar parameters θ₀…θ_{d−1}
  (a user's objective; ``rosenbrock`` in the catalog): the gradient and the
  Hessian are ``sympy.diff`` of it, entry by entry.

``symdl.codegen.newton`` prints them (stabilized: softplus, sigmoid) into
``generated/newton/<name>.py``; ``symdl.newton`` steps with them; ``symdl
latex NAME --steps`` prints the Hessian.  No numeric code here.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass

import sympy as sp

from .regularizers import REGULARIZER_SPECS

#: the score s = xᵀθ of a row and its target
s = sp.Symbol("s", real=True)
y = sp.Symbol("y", real=True)
_L2 = next(r for r in REGULARIZER_SPECS if r.name == "l2")


@dataclass(frozen=True, eq=False)
class Objective:
    """A Newton objective: ``kind`` "glm" (``expr`` is ℓ(s, y), penalty
    ``l2``) or "expression" (``expr`` in ``params``, a tuple of Symbols)."""

    name: str
    expr: sp.Expr
    kind: str = "glm"
    params: tuple = ()
    doc: str = ""
    source: str = ""
    family: str = "objective"

    def __post_init__(self):
        if self.kind not in ("glm", "expression"):
            raise ValueError(f"objective {self.name}: kind must be 'glm' or 'expression'")
        if self.kind == "expression":
            if not self.params or not all(isinstance(p, sp.Symbol) for p in self.params):
                raise ValueError(f"objective {self.name}: params must be the SymPy Symbols of θ")
            extra = self.expr.free_symbols - set(self.params)
            if extra:
                raise ValueError(f"objective {self.name}: the expression uses "
                                 f"{', '.join(sorted(map(str, extra)))}, which are not params")
        elif self.expr.free_symbols - {s, y}:
            raise ValueError(f"objective {self.name}: a glm term is a function of s and y only")

    # ---- derivatives (sympy.diff; nothing typed) ---------------------------------------------
    def term_derivatives(self) -> tuple:
        """glm: (ℓ, ∂ℓ/∂s, ∂²ℓ/∂s²)."""
        return self.expr, sp.diff(self.expr, s), sp.diff(self.expr, s, 2)

    def penalty_derivatives(self) -> tuple:
        """glm: the l2 spec's (r(w), r'(w), r''(w)) in its own w and λ."""
        from .regularizers import w

        return _L2.expr, sp.diff(_L2.expr, w), sp.diff(_L2.expr, w, 2)

    def gradient(self) -> list:
        """expression: [∂f/∂θᵢ]."""
        return [sp.diff(self.expr, p) for p in self.params]

    def hessian(self) -> sp.Matrix:
        """expression: [∂²f/∂θᵢ∂θⱼ] (sympy.hessian)."""
        return sp.hessian(self.expr, self.params)

    def full_objective(self, X, yv, lam) -> tuple:
        """(L(θ), θ symbols) written out for explicit data (tests: sp.hessian of this
        is the truth the derived Hessian is checked against)."""
        from .regularizers import LAM, w

        if self.kind == "expression":
            return self.expr, self.params
        X = sp.Matrix(X)
        th = sp.symbols(f"theta_0:{X.shape[1]}", real=True)
        total = sum(self.expr.xreplace({s: (X[i, :] * sp.Matrix(th))[0, 0], y: yv[i]})
                    for i in range(X.shape[0]))
        total += sum(_L2.expr.xreplace({w: t, LAM.symbol: lam}) for t in th)
        return total, th

    def content_hash(self) -> str:
        parts = [self.name, self.kind, sp.srepr(self.expr), repr([sp.srepr(p) for p in self.params]),
                 _L2.content_hash()]
        return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


def expression_objective(name: str, expr, params, *, doc: str = "", source: str = "") -> Objective:
    """A user's objective f(θ₀, …, θ_{d−1}) for Newton's method (small d)."""
    return Objective(name, expr, kind="expression", params=tuple(params), doc=doc, source=source)


_a, _b = sp.symbols("theta_0 theta_1", real=True)

OBJECTIVES = (
    Objective("ridge_regression", (s - y) ** 2 / 2, doc="½‖Xθ − y‖² + ½λ‖θ‖² (ridge; Newton solves it "
              "in one step)", source="seed 000 (ridge regression)"),
    Objective("logistic_regression", sp.log(1 + sp.exp(s)) - y * s,
              doc="Σ log(1 + e^{xᵢᵀθ}) − yᵢxᵢᵀθ + ½λ‖θ‖², y ∈ {0, 1} (the negative "
                  "log-likelihood of p = σ(xᵀθ))", source="seed 000 (Newton's method)"),
    expression_objective("rosenbrock", (1 - _a) ** 2 + 100 * (_b - _a ** 2) ** 2, (_a, _b),
                         doc="(1 − θ₀)² + 100(θ₁ − θ₀²)²: a user's expression (the minimum at (1, 1))",
                         source="Rosenbrock 1960"),
)

BY_NAME = {o.name: o for o in OBJECTIVES}


def get_objective(name: str) -> Objective:
    try:
        return BY_NAME[name]
    except KeyError:
        from symdl.errors import UnknownNameError

        raise UnknownNameError("Newton objective", name, BY_NAME) from None
