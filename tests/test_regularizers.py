"""Weight regularizers (issue 19): the specs' derived gradients, the generated
penalties and gradients against mpmath, the layer-level operations against
torch, and their use from fit, the CLI and runtime/objectives.py."""
import warnings

import mpmath
import numpy as np
import pytest
import sympy as sp

import symdl.regularizers as R
from symdl import specs as S
from symdl.errors import ParameterError, ShapeError, UnknownNameError
from symdl.specs import regularizers as SR
from symdl.testing import compare, evaluate

ELEMENTWISE = [s for s in SR.REGULARIZER_SPECS if s.kind == "elementwise"]
PARAMS = {"l1": {"lam": 0.3}, "l2": {"lam": 0.3}, "elastic_net": {"lam": 0.3, "l1_ratio": 0.25}}


def _points(dtype):
    rng = np.random.default_rng(0)
    fi = np.finfo(dtype)
    xs = np.concatenate([rng.normal(size=40) * 3, [0.0, -0.0, fi.tiny, -fi.tiny, fi.smallest_subnormal,
                                                   1e-30, -1e-30, fi.max / 4, -fi.max / 4, np.inf,
                                                   -np.inf, np.nan]])
    return xs.astype(dtype)


def _subs(spec, params):
    return {p.symbol: sp.Rational(params.get(p.name, p.default)) for p in spec.params}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("spec", ELEMENTWISE, ids=lambda s: s.name)
def test_elementwise_gradient_against_mpmath(spec, dtype):
    """The generated gradient is sympy.diff of r at every kind of point
    (random, 0, ±0, subnormal, huge, ±inf, nan), in both dtypes."""
    params = PARAMS[spec.name]
    reg = R.get(spec.name, **params)
    xs = _points(dtype)
    got = reg.gradient(xs)
    assert got.dtype == dtype and got.shape == xs.shape
    d = spec.gradient().xreplace(_subs(spec, params))
    rep = compare(spec.name, "gradient", xs, got, evaluate(d, SR.w, [float(v) for v in xs]), dtype)
    assert not rep.failures, rep.failures[:5]


@pytest.mark.parametrize("spec", ELEMENTWISE, ids=lambda s: s.name)
def test_elementwise_penalty_against_mpmath(spec):
    params = PARAMS[spec.name]
    reg = R.get(spec.name, **params)
    xs = _points(np.float32)[:-3]          # finite points
    r = spec.expr.xreplace(_subs(spec, params))
    truth = mpmath.fsum(evaluate(r, SR.w, [float(v) for v in xs]))
    assert reg.penalty(xs) == pytest.approx(float(truth), rel=1e-12)   # float32 weights: float64 sum
    assert reg.penalty(np.array([np.inf], np.float32)) == np.inf


def test_l1_subgradient_at_zero_and_l2_is_weight_decay():
    assert R.get("l1", lam=2.0).gradient(np.array([0.0, -0.0]))[0] == 0.0
    w = np.array([1.5, -2.0])
    np.testing.assert_array_equal(R.get("l2", lam=0.5).gradient(w), 0.5 * w)


def _explicit(n, k, name="w"):
    return sp.Matrix(n, k, lambda i, j: sp.Symbol(f"{name}{i}{j}", real=True))


