"""Convolution, pooling, reshape and embedding layers (issue 21): gradcheck
on every layer, the window map's transpose, errors, save/load, and the same
numbers as torch (forward and every gradient to 1e-10 in float64; skipped
without torch)."""
from __future__ import annotations

import numpy as np
import pytest

import symdl.nn as nn
from symdl.errors import ParameterError, ShapeError
from symdl.runtime.windows import fold, unfold

R = np.random.default_rng(0)

#: (layer factory, input shape): every layer, with stride, padding, dilation and groups
CASES = {
    "conv2d": (lambda: nn.Conv2d(2, 3, 3, dtype=np.float64), (2, 2, 5, 6)),
    "conv2d_strided": (lambda: nn.Conv2d(4, 6, (3, 2), stride=(2, 1), padding=(1, 2), dilation=(1, 2),
                                         groups=2, dtype=np.float64), (2, 4, 7, 6)),
    "conv2d_same": (lambda: nn.Conv2d(3, 3, (4, 3), padding="same", dilation=(1, 2), groups=3,
                                      bias=False, dtype=np.float64), (1, 3, 6, 7)),
    "conv1d": (lambda: nn.Conv1d(4, 2, 3, stride=2, padding=1, dilation=2, groups=2,
                                 dtype=np.float64), (3, 4, 9)),
    "conv1d_same": (lambda: nn.Conv1d(2, 3, 4, padding="same", dtype=np.float64), (2, 2, 7)),
    "conv2d_reflect": (lambda: nn.Conv2d(2, 3, 3, padding=2, padding_mode="reflect", dtype=np.float64),
                       (2, 2, 5, 6)),
    "conv2d_circular": (lambda: nn.Conv2d(2, 3, 3, stride=2, padding=(1, 3), padding_mode="circular",
                                          dtype=np.float64), (2, 2, 5, 6)),
    "conv2d_replicate_same": (lambda: nn.Conv2d(2, 4, (4, 3), padding="same", padding_mode="replicate",
                                                groups=2, dilation=(1, 2), dtype=np.float64), (1, 2, 5, 6)),
    "conv1d_reflect": (lambda: nn.Conv1d(2, 3, 3, stride=2, padding=2, padding_mode="reflect",
                                         dtype=np.float64), (2, 2, 7)),
    "maxpool": (lambda: nn.MaxPool2d(2), (2, 3, 6, 5)),
    "maxpool_ceil": (lambda: nn.MaxPool2d(3, stride=2, padding=1, ceil_mode=True), (2, 3, 8, 7)),
    "maxpool_ceil_dil": (lambda: nn.MaxPool2d((3, 2), stride=(2, 1), padding=1, dilation=(1, 2),
                                              ceil_mode=True), (1, 2, 7, 7)),
    "avgpool_ceil": (lambda: nn.AvgPool2d(3, stride=2, padding=1, ceil_mode=True), (2, 2, 8, 7)),
    "avgpool_ceil_nopad": (lambda: nn.AvgPool2d((3, 2), stride=2, padding=1, ceil_mode=True,
                                                count_include_pad=False), (2, 2, 8, 7)),
    "maxpool_pad": (lambda: nn.MaxPool2d((3, 2), stride=(2, 1), padding=1, dilation=(1, 2)), (1, 2, 7, 7)),
    "avgpool": (lambda: nn.AvgPool2d(3, stride=2, padding=1), (2, 2, 7, 6)),
    "avgpool_nopad": (lambda: nn.AvgPool2d((2, 3), stride=1, padding=1, count_include_pad=False),
                      (1, 2, 5, 6)),
    "avgpool_div": (lambda: nn.AvgPool2d(2, divisor_override=3), (1, 2, 4, 4)),
    "adaptive": (lambda: nn.AdaptiveAvgPool2d((3, None)), (2, 2, 7, 5)),
    "adaptive_up": (lambda: nn.AdaptiveAvgPool2d(4), (1, 2, 3, 5)),
    "flatten": (lambda: nn.Flatten(), (2, 3, 4, 2)),
    "unflatten": (lambda: nn.Unflatten(1, (2, -1)), (3, 6, 2)),
}


