"""Normalization layers: torch parity (weights, gradients, running buffers,
eval output), gradcheck, state dicts, save/load, fit, bad input."""
import re

import numpy as np
import pytest

import symdl.nn as nn
from symdl.errors import ShapeError

LAYERS = [  # (symdl layer, torch constructor, input shape)
    (lambda: nn.BatchNorm1d(5, dtype=np.float64), "BatchNorm1d(5)", (8, 5)),
    (lambda: nn.BatchNorm1d(3, momentum=None, dtype=np.float64), "BatchNorm1d(3, momentum=None)", (6, 3, 4)),
    (lambda: nn.BatchNorm2d(3, dtype=np.float64), "BatchNorm2d(3)", (4, 3, 2, 5)),
    (lambda: nn.BatchNorm3d(2, affine=False, dtype=np.float64), "BatchNorm3d(2, affine=False)", (2, 2, 2, 2, 3)),
    (lambda: nn.LayerNorm((2, 3), dtype=np.float64), "LayerNorm((2, 3))", (4, 2, 3)),
    (lambda: nn.LayerNorm(6, bias=False, dtype=np.float64), "LayerNorm(6, bias=False)", (4, 6)),
    (lambda: nn.GroupNorm(2, 6, dtype=np.float64), "GroupNorm(2, 6)", (3, 6, 4)),
    (lambda: nn.InstanceNorm1d(3, affine=True, track_running_stats=True, dtype=np.float64),
     "InstanceNorm1d(3, affine=True, track_running_stats=True)", (4, 3, 5)),
    (lambda: nn.InstanceNorm2d(3, dtype=np.float64), "InstanceNorm2d(3)", (2, 3, 4, 5)),
    (lambda: nn.RMSNorm(6, dtype=np.float64), "RMSNorm(6)", (4, 6)),
]
IDS = [t for _, t, _ in LAYERS]


@pytest.mark.parametrize("make,tcall,shape", LAYERS, ids=IDS)
def test_matches_torch(make, tcall, shape):
    torch = pytest.importorskip("torch")
    tor = eval("torch.nn." + tcall).double()
    for p in tor.parameters():
        p.data.normal_(generator=torch.Generator().manual_seed(1))
    sym = make()
    sym.load_state_dict({k: v.numpy() for k, v in tor.state_dict().items()})  # torch's dict, unchanged
    rng = np.random.default_rng(0)
    for _ in range(3):
        x, g = rng.normal(size=shape) * 2 + 1, rng.normal(size=shape)
        tx = torch.tensor(x, requires_grad=True)
        tor.train()
        ty = tor(tx)
        ty.backward(torch.tensor(g))
        np.testing.assert_allclose(sym.forward(x, training=True), ty.detach().numpy(), rtol=0, atol=1e-10)
        np.testing.assert_allclose(sym.backward(g), tx.grad.numpy(), rtol=0, atol=1e-10)
        for k, p in tor.named_parameters():
            np.testing.assert_allclose(sym.grads[k], p.grad.numpy(), rtol=0, atol=1e-10)
            p.grad = None
    for k, b in tor.state_dict().items():
        np.testing.assert_allclose(sym.state_dict()[k], b.numpy(), rtol=0, atol=1e-10, err_msg=k)
    tor.eval()
    x, g = rng.normal(size=shape), rng.normal(size=shape)
    tx = torch.tensor(x, requires_grad=True)
    ty = tor(tx)
    ty.backward(torch.tensor(g))
    np.testing.assert_allclose(sym.forward(x, training=False), ty.detach().numpy(), rtol=0, atol=1e-10)
    np.testing.assert_allclose(sym.backward(g), tx.grad.numpy(), rtol=0, atol=1e-10)   # eval backward
    for k, p in tor.named_parameters():
        np.testing.assert_allclose(sym.grads[k], p.grad.numpy(), rtol=0, atol=1e-10)


@pytest.mark.parametrize("make,tcall,shape", LAYERS, ids=IDS)
def test_gradcheck(make, tcall, shape):
    layer = make()
    for p in layer.params.values():
        p[...] = np.random.default_rng(3).normal(size=p.shape)
    x = np.random.default_rng(4).normal(size=shape)
    nn.gradcheck(layer, x, training=True)
    if layer.buffers:   # eval mode: the running statistics are constants
        layer.buffers["running_mean"][...] = 0.3
        layer.buffers["running_var"][...] = 1.7
        nn.gradcheck(layer, x, training=False)


