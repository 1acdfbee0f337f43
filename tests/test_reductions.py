"""Softmax family kernels (float32, float64; forward, backward, fused) against
the spec instantiated at small concrete sizes as plain SymPy expressions,
evaluated by mpmath at >= 60 digits and differentiated by SymPy; finite
differences on random shapes; bad input; no SymPy in the runtime; optional
PyTorch comparison."""
import subprocess
import sys
import textwrap
import zlib

import numpy as np
import pytest
import sympy as sp

import symdl
from symdl.registry import metadata
from symdl.errors import ParameterError, ShapeError
from symdl.runtime.reductions import make_bundle
from symdl.specs.softmax import SOFTMAX_SPECS

from reduction_truth import compare, exact, f32_allowance, instantiate, logits, mp_eval, rows_of, symbols_like

#: C >= 8 runs the kernels' 8-lane blocks and their tail; inner > 1 the strided loops
SHAPES = [((3, 4), -1), ((3, 1), -1), ((2, 3, 4), 1), ((4,), 0), ((2, 3, 2), 0), ((2, 19), -1)]
KINDS = ["random", "extreme", "close"]
DTYPES = (np.float64, np.float32)
#: the softmax family reduced along dim (glu and maxout regroup dim: tested below)
DIM_SPECS = [s for s in SOFTMAX_SPECS if s.layout == "dim"]


def kernel(name, **kw):
    return make_bundle(name, *metadata(name), **kw)


def truth(spec, x, dim, g):
    """(forward, vjp) truths in the layout of rows_of(., dim)."""
    X = symbols_like("x", x.shape)
    Xr = rows_of(X, dim)
    R, C = Xr.shape
    env = {"x": (Xr, ("r", "c"))}
    sizes = {"r": R, "c": C}
    if tuple(spec.out_axes) == ("r", "c"):
        outs = [instantiate(spec.expr, env, sizes, {"r": i, "c": j}) for i in range(R) for j in range(C)]
        gr = rows_of(g, dim).reshape(-1)
    else:
        outs = [instantiate(spec.expr, env, sizes, {"r": i}) for i in range(R)]
        gr = g.reshape(-1)
    F = sp.Add(*[exact(gv) * o for gv, o in zip(gr, outs)])
    xs = list(Xr.reshape(-1))
    grads = [sp.diff(F, s) for s in xs]
    subs = {s: exact(v) for s, v in zip(X.reshape(-1), x.reshape(-1))}
    return mp_eval(outs, subs), mp_eval(grads, subs)


