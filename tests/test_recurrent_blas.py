"""The recurrent layers' generated time loops (BLAS through a ctypes pointer, batch
halves in two threads) against the per-step NumPy path they replace, and that
path when no BLAS is found (``SYMDL_BLAS=numpy``)."""
from __future__ import annotations

import os
import time

import numpy as np
import pytest

import symdl.nn as nn
from symdl.nn import recurrent as R
from symdl.runtime import blas

F64 = np.float64


@pytest.fixture
def no_blas(monkeypatch):
    """The NumPy fallback: no BLAS library found."""
    monkeypatch.setenv("SYMDL_BLAS", "numpy")
    blas.reset()
    yield
    monkeypatch.delenv("SYMDL_BLAS")
    blas.reset()


def _layer(cls, dtype, **kw):
    return cls(3, 5, dtype=dtype, rng=np.random.default_rng(1), **kw)


def _run(m, x, dtype, state=None, dstate=None, g=None):
    out, st = m.forward(x, state, training=True)
    g = np.random.default_rng(2).standard_normal(out.shape).astype(dtype) if g is None else g
    dx = m.backward(g, dstate)
    sg = m.state_grad if isinstance(m.state_grad, tuple) else (m.state_grad,)
    st = st if isinstance(st, tuple) else (st,)
    return [out, *st, dx, *sg] + [m.grads[k].copy() for k in sorted(m.grads)]


def _paths(m):
    return {k.seq is not None for k in m._kern.values()}


CASES = [(nn.LSTM, {}), (nn.RNN, {}), (nn.RNN, {"nonlinearity": "relu"}), (nn.PeepholeLSTM, {}),
         (nn.LSTM, {"num_layers": 2, "bidirectional": True, "batch_first": True}),
         (nn.RNN, {"num_layers": 2, "bidirectional": True, "bias": False})]


def test_blas_found_and_checked():
    """NumPy's OpenBLAS is found here (numpy wheels ship it) and its gemm agrees with
    NumPy on a transposed product with beta != 0 (both integer widths are handled by
    the loader: this library's names are the ILP64 ``scipy_cblas_?gemm64_``)."""
    if not blas.available():
        pytest.skip(f"no OpenBLAS found next to numpy ({blas._candidates()})")
    rng = np.random.default_rng(0)
    for dt, tol in ((np.float32, 1e-5), (np.float64, 1e-13)):
        a = rng.standard_normal((7, 4)).astype(dt)
        b = rng.standard_normal((6, 7)).astype(dt)      # used transposed
        c = rng.standard_normal((4, 6)).astype(dt)
        want = a.T @ b.T + 2 * c
        blas.gemm(dt)(blas.CblasRowMajor, blas.CblasTrans, blas.CblasTrans, 4, 6, 7, 1.0, a.ctypes.data, 4,
                      b.ctypes.data, 7, 2.0, c.ctypes.data, 6)
        np.testing.assert_allclose(c, want, rtol=tol, atol=tol)
    assert blas.gemm(np.int32) is None


def test_fallback_without_blas(no_blas):
    """With no BLAS the layers keep the per-step NumPy loop, without error."""
    assert not blas.available() and blas.gemm(np.float32) is None and not blas.can_split()
    m = _layer(nn.LSTM, F64)
    _run(m, np.random.default_rng(0).standard_normal((6, 2, 3)), F64)
    assert _paths(m) == {False}


@pytest.mark.parametrize("cls,kw", CASES, ids=lambda v: getattr(v, "__name__", str(v)))
@pytest.mark.parametrize("split", [False, True], ids=["one-thread", "two-halves"])
def test_time_loops_match_numpy_path(cls, kw, split, monkeypatch):
    """float64: the generated loops (one call, or two batch halves in two threads) give
    the per-step NumPy path's outputs, final states and every gradient to 1e-12."""
    if not blas.available():
        pytest.skip("no BLAS: only the NumPy path exists")
    if split and not blas.can_split():
        pytest.skip("one CPU or no OpenBLAS thread control: the halves never run")
    rng = np.random.default_rng(0)
    T, B = 7, 6
    m = _layer(cls, F64, **kw)
    D, L = (2 if kw.get("bidirectional") else 1), kw.get("num_layers", 1)
    x = rng.standard_normal((B, T, 3) if kw.get("batch_first") else (T, B, 3))
    lstm = cls in (nn.LSTM, nn.PeepholeLSTM)
    state = tuple(rng.standard_normal((D * L, B, 5)) for _ in range(2 if lstm else 1))
    dstate = tuple(rng.standard_normal((D * L, B, 5)) for _ in range(2 if lstm else 1))
    state, dstate = (state, dstate) if lstm else (state[0], dstate[0])
    monkeypatch.setattr(R, "SPLIT_MIN_WORK", 0 if split else 1 << 62)
    calls = []
    orig = blas.run_pair
    monkeypatch.setattr(blas, "run_pair", lambda f0, f1: (calls.append(1), orig(f0, f1)))
    got = _run(m, x, F64, state, dstate)
    assert _paths(m) == {True}
    assert bool(calls) == split
    for k in m._kern.values():
        k.seq = None                   # the per-step NumPy path, same layer
    want = _run(m, x, F64, state, dstate)
    assert len(got) == len(want)
    for a, b in zip(got, want):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-12)


