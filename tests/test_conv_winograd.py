"""Winograd F(2x2, 3x3) (symdl.runtime.conv): the identity proven with SymPy, the
kernels against the im2col path and a float64 reference, and the layer's gradients."""
import numpy as np
import pytest
import sympy as sp

from symdl.runtime import blas
from symdl.runtime import conv as rc


def test_f23_identity_is_the_3x3_valid_correlation():
    # Aᵀ [(G w Gᵀ) ⊙ (Bᵀ d B)] A == the 2x2 valid correlation of d (4x4) with w (3x3), exactly
    d = sp.Matrix(4, 4, lambda i, j: sp.Symbol(f"d{i}{j}"))
    w = sp.Matrix(3, 3, lambda i, j: sp.Symbol(f"w{i}{j}"))
    BT, G, AT = (sp.Matrix(m.shape[0], m.shape[1], lambda i, j: sp.Rational(m[i, j]))
                 for m in (rc.WINO_BT, rc.WINO_G, rc.WINO_AT))
    got = AT * (G * w * G.T).multiply_elementwise(BT * d * BT.T) * AT.T
    want = sp.Matrix(2, 2, lambda a, b: sum(d[a + i, b + j] * w[i, j] for i in range(3) for j in range(3)))
    assert sp.expand(got - want) == sp.zeros(2, 2)


def _ref(x, w, b, pad):
    """float64 direct correlation with zero padding ((pt, pb), (pl, pr))."""
    x = np.pad(x.astype(np.float64), ((0, 0), (0, 0), pad[0], pad[1]))
    N, C, H, W = x.shape
    OH, OW = H - 2, W - 2
    y = np.zeros((N, w.shape[0], OH, OW))
    for i in range(3):
        for j in range(3):
            y += np.einsum("nchw,oc->nohw", x[:, :, i:i + OH, j:j + OW], w[:, :, i, j].astype(np.float64))
    if b is not None:
        y += b[None, :, None, None]
    return y


CASES = [(3, 2, 5, 7, 6, ((1, 1), (1, 1)), True), (5, 3, 4, 8, 9, ((0, 0), (2, 2)), False),
         (2, 4, 3, 5, 5, ((2, 1), (0, 1)), True), (9, 2, 2, 6, 7, ((1, 2), (2, 0)), True)]


@pytest.mark.skipif(blas.gemm(np.float64) is None, reason="no cblas")
@pytest.mark.parametrize("dt", [np.float64, np.float32])
@pytest.mark.parametrize("case", CASES)
def test_winograd_matches_im2col_and_reference(dt, case, monkeypatch):
    N, C, O, H, W, pad, bias = case
    rng = np.random.default_rng(3)
    gemm = blas.gemm(dt)
    x = rng.standard_normal((N, C, H, W)).astype(dt)
    w4 = rng.standard_normal((O, C, 3, 3)).astype(dt)
    w = w4.reshape(O, -1)
    b = rng.standard_normal(O).astype(dt) if bias else None
    OH, OW = H + sum(pad[0]) - 2, W + sum(pad[1]) - 2
    assert rc.winograd_applies((3, 3), (1, 1), pad, (1, 1), 1)
    out = {}
    for on in (True, False):
        monkeypatch.setattr(rc, "WINOGRAD", on)
        y = rc.conv2d_forward(gemm, x, w, b, 1, (3, 3), (1, 1), pad, (1, 1), (OH, OW), {})
        g = np.random.default_rng(4).standard_normal(y.shape).astype(dt)
        out[on] = (y,) + rc.conv2d_backward(gemm, x, w, bias, g, 1, (3, 3), (1, 1), pad, (1, 1), {})
    y_ref = _ref(x, w4, b, pad)
    # dx = the correlation of g, padded by 2 - p, with the weights turned and swapped
    wr = w4[:, :, ::-1, ::-1].transpose(1, 0, 2, 3)
    dx_ref = _ref(g, wr, None, tuple((2 - p0, 2 - p1) for p0, p1 in pad))
    # error bound: a few ulps of the sum of |terms| (Winograd's transforms add a small factor)
    eps = np.finfo(dt).eps
    y_abs = _ref(np.abs(x), np.abs(w4), None if b is None else np.abs(b), pad)
    dx_abs = _ref(np.abs(g), np.abs(wr), None, tuple((2 - p0, 2 - p1) for p0, p1 in pad))
    for on in (True, False):
        y, dW, db, dx = out[on]
        assert np.all(np.abs(y - y_ref) <= 32 * eps * y_abs + 1e-300)
        assert np.all(np.abs(dx - dx_ref) <= 32 * eps * dx_abs + 1e-300)
    np.testing.assert_array_equal(out[True][1], out[False][1])      # dW: the same im2col path
    if bias:
        np.testing.assert_array_equal(out[True][2], out[False][2])


@pytest.mark.skipif(blas.gemm(np.float64) is None, reason="no cblas")
def test_winograd_layer_gradcheck():
    from symdl import nn
    rng = np.random.default_rng(5)
    layer = nn.Conv2d(2, 3, 3, padding=1, dtype=np.float64)
    x = rng.standard_normal((2, 2, 5, 4))
    y = layer.forward(x, training=True)
    g = rng.standard_normal(y.shape)
    dx = layer.backward(g)
    f = lambda xx: float(np.sum(layer.forward(xx) * g))
    num = np.zeros_like(x)
    h = 1e-6
    for idx in np.ndindex(x.shape):
        e = np.zeros_like(x)
        e[idx] = h
        num[idx] = (f(x + e) - f(x - e)) / (2 * h)
    np.testing.assert_allclose(dx, num, rtol=1e-6, atol=1e-8)
