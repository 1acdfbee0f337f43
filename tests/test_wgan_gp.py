"""WGAN-GP (seed 001 §9.5 eq 92): the critic's input gradient and the double
backward of symdl.nn.wgan_gp -- against finite differences in float64 and,
where torch is installed, against torch.autograd.grad(create_graph=True) with
the same weights.  (The wgan_gp loss kernel itself is checked against SymPy
in test_term_losses.py; the f'' kernels against mpmath in
test_double_backward.py.)"""
import numpy as np
import pytest

import symdl
import symdl.nn as nn
from symdl.errors import ParameterError, ShapeError

F64 = np.float64


def critic(act="tanh", D=4, H=5, seed=0, dtype=F64, **params):
    rng = np.random.default_rng(seed)
    return nn.Sequential(nn.Linear(D, H, dtype=dtype, rng=rng), nn.Activation(act, dtype=dtype, **params),
                         nn.Linear(H, H, dtype=dtype, rng=rng), nn.Activation(act, dtype=dtype, **params),
                         nn.Linear(H, 1, dtype=dtype, rng=rng))


def data(N=5, D=4, seed=1):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(N, D)), rng.normal(size=(N, D)) + 0.5, rng.uniform(size=N)


def reference_loss(c, real, fake, eps, lam=10.0):
    """The loss from input_gradient and plain NumPy (independent of the
    wgan_gp loss kernel)."""
    xh = eps[:, None] * real + (1 - eps[:, None]) * fake
    u = nn.input_gradient(c, xh)
    gp = (np.linalg.norm(u.reshape(len(u), -1), axis=1) - 1) ** 2
    return np.mean(c.forward(fake)) - np.mean(c.forward(real)) + lam * np.mean(gp)


def fd_param_grads(c, f, h=1e-6):
    out = {}
    for name, p in c.params.items():
        g = np.zeros(p.shape)
        for idx in np.ndindex(*p.shape):
            old = p[idx]
            p[idx] = old + h
            fp = f()
            p[idx] = old - h
            fm = f()
            p[idx] = old
            g[idx] = (fp - fm) / (2 * h)
        out[name] = g
    return out


# ----------------------------------------------------------------------------- input gradient
def test_input_gradient_against_finite_differences():
    c = critic("gelu")
    x = np.random.default_rng(2).normal(size=(3, 4))
    u = nn.input_gradient(c, x)
    h = 1e-6
    for idx in np.ndindex(*x.shape):
        xp, xm = x.copy(), x.copy()
        xp[idx] += h
        xm[idx] -= h
        fd = (c.forward(xp).sum() - c.forward(xm).sum()) / (2 * h)
        assert abs(u[idx] - fd) <= 1e-7 * max(1, abs(fd)), idx
    # a vector-Jacobian product with an explicit grad; the layers' grads untouched
    before = {k: v.copy() for k, v in c.grads.items()}
    g = np.array([[1.0], [-2.0], [0.5]])
    u2 = nn.input_gradient(c, x, grad=g)
    rows = [nn.input_gradient(c, x[i:i + 1])[0] for i in range(3)]
    np.testing.assert_allclose(u2, g * np.array(rows), rtol=1e-13, atol=1e-15)
    for k, v in c.grads.items():
        np.testing.assert_array_equal(v, before[k])


# ----------------------------------------------------------------------------- the loss
@pytest.mark.parametrize("act,params", [("tanh", {}), ("softplus", {"beta": 2.0}), ("elu", {}),
                                        ("prelu", {}), ("swish", {}), ("sinc", {})])
def test_parameter_gradients_against_finite_differences(act, params):
    """dL/dθ of the full critic loss (double backward through the critic),
    float64, central differences; prelu's and swish's learnable parameters
    get d f'/d w from the derivative kernels."""
    c = critic(act, **params)
    real, fake, eps = data()
    loss = nn.wgan_gp(c, real, fake, epsilon=eps)
    assert loss == pytest.approx(reference_loss(c, real, fake, eps), rel=1e-13)
    got = {k: v.copy() for k, v in c.grads.items()}
    fd = fd_param_grads(c, lambda: float(nn.wgan_gp(c, real, fake, epsilon=eps)))
    for k in got:
        np.testing.assert_allclose(got[k], fd[k], rtol=2e-6, atol=2e-7, err_msg=f"{act} {k}")