def test_orthogonality_trace_form_and_derived_gradient_on_explicit_matrices():
    """tr((WᵀW − I)ᵀ(WᵀW − I)) is Σ (WᵀW − I)²ᵢⱼ, and SymPy's matrix gradient
    equals elementwise diff of that sum, on an explicit 3×2 matrix."""
    Wm = _explicit(3, 2)
    lam = SR.LAM.symbol
    E = Wm.T * Wm - sp.eye(2)
    frob = lam * sum(e**2 for e in E)
    sub = {SR.n_rows: 3, SR.k_cols: 2}
    rep = {SR.W.xreplace(sub): sp.ImmutableMatrix(Wm), sp.Identity(2): sp.ImmutableMatrix(sp.eye(2))}
    expl = SR.ORTHOGONALITY.expr.xreplace(sub).xreplace(rep)
    assert sp.expand(expl.doit() - frob) == 0
    grad = SR.ORTHOGONALITY.gradient().xreplace(sub).xreplace(rep)
    grad = sp.Matrix(grad.doit())
    assert sp.expand(grad - sp.Matrix(3, 2, lambda i, j: sp.diff(frob, Wm[i, j]))) == sp.zeros(3, 2)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_orthogonality_generated_against_mpmath(dtype):
    rng = np.random.default_rng(1)
    W = rng.normal(size=(5, 3)).astype(dtype)
    reg = R.get("orthogonality", lam=0.1)
    with mpmath.workdps(50):
        M = mpmath.matrix([[mpmath.mpf(float(v)) for v in row] for row in W])
        E = M.T * M - mpmath.eye(3)
        pen = mpmath.mpf("0.1") * sum(E[i, j] ** 2 for i in range(3) for j in range(3))
        G = mpmath.mpf("0.1") * 4 * (M * M.T * M - M)
    assert reg.penalty(W) == pytest.approx(float(pen), rel=1e-13)
    g = reg.gradient(W)
    assert g.dtype == dtype
    truth = np.array([[float(G[i, j]) for j in range(3)] for i in range(5)])
    np.testing.assert_allclose(g, truth, rtol=1e-5 if dtype == np.float32 else 1e-13, atol=1e-6 if dtype == np.float32 else 1e-14)
    assert reg.penalty(np.eye(4, 3)) == 0.0 and not reg.gradient(np.eye(4, 3)).any()
    with pytest.raises(ShapeError, match="matrix"):
        reg.gradient(np.ones(3))


def test_spectral_vjp_is_the_elementwise_derivative():
    """The generated spectral-norm backward (chain rule of SymPy derivatives)
    equals diff of Σ G∘W/(uᵀWv) element by element on explicit 2×3 matrices."""
    from symdl.generated.regularizers.spectral_vjp import vjp

    rng = np.random.default_rng(2)
    Wv, Gv = rng.normal(size=(2, 3)), rng.normal(size=(2, 3))
    uv, vv = rng.normal(size=(2, 1)), rng.normal(size=(3, 1))
    Wm = _explicit(2, 3)
    f = sum(sp.Rational(Gv[i, j]) * Wm[i, j] for i in range(2) for j in range(3)) / (
        sp.Matrix(uv.T.tolist()).applyfunc(sp.Rational) * Wm * sp.Matrix(vv.tolist()).applyfunc(sp.Rational))[0]
    at = {Wm[i, j]: sp.Rational(Wv[i, j]) for i in range(2) for j in range(3)}
    truth = np.array([[float(sp.diff(f, Wm[i, j]).xreplace(at)) for j in range(3)] for i in range(2)])
    np.testing.assert_allclose(vjp(Wv, Gv, uv, vv), truth, rtol=1e-12)


def test_errors_name_close_matches_and_bad_values():
    with pytest.raises(UnknownNameError, match="l2"):
        R.get("l22")
    with pytest.raises(ParameterError, match="l1_ratio"):
        R.get("l1", l1_ratio=0.3)
    with pytest.raises(ParameterError, match=">= 0"):
        R.get("l2", lam=-1.0)
    assert [r.name for r in R.resolve({"l1": 1e-3, "elastic_net": {"lam": 1.0}})] == ["l1", "elastic_net"]
    with pytest.raises(ParameterError):
        R.resolve(3.0)


def test_latex_prints_penalty_and_gradient(capsys):
    from symdl.cli import main

    assert main(["latex", "l2"]) == 0
    out = capsys.readouterr().out
    assert r"\frac{\lambda w^{2}}{2}" in out and r"r'(w) = \lambda w" in out
    assert main(["latex", "orthogonality"]) == 0
    assert r"4 \lambda W W^{T} W" in capsys.readouterr().out
    assert S.get("elastic_net").family == "regularizer"


# ----------------------------------------------------------------------------- layer-level
def test_max_norm_matches_torch_renorm():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    W = rng.normal(size=(6, 4)) * np.array([[0.1], [1], [3], [0.2], [5], [1]])
    for dim in (0, 1):
        want = torch.renorm(torch.from_numpy(W), 2, dim, 1.5).numpy()
        got = R.max_norm_(W.copy(), 1.5, dim=dim)
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=0)
    with pytest.raises(ParameterError):
        R.max_norm_(W, 0.0)


