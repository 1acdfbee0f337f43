"""Newton's method (issue 19 item 2): the gradient and the Hessian derived by
SymPy (symdl.specs.objectives) and printed into generated/newton/, against
the truth -- ``sp.hessian`` of the objective written out for explicit data,
evaluated by mpmath at 50 digits -- and the method's quadratic convergence."""
import numpy as np
import pytest
import sympy as sp

from symdl.newton import newton, newton_step, value_grad_hess
from symdl.specs.objectives import get_objective

DPS = 50


def _truth(name, theta, X=None, y=None, lam=0.0):
    """(value, gradient, Hessian) of the written-out objective at 50 digits."""
    o = get_objective(name)
    if o.kind == "glm":
        Xr = [[sp.Rational(repr(float(v))) for v in row] for row in X]
        yr = [sp.Rational(repr(float(v))) for v in y]
        f, th = o.full_objective(Xr, yr, sp.Rational(repr(float(lam))))
    else:
        f, th = o.full_objective(None, None, None)
    at = {t: sp.Rational(repr(float(v))) for t, v in zip(th, theta)}
    g = [sp.diff(f, t) for t in th]
    H = sp.hessian(f, th)
    ev = lambda e: float(sp.N(e.xreplace(at), DPS))  # noqa: E731
    return ev(f), np.array([ev(e) for e in g]), np.array([[ev(e) for e in row] for row in H.tolist()])


def _close(got, want, rel=1e-12):
    got, want = np.asarray(got, dtype=float), np.asarray(want, dtype=float)
    assert np.all(np.isfinite(got)), got
    scale = np.max(np.abs(want)) if want.size else abs(float(want))
    assert np.all(np.abs(got - want) <= rel * (np.abs(want) + scale) + 1e-300), (got, want)


@pytest.mark.parametrize("scale", [0.3, 40.0, 800.0])   # scores ~1, ~±40, ~±800 (exp overflows)
def test_logistic_derived_hessian_against_truth(scale):
    rng = np.random.default_rng(1)
    X = rng.normal(size=(6, 3))
    y = np.array([0, 1, 1, 0, 1, 0], dtype=float)
    theta = rng.normal(size=3) * scale
    v, g, H = value_grad_hess("logistic_regression", theta, X, y, lam=0.5)
    tv, tg, tH = _truth("logistic_regression", theta, X, y, lam=0.5)
    _close(v, tv)
    _close(g, tg)
    # the Hessian: X^T diag(l'') X + lam I, where l'' = sigma(1 - sigma) underflows to
    # 0 past |s| ~ 745 in float64 (the truth there is below 1e-300 times |x|^2)
    _close(H, tH, rel=1e-12)
    assert np.allclose(H, H.T)


def test_ridge_hessian_and_one_step_to_the_closed_form():
    from symdl.runtime.objectives import ridge_closed_form

    rng = np.random.default_rng(2)
    X, y = rng.normal(size=(7, 4)), rng.normal(size=7)
    theta = rng.normal(size=4)
    v, g, H = value_grad_hess("ridge_regression", theta, X, y, lam=0.3)
    tv, tg, tH = _truth("ridge_regression", theta, X, y, lam=0.3)
    _close(v, tv), _close(g, tg), _close(H, tH)
    # a quadratic: one undamped Newton step lands on (X^T X + lam I)^{-1} X^T y
    one = newton_step("ridge_regression", theta, X, y, lam=0.3)
    _close(one, ridge_closed_form(X, y, 0.3), rel=1e-10)


@pytest.mark.parametrize("theta", [(-1.2, 1.0), (0.3, -2.5), (1e3, 1e5)])
def test_expression_objective_against_truth(theta):
    v, g, H = value_grad_hess("rosenbrock", theta)
    tv, tg, tH = _truth("rosenbrock", theta)
    _close(v, tv), _close(g, tg), _close(H, tH)


