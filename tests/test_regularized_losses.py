"""Regularized objectives (ridge, L1 hinge SVM) against SymPy derivations at
small sizes with exact rationals."""
import numpy as np
import pytest
import sympy as sp

from symdl.errors import ShapeError
from symdl.runtime.objectives import l1_hinge_svm, ridge_closed_form, ridge_objective


def _data(n=5, d=3, seed=0):
    rng = np.random.default_rng(seed)
    X = np.round(rng.normal(size=(n, d)) * 8) / 8   # exact in binary
    y = np.round(rng.normal(size=n) * 8) / 8
    return X, y


def _sym(X):
    return sp.Matrix([[sp.Rational(v) for v in row] for row in X])


def test_ridge_closed_form_zeroes_the_sympy_gradient():
    """seed 000: ∇θ [½‖Xθ − y‖² + ½λ‖θ‖²] = 0 exactly at (XᵀX + λI)⁻¹Xᵀy."""
    X, y = _data()
    lam = 0.5
    th = sp.symbols("t0:3", real=True)
    Xs, ys = _sym(X), sp.Matrix([sp.Rational(v) for v in y])
    r = Xs * sp.Matrix(th) - ys
    L = (r.T * r)[0] / 2 + sp.Rational(lam) * sum(t ** 2 for t in th) / 2
    grad = [sp.diff(L, t) for t in th]
    sol = sp.solve(grad, th, dict=True)[0]
    theta = ridge_closed_form(X, y, lam)
    np.testing.assert_allclose(theta, [float(sol[t]) for t in th], rtol=1e-13)
    # the objective's value and gradient at any θ
    t0 = np.array([0.25, -1.0, 0.5])
    val, g = ridge_objective(t0, X, y, lam)
    at = {t: sp.Rational(v) for t, v in zip(th, t0)}
    assert val == pytest.approx(float(L.subs(at)), rel=1e-14)
    np.testing.assert_allclose(g, [float(e.subs(at)) for e in grad], rtol=1e-13, atol=1e-15)
    assert np.abs(ridge_objective(theta, X, y, lam)[1]).max() < 1e-12


def test_l1_hinge_svm_against_sympy():
    """(1/K) Σ max(0, 1 − y(w·x + b)) + λ‖w‖₁: value and subgradient, with
    the seed's conventions (hinge' = 0 at y·score = 1, sign(0) = 0)."""
    X, _ = _data(6, 3, seed=1)
    y = np.array([1.0, -1.0, 1.0, 1.0, -1.0, -1.0])
    w = np.array([0.5, -0.25, 0.0])
    b = 0.125
    lam = 0.25
    ws, bs = sp.symbols("w0:3", real=True), sp.Symbol("b", real=True)
    Xs = _sym(X)
    terms = []
    for i in range(6):
        s = sp.Rational(y[i]) * (sum(Xs[i, j] * ws[j] for j in range(3)) + bs)
        terms.append(sp.Piecewise((1 - s, s < 1), (0, True)))
    L = sum(terms) / 6 + sp.Rational(lam) * sum(sp.Abs(v) for v in ws)
    at = {**{v: sp.Rational(x) for v, x in zip(ws, w)}, bs: sp.Rational(b)}
    val, dw, db = l1_hinge_svm(w, b, X, y, lam)
    assert val == pytest.approx(float(L.subs(at)), rel=1e-14)
    grad = [sp.diff(L, v).subs(at) for v in ws]   # d|w|/dw = sign(w): 0 at w = 0
    np.testing.assert_allclose(dw, [float(e) for e in grad], rtol=1e-13, atol=1e-15)
    assert db == pytest.approx(float(sp.diff(L, bs).subs(at)), rel=1e-13, abs=1e-15)
    # a sample exactly on the margin contributes nothing (seed 001 eq 16)
    Xm = np.array([[1.0, 0.0, 0.0]])
    _, dwm, dbm = l1_hinge_svm(np.array([1.0, 0.0, 0.0]), 0.0, Xm, np.array([1.0]), 0.0)
    assert dbm == 0.0 and not dwm.any()


def test_shapes():
    with pytest.raises(ShapeError, match=r"\(5, 3\).*\(4,\)"):
        ridge_closed_form(np.zeros((5, 3)), np.zeros(4), 1.0)
    with pytest.raises(ShapeError, match="columns"):
        l1_hinge_svm(np.zeros(2), 0.0, np.zeros((5, 3)), np.ones(5), 0.1)