@pytest.mark.parametrize("name", list(CASES))
def test_gradcheck(name):
    make, shape = CASES[name]
    res = nn.gradcheck(make(), R.standard_normal(shape), max_entries=300)
    assert res.ok and res.checked > 0


def test_gradcheck_cnn_sequential():
    model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                          nn.Linear(4 * 3 * 3, 5), dtype=np.float64)
    nn.gradcheck(model, R.standard_normal((2, 1, 6, 7)), max_entries=200)


def test_unfold_fold_are_transposes():
    """<P x, c> = <x, Pᵀ c> for the window map with stride, padding and dilation."""
    x = R.standard_normal((2, 3, 7, 8))
    geo = ((3, 2), (2, 3), ((1, 2), (0, 1)), (2, 1))
    cols = unfold(x, *geo)
    c = R.standard_normal(cols.shape)
    lhs = np.vdot(cols, c)
    rhs = np.vdot(x, fold(c, x.shape, *geo[1:]))
    assert abs(lhs - rhs) <= 1e-12 * abs(lhs)


@pytest.mark.parametrize("parallel", [False, True])
def test_fold_loop_is_the_transpose_of_unfold(monkeypatch, parallel):
    """The Numba Pᵀ (runtime.conv.fold_cf) is windows.fold's map and the transpose of
    the channels-first P, serial and on Numba's threads, for stride, padding (one-
    sided, wider than the kernel reach) and dilation."""
    from symdl.runtime import conv as rconv

    monkeypatch.setattr(rconv, "PARALLEL_MIN", 0 if parallel else 1 << 62)
    for shape, geo in [((2, 3, 7, 8), ((3, 2), (2, 3), ((1, 2), (0, 1)), (2, 1))),
                       ((3, 2, 5, 6), ((3, 3), (1, 1), ((1, 1), (1, 1)), (1, 1))),
                       ((1, 2, 4, 4), ((3, 3), (3, 3), ((2, 2), (2, 2)), (1, 1))),
                       ((2, 1, 1, 9), ((1, 3), (1, 2), ((0, 0), (3, 3)), (1, 3)))]:
        x = R.standard_normal(shape)
        cols = unfold(x, *geo, channels_first=True)
        c = R.standard_normal(cols.shape)
        got = rconv.fold_cf(c, x.shape, *geo[1:])
        np.testing.assert_allclose(got, fold(c, x.shape, *geo[1:], channels_first=True), rtol=1e-13,
                                   atol=1e-13)
        lhs, rhs = np.vdot(cols, c), np.vdot(x, got)
        assert abs(lhs - rhs) <= 1e-12 * abs(lhs)


def test_maxpool_ties_go_to_the_first_index():
    layer = nn.MaxPool2d(2, dtype=np.float64)
    x = np.ones((1, 1, 2, 2))
    layer.forward(x)
    dx = layer.backward(np.full((1, 1, 1, 1), 5.0))
    assert dx.tolist() == [[[[5.0, 0.0], [0.0, 0.0]]]]


def test_embedding_gradient_and_padding_idx():
    emb = nn.Embedding(5, 3, padding_idx=-1, dtype=np.float64)
    assert emb.padding_idx == 4 and not emb.params["weight"][4].any()
    idx = np.array([[0, 4, 2], [2, 2, 1]])
    y = emb.forward(idx)
    assert y.shape == (2, 3, 3)                     # (N, T, F): a sequence layer's input
    np.testing.assert_array_equal(y[1, 0], emb.params["weight"][2])
    g = R.standard_normal(y.shape)
    assert emb.backward(g) is None
    W = emb.params["weight"]
    eps = 1e-6
    for r in range(5):
        for c in range(3):
            old = W[r, c]
            W[r, c] = old + eps
            lp = np.vdot(g, emb.forward(idx))
            W[r, c] = old - eps
            lm = np.vdot(g, emb.forward(idx))
            W[r, c] = old
            num = 0.0 if r == 4 else (lp - lm) / (2 * eps)   # padding_idx: never updated
            assert abs(emb.grads["weight"][r, c] - num) < 1e-8


