"""symdl.train.fit and `symdl train`: history, determinism, checkpoints and
resume, non-finite losses, bad input, and the digits accuracy target."""
import re

import numpy as np
import pytest

import symdl
import symdl.nn as nn
from symdl.errors import ParameterError, UnknownNameError
from symdl.train import TrainingError, evaluate, fit, load_checkpoint


def blobs(n=120, seed=0):
    rng = np.random.default_rng(seed)
    centers = np.array([[2.0, 0.0], [-2.0, 1.0], [0.0, -2.0]])
    y = rng.integers(0, 3, n)
    X = centers[y] + 0.7 * rng.standard_normal((n, 2))
    return X.astype(np.float32), y


def model(seed=0, dropout=0.0):
    nn.manual_seed(seed)
    layers = [nn.Linear(2, 16), nn.Activation("tanh")]
    if dropout:
        layers.append(nn.Dropout(dropout))
    return nn.Sequential(*layers, nn.Linear(16, 3))


def test_fit_learns_and_reports_history():
    X, y = blobs()
    m = model()
    h = m.fit(X, y, epochs=15, batch_size=16, validation_split=0.25, metrics=["accuracy", "f1"],
              verbose=0, seed=0, lr=0.05)
    assert h.epoch == list(range(1, 16))
    assert set(h.keys()) == {"loss", "accuracy", "f1", "val_loss", "val_accuracy", "val_f1"}
    assert h["loss"][-1] < 0.5 * h["loss"][0]
    assert h["val_accuracy"][-1] > 0.9
    ev = evaluate(m, X, y, metrics=["accuracy", "mcc"])
    assert ev["accuracy"] > 0.9 and set(ev) == {"loss", "accuracy", "mcc"}


def test_fit_is_deterministic_with_seed():
    X, y = blobs()
    h1 = model(dropout=0.2).fit(X, y, epochs=3, verbose=0, seed=7)
    h2 = model(dropout=0.2).fit(X, y, epochs=3, verbose=0, seed=7)
    h3 = model(dropout=0.2).fit(X, y, epochs=3, verbose=0, seed=8)
    assert h1["loss"] == h2["loss"]
    assert h1["loss"] != h3["loss"]


def test_checkpoint_resume_continues_the_same_trajectory(tmp_path):
    X, y = blobs()
    ck = tmp_path / "run.npz"
    kw = dict(epochs=5, batch_size=16, verbose=0, seed=1, metrics=["accuracy"], validation_split=0.2)
    straight = model(dropout=0.1)
    h_full = straight.fit(X, y, **kw)
    part = model(dropout=0.1)
    part.fit(X, y, **{**kw, "epochs": 3}, checkpoint=ck)
    state = load_checkpoint(ck)
    assert state["epoch"] == 3 and len(state["history"]["loss"]) == 3
    resumed = model(seed=99, dropout=0.1)          # different init: everything comes from the file
    h_res = resumed.fit(X, y, **kw, checkpoint=ck, resume=True)
    assert h_res.epoch == [1, 2, 3, 4, 5]
    assert np.allclose(h_res["loss"], h_full["loss"], rtol=1e-6)
    for a, b in zip(resumed.parameters(), straight.parameters()):
        assert np.allclose(a, b, rtol=1e-5, atol=1e-6)
    # the checkpoint is also a loadable model
    assert np.allclose(nn.load(ck).predict(X), resumed.predict(X), atol=1e-6)


class NanAfter:
    """A loss that turns non-finite at its k-th call."""

    def __init__(self, k):
        self.inner = symdl.kernel("cross_entropy")
        self.classes, self.name, self.calls, self.k = True, "cross_entropy", 0, k

    def forward(self, *a):
        return self.inner.forward(*a)

    def forward_backward(self, x, y):
        self.calls += 1
        val, d = self.inner.forward_backward(x, y)
        return (np.float32(np.nan) if self.calls >= self.k else val), d


def test_non_finite_loss_names_epoch_and_batch_and_keeps_checkpoint(tmp_path):
    X, y = blobs(64)
    ck = tmp_path / "ck.npz"
    m = model()
    # 64 rows / 16 = 4 batches per epoch: call 11 is epoch 3, batch 3
    with pytest.raises(TrainingError, match=r"epoch 3, batch 3 of 4.*ck.npz \(after epoch 2\) is intact") as e:
        m.fit(X, y, loss=NanAfter(11), epochs=5, batch_size=16, verbose=0, checkpoint=ck)
    assert (e.value.epoch, e.value.batch) == (3, 3)
    state = load_checkpoint(ck)
    assert state["epoch"] == 2
    assert all(np.isfinite(v).all() for v in m.parameters())


