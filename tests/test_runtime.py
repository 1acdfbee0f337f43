"""The kernel bundles: API, bad input, shapes, dtypes, out=, variants."""
import numpy as np
import pytest
import sympy as sp

import symdl
import symdl.specs as S
from symdl.runtime import elementwise as E

RNG = np.random.default_rng(3)


def test_names_lists_every_activation():
    acts = symdl.names("activation", user=False)    # the catalog's (without loaded user libraries)
    assert set(acts) == {s.name for s in S.all_specs("activation")} and len(acts) == len(set(acts))
    from symdl.registry import FAMILIES
    assert {"normalization", "cell"} <= set(FAMILIES)
    assert set(symdl.names(user=False)) == set().union(*(symdl.names(f, user=False) for f in FAMILIES))
    assert "cross_entropy" in symdl.names("loss") and "softmax" in symdl.names("softmax")


def test_unknown_name_lists_close_matches():
    with pytest.raises(symdl.UnknownNameError) as e:
        symdl.kernel("gleu")
    assert "gelu" in str(e.value)
    with pytest.raises(KeyError):
        symdl.kernel("leaky_rleu")
    with pytest.raises(symdl.UnknownNameError, match="family"):
        symdl.names("activations")


def test_unknown_or_illtyped_parameter():
    with pytest.raises(symdl.ParameterError, match="negative_slope"):
        symdl.kernel("leaky_relu", slope=0.1)
    with pytest.raises(symdl.ParameterError, match="real number"):
        symdl.kernel("elu", alpha="big")
    with pytest.raises(symdl.ParameterError, match="not one of"):
        symdl.kernel("gelu", approximate="erf")
    with pytest.raises(symdl.ParameterError, match="> 0"):
        symdl.kernel("softplus", beta=-1.0)
    with pytest.raises(symdl.ParameterError, match="nonzero"):
        symdl.kernel("celu", alpha=0.0)
    with pytest.raises(symdl.ParameterError):
        symdl.kernel("relu", alpha=1.0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtype_in_equals_dtype_out(dtype):
    x = RNG.normal(size=100).astype(dtype)
    k = symdl.kernel("gelu")
    assert k.forward(x).dtype == dtype
    assert k.backward(x, np.ones_like(x)).dtype == dtype
    y, dx = k.forward_backward(x, np.ones_like(x))
    assert y.dtype == dtype and dx.dtype == dtype


def test_integer_arrays_become_float64_and_others_are_rejected():
    k = symdl.kernel("relu")
    y = k.forward(np.array([-2, 0, 3]))
    assert y.dtype == np.float64 and y.tolist() == [0.0, 0.0, 3.0]
    for bad in (np.array([1 + 2j]), np.array(["a"]), np.array([True]), np.array([1.0], np.float16)):
        with pytest.raises(TypeError, match="dtype"):
            k.forward(bad)


@pytest.mark.parametrize("shape", [(), (7,), (3, 4), (2, 3, 5), (0,), (4, 0, 2)])
def test_any_shape(shape):
    x = RNG.normal(size=shape)
    k = symdl.kernel("silu")
    y = k.forward(x)
    assert y.shape == np.shape(x)
    flat = k.forward(np.ravel(x))
    np.testing.assert_array_equal(np.ravel(y), flat)
    assert k.backward(x, np.ones(shape)).shape == np.shape(x)


def test_non_contiguous_inputs():
    x = RNG.normal(size=(6, 8))
    k = symdl.kernel("tanh")
    for view in (x.T, x[:, ::2], x[::-1]):
        np.testing.assert_array_equal(k.forward(view), k.forward(np.ascontiguousarray(view)))
        g = np.ones_like(view)
        np.testing.assert_array_equal(k.backward(view, g), k.backward(np.ascontiguousarray(view), g))


def test_out_buffers_are_used_and_checked():
    x = RNG.normal(size=(5, 4))
    k = symdl.kernel("elu", alpha=0.5)
    out = np.empty_like(x)
    assert k.forward(x, out=out) is out
    np.testing.assert_array_equal(out, k.forward(x))
    o1, o2 = np.empty_like(x), np.empty_like(x)
    y, dx = k.forward_backward(x, np.ones_like(x), out=(o1, o2))
    assert y is o1 and dx is o2
    with pytest.raises(symdl.ShapeError, match=r"\(4, 5\).*\(5, 4\)"):
        k.forward(x, out=np.empty((4, 5)))
    with pytest.raises(symdl.ShapeError, match="float32.*float64"):
        k.forward(x, out=np.empty((5, 4), np.float32))
    with pytest.raises(symdl.ShapeError, match="contiguous"):
        k.forward(x, out=np.empty((4, 5)).T)


def test_grad_shape_mismatch_names_both():
    k = symdl.kernel("relu")
    with pytest.raises(symdl.ShapeError, match=r"\(3,\).*\(4,\)"):
        k.backward(np.zeros(3), np.zeros(4))


@pytest.mark.parametrize("name,params", [("gelu", {"approximate": "tanh"}), ("mish", {}),
                                         ("prelu", {"weight": 0.1}), ("swish", {"beta": 0.7}),
                                         ("softplus", {"threshold": 20.0}), ("tanhshrink", {})])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fused_equals_separate(name, params, dtype):
    x = RNG.normal(0, 3, 1000).astype(dtype)
    g = RNG.normal(size=1000).astype(dtype)
    k = symdl.kernel(name, **params)
    fused = k.forward_backward(x, g)
    y = k.forward(x)
    b = k.backward(x, g)
    b = b if isinstance(b, tuple) else (b,)
    # CSE over forward and backward together may round differently, within the
    # documented accuracy bounds of each dtype
    tol = dict(rtol=1e-5, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(fused[0], y, **tol)
    for f, s in zip(fused[1:], b):
        np.testing.assert_allclose(f, s, **tol)


@pytest.mark.parametrize("name", ["relu", "gelu", "prelu", "sigmoid"])
def test_parallel_variant_equals_serial(name, monkeypatch):
    x = RNG.normal(0, 3, 5000)
    g = RNG.normal(size=5000)
    k = symdl.kernel(name)
    serial = (k.forward(x), k.backward(x, g))
    monkeypatch.setattr(E, "PARALLEL_THRESHOLD", 1)
    monkeypatch.setattr(E, "BLOCK", 128)
    k2 = symdl.kernel(name)
    par = (k2.forward(x), k2.backward(x, g))
    np.testing.assert_array_equal(serial[0], par[0])
    if isinstance(serial[1], tuple):
        np.testing.assert_array_equal(serial[1][0], par[1][0])
        np.testing.assert_allclose(serial[1][1], par[1][1], rtol=1e-12)
    else:
        np.testing.assert_array_equal(serial[1], par[1])


def _fd_param(name, pname, value, x, g, h=1e-6):
    up = symdl.kernel(name, **{pname: value + h}).forward(x)
    dn = symdl.kernel(name, **{pname: value - h}).forward(x)
    return np.sum(g * (up - dn) / (2 * h))


def _learnable_cases():
    """Every learnable parameter of the catalog (from the specs): its default,
    the spec's test values and, unless it must be positive, the default's negative."""
    cases = []
    for spec in S.all_specs("activation"):
        for p in spec.learnable:
            values = [float(p.default)] + [float(tp[p.name]) for tp in spec.test_params if p.name in tp]
            if not p.positive:
                values.append(-float(p.default))
            cases += [pytest.param(spec, p.name, v, id=f"{spec.name}-{p.name}={v}")
                      for v in dict.fromkeys(values)]
    return cases


def _away_from_kinks(spec, params, x, r=1e-3):
    ok = np.ones(x.shape, bool)
    for k in spec.kinks:
        ok &= np.abs(x - float(sp.sympify(k).subs({spec.param(n).symbol: v for n, v in params.items()}))) > r
    return ok


@pytest.mark.parametrize("spec,pname,value", _learnable_cases())
def test_learnable_gradient_against_finite_differences(spec, pname, value):
    name = spec.name
    x = RNG.normal(0, 2, 2000)
    g = RNG.normal(size=2000)
    dx, dp = symdl.kernel(name, **{pname: value}).backward(x, g)
    assert np.ndim(dp) == 0
    np.testing.assert_allclose(dp, _fd_param(name, pname, value, x, g), rtol=1e-6)
    # and d/dx against finite differences too
    h = 1e-6
    k = symdl.kernel(name, **{pname: value})
    fd = (k.forward(x + h) - k.forward(x - h)) / (2 * h) * g
    mask = _away_from_kinks(spec, {pname: value}, x)
    np.testing.assert_allclose(dx[mask], fd[mask], rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("shape", [(8, 3), (4, 3, 5), (2, 3, 4, 4), (30000, 3), (64, 3, 1100)])
def test_prelu_per_channel_weight(shape):
    """Small and prange-sized inputs, short rows ((N, C): one element per row
    sum) and long ones."""
    x = RNG.normal(size=shape)
    g = RNG.normal(size=shape)
    w = np.array([0.1, -0.3, 0.25])
    k = symdl.kernel("prelu", weight=w)
    wb = w.reshape((1, 3) + (1,) * (len(shape) - 2))
    np.testing.assert_allclose(k.forward(x), np.where(x > 0, x, wb * x), rtol=1e-15)
    dx, dw = k.backward(x, g)
    np.testing.assert_allclose(dx, np.where(x > 0, g, wb * g), rtol=1e-15)
    axes = tuple(i for i in range(len(shape)) if i != 1)
    np.testing.assert_allclose(dw, np.sum(np.where(x > 0, 0, x) * g, axis=axes), rtol=1e-12)
    assert dw.shape == (3,)
    y, dx2, dw2 = k.forward_backward(x, g)
    np.testing.assert_array_equal(dx2, dx)
    np.testing.assert_allclose(dw2, dw, rtol=1e-13)
    (_, _, dw_scalar) = symdl.kernel("prelu", weight=-0.3).forward_backward(x, g)
    np.testing.assert_allclose(dw_scalar, np.sum(np.where(x > 0, 0, x) * g), rtol=1e-12)
    with pytest.raises(symdl.ParameterError, match="channels"):
        k.forward(np.zeros((2, 4)))


def test_rrelu_training_and_eval():
    k = symdl.kernel("rrelu")
    x = RNG.normal(size=1000)
    noise = k.sample_noise(x.shape, np.random.default_rng(0))
    assert noise.min() >= 1 / 8 and noise.max() <= 1 / 3
    y = k.forward(x, noise=noise)
    np.testing.assert_array_equal(y, np.where(x > 0, x, noise * x))
    np.testing.assert_array_equal(k.backward(x, np.ones_like(x), noise=noise), np.where(x > 0, 1, noise))
    ev = k.forward(x)
    np.testing.assert_allclose(ev, np.where(x > 0, x, (1 / 8 + 1 / 3) / 2 * x), rtol=1e-15)
    with pytest.raises(symdl.ParameterError):
        symdl.kernel("relu").forward(x, noise=noise)


def test_repr_and_scalar_grad():
    k = symdl.kernel("leaky_relu", negative_slope=0.2)
    assert "leaky_relu" in repr(k) and "0.2" in repr(k)
    np.testing.assert_allclose(k.backward(np.array([-1.0, 2.0]), 3.0), [0.6, 3.0], rtol=1e-15)


def test_runtime_does_not_import_sympy():
    import subprocess
    import sys
    code = ("import sys, numpy as np, symdl; k = symdl.kernel('gelu'); k.forward(np.ones(3)); "
            "symdl.names(); print('sympy' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize("name", ["sign", "binary_step"])
@pytest.mark.parametrize("dt", [np.float32, np.float64])
def test_zero_derivative_ignores_the_incoming_gradient(name, dt):
    """An identically zero derivative gives dx = 0 whatever g (torch's
    zeros_like), without reading g; nan in x still gives nan."""
    k = symdl.kernel(name)
    x = np.array([-2.0, 0.0, 3.0, np.nan], dtype=dt)
    g = np.array([np.inf, np.nan, -np.inf, 1.0], dtype=dt)
    dx = k.backward(x, g)
    y, dx2 = k.forward_backward(x, g)
    for d in (dx, dx2):
        assert d.dtype == dt
        np.testing.assert_array_equal(d[:3], 0.0)
        assert np.isnan(d[3])


def test_float64_sums_of_float32_terms():
    """The learnable-gradient reductions accumulate in float64 (any order)."""
    from symdl.runtime.sums import channel_sums_f64, sum_f64
    rng = np.random.default_rng(3)
    a = rng.normal(size=6 * 5 * 7).astype(np.float32)
    exact = a.astype(np.float64)
    assert abs(sum_f64(a) - exact.sum()) <= 1e-12 * np.abs(exact).sum()
    np.testing.assert_allclose(channel_sums_f64(a, 5, 7), exact.reshape(6, 5, 7).sum(axis=(0, 2)),
                               rtol=1e-13)
    assert np.isnan(sum_f64(np.array([1.0, np.nan], np.float32)))
    assert sum_f64(np.array([1.0, np.inf], np.float32)) == np.inf


def test_add_reassoc_sums_in_float64_and_vectorizes():
    """The in-kernel reduction of learnable gradients: a float64 sum LLVM may
    split over vector lanes (packed adds), IEEE for inf and nan, s + v in Python."""
    import math

    from numba import njit

    from symdl.runtime.bits import add_reassoc

    @njit(error_model="numpy")
    def total(a):
        s = 0.0
        for i in range(a.shape[0]):
            s = add_reassoc(s, np.float64(a[i]))
        return s

    a = np.random.default_rng(5).normal(size=1001).astype(np.float32)
    exact = math.fsum(float(v) for v in a)
    assert abs(total(a) - exact) <= 1e-12 * np.abs(a.astype(np.float64)).sum()
    assert add_reassoc(0.1, 0.2) == 0.1 + 0.2
    assert np.isnan(total(np.array([1.0, np.nan, 2.0], np.float32)))
    assert total(np.array([1.0, np.inf], np.float32)) == np.inf
    asm = total.inspect_asm(total.signatures[0])
    assert "addpd" in asm, "the float64 sum did not vectorize"


def test_add_reassoc_float32_stays_float32_and_vectorizes():
    """The class sums of the float32 loss/softmax kernels: a float32
    accumulator stays float32 (JIT and plain Python), packed adds, IEEE inf
    and nan, and a float32/float64 mix is a typing error (no silent widening)."""
    from numba import njit, types
    from numba.core.errors import TypingError

    from symdl.runtime.bits import add_reassoc

    @njit(error_model="numpy")
    def total(a):
        s = np.float32(0.0)
        for i in range(a.shape[0]):
            s = add_reassoc(s, a[i])
        return s

    a = np.random.default_rng(6).normal(size=1001).astype(np.float32)
    exact = float(np.sum(a.astype(np.float64)))
    assert abs(float(total(a)) - exact) <= 1e-5 * np.abs(a.astype(np.float64)).sum()
    assert total.nopython_signatures[0].return_type == types.float32
    r = add_reassoc(np.float32(0.1), np.float32(0.2))
    assert type(r) is np.float32 and r == np.float32(0.1) + np.float32(0.2)
    assert np.isnan(total(np.array([1.0, np.nan, 2.0], np.float32)))
    assert total(np.array([1.0, np.inf], np.float32)) == np.inf
    assert np.isnan(total(np.array([np.inf, -np.inf], np.float32)))
    asm = total.inspect_asm(total.signatures[0])
    assert "addps" in asm, "the float32 sum did not vectorize"

    @njit
    def mixed(s, v):
        return add_reassoc(s, v)

    with pytest.raises(TypingError):
        mixed(np.float32(1.0), 2.0)


def test_two_prod_err_is_exact():
    """a*b - fl(a*b) exactly (FMA or Dekker), JIT and plain Python."""
    from fractions import Fraction

    from symdl.runtime import eft
    rng = np.random.default_rng(4)
    for t, f in ((np.float32, eft.two_prod_err_f32), (np.float64, eft.two_prod_err_f64)):
        a = (rng.normal(size=300) * 10.0 ** rng.integers(-6, 6, 300)).astype(t)
        b = (rng.normal(size=300) * 10.0 ** rng.integers(-6, 6, 300)).astype(t)
        for fn in (f, f.py_func):
            for ai, bi in zip(a, b):
                e = fn(ai, bi)
                assert fn is f or type(e) is t  # (the JIT boxes float32 as a Python float)
                exact = Fraction(float(ai)) * Fraction(float(bi)) - Fraction(float(t(ai * bi)))
                assert Fraction(float(e)) == exact, (t, ai, bi, e)