def test_a_users_expression_objective(tmp_path):
    from symdl.codegen.newton import load_objective
    from symdl.specs.objectives import expression_objective

    a, b, c = sp.symbols("a b c", real=True)
    o = expression_objective("my_bowl", sp.cosh(a - b) + (b + 2 * c) ** 4 / 4 + c ** 2 + sp.exp(a * c),
                             (a, b, c))
    mod = load_objective(o, tmp_path)
    theta = np.array([0.3, -0.7, 0.2])
    v, g, H = mod.value_grad_hess(theta)
    at = dict(zip((a, b, c), map(sp.Rational, ("0.3", "-0.7", "0.2"))))
    tH = np.array([[float(sp.N(e.xreplace(at), DPS)) for e in row] for row in sp.hessian(o.expr, (a, b, c)).tolist()])
    _close(H, tH)
    res = newton(mod, theta, tol=1e-12)
    assert res.converged and res.steps <= 10


def _errors(trajectory, star):
    return [float(np.linalg.norm(t - star)) for t in trajectory]


@pytest.mark.parametrize("problem", ["logistic", "rosenbrock"])
def test_quadratic_convergence(problem):
    """e_{k+1} / e_k^2 stays bounded once Newton is in its basin (pure Newton, δ = 0)."""
    if problem == "logistic":
        rng = np.random.default_rng(3)
        X = rng.normal(size=(200, 5))
        y = (rng.random(200) < 1 / (1 + np.exp(-X @ np.array([1.0, -2.0, 0.5, 0.0, 1.5])))).astype(float)
        args, kw, name, theta = (X, y), {"lam": 1e-2}, "logistic_regression", np.zeros(5)
    else:
        args, kw, name, theta = (), {}, "rosenbrock", np.array([-1.2, 1.0])
    traj = [theta]
    for _ in range(12):
        traj.append(newton_step(name, traj[-1], *args, **kw))
    star = traj[-1]
    _, g, _ = value_grad_hess(name, star, *args, **kw)
    assert np.linalg.norm(g) < 1e-9
    e = _errors(traj[:-1], star)
    ratios = [e[k + 1] / e[k] ** 2 for k in range(len(e) - 1) if 1e-5 < e[k] < 1 and e[k + 1] > 1e-13]
    assert len(ratios) >= 2, e
    assert max(ratios) < 5.0, (ratios, e)
    # and the error after the last counted step is at the rounding floor
    assert min(e) < 1e-12


def test_newton_beats_gradient_descent_on_breast_cancer_sized_data():
    """examples/newton_logistic.py: 569 x 30 correlated, badly scaled features
    (synthetic, the breast-cancer set's size): Newton to ||grad|| <= 1e-8 ||grad_0||
    within 10 steps; gradient descent (step 1/L) is >1% above the minimum after 500."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "examples" / "newton_logistic.py"
    spec = importlib.util.spec_from_file_location("example_newton_logistic", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    out = mod.main(verbose=False)
    res = out["newton"]
    assert res.converged and res.steps <= 10, res.grad_norms
    star = res.values[-1]
    assert out["gd"][-1][0] > star * 1.01
    assert all(b <= a for a, b in zip(res.values, res.values[1:]))
    assert out["accuracy"] > 0.85


def test_damping_and_errors():
    X, y = np.ones((3, 2)), np.array([0.0, 1.0, 1.0])
    with pytest.raises(np.linalg.LinAlgError, match="singular"):
        newton_step("ridge_regression", np.zeros(2), X, y, lam=0.0)
    out = newton_step("ridge_regression", np.zeros(2), X, y, lam=0.0, damping=1e-3)
    assert np.all(np.isfinite(out))
    with pytest.raises(Exception, match="shape"):
        newton_step("ridge_regression", np.zeros(3), X, y)
    with pytest.raises(Exception, match="logistic_regression"):
        newton_step("logistic_regresion", np.zeros(2), X, y)
    with pytest.raises(TypeError, match="theta alone"):
        newton_step("rosenbrock", np.zeros(2), X, y)


def test_latex_prints_the_hessian(capsys):
    from symdl.cli import main

    assert main(["latex", "logistic_regression", "--steps"]) == 0
    out = capsys.readouterr().out
    assert r"\nabla^2 L(\theta) = X^{T} \operatorname{diag}" in out and r"\sigma\left(s\right)" in out
    assert main(["latex", "rosenbrock"]) == 0
    assert r"1200 \theta_{0}^{2} - 400 \theta_{1} + 2" in capsys.readouterr().out


def test_optim_reexports_newton_step():
    import symdl.optim

    assert symdl.optim.newton_step is newton_step
