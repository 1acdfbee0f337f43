"""Regularized objectives over a linear model (catalog: "Regularized
objectives"), built from the generated loss kernels and the linear map's
transpose rule (no SymPy import).

* ``ridge_closed_form(X, y, lam)``: θ = (XᵀX + λI)⁻¹Xᵀy, the minimizer of
  ½‖Xθ − y‖² + ½λ‖θ‖² (seed 000); ``ridge_objective(theta, X, y, lam)`` ->
  (value, gradient) with the loss part from the ``sum_squared_error`` kernels.
* ``l1_hinge_svm(w, b, X, y, lam)`` -> (value, d w, d b) of
  (1/K) Σ max(0, 1 − y (w·x + b)) + λ‖w‖₁ (seed 000): the hinge and its
  derivative (0 at y·score = 1, seed 001 eq 16) come from the ``hinge_loss``
  kernels, d/d score is carried to w and b by the transpose rule of the
  affine map; λ‖w‖₁ and its subgradient λ·sign(w) (0 at w = 0) come from
  the ``l1`` regularizer spec (and ridge's ½λ‖θ‖², λθ from ``l2``).

tests/test_regularized_losses.py checks both against SymPy derivations at
small sizes (exact rationals).
"""
from __future__ import annotations

import numpy as np

from symdl.errors import ShapeError

from .arrays import as_float_array

__all__ = ["ridge_closed_form", "ridge_objective", "l1_hinge_svm"]


def _design(X, y):
    X = as_float_array(X, "X")
    y = as_float_array(y, "y", dtype=X.dtype)
    if X.ndim != 2 or y.ndim != 1 or y.shape[0] != X.shape[0]:
        raise ShapeError(f"X has shape {X.shape} but y has shape {y.shape}; expected X of shape "
                         f"(n, d) and y of shape (n,)")
    return X, y


def ridge_closed_form(X, y, lam):
    """θ = (XᵀX + λI)⁻¹Xᵀy (solved, not inverted)."""
    X, y = _design(X, y)
    d = X.shape[1]
    return np.linalg.solve(X.T @ X + float(lam) * np.eye(d, dtype=X.dtype), X.T @ y)


def ridge_objective(theta, X, y, lam):
    """(½‖Xθ − y‖² + ½λ‖θ‖², its gradient Xᵀ(Xθ − y) + λθ)."""
    from symdl.registry import kernel

    X, y = _design(X, y)
    theta = as_float_array(theta, "theta", dtype=X.dtype)
    if theta.shape != (X.shape[1],):
        raise ShapeError(f"theta has shape {theta.shape} but X has {X.shape[1]} columns")
    sse = kernel("sum_squared_error")
    pred = X @ theta
    value, d_pred = sse.forward_backward(pred, y)
    l2 = _penalty("l2", lam)          # ½λ‖θ‖² and its derived gradient λθ
    return value + l2.penalty(theta), X.T @ d_pred + l2.gradient(theta)


def l1_hinge_svm(w, b, X, y, lam):
    """(value, d w, d b) of (1/K) Σ max(0, 1 − y(w·x + b)) + λ‖w‖₁ for
    labels y in {−1, 1}."""
    from symdl.registry import kernel

    X, y = _design(X, y)
    w = as_float_array(w, "w", dtype=X.dtype)
    if w.shape != (X.shape[1],):
        raise ShapeError(f"w has shape {w.shape} but X has {X.shape[1]} columns")
    hinge = kernel("hinge_loss")            # reduction='mean': the 1/K
    score = X @ w + float(b)
    value, d_score = hinge.forward_backward(score, y)
    l1 = _penalty("l1", lam)          # λ‖w‖₁ and its derived subgradient λ·sign(w)
    return value + l1.penalty(w), X.T @ d_score + l1.gradient(w), float(d_score.sum())


def _penalty(name, lam):
    """The regularizer spec ``name``'s generated penalty and gradient."""
    from symdl.regularizers import Regularizer

    return Regularizer(name, lam=lam)