def test_float32_two_halves_match_float64():
    """float32 through the two-halves path follows the float64 layer."""
    if not blas.can_split():
        pytest.skip("the halves never run here")
    rng = np.random.default_rng(0)
    x = rng.standard_normal((8, 16, 3))
    outs = []
    for dt in (np.float32, F64):
        m = _layer(nn.LSTM, dt)
        m.load_state_dict({k: v.astype(F64) for k, v in _layer(nn.LSTM, F64).state_dict().items()})
        old = R.SPLIT_MIN_WORK
        R.SPLIT_MIN_WORK = 0
        try:
            outs.append(_run(m, x.astype(dt), dt, g=np.ones((8, 16, 5), dt)))
        finally:
            R.SPLIT_MIN_WORK = old
    for a, b in zip(*outs):
        np.testing.assert_allclose(a, b, rtol=2e-4, atol=2e-5)


@pytest.mark.parametrize("fallback", [False, True], ids=["blas", "numpy"])
def test_lstm_against_torch_both_paths(fallback, monkeypatch):
    """torch parity (float64, 1e-10) for a sequence long and wide enough for the
    two-halves path, and the same with the NumPy fallback forced."""
    torch = pytest.importorskip("torch")
    if fallback:
        monkeypatch.setenv("SYMDL_BLAS", "numpy")
    blas.reset()
    monkeypatch.setattr(R, "SPLIT_MIN_WORK", 0)
    try:
        rng = np.random.default_rng(0)
        T, B, I, H = 9, 8, 4, 6
        tm = torch.nn.LSTM(I, H).double()
        sm = nn.LSTM(I, H, dtype=F64)
        sm.load_state_dict({k: v.detach().numpy() for k, v in tm.state_dict().items()})
        x = rng.standard_normal((T, B, I))
        xt = torch.tensor(x, requires_grad=True)
        out_t, _ = tm(xt)
        out_s, _ = sm.forward(x)
        g = rng.standard_normal(out_s.shape)
        (out_t * torch.tensor(g)).sum().backward()
        dx = sm.backward(g)
        assert _paths(sm) == {not fallback}
        np.testing.assert_allclose(out_s, out_t.detach().numpy(), rtol=0, atol=1e-10)
        np.testing.assert_allclose(dx, xt.grad.numpy(), rtol=0, atol=1e-10)
        for k, p in tm.named_parameters():
            np.testing.assert_allclose(sm.grads[k], p.grad.numpy(), rtol=0, atol=1e-10, err_msg=k)
    finally:
        monkeypatch.delenv("SYMDL_BLAS", raising=False)
        blas.reset()


def test_run_pair_runs_both_and_reraises():
    """Both functions run (the second on the worker), an exception in either reaches
    the caller, and OpenBLAS's thread count is restored afterwards."""
    count = blas._get()["get"]
    before = int(count()) if count is not None else None
    seen = []
    blas.run_pair(lambda: seen.append(0), lambda: seen.append(1))
    assert sorted(seen) == [0, 1]

    def boom():
        raise ValueError("worker")

    with pytest.raises(ValueError, match="worker"):
        blas.run_pair(lambda: None, boom)
    with pytest.raises(ValueError, match="worker"):
        blas.run_pair(boom, lambda: None)
    blas.run_pair(lambda: seen.append(2), lambda: seen.append(3))      # still usable
    assert sorted(seen) == [0, 1, 2, 3]
    if before is not None:
        assert int(count()) == before


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork")
def test_run_pair_after_fork():
    """A forked child has the worker object but not its thread: it starts its own
    (else the child would wait forever for the parent's worker)."""
    blas.run_pair(lambda: None, lambda: None)
    pid = os.fork()
    if pid == 0:                                   # child
        code = 1
        try:
            seen = []
            blas.run_pair(lambda: seen.append(0), lambda: seen.append(1))
            code = 0 if sorted(seen) == [0, 1] else 2
        finally:
            os._exit(code)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
            return
        time.sleep(0.05)
    os.kill(pid, 9)
    os.waitpid(pid, 0)
    pytest.fail("run_pair in a forked child hung")
