"""Recurrent layers: finite differences (BPTT, both directions, 2 layers), torch
comparison (optional), truncated BPTT, bad input, save/load."""
from __future__ import annotations

import numpy as np
import pytest

import symdl.nn as nn
from symdl.errors import ShapeError

F64 = np.float64


def _seq(kind, **kw):
    base = dict(num_layers=2, bidirectional=True, dtype=F64, rng=np.random.default_rng(1))
    base.update(kw)
    if kind == "rnn_tanh":
        return nn.RNN(3, 4, **base)
    if kind == "rnn_relu":
        return nn.RNN(3, 4, nonlinearity="relu", **base)
    if kind == "gru":
        return nn.GRU(3, 4, **base)
    if kind == "gru_cho":
        return nn.GRU(3, 4, reset_after=False, **base)
    if kind == "lstm":
        return nn.LSTM(3, 4, **base)
    return nn.PeepholeLSTM(3, 4, **base)


KINDS = ["rnn_tanh", "rnn_relu", "gru", "gru_cho", "lstm", "peephole"]


def _fd_check(loss, analytic: dict, arrays: dict, rng, entries=12, eps=1e-6, tol=1e-7):
    """Central differences of ``loss()`` wrt random entries of each array."""
    for name, arr in arrays.items():
        idx = rng.choice(arr.size, min(entries, arr.size), replace=False)
        for fi in idx:
            i = np.unravel_index(fi, arr.shape)
            old = arr[i]
            arr[i] = old + eps
            lp = loss()
            arr[i] = old - eps
            lm = loss()
            arr[i] = old
            num = (lp - lm) / (2 * eps)
            ana = analytic[name][i]
            assert abs(ana - num) <= tol * (1 + abs(num)), f"{name}{i}: analytic {ana} vs numeric {num}"


@pytest.mark.parametrize("kind", KINDS)
def test_sequence_layer_gradcheck(kind):
    """Full BPTT, T = 6, both directions, 2 layers, initial state and final
    state cotangents: every parameter, the input and the initial state."""
    rng = np.random.default_rng(0)
    m = _seq(kind, batch_first=True)
    lstm = kind in ("lstm", "peephole")
    x = rng.standard_normal((2, 6, 3))
    h0 = rng.standard_normal((4, 2, 4)) * 0.5
    c0 = rng.standard_normal((4, 2, 4)) * 0.5
    state = (h0, c0) if lstm else h0
    out, st = m.forward(x, state)
    g = rng.standard_normal(out.shape)
    gs = tuple(rng.standard_normal(s.shape) for s in (st if lstm else (st,)))

    def loss():
        o, s = m.forward(x, state)
        s = s if lstm else (s,)
        return float(np.vdot(g, o) + sum(np.vdot(a, b) for a, b in zip(gs, s)))

    loss()
    dx = m.backward(g, gs if lstm else gs[0])
    analytic = {"x": dx, "h0": m.state_grad[0] if lstm else m.state_grad, **dict(m.grads)}
    arrays = {"x": x, "h0": h0, **m.params}
    if lstm:
        analytic["c0"], arrays["c0"] = m.state_grad[1], c0
    _fd_check(loss, analytic, arrays, rng)


@pytest.mark.parametrize("kind", KINDS)
def test_cell_gradcheck(kind):
    rng = np.random.default_rng(3)
    cls = {"rnn_tanh": nn.RNNCell, "rnn_relu": nn.RNNCell, "gru": nn.GRUCell, "gru_cho": nn.GRUCell,
           "lstm": nn.LSTMCell, "peephole": nn.PeepholeLSTMCell}[kind]
    kw = {"nonlinearity": "relu"} if kind == "rnn_relu" else {"reset_after": False} if kind == "gru_cho" else {}
    cell = cls(3, 5, dtype=F64, rng=rng, **kw)
    x, h, c = rng.standard_normal((4, 3)), rng.standard_normal((4, 5)), rng.standard_normal((4, 5))
    gh, gc = rng.standard_normal((4, 5)), rng.standard_normal((4, 5))
    lstm = kind in ("lstm", "peephole")

    def loss():
        if lstm:
            h1, c1 = cell.forward(x, (h, c))
            return float(np.vdot(gh, h1) + np.vdot(gc, c1))
        return float(np.vdot(gh, cell.forward(x, h)))

    loss()
    if lstm:
        dx, (dh, dc) = cell.backward(gh, gc)
        analytic, arrays = {"x": dx, "h": dh, "c": dc}, {"x": x, "h": h, "c": c}
    else:
        dx, dh = cell.backward(gh)
        analytic, arrays = {"x": dx, "h": dh}, {"x": x, "h": h}
    analytic.update(cell.grads)
    arrays.update(cell.params)
    _fd_check(loss, analytic, arrays, rng)


