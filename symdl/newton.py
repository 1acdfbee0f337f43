"""Newton's method (seed 000) on small problems: θ ← θ − (H + δI)⁻¹ g, with the
gradient g and the Hessian H from generated kernels (``generated/newton/``:
``sympy.diff`` of the objective spec, ``symdl.specs.objectives``).  No SymPy.

    from symdl.newton import newton_step, newton
    theta = newton_step("logistic_regression", theta, X, y, lam=1.0)
    theta, history = newton("logistic_regression", theta0, X, y, lam=1.0, tol=1e-10)

``objective`` is a catalog name (``ridge_regression``, ``logistic_regression``,
``rosenbrock``) or a module with ``value_grad_hess`` (a user's objective from
``symdl.codegen.newton.load_objective``).  glm objectives take ``X, y, lam``;
expression objectives take θ alone.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass, field

import numpy as np

from symdl.errors import ShapeError

__all__ = ["newton_step", "newton", "value_grad_hess", "NewtonResult"]

_PACKAGE = "symdl.generated.newton"


def _module(objective):
    if hasattr(objective, "value_grad_hess"):
        return objective
    if not isinstance(objective, str):
        raise TypeError(f"objective must be a name or a module with value_grad_hess, got {objective!r}")
    index = importlib.import_module(_PACKAGE)
    if objective not in index.SPECS:
        from symdl.errors import UnknownNameError

        raise UnknownNameError("Newton objective", objective, index.SPECS)
    return importlib.import_module(index.SPECS[objective]["module"])


def _args(mod, theta, X, y, lam):
    theta = np.ascontiguousarray(theta, dtype=np.float64)
    if theta.ndim != 1:
        raise ShapeError(f"theta must be a vector, got shape {theta.shape}")
    if mod.SPEC["kind"] != "glm":
        if X is not None or y is not None:
            raise TypeError(f"{mod.SPEC['name']} is a function of theta alone (no X, y)")
        if theta.shape[0] != len(mod.SPEC["params"]):
            raise ShapeError(f"{mod.SPEC['name']} has {len(mod.SPEC['params'])} parameters "
                             f"({', '.join(mod.SPEC['params'])}); theta has shape {theta.shape}")
        return (theta,)
    if X is None or y is None:
        raise TypeError(f"{mod.SPEC['name']} needs the data: newton_step(..., theta, X, y, lam=...)")
    X = np.ascontiguousarray(X, dtype=np.float64)
    y = np.ascontiguousarray(y, dtype=np.float64)
    if X.ndim != 2 or y.shape != (X.shape[0],) or theta.shape != (X.shape[1],):
        raise ShapeError(f"X has shape {X.shape}, y {y.shape} and theta {theta.shape}; expected "
                         f"X (n, d), y (n,) and theta (d,)")
    return theta, X, y, float(lam)


def value_grad_hess(objective, theta, X=None, y=None, *, lam=0.0):
    """(L(θ), ∇L(θ), ∇²L(θ)) from the objective's generated kernel."""
    mod = _module(objective)
    return mod.value_grad_hess(*_args(mod, theta, X, y, lam))


def newton_step(objective, theta, X=None, y=None, *, lam=0.0, damping=0.0):
    """One step θ − (H + δI)⁻¹ g (solved, not inverted); δ = ``damping`` ≥ 0."""
    if not damping >= 0:
        raise ValueError(f"damping must be >= 0, got {damping!r}")
    mod = _module(objective)
    args = _args(mod, theta, X, y, lam)
    _, g, H = mod.value_grad_hess(*args)
    if damping:
        H = H + damping * np.eye(H.shape[0])
    try:
        step = np.linalg.solve(H, g)
    except np.linalg.LinAlgError:
        raise np.linalg.LinAlgError(f"{mod.SPEC['name']}: the Hessian (+ {damping} I) is singular at "
                                    "theta; use damping > 0 or a penalty lam > 0") from None
    return args[0] - step


@dataclass
class NewtonResult:
    theta: np.ndarray
    steps: int
    converged: bool
    values: list = field(default_factory=list)       # L(θ_k), k = 0..steps
    grad_norms: list = field(default_factory=list)   # ‖∇L(θ_k)‖


def newton(objective, theta0, X=None, y=None, *, lam=0.0, damping=0.0, tol=1e-10,
           max_steps=50) -> NewtonResult:
    """Newton steps until ‖∇L‖ ≤ tol·max(1, ‖∇L(θ₀)‖) or ``max_steps``."""
    mod = _module(objective)
    theta = np.array(theta0, dtype=np.float64)
    res = NewtonResult(theta, 0, False)
    g0 = None
    for k in range(max_steps + 1):
        value, g, H = mod.value_grad_hess(*_args(mod, theta, X, y, lam))
        gn = float(np.linalg.norm(g))
        res.values.append(float(value))
        res.grad_norms.append(gn)
        g0 = gn if g0 is None else g0
        if gn <= tol * max(1.0, g0):
            res.converged = True
            break
        if k == max_steps:
            break
        theta = newton_step(mod, theta, X, y, lam=lam, damping=damping)
        res.steps = k + 1
    res.theta = theta
    return res