def test_sum_reduction_lambda_and_nested_sequential():
    c = critic("tanh")
    real, fake, eps = data()
    lm = nn.wgan_gp(c, real, fake, lambda_gp=3.0, epsilon=eps)
    gm = {k: v.copy() for k, v in c.grads.items()}
    ls = nn.wgan_gp(c, real, fake, lambda_gp=3.0, epsilon=eps, reduction="sum")
    assert ls == pytest.approx(5 * lm, rel=1e-13)
    for k, v in c.grads.items():
        np.testing.assert_allclose(v, 5 * gm[k], rtol=1e-12, atol=1e-14)
    assert lm == pytest.approx(reference_loss(c, real, fake, eps, lam=3.0), rel=1e-13)
    # the same layers nested: the same gradients, written into the same arrays
    nested = nn.Sequential(nn.Sequential(*c.layers[:2]), nn.Sequential(*c.layers[2:]))
    assert nn.wgan_gp(nested, real, fake, lambda_gp=3.0, epsilon=eps) == pytest.approx(lm, rel=1e-15)
    for k, v in c.grads.items():
        np.testing.assert_allclose(v, gm[k], rtol=1e-15)


def test_zero_input_gradient_row_follows_torch():
    """A row whose input gradient is 0 (every relu dead): the norm's
    gradient is 0 there (torch's subgradient), the penalty is lambda."""
    c = nn.Sequential(nn.Linear(2, 3, dtype=F64), nn.Activation("relu", dtype=F64), nn.Linear(3, 1, dtype=F64))
    c.load_state_dict({"0.weight": np.ones((3, 2)), "0.bias": -10 * np.ones(3),
                       "2.weight": np.ones((1, 3)), "2.bias": np.zeros(1)})
    real, fake = np.zeros((2, 2)), np.ones((2, 2))
    loss = nn.wgan_gp(c, real, fake, epsilon=np.array([0.5, 0.25]))
    assert loss == 10.0
    for v in c.grads.values():
        assert np.all(np.isfinite(v)) and not v.any()


def test_dropout_and_rrelu_in_training_mode():
    """Training mode draws masks and slopes per pass (as torch's train());
    with the generators reseeded the draws repeat and finite differences
    apply."""
    def make():
        return nn.Sequential(nn.Linear(4, 6, dtype=F64, rng=np.random.default_rng(3)),
                             nn.Activation("rrelu", dtype=F64), nn.Dropout(0.3, dtype=F64),
                             nn.Linear(6, 6, dtype=F64, rng=np.random.default_rng(4)),
                             nn.Activation("softplus", dtype=F64),
                             nn.Dropout(0.2, mode="weight_scaling", dtype=F64),
                             nn.Linear(6, 1, dtype=F64, rng=np.random.default_rng(5)))
    c = make()
    real, fake, eps = data()

    def run():
        c[1].rng, c[2].rng, c[5].rng = (np.random.default_rng(s) for s in (7, 8, 9))
        return float(nn.wgan_gp(c, real, fake, epsilon=eps, training=True))
    run()
    got = {k: v.copy() for k, v in c.grads.items()}
    fd = fd_param_grads(c, run)
    for k in got:
        np.testing.assert_allclose(got[k], fd[k], rtol=2e-6, atol=2e-7, err_msg=k)
    # eval mode: dropout is the identity (inverted) or a scaling; rrelu the mean slope
    le = nn.wgan_gp(c, real, fake, epsilon=eps, training=False)
    assert le == pytest.approx(reference_loss(c, real, fake, eps), rel=1e-13)