def vjp_allowance(name, x, g, dim, base, truth):
    """float32: the VJP g - p·Σg (log_softmax) or p·(g - Σ p·g) (softmax,
    softmin) cancels where the data make g ≈ its weighted mean -- the
    conditioning of the product with g, which no kernel form avoids (p
    rounds to ~6e-8 in float32).  The bound there is PURE_REL·(|t| + the
    magnitude of the terms), the term losses' float32 form; elsewhere
    ``base`` (the exp-argument allowance)."""
    if name not in ("log_softmax", "softmax", "softmin"):
        return base
    xr = rows_of(x, dim) * (-1.0 if name == "softmin" else 1.0)
    p = np.exp(xr - xr.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    ga = np.abs(rows_of(g, dim))
    if name == "log_softmax":
        terms = ga + p * ga.sum(axis=1, keepdims=True)
    else:
        terms = p * (ga + (p * ga).sum(axis=1, keepdims=True))
    t = np.array([abs(float(v)) for v in truth])
    with np.errstate(divide="ignore", invalid="ignore"):
        return base * (1.0 + np.where(t > 0, terms.reshape(-1) / t, 0.0))


CASES = [pytest.param(s, shape, dim, kind, id=f"{s.name}-{'x'.join(map(str, shape))}-dim{dim}-{kind}")
         for s in DIM_SPECS for shape, dim in SHAPES for kind in KINDS]


@pytest.mark.parametrize("spec,shape,dim,kind", CASES)
def test_against_sympy_mpmath(spec, shape, dim, kind):
    rng = np.random.default_rng(zlib.crc32(repr((spec.name, shape, kind)).encode()))
    x = logits(kind, shape, rng)
    k = kernel(spec.name, dim=dim)
    y64 = k.forward(x)
    g = rng.normal(size=y64.shape).astype(np.float32).astype(np.float64)
    t_fwd, t_dx = truth(spec, x, dim, g)
    fails = []
    for dt in DTYPES:
        xd, gd = x.astype(dt), g.astype(dt)
        y = k.forward(xd)
        dx = k.backward(xd, gd)
        y2, dx2 = k.forward_backward(xd, gd)
        assert y.dtype == dt and dx.dtype == dt and y.shape == y64.shape and dx.shape == x.shape
        def rows(a):
            return rows_of(a, dim) if a.shape == x.shape else a
        for what, got, tr in (("forward", rows(y), t_fwd), ("backward", rows_of(dx, dim), t_dx),
                              ("fused forward", rows(y2), t_fwd), ("fused backward", rows_of(dx2, dim), t_dx)):
            al = np.repeat(f32_allowance(rows_of(x, dim)), got.size // rows_of(x, dim).shape[0])
            if "backward" in what:
                al = vjp_allowance(spec.name, x, g, dim, al, tr)
            f, _ = compare(got, tr, dt, f"{spec.name} {what} {np.dtype(dt).name}", al)
            fails += f
    assert not fails, fails[:8]


@pytest.mark.parametrize("spec", DIM_SPECS, ids=lambda s: s.name)
@pytest.mark.parametrize("shape,dim", [((5, 7), 1), ((3, 4, 5), 1), ((2, 3, 4, 2), -2), ((6,), 0)])
def test_finite_differences(spec, shape, dim):
    rng = np.random.default_rng(7)
    x = rng.normal(0, 2, shape)
    k = kernel(spec.name, dim=dim)
    g = rng.normal(size=k.forward(x).shape)
    dx = k.backward(x, g)
    h = 1e-6
    num = np.empty_like(x)
    for idx in np.ndindex(*shape):
        xp, xm = x.copy(), x.copy()
        xp[idx] += h
        xm[idx] -= h
        num[idx] = (np.sum(g * k.forward(xp)) - np.sum(g * k.forward(xm))) / (2 * h)
    np.testing.assert_allclose(dx, num, rtol=1e-6, atol=1e-8)


def test_large_rows_parallel_matches_serial():
    import symdl.runtime.reductions as RR
    rng = np.random.default_rng(3)
    x = rng.normal(0, 5, (300, 257)).astype(np.float32)
    k = kernel("log_softmax")
    g = rng.normal(size=x.shape).astype(np.float32)
    par = (k.forward(x), k.backward(x, g))
    old = RR.PARALLEL_THRESHOLD
    RR.PARALLEL_THRESHOLD = 1 << 62
    try:
        k2 = kernel("log_softmax")
        ser = (k2.forward(x), k2.backward(x, g))
    finally:
        RR.PARALLEL_THRESHOLD = old
    np.testing.assert_array_equal(par[0], ser[0])
    np.testing.assert_array_equal(par[1], ser[1])
    assert np.isfinite(par[0]).all()


def test_nan_propagates_row_wise():
    x = np.array([[0.0, np.nan, 1.0], [0.0, 1.0, 2.0]])
    y = kernel("softmax").forward(x)
    assert np.isnan(y[0]).all() and np.isfinite(y[1]).all()


def test_out_buffers_and_dtypes():
    x = np.arange(12, dtype=np.int64).reshape(3, 4)
    k = kernel("logsumexp", dim=1)
    y = k.forward(x)
    assert y.dtype == np.float64 and y.shape == (3,)
    out = np.empty(3)
    assert k.forward(x, out=out) is out
    dx = np.empty((3, 4))
    assert k.backward(x, np.ones(3), out=dx) is dx
    with pytest.raises(ShapeError, match=r"\(3, 4\).*\(4,\)|\(4,\).*\(3, 4\)"):
        kernel("softmax", dim=1).backward(np.ones((3, 4)), np.ones(4))
    with pytest.raises(ShapeError, match="shape"):
        k.forward(x, out=np.empty(4))
    with pytest.raises(ShapeError, match=r"dim=2 is out of range.*\(3, 4\)"):
        kernel("softmax", dim=2).forward(np.ones((3, 4)))
    with pytest.raises(ParameterError):
        kernel("softmax", axis=1)
    with pytest.raises(ParameterError):
        kernel("softmax", dim=1.5)


def test_runtime_imports_no_sympy():
    code = textwrap.dedent("""
        import sys, numpy as np
        import symdl
        k = symdl.kernel("cross_entropy")
        k.backward(np.ones((2, 3)), np.array([0, 2]))
        symdl.kernel("softmax").forward(np.ones((2, 3)))
        symdl.kernel("binary_cross_entropy").backward(np.full(3, 0.5), np.ones(3))
        assert "sympy" not in sys.modules, "sympy imported"
    """)
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize("spec", DIM_SPECS, ids=lambda s: s.name)
def test_against_torch(spec):
    torch = pytest.importorskip("torch")
    fns = {"softmax": torch.softmax, "log_softmax": torch.log_softmax,
           "softmin": lambda t, d: torch.nn.functional.softmin(t, dim=d), "logsumexp": torch.logsumexp}
    rng = np.random.default_rng(11)
    for shape, dim in [((4, 6), -1), ((2, 5, 3), 1), ((3, 4), 0)]:
        x = rng.normal(0, 4, shape)
        xt = torch.tensor(x, requires_grad=True)
        yt = fns[spec.name](xt, dim)
        g = rng.normal(size=tuple(yt.shape))
        yt.backward(torch.tensor(g))
        k = kernel(spec.name, dim=dim)
        np.testing.assert_allclose(k.forward(x), yt.detach().numpy(), rtol=1e-13, atol=1e-15)
        np.testing.assert_allclose(k.backward(x, g), xt.grad.numpy(), rtol=1e-12, atol=1e-14)


# ---------------------------------------------------------------------------- glu, maxout
def grouped_truth(name, x, dim, k, g):
    """glu / maxout written out on arrays of symbols: (forward, vjp) in C order."""
    X = symbols_like("x", x.shape)
    d = dim % x.ndim
    C = x.shape[d]
    moved = np.moveaxis(X, d, -1)
    if name == "glu":
        a, b = moved[..., : C // 2], moved[..., C // 2:]
        outs = np.vectorize(lambda u, v: u / (1 + sp.exp(-v)), otypes=[object])(a, b)
    else:
        groups = moved.reshape(moved.shape[:-1] + (C // k, k))
        outs = np.empty(groups.shape[:-1], dtype=object)
        for idx in np.ndindex(*outs.shape):
            outs[idx] = sp.Max(*groups[idx])
    outs = np.moveaxis(outs, -1, d)
    F = sp.Add(*[exact(gv) * o for gv, o in zip(g.reshape(-1), outs.reshape(-1))])
    xs = list(X.reshape(-1))
    subs = {s_: exact(v) for s_, v in zip(xs, x.reshape(-1))}
    return mp_eval(list(outs.reshape(-1)), subs), mp_eval([sp.diff(F, s_) for s_ in xs], subs)


GROUPED = [("glu", (3, 4), -1, 2), ("glu", (2, 6, 3), 1, 2), ("glu", (4,), 0, 2),
           ("maxout", (3, 4), -1, 2), ("maxout", (2, 6, 3), 1, 3), ("maxout", (2, 16), 1, 8)]


@pytest.mark.parametrize("name,shape,dim,k", GROUPED, ids=[f"{c[0]}-{'x'.join(map(str, c[1]))}-{c[2]}"
                                                          for c in GROUPED])
@pytest.mark.parametrize("kind", ["random", "extreme"])
def test_glu_maxout_against_sympy(name, shape, dim, k, kind):
    rng = np.random.default_rng(zlib.crc32(repr((name, shape, kind)).encode()))
    x = logits(kind, shape, rng)
    if name == "maxout":   # no ties (their convention is pinned below)
        x = x + np.arange(x.size).reshape(shape) * 1e-3
        x = x.astype(np.float32).astype(np.float64)
    k_ = kernel(name, dim=dim, **({"pool_size": k} if name == "maxout" else {}))
    y64 = k_.forward(x)
    g = rng.normal(size=y64.shape).astype(np.float32).astype(np.float64)
    t_fwd, t_dx = grouped_truth(name, x, dim, k, g)
    fails = []
    for dt in DTYPES:
        xd, gd = x.astype(dt), g.astype(dt)
        y, dx = k_.forward(xd), k_.backward(xd, gd)
        y2, dx2 = k_.forward_backward(xd, gd)
        assert y.dtype == dt and dx.shape == x.shape and y.shape == y64.shape
        for what, got, tr in (("forward", y, t_fwd), ("backward", dx, t_dx), ("fused forward", y2, t_fwd),
                              ("fused backward", dx2, t_dx)):
            fails += compare(got, tr, dt, f"{name} {what} {np.dtype(dt).name}")[0]
    assert not fails, fails[:8]


def test_glu_maxout_against_torch_and_ties():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(5)
    for shape, dim in (((4, 6), -1), ((2, 4, 3), 1), ((6, 2), 0)):
        x = rng.normal(size=shape)
        xt = torch.tensor(x, requires_grad=True)
        y = torch.nn.functional.glu(xt, dim=dim)
        g = rng.normal(size=tuple(y.shape))
        y.backward(torch.tensor(g))
        k = kernel("glu", dim=dim)
        np.testing.assert_allclose(k.forward(x), y.detach().numpy(), rtol=1e-14, atol=1e-16)
        np.testing.assert_allclose(k.backward(x, g), xt.grad.numpy(), rtol=1e-13, atol=1e-16)
    # maxout = amax over groups of pool_size channels; ties split the gradient evenly (torch.amax)
    x = np.array([[1.0, 1.0, 0.0, 2.0, 3.0, 3.0]])
    for p in (2, 3):
        xt = torch.tensor(x, requires_grad=True)
        y = torch.amax(xt.reshape(1, 6 // p, p), dim=2)
        y.backward(torch.ones_like(y))
        k = kernel("maxout", dim=1, pool_size=p)
        np.testing.assert_array_equal(k.forward(x), y.detach().numpy())
        np.testing.assert_array_equal(k.backward(x, np.ones((1, 6 // p))), xt.grad.numpy())
    np.testing.assert_array_equal(kernel("maxout", dim=1).backward(x, np.ones((1, 3))),
                                  [[0.5, 0.5, 0.0, 1.0, 0.5, 0.5]])


def test_glu_maxout_bad_input():
    with pytest.raises(ShapeError, match=r"even.*dimension 1 .*\(2, 3\).*size 3"):
        kernel("glu", dim=1).forward(np.ones((2, 3)))
    with pytest.raises(ShapeError, match="pool_size=4"):
        kernel("maxout", pool_size=4).forward(np.ones((2, 6)))
    with pytest.raises(ParameterError, match="pool_size"):
        kernel("maxout", pool_size=0)
    with pytest.raises(ParameterError):
        kernel("glu", pool_size=2)


@pytest.mark.parametrize("name", ["nll_loss", "cross_entropy"])
def test_class_index_rows_against_torch(name):
    """A nan and a -inf at classes other than the target, and an ignored row
    holding a nan and an inf: the row's loss is -w_t·x_t (nll_loss) and an
    ignored row's loss and gradient are exactly 0 (reduce_stable's
    onehot_gather / valid_select), as torch gives for the loss and for
    nll_loss's gradient.  (torch's cross_entropy gradient of an ignored row
    holding a nan is nan: log_softmax's backward multiplies its 0 cotangent
    by the nan softmax; the definition, and symdl, give 0.)"""
    torch = pytest.importorskip("torch")
    x = np.array([[0.5, -1.0, np.nan, 2.0], [np.nan, 1.0, -2.0, np.inf], [1.5, -np.inf, 0.25, -0.75]])
    t = np.array([0, -100, 2])
    w = np.array([0.5, 1.25, 2.0, 0.75])
    if name == "cross_entropy":
        x[0, 2] = -np.inf   # cross_entropy: a nan anywhere in a valid row is nan
    fn = getattr(torch.nn.functional, name)
    for weight in (None, w):
        k = symdl.kernel(name, reduction="none", **({} if weight is None else {"weight": weight}))
        xt = torch.tensor(x, requires_grad=True)
        lt = fn(xt, torch.tensor(t), weight=None if weight is None else torch.tensor(weight), reduction="none")
        lt.backward(torch.ones(3, dtype=torch.float64))
        for dt in (np.float64, np.float32):
            loss, dx = k.forward_backward(x.astype(dt), t, np.ones(3, dt))
            np.testing.assert_allclose(loss, lt.detach().numpy(), rtol=1e-6 if dt == np.float32 else 1e-13)
            assert loss[1] == 0 and np.all(dx[1] == 0)
            rows = [0, 1, 2] if name == "nll_loss" else [0, 2]
            np.testing.assert_allclose(dx[rows], xt.grad.numpy()[rows], rtol=1e-6 if dt == np.float32 else 1e-13)
            assert np.array_equal(k.backward(x.astype(dt), t, np.ones(3, dt)), dx)