def test_truncated_bptt_handoff():
    """Two chunks with the state handed over equal one pass: the outputs, and
    the gradients once chunk 1's backward receives chunk 2's ``state_grad``."""
    rng = np.random.default_rng(5)
    m = nn.LSTM(3, 4, num_layers=2, batch_first=True, dtype=F64, rng=rng)
    x = rng.standard_normal((2, 8, 3))
    g = rng.standard_normal((2, 8, 4))
    out, _ = m.forward(x)
    dx = m.backward(g)
    full = {k: v.copy() for k, v in m.grads.items()}
    o1, s1 = m.forward(x[:, :5])
    o2, _ = m.forward(x[:, 5:], nn.detach(s1))
    np.testing.assert_allclose(np.concatenate([o1, o2], 1), out, rtol=0, atol=1e-14)
    dx2 = m.backward(g[:, 5:])
    g2 = {k: v.copy() for k, v in m.grads.items()}
    handoff = m.state_grad
    m.forward(x[:, :5])
    dx1 = m.backward(g[:, :5], handoff)                     # full BPTT through the handoff
    for k in full:
        np.testing.assert_allclose(m.grads[k] + g2[k], full[k], rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(np.concatenate([dx1, dx2], 1), dx, rtol=1e-12, atol=1e-13)


def test_bad_input_errors():
    m = nn.LSTM(3, 4, num_layers=2)
    with pytest.raises(ShapeError, match="5 features.*input_size is 3"):
        m.forward(np.zeros((6, 2, 5)))
    with pytest.raises(ShapeError, match="length 0"):
        m.forward(np.zeros((0, 2, 3)))
    with pytest.raises(ShapeError, match="state c0 has shape"):
        m.forward(np.zeros((6, 2, 3)), (np.zeros((2, 2, 4)), np.zeros((1, 2, 4))))
    with pytest.raises(ShapeError, match="state h has shape"):
        nn.GRUCell(3, 4).forward(np.zeros((2, 3)), np.zeros((2, 5)))
    with pytest.raises(ShapeError, match="input_size is 3"):
        nn.LSTMCell(3, 4).forward(np.zeros((2, 7)))
    other = nn.LSTM(3, 4, num_layers=1, bidirectional=True)
    with pytest.raises(KeyError, match=r"missing \['weight_ih_l1'.*unexpected \['weight_ih_l0_reverse'"):
        m.load_state_dict(other.state_dict())


def test_sequential_last_step_save_load(tmp_path):
    rng = np.random.default_rng(2)
    model = nn.Sequential(nn.GRU(3, 5, batch_first=True, rng=rng), nn.LastStep(), nn.Linear(5, 2, rng=rng))
    x = rng.standard_normal((4, 7, 3)).astype(np.float32)
    y = model.forward(x)
    assert y.shape == (4, 2)
    dx = model.backward(np.ones_like(y))
    assert dx.shape == x.shape and np.abs(dx[:, -1]).sum() > 0
    path = model.save(tmp_path / "gru")
    again = nn.load(path)
    np.testing.assert_array_equal(again.forward(x), y)
    nn.gradcheck(nn.Sequential(nn.LSTM(3, 4, batch_first=True, rng=rng), nn.LastStep(), nn.Linear(4, 1, rng=rng)),
                 rng.standard_normal((2, 5, 3)))


# ----------------------------------------------------------------------------- torch (optional)
@pytest.mark.parametrize("name,bias", [("RNN", True), ("GRU", True), ("LSTM", True),
                                       ("LSTM", False), ("GRU", False)])
def test_against_torch_sequence(name, bias):
    """Outputs, final states, the input's, initial states' and every parameter's gradient."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    T, B, I, H = 5, 3, 4, 6
    tm = getattr(torch.nn, name)(I, H, num_layers=2, bias=bias, bidirectional=True, batch_first=True).double()
    sm = getattr(nn, name)(I, H, num_layers=2, bias=bias, bidirectional=True, batch_first=True, dtype=F64)
    sm.load_state_dict({k: v.detach().numpy() for k, v in tm.state_dict().items()})
    x = rng.standard_normal((B, T, I))
    xt = torch.tensor(x, requires_grad=True)
    s0 = [rng.standard_normal((4, B, H)) * 0.5 for _ in range(2 if name == "LSTM" else 1)]
    s0t = [torch.tensor(v, requires_grad=True) for v in s0]
    out_t, st_t = tm(xt, tuple(s0t) if name == "LSTM" else s0t[0])
    out_s, st_s = sm.forward(x, tuple(s0) if name == "LSTM" else s0[0])
    st_t = st_t if name == "LSTM" else (st_t,)
    st_s = st_s if name == "LSTM" else (st_s,)
    g = rng.standard_normal(out_s.shape)
    gs = [rng.standard_normal(s.shape) for s in st_s]
    loss = (out_t * torch.tensor(g)).sum() + sum((a * torch.tensor(b)).sum() for a, b in zip(st_t, gs))
    loss.backward()
    dx = sm.backward(g, tuple(gs) if name == "LSTM" else gs[0])
    np.testing.assert_allclose(out_s, out_t.detach().numpy(), rtol=0, atol=1e-10)
    for a, b in zip(st_s, st_t):
        np.testing.assert_allclose(a, b.detach().numpy(), rtol=0, atol=1e-10)
    np.testing.assert_allclose(dx, xt.grad.numpy(), rtol=0, atol=1e-10)
    sg = sm.state_grad if name == "LSTM" else (sm.state_grad,)
    for a, b in zip(sg, s0t):       # d(h0[, c0]) after BPTT through 2 layers x 2 directions
        np.testing.assert_allclose(a, b.grad.numpy(), rtol=0, atol=1e-10)
    for k, p in tm.named_parameters():
        np.testing.assert_allclose(sm.grads[k], p.grad.numpy(), rtol=0, atol=1e-10, err_msg=k)


@pytest.mark.parametrize("name", ["RNNCell", "GRUCell", "LSTMCell"])
def test_against_torch_cell(name):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    tm = getattr(torch.nn, name)(4, 6).double()
    sm = getattr(nn, name)(4, 6, dtype=F64)
    sm.load_state_dict({k: v.detach().numpy() for k, v in tm.state_dict().items()})
    x, h, c = rng.standard_normal((3, 4)), rng.standard_normal((3, 6)), rng.standard_normal((3, 6))
    xt, ht, ct = (torch.tensor(v, requires_grad=True) for v in (x, h, c))
    gh, gc = rng.standard_normal((3, 6)), rng.standard_normal((3, 6))
    if name == "LSTMCell":
        h1t, c1t = tm(xt, (ht, ct))
        ((h1t * torch.tensor(gh)).sum() + (c1t * torch.tensor(gc)).sum()).backward()
        h1, c1 = sm.forward(x, (h, c))
        dx, (dh, dc) = sm.backward(gh, gc)
        np.testing.assert_allclose(c1, c1t.detach().numpy(), rtol=0, atol=1e-10)
        np.testing.assert_allclose(dc, ct.grad.numpy(), rtol=0, atol=1e-10)
    else:
        h1t = tm(xt, ht)
        (h1t * torch.tensor(gh)).sum().backward()
        h1 = sm.forward(x, h)
        dx, dh = sm.backward(gh)
    np.testing.assert_allclose(h1, h1t.detach().numpy(), rtol=0, atol=1e-10)
    np.testing.assert_allclose(dx, xt.grad.numpy(), rtol=0, atol=1e-10)
    np.testing.assert_allclose(dh, ht.grad.numpy(), rtol=0, atol=1e-10)
    for k, p in tm.named_parameters():
        np.testing.assert_allclose(sm.grads[k], p.grad.numpy(), rtol=0, atol=1e-10, err_msg=k)


def test_dropout_between_layers_gradcheck():
    """Training mode with dropout between the layers: the same masks replayed."""
    rng = np.random.default_rng(4)
    m = nn.GRU(3, 4, num_layers=2, dropout=0.4, dtype=F64, rng=np.random.default_rng(7))
    x = rng.standard_normal((5, 2, 3))
    g = rng.standard_normal((5, 2, 4))

    def loss():
        m.rng = np.random.default_rng(7)
        return float(np.vdot(g, m.forward(x, training=True)[0]))

    loss()
    dx = m.backward(g)
    assert m._cache["masks"][1] is not None and (m._cache["masks"][1] == 0).any()
    _fd_check(loss, {"x": dx, **m.grads}, {"x": x, **m.params}, rng)
    out_eval, _ = m.forward(x)                       # eval: no dropout
    m.rng = np.random.default_rng(7)
    assert not np.allclose(out_eval, m.forward(x, training=True)[0])


def test_unbatched_matches_batch_of_one():
    rng = np.random.default_rng(6)
    m = nn.LSTM(3, 4, bidirectional=True, dtype=F64, rng=rng)
    x = rng.standard_normal((5, 3))
    out1, (h1, c1) = m.forward(x[:, None])
    out, (h, c) = m.forward(x)
    np.testing.assert_array_equal(out, out1[:, 0])
    np.testing.assert_array_equal(c, c1[:, 0])
    assert out.shape == (5, 8) and h.shape == (2, 4)
    dx = m.backward(np.ones((5, 8)))
    assert dx.shape == (5, 3)


def test_input_grad_false_skips_dx_only():
    """backward(input_grad=False) returns None and leaves every parameter and
    state gradient as the full backward computes them (a first layer's BPTT)."""
    rng = np.random.default_rng(8)
    for m in (nn.LSTM(3, 4, num_layers=2, bidirectional=True, dtype=F64, rng=rng),
              nn.GRU(3, 4, batch_first=True, dtype=F64, rng=rng)):
        x = rng.standard_normal((6, 2, 3))
        out, _ = m.forward(x)
        g = rng.standard_normal(out.shape)
        assert m.backward(g).shape == x.shape
        full = {k: v.copy() for k, v in m.grads.items()}
        sg = m.state_grad
        m.forward(x)
        assert m.backward(g, input_grad=False) is None
        for k in full:
            np.testing.assert_array_equal(m.grads[k], full[k], err_msg=k)
        for a, b in zip(sg if isinstance(sg, tuple) else (sg,),
                        m.state_grad if isinstance(sg, tuple) else (m.state_grad,)):
            np.testing.assert_array_equal(a, b)


def test_float32_layers_follow_float64():
    """float32 LSTM and GRU at the benchmark's shapes (packed (batch, G*hidden)
    gate rows, H = 128) against the same weights in float64: forward, BPTT."""
    rng = np.random.default_rng(9)
    for name in ("LSTM", "GRU"):
        m64 = getattr(nn, name)(16, 128, dtype=F64, rng=rng)
        m32 = getattr(nn, name)(16, 128, dtype=np.float32, rng=rng)
        m32.load_state_dict(m64.state_dict())
        x = rng.standard_normal((7, 32, 16))
        g = rng.standard_normal((7, 32, 128))
        o64, _ = m64.forward(x)
        o32, _ = m32.forward(x.astype(np.float32))
        assert o32.dtype == np.float32
        np.testing.assert_allclose(o32, o64, rtol=0, atol=2e-5)
        d64 = m64.backward(g)
        d32 = m32.backward(g.astype(np.float32))
        assert d32.dtype == np.float32 and all(v.dtype == np.float32 for v in m32.grads.values())
        np.testing.assert_allclose(d32, d64, rtol=0, atol=1e-4 * np.abs(d64).max())
        for k in m64.grads:
            np.testing.assert_allclose(m32.grads[k], m64.grads[k], rtol=0,
                                       atol=1e-4 * np.abs(m64.grads[k]).max(), err_msg=k)