def test_float32_critic_and_rng():
    c64 = critic("silu")
    c32 = c64.astype(np.float32)
    real, fake, eps = data()
    l64 = nn.wgan_gp(c64, real, fake, epsilon=eps)
    l32 = nn.wgan_gp(c32, real, fake, epsilon=eps)
    assert l32.dtype == np.float32
    assert l32 == pytest.approx(l64, rel=1e-5)
    for k, v in c32.grads.items():
        assert v.dtype == np.float32
        np.testing.assert_allclose(v, c64.grads[k], rtol=1e-3, atol=1e-4)
    # epsilon drawn from rng: reproducible
    a = nn.wgan_gp(c64, real, fake, rng=np.random.default_rng(0))
    b = nn.wgan_gp(c64, real, fake, rng=np.random.default_rng(0))
    assert a == b


def test_bad_input():
    c = critic("tanh")
    real, fake, eps = data()
    with pytest.raises(NotImplementedError, match="Softmax"):
        nn.wgan_gp(nn.Sequential(nn.Linear(4, 3), nn.Softmax(dim=1)), real, fake)
    with pytest.raises(ShapeError, match="must match"):
        nn.wgan_gp(c, real, fake[:3])
    with pytest.raises(ShapeError, match="one value per sample"):
        nn.wgan_gp(nn.Sequential(nn.Linear(4, 2, dtype=F64)), real, fake)
    with pytest.raises(ParameterError, match="reduction"):
        nn.wgan_gp(c, real, fake, reduction="none")
    with pytest.raises(ShapeError, match="epsilon"):
        nn.wgan_gp(c, real, fake, epsilon=np.ones(3))
    with pytest.raises(ParameterError, match="symdl.nn layer"):
        nn.wgan_gp(lambda v: v, real, fake)
    with pytest.raises(ShapeError, match="grad has shape"):
        nn.input_gradient(c, real, grad=np.ones((2, 1)))


def test_catalog_entry():
    assert "wgan_gp" in symdl.names("loss")
    k = symdl.kernel("wgan_gp", lambda_gp=2.0)
    u = np.array([[3.0, 4.0], [0.0, 0.0]])
    dr, df = np.array([1.0, 2.0]), np.array([0.5, -1.0])
    assert k.forward(u, dr, df) == pytest.approx(np.mean(df - dr) + 2.0 * (16 + 1) / 2, rel=1e-15)
    du, ddr, ddf = k.backward(u, dr, df)
    assert ddr.shape == ddf.shape == (2,) and du.shape == (2, 2)
    # d/du of lambda (||u|| - 1)^2 / N: lambda (||u|| - 1) u / ||u||, 0 at u = 0
    np.testing.assert_allclose(du, [[2.0 * 4 * 3 / 5, 2.0 * 4 * 4 / 5], [0.0, 0.0]], rtol=1e-15)
    np.testing.assert_array_equal(ddr, [-0.5, -0.5])