def test_embedding_in_sequential_and_fit():
    nn.manual_seed(0)
    model = nn.Sequential(nn.Embedding(6, 4), nn.Flatten(), nn.Linear(8, 3))
    X = R.integers(0, 6, size=(40, 2))
    y = X[:, 0] % 3
    model.fit(X, y, epochs=30, batch_size=8, verbose=0, lr=0.05)
    assert (model.predict(X).argmax(1) == y).mean() > 0.9


def test_bad_inputs():
    conv = nn.Conv2d(3, 4, 3)
    with pytest.raises(ShapeError, match=r"expects 3 input channels.*\(2, 2, 5, 5\).*\(4, 3, 3, 3\)"):
        conv.forward(np.zeros((2, 2, 5, 5)))
    with pytest.raises(ShapeError, match=r"4-D input"):
        conv.forward(np.zeros((3, 5, 5)))
    with pytest.raises(ShapeError, match=r"computed output size is \(0, 1\)"):
        nn.Conv2d(3, 4, 3, dilation=(2, 1)).forward(np.zeros((1, 3, 4, 3)))
    with pytest.raises(ShapeError, match=r"computed output size is \(0, 0\)"):
        nn.MaxPool2d(4).forward(np.zeros((1, 1, 3, 3)))
    with pytest.raises(ShapeError, match=r"index 7 at position \(1, 0\)"):
        nn.Embedding(5, 2).forward(np.array([[1, 2], [7, 0]]))
    with pytest.raises(ShapeError, match=r"index -1"):
        nn.Embedding(5, 2).forward(np.array([-1]))
    with pytest.raises(ParameterError, match="divisible by groups"):
        nn.Conv2d(3, 4, 3, groups=2)
    with pytest.raises(ParameterError, match="stride 1"):
        nn.Conv2d(3, 4, 3, stride=2, padding="same")
    with pytest.raises(ParameterError, match="half the effective kernel"):
        nn.MaxPool2d(2, padding=2)
    with pytest.raises(ParameterError, match=r"padding_mode='reflekt'.*did you mean 'reflect'"):
        nn.Conv2d(1, 1, 3, padding_mode="reflekt")
    with pytest.raises(ShapeError, match=r"Conv2d.*\(1, 1, 2, 5\).*reflect.*less than the input size 2"):
        nn.Conv2d(1, 1, 3, padding=2, padding_mode="reflect").forward(np.zeros((1, 1, 2, 5)))


def test_save_load_round_trip(tmp_path):
    model = nn.Sequential(nn.Conv2d(1, 2, 3, padding="same", padding_mode="circular"),
                          nn.MaxPool2d(2, ceil_mode=True),
                          nn.AvgPool2d(1), nn.AdaptiveAvgPool2d((2, 2)), nn.Flatten(),
                          nn.Unflatten(1, (2, 4)), nn.Flatten(), nn.Linear(8, 3),
                          nn.Unflatten(1, (1, 3)), nn.Conv1d(1, 2, 2))
    x = R.standard_normal((2, 1, 6, 6)).astype(np.float32)
    path = model.save(tmp_path / "m")
    again = nn.load(path)
    np.testing.assert_array_equal(again.forward(x), model.forward(x))
    emb = nn.Sequential(nn.Embedding(4, 2, padding_idx=1))
    np.testing.assert_array_equal(nn.load(emb.save(tmp_path / "e")).params["0.weight"],
                                  emb.params["0.weight"])