def test_spectral_norm_matches_torch_forward_and_gradient():
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    lin = torch.nn.Linear(5, 4).double()
    sn = torch.nn.utils.spectral_norm(lin, n_power_iterations=2)
    ours = R.SpectralNorm((4, 5), n_power_iterations=2)
    ours.u, ours.v = sn.weight_u.detach().numpy().copy(), sn.weight_v.detach().numpy().copy()
    W = sn.weight_orig.detach().numpy().copy()
    x = torch.randn(3, 5, dtype=torch.float64)
    for _ in range(3):          # u, v persist across steps
        sn.zero_grad()
        out = sn(x)
        out.sum().backward()
        Wt = ours.compute(W, training=True)
        np.testing.assert_allclose(Wt, sn.weight.detach().numpy(), rtol=1e-12)
        G = np.ones((3, 4)).T @ x.numpy()           # dL/dW̃ of sum(x W̃ᵀ + b)
        np.testing.assert_allclose(ours.backward(W, G), sn.weight_orig.grad.numpy(), rtol=1e-10)
        np.testing.assert_allclose(ours.u, sn.weight_u.numpy(), rtol=1e-12)
    sn.eval()                   # eval: no power iteration, the stored u, v
    with torch.no_grad():
        sn(x)
    np.testing.assert_allclose(ours.compute(W, training=False), sn.weight.detach().numpy(), rtol=1e-12)


# ----------------------------------------------------------------------------- fit, CLI, objectives
def test_fit_l2_equals_sgd_weight_decay():
    """fit(regularizers={'l2': λ}) with SGD takes the same steps as torch-style
    coupled weight_decay=λ on a bias-free model (the penalty adds λW)."""
    from symdl import nn

    rng = np.random.default_rng(4)
    X, y = rng.normal(size=(32, 3)), rng.normal(size=(32, 1))
    runs = []
    warnings.simplefilter("ignore")     # pytest restores the filters
    for kw in ({"regularizers": {"l2": 0.1}}, {"optimizer_options": {"weight_decay": 0.1}}):
        nn.manual_seed(0)
        m = nn.Sequential(nn.Linear(3, 1, bias=False, dtype=np.float64))
        m.fit(X, y, loss="mse_loss", optimizer="sgd", lr=0.05, epochs=3, batch_size=8, metrics=(),
              verbose=0, shuffle=False, **kw)
        runs.append(m.params["0.weight"].copy())
    np.testing.assert_allclose(runs[0], runs[1], rtol=1e-13)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        nn.manual_seed(0)
        m = nn.Sequential(nn.Linear(3, 4, dtype=np.float64), nn.Linear(4, 1, dtype=np.float64))
        h = m.fit(X, y, loss="mse_loss", optimizer="sgd", lr=0.01, epochs=1, batch_size=32, metrics=(),
                  verbose=0, regularizers={"orthogonality": 1.0, "l1": 0.5})
    assert np.isfinite(h["loss"][0])


def test_train_cli_takes_l1_l2(tmp_path):
    from symdl.cli import build_parser

    args = build_parser().parse_args(["train", "--l1", "1e-4", "--l2", "1e-3"])
    assert args.l1 == 1e-4 and args.l2 == 1e-3


def test_objectives_take_penalties_from_the_specs(monkeypatch):
    """ridge/L1-SVM penalty gradients are the generated regularizers' (a
    changed spec gradient shows up in the objective)."""
    from symdl.generated.regularizers import l1, l2
    from symdl.runtime.objectives import l1_hinge_svm, ridge_objective

    X, y = np.eye(3), np.array([1.0, -1.0, 1.0])
    monkeypatch.setattr(l2, "gradient", lambda W, lam: np.full_like(W, 7.0))
    monkeypatch.setattr(l1, "gradient", lambda W, lam: np.full_like(W, 9.0))
    assert np.allclose(ridge_objective(np.zeros(3), X, y, 1.0)[1] - X.T @ (X @ np.zeros(3) - y), 7.0)
    _, dw, _ = l1_hinge_svm(5.0 * y, 0.0, X, y, 1.0)          # every margin met: hinge' = 0
    assert np.allclose(dw, 9.0)
