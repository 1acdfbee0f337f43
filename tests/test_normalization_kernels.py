"""Every normalization kernel (training forward, saved statistics, dx,
dweight, dbias) against the spec evaluated by mpmath, float32 and float64,
on random, tiny-variance, huge-offset and constant inputs."""
import numpy as np
import pytest

from symdl.runtime import normalization as RN
from symdl.testing.normalization import (BOUNDS, CASES, EVAL_CASES, EVAL_KINDS, KINDS, OFFSET, eval_outputs,
                                         train_outputs)


def _close(name, got, want, dtype):
    """|got - want| <= rtol·(|want| + max|want|) + atol: the activation tests'
    bounds, on every input kind -- huge offsets included (the mean is a
    double-float, so x - mean keeps full precision when |mean| >> std)."""
    rtol, atol = BOUNDS[dtype]
    got = np.asarray(got, np.float64)
    assert np.all(np.isfinite(got)), f"{name}: non-finite result"
    scale = np.abs(want).max()
    bound = rtol * (np.abs(want) + scale) + atol
    err = np.abs(got - want)
    assert np.all(err <= bound), f"{name}: max error {err.max():.3g} (bound {bound.max():.3g})"


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("name,shape,opts", CASES, ids=[f"{c[0]}{c[1]}" for c in CASES])
def test_kernels_vs_mpmath(name, shape, opts, kind, dtype):
    """Training forward, dx, dweight, dbias and normalize from the saved
    statistics (the eval path reproduces the forward) against the truth
    (symdl.testing.normalization.train_outputs: the cases and the calls)."""
    run = train_outputs(name, shape, opts, kind, dtype)
    mean, rstd = run["saved"]
    assert run["outputs"][0][1].dtype == dtype and mean.dtype == rstd.dtype == np.float64   # saved stats in float64
    for label, got, want in run["outputs"]:
        _close(label, got, want, dtype)


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("kind", EVAL_KINDS)
@pytest.mark.parametrize("name,shape", EVAL_CASES, ids=[f"{c[0]}{c[1]}" for c in EVAL_CASES])
def test_eval_mode_vs_mpmath(name, shape, kind, dtype):
    """Eval mode (running statistics, constants): normalize and the eval
    backward (dx, dweight, dbias) against the spec's eval formula at 50
    digits; the running estimates near the data (huge: |mean| >> std)."""
    for label, got, want in eval_outputs(name, shape, kind, dtype)["outputs"]:
        _close(label, got, want, dtype)


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
def test_variance_accurate_under_huge_offset(dtype):
    """Two-pass variance: with x = offset + N(0, 1) the saved rstd keeps
    (nearly) full precision (a one-pass E[x^2] - E[x]^2 would lose it all)."""
    import mpmath as mp
    rng = np.random.default_rng(5)
    x = (OFFSET[dtype] + rng.normal(size=(64, 2))).astype(dtype)
    lay = RN.layout("batch_norm", x.shape)
    _, mean, rstd, var = RN.kernels("batch_norm").train_forward(x, None, None, 1e-5, lay)
    for c in range(2):
        with mp.workdps(50):
            col = [mp.mpf(float(v)) for v in x[:, c]]
            m = mp.fsum(col) / len(col)
            v = mp.fsum((u - m) ** 2 for u in col) / len(col)
            want = float(1 / mp.sqrt(v + mp.mpf(1e-5)))
        rtol = 1e-12 if dtype == np.float64 else 1e-6
        assert abs(float(rstd[c]) - want) <= rtol * want


def test_float32_one_pass_variance_and_its_fallback():
    """float32 kernels sum x - K and (x - K)² in one pass (K the group's first
    element); a group whose shift cancels more than CANCEL (the first
    element an outlier: M·(mean - K)² > CANCEL·Σ(x - mean)²) is summed again in
    two passes.  Row 0 takes the fallback, row 1 the one pass; both rstd and
    mean match the truth to float32's precision."""
    import mpmath as mp

    from symdl.codegen.normalization import CANCEL
    rng = np.random.default_rng(11)
    m = 4 * int(CANCEL)
    x = (1e-3 * rng.normal(size=(2, m))).astype(np.float32)
    x[0, 0] = 1e3
    x[1] += np.float32(7.0)
    xd = x.astype(np.float64)
    d = (xd - xd[:, :1]).sum(1) / m
    ss = ((xd - xd.mean(1, keepdims=True)) ** 2).sum(1)
    assert m * d[0] ** 2 > CANCEL * ss[0] and m * d[1] ** 2 < CANCEL * ss[1]   # the two paths
    lay = RN.layout("layer_norm", x.shape)
    _, mean, rstd, _ = RN.kernels("layer_norm").train_forward(x, None, None, 1e-5, lay)
    for r in range(2):
        with mp.workdps(50):
            row = [mp.mpf(float(v)) for v in x[r]]
            mu = mp.fsum(row) / m
            want = 1 / mp.sqrt(mp.fsum((u - mu) ** 2 for u in row) / m + mp.mpf(1e-5))
        assert abs(float(rstd[r]) - float(want)) <= 1e-7 * float(want)
        assert abs(float(mean[0, r] + mean[1, r]) - float(mu)) <= 1e-12 * abs(float(mu))


@pytest.mark.parametrize("name,shape,kw", [("layer_norm", (4, 6), {}), ("batch_norm", (6, 4, 3), {}),
                                          ("group_norm", (2, 4, 3), {"num_groups": 2})])