# ----------------------------------------------------------------------------- torch
TORCH = {
    "conv2d_strided": lambda t: t.nn.Conv2d(4, 6, (3, 2), stride=(2, 1), padding=(1, 2), dilation=(1, 2),
                                            groups=2),
    "conv2d_same": lambda t: t.nn.Conv2d(3, 3, (4, 3), padding="same", dilation=(1, 2), groups=3,
                                         bias=False),
    "conv1d": lambda t: t.nn.Conv1d(4, 2, 3, stride=2, padding=1, dilation=2, groups=2),
    "conv1d_same": lambda t: t.nn.Conv1d(2, 3, 4, padding="same"),
    "conv2d_reflect": lambda t: t.nn.Conv2d(2, 3, 3, padding=2, padding_mode="reflect"),
    "conv2d_circular": lambda t: t.nn.Conv2d(2, 3, 3, stride=2, padding=(1, 3), padding_mode="circular"),
    "conv2d_replicate_same": lambda t: t.nn.Conv2d(2, 4, (4, 3), padding="same", padding_mode="replicate",
                                                   groups=2, dilation=(1, 2)),
    "conv1d_reflect": lambda t: t.nn.Conv1d(2, 3, 3, stride=2, padding=2, padding_mode="reflect"),
    "maxpool_pad": lambda t: t.nn.MaxPool2d((3, 2), stride=(2, 1), padding=1, dilation=(1, 2)),
    "maxpool_ceil": lambda t: t.nn.MaxPool2d(3, stride=2, padding=1, ceil_mode=True),
    "maxpool_ceil_dil": lambda t: t.nn.MaxPool2d((3, 2), stride=(2, 1), padding=1, dilation=(1, 2),
                                                 ceil_mode=True),
    "avgpool_ceil": lambda t: t.nn.AvgPool2d(3, stride=2, padding=1, ceil_mode=True),
    "avgpool_ceil_nopad": lambda t: t.nn.AvgPool2d((3, 2), stride=2, padding=1, ceil_mode=True,
                                                   count_include_pad=False),
    "avgpool": lambda t: t.nn.AvgPool2d(3, stride=2, padding=1),
    "avgpool_nopad": lambda t: t.nn.AvgPool2d((2, 3), stride=1, padding=1, count_include_pad=False),
    "avgpool_div": lambda t: t.nn.AvgPool2d(2, divisor_override=3),
    "adaptive": lambda t: t.nn.AdaptiveAvgPool2d((3, None)),
    "adaptive_up": lambda t: t.nn.AdaptiveAvgPool2d(4),
    "flatten": lambda t: t.nn.Flatten(),
    "unflatten": lambda t: t.nn.Unflatten(1, (2, -1)),
}


