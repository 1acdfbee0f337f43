"""symdl.nn: layers against gradcheck, torch (optional), state dicts, files, errors.

Compile budget: each activation kernel costs a JIT compile (or cache load) per
dtype, so the activations exercised here are few; the kernels themselves are
tested against mpmath in test_activations.py.
"""
import math
import subprocess
import sys

import numpy as np
import pytest

import symdl.nn as nn
import symdl.specs as S
from symdl.errors import ParameterError, ShapeError, UnknownNameError
from symdl.nn import init

X64 = np.random.default_rng(1).standard_normal((5, 4))
#: the activations with learnable parameters, from the specs (not a list kept by hand)
_LEARNABLE = [s for s in S.all_specs("activation") if s.learnable]


def mlp(dtype=np.float64, act="tanh"):
    nn.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 6, dtype=dtype), nn.Activation(act, dtype=dtype),
                         nn.Linear(6, 3, dtype=dtype))


# ----------------------------------------------------------------------------- import hygiene
def test_import_nn_does_not_import_sympy():
    code = ("import sys, symdl.nn, symdl.train, symdl.metrics, symdl.datasets, symdl.optim; "
            "m = symdl.nn.Sequential(symdl.nn.Linear(2, 2), symdl.nn.Activation('relu')); "
            "m.forward([[1.0, 2.0]]); "
            "print('sympy' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"


# ----------------------------------------------------------------------------- gradcheck per layer
@pytest.mark.parametrize("layer", [
    lambda: nn.Linear(4, 3, dtype=np.float64),
    lambda: nn.Linear(4, 3, bias=False, dtype=np.float64),
    lambda: nn.Activation("tanh", dtype=np.float64),
    lambda: nn.Activation("elu", alpha=0.7, dtype=np.float64),
    lambda: nn.Softmax(dtype=np.float64),
    lambda: nn.LogSoftmax(dim=0, dtype=np.float64),
    lambda: nn.Dropout(0.0, dtype=np.float64),
] + [  # every activation with a learnable parameter (from the specs): one value per channel
    (lambda n=s.name: nn.Activation(n, num_parameters=X64.shape[1], dtype=np.float64))
    for s in _LEARNABLE
], ids=["linear", "linear_nobias", "tanh", "elu", "softmax", "log_softmax0", "dropout0"]
    + [s.name for s in _LEARNABLE])
def test_layer_backward_matches_gradcheck(layer):
    res = nn.gradcheck(layer(), X64)
    assert res.ok and res.max_error < 1e-6
    assert "input" in res.errors


@pytest.mark.parametrize("mode", ["inverted", "weight_scaling"])
@pytest.mark.parametrize("training", [True, False])
def test_dropout_gradcheck(mode, training):
    d = nn.Dropout(0.4, mode=mode, dtype=np.float64, rng=np.random.default_rng(3))
    assert nn.gradcheck(d, X64, training=training).ok


def test_rrelu_training_gradcheck_replays_noise():
    m = nn.Sequential(nn.Linear(4, 6), nn.Activation("rrelu", rng=np.random.default_rng(0)), nn.Linear(6, 2),
                      dtype=np.float64)
    assert nn.gradcheck(m, X64, training=True).ok


def test_sequential_gradcheck_float32_model_checked_in_float64():
    m = nn.Sequential(nn.Linear(4, 8), nn.Activation("tanh"), nn.Dropout(0.3), nn.Linear(8, 3),
                      nn.LogSoftmax())
    assert m.dtype == np.float32
    res = nn.gradcheck(m, X64, training=True)
    assert res.ok
    assert set(res.errors) == {"input", "0.weight", "0.bias", "3.weight", "3.bias"}
    assert m.dtype == np.float32 and m.params["0.weight"].dtype == np.float32  # untouched


def test_gradcheck_reports_a_wrong_backward():
    class Wrong(nn.Linear):
        def backward(self, grad, out=None, input_grad=True):
            dx = super().backward(grad, out, input_grad)
            self.grads["weight"] *= 1.01
            return dx

    with pytest.raises(nn.GradcheckError, match="weight"):
        nn.gradcheck(Wrong(4, 3, dtype=np.float64), X64)
    res = nn.gradcheck(Wrong(4, 3, dtype=np.float64), X64, raise_exception=False)
    assert not res.ok and res.worst[0] == "weight"


# ----------------------------------------------------------------------------- Linear & init
def test_linear_torch_default_init_bounds_and_layout():
    lin = nn.Linear(50, 7, rng=np.random.default_rng(0))
    w, b = lin.params["weight"], lin.params["bias"]
    assert w.shape == (7, 50) and b.shape == (7,) and w.dtype == np.float32
    bound = 1 / math.sqrt(50)
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.9 * bound
    assert np.abs(b).max() <= bound


def test_manual_seed_makes_init_reproducible():
    nn.manual_seed(5)
    a = nn.Linear(3, 4).params["weight"].copy()
    nn.manual_seed(5)
    b = nn.Linear(3, 4).params["weight"]
    assert np.array_equal(a, b)


@pytest.mark.parametrize("name,std", [
    ("xavier_normal", math.sqrt(2 / (300 + 200))),
    ("lecun_normal", math.sqrt(1 / 300)),
    ("he_normal", math.sqrt(2 / 300)),
    ("kaiming_normal", math.sqrt(2 / 300)),
    ("normal", 0.01),
])
def test_normal_initializers_have_the_catalog_std(name, std):
    w = np.empty((200, 300))
    init.get(name)(w, rng=np.random.default_rng(0))
    assert abs(w.std() / std - 1) < 0.02 and abs(w.mean()) < 0.05 * std


def test_uniform_initializers_and_constants():
    w = np.empty((200, 300))
    init.xavier_uniform_(w, rng=np.random.default_rng(0))
    b = math.sqrt(6 / 500)
    assert np.abs(w).max() <= b and np.abs(w).max() > 0.99 * b
    init.zeros_(w)
    assert not w.any()
    init.constant_(w, 0.5)
    assert np.all(w == 0.5)


@pytest.mark.parametrize("shape", [(6, 4), (4, 6)])
def test_orthogonal(shape):
    w = np.empty(shape)
    init.orthogonal_(w, rng=np.random.default_rng(0))
    small = min(shape)
    g = w @ w.T if shape[0] == small else w.T @ w
    assert np.allclose(g, np.eye(small), atol=1e-12)


def test_linear_named_init_and_unknown_name():
    lin = nn.Linear(4, 3, init="orthogonal", bias_init="zeros", dtype=np.float64)
    assert not lin.params["bias"].any()
    with pytest.raises(UnknownNameError, match="xavier_uniform"):
        nn.Linear(4, 3, init="xavier_unifrom")


def test_linear_accepts_leading_batch_dims():
    lin = nn.Linear(4, 3, dtype=np.float64)
    x = np.random.default_rng(0).standard_normal((2, 5, 4))
    y = lin.forward(x)
    assert y.shape == (2, 5, 3)
    assert np.allclose(y, x @ lin.params["weight"].T + lin.params["bias"])
    dx = lin.backward(np.ones_like(y))
    assert dx.shape == x.shape


# ----------------------------------------------------------------------------- errors
def test_wrong_input_width_names_layer_and_sizes():
    m = mlp()
    with pytest.raises(ShapeError) as e:
        m.forward(np.zeros((2, 5)))
    msg = str(e.value)
    assert "layer 0" in msg and "Linear(4, 6" in msg and "4" in msg and "5" in msg
    m2 = nn.Sequential(nn.Linear(4, 6), nn.Activation("relu"), nn.Linear(7, 2))
    with pytest.raises(ShapeError, match=r"layer 2 \(Linear\(7, 2\)\) expects inputs with 7 features.*got 6"):
        m2.forward(np.zeros((1, 4)))


def test_unknown_activation_and_parameter():
    with pytest.raises(UnknownNameError, match="gelu"):
        nn.Activation("gelo")
    with pytest.raises(ParameterError, match="alpha"):
        nn.Activation("elu", alpah=1.0)
    with pytest.raises(UnknownNameError):
        nn.Activation("softmax")          # not elementwise: use nn.Softmax


def test_bad_layer_arguments():
    with pytest.raises(ParameterError):
        nn.Linear(0, 3)
    with pytest.raises(ParameterError):
        nn.Dropout(1.5)
    with pytest.raises(ParameterError):
        nn.Dropout(0.5, mode="scaled")
    with pytest.raises(TypeError):
        nn.Linear(2, 2, dtype=np.int32)
    with pytest.raises(ParameterError):
        nn.Sequential(nn.Linear(2, 2), "relu")


def test_backward_before_forward():
    with pytest.raises(RuntimeError, match="before forward"):
        nn.Linear(2, 2).backward(np.ones((1, 2)))


# ----------------------------------------------------------------------------- Sequential
def test_dtype_is_kept_and_inputs_are_cast():
    m32 = mlp(np.float32)
    y = m32.forward(X64)
    assert y.dtype == np.float32
    m64 = m32.astype(np.float64)
    assert m64.forward(X64.astype(np.float32)).dtype == np.float64
    assert m32.params["0.weight"].dtype == np.float32
    assert np.allclose(m64.forward(X64), y, atol=1e-5)


def test_sequential_converts_layers_to_one_dtype():
    m = nn.Sequential(nn.Linear(4, 3, dtype=np.float64), nn.Activation("tanh"), nn.Linear(3, 2))
    assert m.dtype == np.float64
    assert all(p.dtype == np.float64 for p in m.parameters())


def test_params_grads_parameters_gradients_aligned():
    m = nn.Sequential(nn.Linear(4, 6), nn.Activation("prelu"), nn.Linear(6, 3))
    assert list(m.params) == ["0.weight", "0.bias", "1.weight", "2.weight", "2.bias"]
    assert list(m.grads) == list(m.params)
    for p, g in zip(m.parameters(), m.gradients()):
        assert p.shape == g.shape and p.dtype == g.dtype
    assert all(a is b for a, b in zip(m.parameters(), m.params.values()))
    m.forward(X64, training=True)
    m.backward(np.ones((5, 3), np.float32))
    assert all(g.any() for g in m.gradients())
    assert m.num_parameters() == 4 * 6 + 6 + 1 + 6 * 3 + 3


def test_outputs_are_fresh_arrays_and_buffers_are_reused():
    m = mlp()
    a = m.forward(X64)
    b = m.forward(X64 * 2)
    assert not np.shares_memory(a, b)
    assert not np.allclose(a, b)
    # the same result through reused intermediate buffers
    assert np.array_equal(m.forward(X64), a)
    d1 = m.backward(np.ones_like(a))
    d2 = m.backward(np.ones_like(a))
    assert not np.shares_memory(d1, d2) and np.array_equal(d1, d2)


def test_backward_overwrites_grads_no_accumulation():
    m = mlp()
    m.forward(X64)
    m.backward(np.ones((5, 3)))
    g1 = [g.copy() for g in m.gradients()]
    m.forward(X64)
    m.backward(np.ones((5, 3)))
    assert all(np.array_equal(a, b) for a, b in zip(g1, m.gradients()))
    assert m.backward(np.ones((5, 3)), input_grad=False) is None


def test_dropout_modes():
    x = np.ones((200, 50), np.float64)
    inv = nn.Dropout(0.25, dtype=np.float64, rng=np.random.default_rng(0))
    y = inv.forward(x, training=True)
    kept = y != 0
    assert abs(kept.mean() - 0.75) < 0.02
    assert np.allclose(y[kept], 1 / 0.75)
    assert inv.forward(x) is x or np.array_equal(inv.forward(x), x)
    ws = nn.Dropout(0.25, mode="weight_scaling", dtype=np.float64, rng=np.random.default_rng(0))
    y = ws.forward(x, training=True)
    assert set(np.unique(y)) <= {0.0, 1.0}
    assert np.allclose(ws.forward(x), 0.75)
    assert not nn.Dropout(1.0, dtype=np.float64).forward(x, training=True).any()


def test_predict_batches_and_eval_mode():
    nn.manual_seed(0)
    m = nn.Sequential(nn.Linear(4, 8), nn.Dropout(0.5), nn.Linear(8, 2), dtype=np.float64)
    X = np.random.default_rng(0).standard_normal((50, 4))
    full = m.predict(X)
    assert np.allclose(m.predict(X, batch_size=7), full)
    assert np.array_equal(m.predict(X), full)  # dropout off


# ----------------------------------------------------------------------------- state dicts and files
def test_state_dict_roundtrip_and_strict_errors():
    m, m2 = mlp(), mlp()
    for p in m2.parameters():
        p += 1
    m2.load_state_dict(m.state_dict())
    assert np.array_equal(m2.forward(X64), m.forward(X64))
    sd = m.state_dict()
    sd["0.weight"][...] = 7  # a copy: the model is unchanged
    assert not (m.params["0.weight"] == 7).any()
    with pytest.raises(KeyError, match="missing"):
        m.load_state_dict({"0.weight": sd["0.weight"]})
    with pytest.raises(KeyError, match="unexpected"):
        m.load_state_dict({**m.state_dict(), "5.weight": np.zeros(1)})
    with pytest.raises(ShapeError, match="0.weight"):
        m.load_state_dict({**m.state_dict(), "0.weight": np.zeros((3, 3))})


def test_load_state_dict_keeps_array_identity():
    m = mlp()
    before = [id(p) for p in m.parameters()]
    m.load_state_dict(mlp().state_dict())
    assert [id(p) for p in m.parameters()] == before


def test_save_load_npz(tmp_path):
    nn.manual_seed(3)
    m = nn.Sequential(nn.Linear(4, 6), nn.Activation("elu", alpha=0.5), nn.Activation("prelu", num_parameters=6),
                      nn.Dropout(0.1, mode="weight_scaling"), nn.Linear(6, 3), nn.LogSoftmax(dim=1))
    path = m.save(tmp_path / "model")
    assert path.name == "model.npz"
    with np.load(path, allow_pickle=False) as z:
        assert "0.weight" in z.files and "2.weight" in z.files
    m2 = nn.load(path)
    assert repr(m2) == repr(m)
    assert np.array_equal(m2.predict(X64), m.predict(X64))
    m3 = nn.Sequential(nn.Linear(4, 6), nn.Activation("elu", alpha=0.5), nn.Activation("prelu", num_parameters=6),
                       nn.Dropout(0.1, mode="weight_scaling"), nn.Linear(6, 3), nn.LogSoftmax(dim=1))
    m3.load_weights(path)
    assert np.array_equal(m3.predict(X64), m.predict(X64))


def test_save_is_atomic(tmp_path, monkeypatch):
    m = mlp()
    path = m.save(tmp_path / "m.npz")
    before = path.read_bytes()

    def boom(*a, **k):
        raise OSError("disk full")
    monkeypatch.setattr(np, "savez", boom)
    with pytest.raises(OSError):
        mlp(act="relu").save(path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["m.npz"]  # no temporary left


# ----------------------------------------------------------------------------- torch (optional)
def test_torch_same_weights_same_forward_backward():
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    tm = torch.nn.Sequential(torch.nn.Linear(4, 7), torch.nn.GELU(), torch.nn.Linear(7, 5),
                             torch.nn.PReLU(5), torch.nn.Linear(5, 3), torch.nn.LogSoftmax(dim=1)).double()
    m = nn.Sequential(nn.Linear(4, 7), nn.GELU(), nn.Linear(7, 5),
                      nn.PReLU(5), nn.Linear(5, 3), nn.LogSoftmax(dim=1),
                      dtype=np.float64)
    m.load_state_dict({k: v.detach().numpy() for k, v in tm.state_dict().items()})
    x = np.random.default_rng(0).standard_normal((6, 4))
    g = np.random.default_rng(1).standard_normal((6, 3))
    tx = torch.tensor(x, requires_grad=True)
    ty = tm(tx)
    ty.backward(torch.tensor(g))
    y = m.forward(x, training=True)
    dx = m.backward(g)
    assert np.allclose(y, ty.detach().numpy(), rtol=0, atol=1e-10)
    assert np.allclose(dx, tx.grad.numpy(), rtol=0, atol=1e-10)
    for name, p in tm.named_parameters():
        assert np.allclose(m.grads[name], p.grad.numpy(), rtol=0, atol=1e-10), name
    # and the model's state dict loads into torch
    tm.load_state_dict({k: torch.from_numpy(v) for k, v in m.state_dict().items()})


def test_every_activation_builds_a_layer():
    import symdl
    for name in symdl.names("activation"):
        layer = nn.Activation(name)
        assert layer.name == name and repr(layer).startswith("Activation(")
        assert list(layer.params) == list(layer.grads)
    assert list(nn.Activation("prelu", num_parameters=3).params["weight"]) == [0.25] * 3
    assert list(nn.Activation("swish").params) == ["beta"]


def test_torch_same_training_trajectory_adam():
    torch = pytest.importorskip("torch")
    import symdl
    import symdl.optim as optim
    from symdl.train import train_step

    torch.manual_seed(1)
    tm = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 3)).double()
    m = nn.Sequential(nn.Linear(4, 8), nn.Activation("tanh"), nn.Linear(8, 3), dtype=np.float64)
    m.load_state_dict({k: v.detach().numpy() for k, v in tm.state_dict().items()})
    topt = torch.optim.Adam(tm.parameters(), lr=0.01)
    opt = optim.Adam(m.parameters(), lr=0.01)
    lossk = symdl.kernel("cross_entropy")
    rng = np.random.default_rng(0)
    for _ in range(5):
        x = rng.standard_normal((6, 4))
        t = rng.integers(0, 3, 6)
        topt.zero_grad()
        tl = torch.nn.functional.cross_entropy(tm(torch.from_numpy(x)), torch.from_numpy(t))
        tl.backward()
        topt.step()
        sl = train_step(m, lossk, opt, x, t)
        assert sl == pytest.approx(tl.item(), abs=1e-12)
    for k, v in tm.state_dict().items():
        assert np.allclose(m.params[k], v.numpy(), rtol=0, atol=1e-10), k


def test_identity_last_or_first_layer_does_not_leak_buffers():
    m = nn.Sequential(nn.Dropout(0.5), nn.Linear(4, 3, bias=False), nn.Dropout(0.5), dtype=np.float64)
    a = m.forward(X64)
    b = m.forward(2 * X64)
    assert np.allclose(2 * a, b)
    d1 = m.backward(np.ones((5, 3)))
    d2 = m.backward(2 * np.ones((5, 3)))
    assert np.allclose(2 * d1, d2)


def test_torch_named_aliases():
    import symdl.nn.aliases as A
    for name in A.__all__:
        f = getattr(nn, name)
        layer = f(0.0, 0.0) if name == "Threshold" else f()
        assert isinstance(layer, nn.Activation)
    assert nn.Softplus().config() == {"name": "softplus", "beta": 1.0, "threshold": 20.0}
    assert nn.PReLU(3, init=0.1).params["weight"].tolist() == pytest.approx([0.1] * 3)
    assert repr(nn.LeakyReLU(0.2)) == "Activation('leaky_relu', negative_slope=0.2)"