def test_bad_inputs():
    X, y = blobs(40)
    m = model()
    before = [p.copy() for p in m.parameters()]
    Xn = X.copy()
    Xn[7, 1] = np.nan
    with pytest.raises(ValueError, match="NaN at row 7, column 1"):
        m.fit(Xn, y, epochs=1, verbose=0)
    with pytest.raises(ValueError, match=r"label 3 .*outside the class range 0..2"):
        m.fit(X, np.where(y == 0, 3, y), epochs=1, verbose=0)
    with pytest.raises(ValueError, match="class range"):
        m.fit(X, -np.ones_like(y), epochs=1, verbose=0)
    with pytest.raises(UnknownNameError, match="Adam"):
        m.fit(X, y, optimizer="adma", epochs=1, verbose=0)
    with pytest.raises(UnknownNameError, match="cross_entropy"):
        m.fit(X, y, loss="cross_entropi", epochs=1, verbose=0)
    with pytest.raises(ParameterError, match="momentum"):
        m.fit(X, y, optimizer="sgd", optimizer_options={"momentun": 0.9}, epochs=1, verbose=0)
    with pytest.raises(Exception, match="40 rows but y has 39"):
        m.fit(X, y[:-1], epochs=1, verbose=0)
    with pytest.raises(ValueError, match="NaN"):
        m.fit(X, y, validation_data=(Xn, y), epochs=1, verbose=0)
    with pytest.raises(UnknownNameError, match="accuracy"):
        m.fit(X, y, metrics=["acurracy"], epochs=1, verbose=0)
    with pytest.raises(ParameterError, match="val_accuracy"):
        m.fit(X, y, monitor="val_accuracy", early_stopping=2, epochs=1, verbose=0)
    assert all(np.array_equal(a, b) for a, b in zip(before, m.parameters()))  # nothing trained


def test_early_stopping_restores_best():
    X, y = blobs()
    m = model()
    h = m.fit(X, y, epochs=20, verbose=0, early_stopping=2, monitor="loss", min_delta=1e9, seed=0)
    assert h.stopped_epoch == 3 and h.best_epoch == 1 and len(h.epoch) == 3


def test_regression_with_mse_and_mae():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((200, 3))
    y = X @ np.array([1.0, -2.0, 0.5]) + 0.3
    nn.manual_seed(0)
    m = nn.Sequential(nn.Linear(3, 1), dtype=np.float64)
    h = m.fit(X, y, loss="mse_loss", metrics=["mae"], epochs=40, batch_size=20, lr=0.05, verbose=0, seed=0)
    assert h["mae"][-1] < 0.05 and h["loss"][-1] < 1e-2


def test_binary_logits_metrics_threshold():
    X, y = blobs()
    yb = (y == 0).astype(np.float32).reshape(-1, 1)
    nn.manual_seed(0)
    m = nn.Sequential(nn.Linear(2, 8), nn.Activation("relu"), nn.Linear(8, 1))
    h = m.fit(X, yb, loss="binary_cross_entropy_with_logits", metrics=["accuracy", "f1"], epochs=20,
              lr=0.05, verbose=0, seed=0)
    assert h["accuracy"][-1] > 0.9


def test_verbose_lines_when_not_a_tty(capsys):
    X, y = blobs(32)
    model().fit(X, y, epochs=2, verbose=1)
    out = capsys.readouterr().out
    assert re.search(r"epoch 1/2  loss \d\.\d{4}  accuracy", out) and "epoch 2/2" in out
    model().fit(X, y, epochs=2, verbose=0)
    assert capsys.readouterr().out == ""


def test_cli_train_digits_reaches_097(tmp_path, capsys):
    from symdl.cli import main

    out_path = tmp_path / "digits.npz"
    assert main(["train", "--quiet", "--seed", "0", "--out", str(out_path)]) == 0
    text = capsys.readouterr().out
    acc = float(re.search(r"test accuracy (\d\.\d+)", text).group(1))
    f1 = float(re.search(r"macro F1 (\d\.\d+)", text).group(1))
    assert acc >= 0.97 and f1 >= 0.97
    assert "confusion matrix" in text
    m = nn.load(out_path)                  # standardizes raw rows itself, knows its classes
    from symdl.datasets import load_digits, train_test_split
    X, y = load_digits()
    _, Xte, _, yte = train_test_split(X, y, 0.2, seed=0, stratify=True)
    assert f"{(m.predict(Xte).argmax(1) == yte).mean():.4f}" == f"{acc:.4f}"   # as at the end
    assert m.classes == [str(d) for d in range(10)] and len(m.feature_names) == 64
    assert (m.predict_labels(X[:50]) == np.array([str(v) for v in y[:50]], dtype=object)).mean() > 0.9


def test_cli_train_iris_and_csv(tmp_path, capsys):
    from symdl.cli import main

    assert main(["train", "--dataset", "iris", "--quiet", "--epochs", "30", "--hidden", "16",
                 "--no-save"]) == 0
    assert "setosa" in capsys.readouterr().out
    p = tmp_path / "d.csv"
    rng = np.random.default_rng(0)
    X = rng.standard_normal((60, 2))
    lab = np.where(X[:, 0] > 0, "pos", "neg")
    p.write_text("a,b,label\n" + "\n".join(f"{u},{v},{w}" for (u, v), w in zip(X, lab)))
    assert main(["train", "--csv", str(p), "--target", "label", "--quiet", "--epochs", "20",
                 "--hidden", "8", "--out", str(tmp_path / "m.npz")]) == 0
    assert "pos" in capsys.readouterr().out
    assert main(["train", "--csv", str(p), "--target", "lable", "--quiet"]) == 2
    assert "did you mean 'label'" in capsys.readouterr().err
    assert main(["train", "--optimizer", "adamm", "--quiet", "--no-save", "--epochs", "1"]) == 2
    assert "did you mean 'adam'" in capsys.readouterr().err


def test_cli_train_is_deterministic_with_seed(capsys):
    from symdl.cli import main

    args = ["train", "--quiet", "--epochs", "3", "--no-save", "--hidden", "32"]
    runs = []
    for seed in ("3", "3", "4"):
        assert main(args + ["--seed", seed]) == 0
        text = capsys.readouterr().out
        runs.append(re.sub(r"in \d+\.\d s", "", text))   # drop the timing
    assert runs[0] == runs[1]
    assert runs[0] != runs[2]