def test_float32_statistics_keep_nan_and_inf(name, shape, kw):
    """A nan or inf in a group (as its first element K too) makes the group's
    variance and rstd nan in float32 as in float64 (the two-pass form): the
    one-pass bound's comparison fails and the group is summed again (a clamp
    max(0, nan) = 0 would have saved a finite variance)."""
    rng = np.random.default_rng(3)
    x = rng.normal(size=shape)
    lay = RN.layout(name, shape, **kw)
    groups = x.reshape(shape[0], shape[1], -1).transpose(1, 0, 2).reshape(shape[1], -1) \
        if name == "batch_norm" else x.reshape(lay["R"], -1)
    vals = (np.nan, np.inf, -np.inf)
    for r in range(min(3, lay["R"])):
        groups[r, 0 if r != 1 else 2] = vals[r]          # first element (K) and a later one
    x = groups.reshape(shape[1], shape[0], -1).transpose(1, 0, 2).reshape(shape) if name == "batch_norm" \
        else groups.reshape(shape)
    got = {}
    for dt in (np.float64, np.float32):
        _, _, rstd, var = RN.kernels(name).train_forward(x.astype(dt), None, None, 1e-5, lay)
        got[dt] = (np.isnan(var), np.isnan(rstd))
    assert got[np.float64][0][:min(3, lay["R"])].all()
    assert all(np.array_equal(a, b) for a, b in zip(got[np.float64], got[np.float32]))


def test_running_update_and_rstd_kernels():
    """running <- (1 - f)·running + f·stat with the unbiased variance; rstd(var) = 1/sqrt(var + eps)."""
    k = RN.kernels("batch_norm")
    rm, rv = np.array([0.5, -1.0]), np.array([2.0, 0.25])
    k.running_update(rm, rv, np.array([1.0, 2.0]), np.array([3.0, 4.0]), 0.1, 5)
    np.testing.assert_allclose(rm, [0.9 * 0.5 + 0.1, -0.9 + 0.2], rtol=1e-15)
    np.testing.assert_allclose(rv, [0.9 * 2.0 + 0.1 * 3.0 * 5 / 4, 0.9 * 0.25 + 0.1 * 4.0 * 5 / 4],
                               rtol=1e-15)
    r = k.rstd(np.array([0.0, 3.0]), 1e-5, np.float32)
    np.testing.assert_allclose(r, 1 / np.sqrt(np.array([1e-5, 3.0 + 1e-5])), rtol=1e-6)


@pytest.mark.parametrize("name", ["layer_norm", "batch_norm"])
def test_parallel_kernels_match_serial(monkeypatch, name):
    """The prange kernels give the serial kernels' results bit for bit
    (batch_norm (N, C): the column kernels)."""
    rng = np.random.default_rng(2)
    x = rng.normal(size=(6, 40))      # batch norm: more than one block of columns
    g = rng.normal(size=(6, 40))
    lay = RN.layout(name, x.shape)
    k = RN.kernels(name)
    w, b = rng.normal(size=lay["naff"]), rng.normal(size=lay["naff"])
    y1, m1, r1, _ = k.train_forward(x, w, b, 1e-5, lay)
    d1 = k.backward(x, g, w, m1, r1, 1e-5, lay)
    monkeypatch.setattr(RN, "PARALLEL_MIN", 0)
    y2, m2, r2, _ = k.train_forward(x, w, b, 1e-5, lay)
    d2 = k.backward(x, g, w, m2, r2, 1e-5, lay)
    assert np.array_equal(y1, y2) and all(np.array_equal(a, c) for a, c in zip(d1, d2))


def test_bad_dtype():
    lay = RN.layout("layer_norm", (2, 3))
    with pytest.raises(TypeError, match="float16"):
        RN.kernels("layer_norm").train_forward(np.zeros((2, 3), np.float16), None, None, 1e-5, lay)


def test_kernels_run_without_jit_for_coverage():
    """Every kernel kind (float64, serial and column layouts, eval backward)
    once as plain Python, against the compiled result."""
    import json
    import os
    import subprocess
    import sys

    code = r'''
import json, numpy as np
from symdl.runtime.normalization import kernels, layout
rng = np.random.default_rng(0)
res = {}
for name, shape, kw in (("batch_norm", (4, 3, 2), {}), ("batch_norm", (5, 3), {}),
                        ("layer_norm", (3, 4), {}), ("group_norm", (2, 4, 3), {"num_groups": 2}),
                        ("instance_norm", (2, 3, 4), {}), ("rms_norm", (3, 4), {})):
    k = kernels(name); lay = layout(name, shape, **kw)
    x = rng.normal(size=shape); g = rng.normal(size=shape)
    w = rng.normal(size=lay["naff"]); b = rng.normal(size=lay["naff"]) if k.has_bias else None
    y, m, r, v = k.train_forward(x, w, b, 1e-5, lay)
    out = [y, m, r, v, *k.backward(x, g, w, m, r, 1e-5, lay), k.normalize(x, w, b, m, r, lay)]
    if k.meta["running"]:
        out += list(k.backward(x, g, w, m, r, 1e-5, lay, eval_mode=True))
        rm, rv = np.zeros(lay["naff"]), np.ones(lay["naff"])
        k.running_update(rm, rv, m[:lay["naff"]], v[:lay["naff"]], 0.1, 4)
        out += [rm, rv, k.rstd(rv, 1e-5, np.float64)]
    res[f"{name}{shape}"] = [a.ravel().tolist() for a in out]
print(json.dumps(res))
'''
    runs = []
    for env in (dict(os.environ, NUMBA_DISABLE_JIT="1"), dict(os.environ)):
        p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=600)
        assert p.returncode == 0, p.stderr[-3000:]
        runs.append(json.loads(p.stdout))
    a, b = runs
    assert a.keys() == b.keys() and len(a) == 6
    for key in a:
        for u, v in zip(a[key], b[key]):
            np.testing.assert_allclose(u, v, rtol=1e-13, atol=1e-15, err_msg=key)
