"""mpmath proof of ``runtime.objectives.ridge_closed_form`` (issue 13 item 3):
at random problems, the float64 solution is the minimizer of the ridge
objective *as the specs define it* -- the ``sum_squared_error`` loss term
summed over the rows of Xθ and the ``l2`` regularizer's term summed over θ
-- with the gradient taken by SymPy from those specs, not typed.

The objective is a strictly convex quadratic (λ > 0), so its minimizer θ*
is the unique zero of the gradient; the gradient is linear in θ, so θ* is
found exactly (to 60 digits) by mpmath from the gradient's Jacobian and
offset, and checked: ∇ = 0 at θ* to 1e-50.  The kernel's θ must then be θ*
to the accuracy a backward-stable float64 solve gives: ‖θ − θ*‖ ≤
1e-13·κ(H)·‖θ*‖ with κ(H) the condition number of the Hessian, and the
gradient at the float θ (evaluated by mpmath) is that small, relatively.
"""
import mpmath
import numpy as np
import pytest
import sympy as sp

from symdl.runtime.objectives import ridge_closed_form
from symdl.specs.losses import LOSS_SPECS
from symdl.specs.regularizers import L2, LAM, w as W_SYM

SSE = next(s for s in LOSS_SPECS if s.name == "sum_squared_error")


def _objective(n, d):
    """(the ridge objective from the specs, θ, X, y, λ symbols)."""
    th = sp.symbols(f"theta0:{d}", real=True)
    Xs = sp.Matrix(n, d, lambda i, j: sp.Symbol(f"X_{i}_{j}", real=True))
    ys = sp.symbols(f"y0:{n}", real=True)
    x_sym, y_sym = sp.Symbol("x", real=True), sp.Symbol("y", real=True)
    assert SSE.term.free_symbols == {x_sym, y_sym}, SSE.term
    pred = Xs * sp.Matrix(th)
    loss = sum(SSE.term.subs({x_sym: pred[i], y_sym: ys[i]}, simultaneous=True) for i in range(n))
    lam = LAM.symbol
    penalty = sum(L2.expr.subs(W_SYM, t) for t in th)
    return loss + penalty, th, Xs, ys, lam


PROBLEMS = [(6, 3, 0.5, 0), (10, 4, 1e-3, 1), (4, 6, 10.0, 2), (8, 5, 1e-6, 3), (7, 7, 2.0, 4)]


@pytest.mark.parametrize("n,d,lam,seed", PROBLEMS, ids=[f"{p[0]}x{p[1]}-lam{p[2]:g}" for p in PROBLEMS])
def test_ridge_closed_form_is_the_spec_objective_minimizer(n, d, lam, seed):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    y = rng.normal(size=n) * 3
    theta = ridge_closed_form(X, y, lam)
    J, th, Xs, ys, lam_s = _objective(n, d)
    grad = [sp.diff(J, t) for t in th]
    values = {Xs[i, j]: X[i, j] for i in range(n) for j in range(d)}
    values.update({ys[i]: y[i] for i in range(n)})
    values[lam_s] = lam
    syms = list(values)
    with mpmath.workdps(60):
        # ∇J(θ) = Hθ + b exactly (linear in θ): H and b from the derived gradient at exact inputs
        jac = sp.lambdify(syms, [[sp.diff(g, t) for t in th] for g in grad], "mpmath")
        off = sp.lambdify(syms, [g.subs({t: 0 for t in th}) for g in grad], "mpmath")
        gfun = sp.lambdify(syms + list(th), grad, "mpmath")
        args = [mpmath.mpf(float(values[s])) for s in syms]
        H = mpmath.matrix(jac(*args))
        b = mpmath.matrix(off(*args))
        star = mpmath.lu_solve(H, -b)
        g_star = gfun(*args, *star)
        scale = mpmath.norm(b) + mpmath.norm(H * star)
        assert max(abs(v) for v in g_star) <= mpmath.mpf(10) ** -50 * scale, "θ* is not a zero of the gradient"
        ev = mpmath.eigsy(H)[0]
        kappa = max(abs(e) for e in ev) / min(abs(e) for e in ev)
        assert min(ev) > 0   # strictly convex: θ* is the unique minimizer
        err = mpmath.norm(mpmath.matrix([mpmath.mpf(float(v)) for v in theta]) - star)
        assert err <= mpmath.mpf(1e-13) * kappa * mpmath.norm(star), (float(err), float(kappa))
        # the gradient of the spec objective at the float θ: small relative to its terms
        g_float = gfun(*args, *[mpmath.mpf(float(v)) for v in theta])
        assert mpmath.norm(mpmath.matrix(g_float)) <= mpmath.mpf(1e-13) * kappa * scale


def test_the_proof_rejects_a_slightly_wrong_solution(monkeypatch):
    """The bound has teeth: θ scaled by 1 + 1e-9 (or λ taken as 1.001·λ) fails."""
    import symdl.runtime.objectives as O
    real = O.ridge_closed_form
    for wrong in (lambda X, y, lam: real(X, y, lam) * (1 + 1e-9), lambda X, y, lam: real(X, y, lam * 1.001)):
        monkeypatch.setattr(__import__(__name__), "ridge_closed_form", wrong)
        with pytest.raises(AssertionError):
            test_ridge_closed_form_is_the_spec_objective_minimizer(*PROBLEMS[0])