#: row scales per dtype: float32 rows from subnormal to near overflow (its
#: kernels compute in float64, so no square underflows or overflows);
#: float64 rows where the float64 squares stay normal (||u|| in ~[1e-150,
#: 1e150]: the float64 kernel has no wider type to widen into)
ROW_SCALES = {np.float32: [1e-42, 1e-38, 1e-30, 1e-20, 1e-3, 1.0, 1e3, 1e20, 1e30, 1e37],
              np.float64: [1e-150, 1e-100, 1e-20, 1e-3, 1.0, 1e3, 1e20, 1e100, 1e150]}


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
def test_loss_kernel_at_tiny_and_huge_row_norms(dtype):
    """The penalty's gradient 2λ(||u|| - 1)u/||u|| is about 2λ·u/||u|| for a
    tiny row and 2λ·u for a huge one: finite wherever the truth is (mpmath,
    60 digits), never nan; a loss beyond the dtype's range is inf."""
    import mpmath
    from symdl.registry import kernel

    lam = 10.0
    k = kernel("wgan_gp", lambda_gp=lam, reduction="sum")
    base = np.random.default_rng(7).normal(size=7)
    scales = ROW_SCALES[dtype]
    u = np.array([base * s for s in scales]).astype(dtype)
    dr = np.zeros(len(scales), dtype)
    loss_rows, (du, _, _) = kernel("wgan_gp", lambda_gp=lam, reduction="none").forward_backward(
        u, dr, dr)
    _, (du_sum, _, _) = k.forward_backward(u, dr, dr)
    np.testing.assert_array_equal(du, du_sum)
    big = float(np.finfo(dtype).max)
    tol = 4 * float(np.finfo(dtype).eps)
    with mpmath.workdps(60):
        for i, s in enumerate(scales):
            row = [mpmath.mpf(float(x)) for x in u[i]]
            n = mpmath.sqrt(mpmath.fsum(x * x for x in row))
            want_loss = lam * (n - 1) ** 2
            got = float(loss_rows[i])
            if want_loss > big:
                assert got == np.inf, f"scale {s:g}: loss {got}, truth {want_loss} overflows"
            else:
                assert abs(got - want_loss) <= tol * want_loss, f"scale {s:g}: loss {got} vs {want_loss}"
            for j, x in enumerate(row):
                want = 2 * lam * (n - 1) / n * x
                got = float(du[i, j])
                assert not np.isnan(got), f"scale {s:g}: nan gradient (truth {want})"
                if abs(want) > big:
                    assert got == np.sign(float(want)) * np.inf
                    continue
                err = abs(got - want) / max(abs(want), mpmath.mpf(float(np.finfo(dtype).tiny)))
                assert err <= tol, f"scale {s:g}, element {j}: {got} vs {mpmath.nstr(want, 17)}"


# ----------------------------------------------------------------------------- torch
TORCH = [("relu", {}, "ReLU", {}), ("leaky_relu", {"negative_slope": 0.2}, "LeakyReLU", {"negative_slope": 0.2}),
         ("tanh", {}, "Tanh", {}), ("gelu", {}, "GELU", {}), ("gelu", {"approximate": "tanh"}, "GELU",
                                                               {"approximate": "tanh"}),
         ("softplus", {}, "Softplus", {}), ("silu", {}, "SiLU", {}), ("elu", {}, "ELU", {}),
         ("mish", {}, "Mish", {}), ("prelu", {}, "PReLU", {}), ("selu", {}, "SELU", {}),
         ("sigmoid", {}, "Sigmoid", {}), ("hardswish", {}, "Hardswish", {})]


@pytest.mark.parametrize("act,params,tname,tparams", TORCH, ids=[f"{t[0]}{t[1] or ''}" for t in TORCH])
def test_against_torch(act, params, tname, tparams):
    """Same weights through load_state_dict; torch's double backward by
    autograd.grad(create_graph=True): loss and every parameter gradient."""
    torch = pytest.importorskip("torch")
    D, H, N = 5, 7, 6
    torch.manual_seed(0)
    tc = torch.nn.Sequential(torch.nn.Linear(D, H), getattr(torch.nn, tname)(**tparams),
                             torch.nn.Linear(H, H), getattr(torch.nn, tname)(**tparams),
                             torch.nn.Linear(H, 1)).double()
    c = nn.Sequential(nn.Linear(D, H, dtype=F64), nn.Activation(act, dtype=F64, **params),
                      nn.Linear(H, H, dtype=F64), nn.Activation(act, dtype=F64, **params),
                      nn.Linear(H, 1, dtype=F64))
    c.load_state_dict({k: v.detach().numpy() for k, v in tc.state_dict().items()})
    rng = np.random.default_rng(0)
    real, fake, eps = rng.normal(size=(N, D)), rng.normal(size=(N, D)), rng.uniform(size=N)
    loss = nn.wgan_gp(c, real, fake, epsilon=eps)
    R, Fk, e = torch.tensor(real), torch.tensor(fake), torch.tensor(eps)[:, None]
    xh = (e * R + (1 - e) * Fk).requires_grad_(True)
    (g,) = torch.autograd.grad(tc(xh).sum(), xh, create_graph=True)
    Lt = tc(Fk).mean() - tc(R).mean() + 10.0 * ((g.norm(2, dim=1) - 1) ** 2).mean()
    Lt.backward()
    assert loss == pytest.approx(Lt.item(), rel=1e-12)
    for k, p in tc.named_parameters():
        np.testing.assert_allclose(c.grads[k], p.grad.numpy(), rtol=1e-10, atol=1e-12, err_msg=f"{act} {k}")