@pytest.mark.parametrize("name", list(TORCH))
def test_same_as_torch(name):
    torch = pytest.importorskip("torch")
    make, shape = CASES[name]
    mine = make().to(np.float64)
    ref = TORCH[name](torch).double()
    mine.load_state_dict({k: v for k, v in ref.state_dict().items()})
    x = R.standard_normal(shape)
    tx = torch.tensor(x, requires_grad=True)
    ty = ref(tx)
    y = mine.forward(x)
    np.testing.assert_allclose(y, ty.detach().numpy(), rtol=1e-10, atol=1e-12)
    g = R.standard_normal(y.shape)
    ty.backward(torch.tensor(g))
    np.testing.assert_allclose(mine.backward(g), tx.grad.numpy(), rtol=1e-10, atol=1e-12)
    for k, p in ref.named_parameters():
        np.testing.assert_allclose(mine.grads[k], p.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_embedding_same_as_torch():
    torch = pytest.importorskip("torch")
    ref = torch.nn.Embedding(7, 3, padding_idx=2).double()
    mine = nn.Embedding(7, 3, padding_idx=2, dtype=np.float64)
    mine.load_state_dict(ref.state_dict())
    idx = R.integers(0, 7, size=(4, 5))
    ty = ref(torch.tensor(idx))
    g = R.standard_normal(ty.shape)
    ty.backward(torch.tensor(g))
    np.testing.assert_allclose(mine.forward(idx), ty.detach().numpy(), rtol=1e-10)
    mine.backward(g)
    np.testing.assert_allclose(mine.grads["weight"], ref.weight.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_maxpool_return_indices_as_torch():
    """(output, int64 flat indices h·W + w) as torch, in ceil mode with padding;
    the layer's backward sends g to those positions."""
    torch = pytest.importorskip("torch")
    x = R.standard_normal((2, 3, 5, 7))
    x[0, 0, 0, :2] = x[0, 0, 0, 2]                 # ties: the first index
    mine = nn.MaxPool2d(3, stride=2, padding=1, return_indices=True, ceil_mode=True, dtype=np.float64)
    y, idx = mine.forward(x)
    ty, ti = torch.nn.MaxPool2d(3, stride=2, padding=1, return_indices=True, ceil_mode=True)(
        torch.tensor(x))
    assert idx.dtype == np.int64 and idx.shape == y.shape == (2, 3, 3, 4)
    np.testing.assert_array_equal(idx, ti.numpy())
    np.testing.assert_array_equal(y, ty.numpy())
    g = R.standard_normal(y.shape)
    dx = np.zeros(x.shape)
    np.add.at(dx.reshape(6, -1), (np.arange(6)[:, None], idx.reshape(6, -1)), g.reshape(6, -1))
    np.testing.assert_array_equal(mine.backward(g), dx)


def test_maxpool_nan_wins_as_torch():
    layer = nn.MaxPool2d(2, dtype=np.float64)
    x = np.array([[[[1.0, np.nan], [5.0, 2.0]]]])
    assert np.isnan(layer.forward(x)).all()
    assert layer.backward(np.ones((1, 1, 1, 1))).tolist() == [[[[0.0, 1.0], [0.0, 0.0]]]]


def test_cnn_sequential_same_as_torch():
    """A whole torch nn.Sequential CNN loads by its state dict ("0.weight", ...)
    and gives the same outputs and parameter gradients."""
    torch = pytest.importorskip("torch")

    def layers(m):
        return [m.Conv2d(2, 4, 3, padding="same"), m.ReLU(), m.MaxPool2d(2), m.Conv2d(4, 4, 2, groups=2),
                m.AvgPool2d(2, padding=1), m.AdaptiveAvgPool2d(2), m.Flatten(), m.Linear(16, 3)]

    ref = torch.nn.Sequential(*layers(torch.nn)).double()
    mine = nn.Sequential(*layers(nn), dtype=np.float64)
    mine.load_state_dict(ref.state_dict())
    x = R.standard_normal((3, 2, 9, 8))
    tx = torch.tensor(x, requires_grad=True)
    ty = ref(tx)
    g = R.standard_normal(ty.shape)
    ty.backward(torch.tensor(g))
    np.testing.assert_allclose(mine.forward(x, training=True), ty.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(mine.backward(g), tx.grad.numpy(), rtol=1e-10, atol=1e-12)
    for k, p in ref.named_parameters():
        np.testing.assert_allclose(mine.grads[k], p.grad.numpy(), rtol=1e-10, atol=1e-12)


# ----------------------------------------------------------------------------- the three conv paths
CONV_TORCH = [k for k in TORCH if k.startswith("conv")]


@pytest.fixture(params=["per_sample", "split", "numpy"])
def conv_path(request, monkeypatch):
    """The conv layers' three paths: per sample through cblas on one thread; the
    batch split over Numba's threads (OpenBLAS on one thread); no cblas (NumPy's
    matmul over the whole batch, runtime.conv.fold_cf)."""
    from symdl.runtime import blas
    from symdl.runtime import conv as rconv

    if request.param == "numpy":
        monkeypatch.setenv("SYMDL_BLAS", "numpy")
    elif not blas.available():
        pytest.skip("no cblas found")
    blas.reset()
    prev = None
    if request.param == "split":
        monkeypatch.setattr(rconv, "CONV_PARALLEL_MIN", 0)
        prev = blas.threads_set(1)               # the split runs when OpenBLAS has one thread
        if prev is None:
            pytest.skip("OpenBLAS's thread count cannot be set")
    else:
        monkeypatch.setattr(rconv, "CONV_PARALLEL_MIN", 1 << 62)
    yield request.param
    if prev is not None:
        blas.threads_set(prev)
    monkeypatch.undo()
    blas.reset()


@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("name", CONV_TORCH)
def test_conv_paths_same_as_torch(name, training, conv_path):
    """Every path: forward, d input and every parameter gradient as torch's to 1e-10
    (float64), a batch of 5 (the split gives its parts unequal sizes), after a training
    and an inference forward; the split path really splits."""
    torch = pytest.importorskip("torch")
    import numba

    _, shape = CASES[name]
    mine = CASES[name][0]().to(np.float64)
    ref = TORCH[name](torch).double()
    mine.load_state_dict({k: v for k, v in ref.state_dict().items()})
    x = R.standard_normal((5,) + shape[1:])
    tx = torch.tensor(x, requires_grad=True)
    ty = ref(tx)
    y = mine.forward(x, training=training)
    np.testing.assert_allclose(y, ty.detach().numpy(), rtol=1e-10, atol=1e-12)
    g = R.standard_normal(y.shape)
    ty.backward(torch.tensor(g))
    np.testing.assert_allclose(mine.backward(g), tx.grad.numpy(), rtol=1e-10, atol=1e-12)
    for k, p in ref.named_parameters():
        np.testing.assert_allclose(mine.grads[k], p.grad.numpy(), rtol=1e-10, atol=1e-12)
    if conv_path == "numpy":
        assert mine._cols is not None and not mine._store
    else:
        parts = min(5, numba.get_num_threads()) if conv_path == "split" else 1
        assert mine._cols is None and mine._store["cols"].shape[0] == parts
    # input_grad=False: the same parameter gradients, no d input
    mine.forward(x, training=training)
    assert mine.backward(g, input_grad=False) is None
    for k, p in ref.named_parameters():
        np.testing.assert_allclose(mine.grads[k], p.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_conv_float32_paths_agree(conv_path):
    """float32 (the default dtype) through each path against float64 torch, with
    groups and a bias; and ``out=`` buffers are written, not ignored."""
    torch = pytest.importorskip("torch")
    ref = torch.nn.Conv2d(4, 6, 3, padding=1, groups=2).double()
    mine = nn.Conv2d(4, 6, 3, padding=1, groups=2)
    mine.load_state_dict(ref.state_dict())
    x = R.standard_normal((3, 4, 7, 9)).astype(np.float32)
    tx = torch.tensor(x.astype(np.float64), requires_grad=True)
    ty = ref(tx)
    buf = np.full(ty.shape, np.nan, np.float32)
    y = mine.forward(x, training=True, out=buf)
    np.testing.assert_allclose(y, ty.detach().numpy(), rtol=1e-4, atol=1e-5)
    g = R.standard_normal(y.shape).astype(np.float32)
    ty.backward(torch.tensor(g.astype(np.float64)))
    dbuf = np.full(x.shape, np.nan, np.float32)
    dx = mine.backward(g, out=dbuf)
    np.testing.assert_allclose(dx, tx.grad.numpy(), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(mine.grads["weight"], ref.weight.grad.numpy(), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(mine.grads["bias"], ref.bias.grad.numpy(), rtol=1e-4, atol=1e-4)
    if conv_path != "numpy":
        assert y is buf and dx is dbuf


def test_per_sample_im2col_is_unfold_and_col2im_its_transpose():
    """runtime.conv's per-sample P (rows per group, each group's block closed by a
    row it leaves alone) holds windows.unfold's rows, and its Pᵀ is the transpose:
    <P x, c> = <x, Pᵀ c>, with stride, one-sided padding, dilation and groups."""
    from symdl.runtime import conv as rconv

    for (C, H, W), G, geo in [((4, 7, 8), 2, ((3, 2), (2, 3), ((1, 2), (0, 1)), (2, 1))),
                              ((3, 5, 6), 1, ((3, 3), (1, 1), ((1, 1), (1, 1)), (1, 1))),
                              ((4, 6, 7), 2, ((2, 3), (2, 1), ((0, 2), (1, 0)), (2, 2))),
                              ((4, 6, 7), 2, ((3, 3), (1, 1), ((1, 1), (1, 1)), (1, 1))),
                              ((2, 5, 8), 1, ((2, 3), (1, 1), ((3, 1), (2, 2)), (2, 2))),
                              ((2, 3, 4), 1, ((5, 3), (1, 1), ((1, 1), (1, 1)), (1, 1))),
                              ((2, 1, 9), 2, ((1, 3), (1, 2), ((0, 0), (3, 3)), (1, 3)))]:
        (KH, KW), (sh, sw), ((pt, _), (pl, _)), (dh, dw) = geo
        x = R.standard_normal((1, C, H, W))
        ref = unfold(x, *geo, channels_first=True)             # (C, KH, KW, 1, OH, OW)
        OH, OW = ref.shape[4], ref.shape[5]
        Kg, P = C // G * KH * KW, OH * OW
        cf = np.full(G * (Kg + 1) * P, 7.0)
        args = (C, H, W, C // G, KH, KW, sh, sw, pt, pl, dh, dw, OH, OW)
        rconv._im2col(x.reshape(-1), *args, cf)
        blocks = cf.reshape(G, Kg + 1, P)
        np.testing.assert_array_equal(blocks[:, :Kg].reshape(-1), ref.reshape(-1))
        assert (blocks[:, Kg] == 7.0).all()
        c = R.standard_normal(cf.shape)
        dx = np.full(C * H * W, np.nan)
        rconv._col2im(c.copy(), *args, dx)        # (it may zero entries of its input)
        lhs = np.vdot(blocks[:, :Kg], c.reshape(G, Kg + 1, P)[:, :Kg])
        assert abs(lhs - np.vdot(x.reshape(-1), dx)) <= 1e-12 * abs(lhs)


def test_conv_splits_the_batch_only_with_one_openblas_thread():
    """One thread pool at a time: the batch goes to Numba's threads only while
    OpenBLAS runs on one thread (its workers spin after each threaded product)."""
    import numba

    from symdl.runtime import blas
    from symdl.runtime import conv as rconv

    prev = blas.threads_set(2)
    if prev is None:
        pytest.skip("OpenBLAS's thread count cannot be set")
    try:
        big = rconv.CONV_PARALLEL_MIN
        assert rconv._parts(32, big) == 1
        blas.threads_set(1)
        assert rconv._parts(32, big) == min(32, numba.get_num_threads())
        assert rconv._parts(32, big - 1) == 1 and rconv._parts(1, big) == 1
    finally:
        blas.threads_set(prev)


@pytest.mark.parametrize("bias", [True, False])
def test_conv_split_gives_the_single_thread_bits(monkeypatch, bias):
    """The batch split hands samples (and chunks of DW_CHUNK samples for dW's
    partial sums) to whichever thread is free: y, dx, dW and db are bit for bit
    the ones of one thread, whatever the threads took (a batch of 7: chunks of
    unequal size, more chunks than threads)."""
    import numba

    from symdl.runtime import blas
    from symdl.runtime import conv as rconv

    if not blas.available() or numba.get_num_threads() < 2:
        pytest.skip("no cblas, or one Numba thread")
    prev = blas.threads_set(1)
    if prev is None:
        pytest.skip("OpenBLAS's thread count cannot be set")
    try:
        rng = np.random.default_rng(3)
        x = rng.standard_normal((7, 3, 9, 8)).astype(np.float32)
        g = rng.standard_normal((7, 4, 9, 8)).astype(np.float32)
        got = []
        for limit in (1 << 62, 0):                  # one thread, then the split
            monkeypatch.setattr(rconv, "CONV_PARALLEL_MIN", limit)
            layer = nn.Conv2d(3, 4, 3, padding=1, bias=bias, rng=np.random.default_rng(1))
            y = layer.forward(x, training=True)
            dx = layer.backward(g)
            assert layer._store["cols"].shape[0] == (1 if limit else min(7, numba.get_num_threads()))
            got.append([y, dx] + [layer.grads[k].copy() for k in sorted(layer.grads)])
        assert len(got[0]) == (4 if bias else 3)
        for a, b in zip(*got):
            np.testing.assert_array_equal(a, b)
    finally:
        blas.threads_set(prev)