def test_state_dict_errors_and_report():
    bn = nn.BatchNorm1d(4)
    sd = bn.state_dict()
    assert set(sd) == {"weight", "bias", "running_mean", "running_var", "num_batches_tracked"}
    bad = dict(sd)
    del bad["running_var"]
    with pytest.raises(KeyError, match="running_var"):
        bn.load_state_dict(bad)
    wrong = dict(sd, running_mean=np.zeros(5))
    with pytest.raises(ShapeError, match="running_mean"):
        bn.load_state_dict(wrong)
    report = bn.load_state_dict(dict(wrong, extra=np.zeros(1)), strict=False)
    assert report.mismatched_keys and "running_mean" in report.mismatched_keys[0]
    assert report.unexpected_keys == ["extra"] and report.missing_keys == []
    rep = bn.load_state_dict(bad, strict=False)
    assert rep.missing_keys == ["running_var"]


def test_sequential_save_load_keeps_buffers(tmp_path):
    rng = np.random.default_rng(0)
    m = nn.Sequential(nn.Linear(4, 6), nn.BatchNorm1d(6), nn.Activation("relu"), nn.Linear(6, 2))
    for _ in range(3):
        m.forward(rng.normal(size=(8, 4)).astype(np.float32), training=True)
    assert "1.running_mean" in m.state_dict() and int(m.state_dict()["1.num_batches_tracked"]) == 3
    assert "1.running_mean" not in m.params       # optimizers never see buffers
    path = m.save(tmp_path / "m")
    m2 = nn.load(path)
    for k, v in m.state_dict().items():
        np.testing.assert_array_equal(m2.state_dict()[k], v)
    x = rng.normal(size=(5, 4)).astype(np.float32)
    np.testing.assert_array_equal(m2.predict(x), m.predict(x))
    with pytest.raises(KeyError, match="1.running_var"):
        m2.load_state_dict({k: v for k, v in m.state_dict().items() if k != "1.running_var"})


def test_bad_input():
    with pytest.raises(ShapeError, match=re.escape("(8, 5)") + ".*4"):
        nn.BatchNorm1d(4).forward(np.zeros((8, 5), np.float32), training=True)
    with pytest.raises(ValueError, match="Expected more than 1 value per channel when training"):
        nn.BatchNorm1d(4).forward(np.zeros((1, 4), np.float32), training=True)
    with pytest.raises(ValueError, match="divisible"):
        nn.GroupNorm(3, 8)
    with pytest.raises(ShapeError, match=r"LayerNorm.*\(2, 5\).*\(4,\)"):
        nn.LayerNorm(4).forward(np.zeros((2, 5), np.float32))
    for dt in (np.float16, np.int32):
        with pytest.raises(TypeError, match=np.dtype(dt).name):
            nn.LayerNorm(4).forward(np.zeros((2, 4), dt))
    with pytest.raises(ShapeError, match="BatchNorm2d"):
        nn.Sequential(nn.BatchNorm2d(3)).forward(np.zeros((2, 3, 4), np.float32))


def test_eval_uses_running_statistics_and_fit_switches_modes():
    """fit trains in training mode (running stats move) and predicts in eval
    mode (running stats used, left alone); a BatchNorm1d model learns digits."""
    from symdl.datasets import load_digits

    X, y = load_digits()
    X = ((X - X.mean(0)) / (X.std(0) + 1e-6)).astype(np.float32)
    rng = np.random.default_rng(0)
    idx = rng.permutation(len(X))
    tr, te = idx[:1400], idx[1400:]
    nn.manual_seed(0)
    m = nn.Sequential(nn.Linear(64, 64), nn.BatchNorm1d(64), nn.Activation("relu"), nn.Linear(64, 10))
    m.fit(X[tr], y[tr], epochs=8, batch_size=32, verbose=0, seed=0)
    bn = m[1]
    assert int(bn.buffers["num_batches_tracked"]) == 8 * (-(-1400 // 32))
    before = {k: v.copy() for k, v in bn.buffers.items()}
    acc = (m.predict(X[te]).argmax(1) == y[te]).mean()
    for k, v in bn.buffers.items():
        np.testing.assert_array_equal(v, before[k])
    assert acc >= 0.97, acc
    # eval output is the running-statistics normalization of the Linear's output
    h = m[0].forward(X[te[:5]])
    want = (h - bn.buffers["running_mean"]) / np.sqrt(bn.buffers["running_var"] + bn.eps) \
        * bn.params["weight"] + bn.params["bias"]
    np.testing.assert_allclose(bn.forward(h, training=False), want, rtol=1e-5, atol=1e-5)


def test_cli_train_norm(capsys):
    from symdl.cli import main

    assert main(["train", "--quiet", "--seed", "0", "--norm", "batch", "--epochs", "2", "--no-save"]) == 0
    assert re.search(r"test accuracy (\d\.\d+)", capsys.readouterr().out)