# ----------------------------------------------------------------------------- vs the symbolic truth
@pytest.mark.parametrize("act,params", [("tanh", {}), ("swish", {"beta": 1.3}), ("prelu", {"weight": -0.2})])
def test_double_backward_against_sympy(act, params):
    """dL/dθ of the whole WGAN-GP loss, second-order pass included, against
    SymPy: the critic written out with the activation's spec definition,
    ∇_x D by sympy.diff, the loss differentiated wrt every parameter and
    evaluated by mpmath at 50 digits (float64: 1e-12 relative to the largest
    gradient of the same array)."""
    import mpmath
    import sympy as sp

    from symdl.specs import get
    from symdl.specs.functions import to_definition
    rng = np.random.default_rng(4)
    c = nn.Sequential(nn.Linear(2, 3, dtype=F64, rng=rng), nn.Activation(act, dtype=F64, **params),
                      nn.Linear(3, 1, dtype=F64, rng=rng))
    real, fake = rng.normal(size=(2, 2)), rng.normal(size=(2, 2)) + 0.5
    eps = np.array([0.25, 0.625])
    lam = 2.5
    symdl.nn.wgan_gp(c, real, fake, lambda_gp=lam, epsilon=eps)
    got = {k: v.copy() for k, v in c.grads.items()}
    spec = get(act)
    syms = {k: np.array([sp.Symbol(f"p{k.replace('.', '_')}_{i}", real=True) for i in range(v.size)],
                        dtype=object).reshape(v.shape) for k, v in c.params.items()}
    f = to_definition(spec.definition())
    learn = {p.symbol: syms[f"1.{p.name}"].reshape(-1)[0] for p in spec.learnable}
    f = f.subs(learn)
    xs = sp.symbols("x0:2", real=True)

    def D(x):
        z = [sum(syms["0.weight"][j, i] * x[i] for i in range(2)) + syms["0.bias"][j] for j in range(3)]
        a = [f.subs(spec.x, zj) for zj in z]
        return sum(syms["2.weight"][0, j] * a[j] for j in range(3)) + syms["2.bias"][0]

    Dx = D(xs)
    grad_x = [sp.diff(Dx, xi) for xi in xs]
    rat = np.vectorize(lambda v: sp.Rational(float(v)), otypes=[object])
    R, Fk = rat(real), rat(fake)
    L = 0
    for i in range(2):
        e = sp.Rational(float(eps[i]))
        xh = [e * R[i, k] + (1 - e) * Fk[i, k] for k in range(2)]
        norm = sp.sqrt(sum(gx.subs(dict(zip(xs, xh))) ** 2 for gx in grad_x))
        L += (D(list(Fk[i])) - D(list(R[i])) + lam * (norm - 1) ** 2) / 2
    flat = [s for k in syms for s in syms[k].reshape(-1)]
    vals = {s: v for k in syms for s, v in zip(syms[k].reshape(-1), c.params[k].reshape(-1))}
    for k in syms:
        fn = sp.lambdify(flat, [sp.diff(L, s) for s in syms[k].reshape(-1)], modules="mpmath")
        with mpmath.workdps(50):
            want = np.array([float(v) for v in fn(*[mpmath.mpf(float(vals[s])) for s in flat])])
        scale = np.max(np.abs(want))
        assert np.max(np.abs(got[k].reshape(-1) - want)) <= 1e-12 * scale, (act, k, got[k], want)
