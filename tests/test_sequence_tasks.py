"""Training on sequences: the adding problem, clipping, fit on (N, T, F), the char LM."""
from __future__ import annotations

import numpy as np
import pytest

import symdl.nn as nn
from symdl import tasks
from symdl.nn.clip import clip_grad_norm_, global_norm


def test_adding_problem_data():
    X, y = tasks.adding_problem(500, 30, np.random.default_rng(0))
    assert X.shape == (500, 30, 2) and y.shape == (500, 1)
    assert np.all(X[:, :, 1].sum(1) == 2)
    assert np.all(X[:, :15, 1].sum(1) == 1)                     # one marker in each half
    np.testing.assert_allclose(y[:, 0], (X[:, :, 0] * X[:, :, 1]).sum(1), rtol=1e-6)
    assert abs(np.mean((y - 1.0) ** 2) - tasks.BASELINE) < 0.03   # the baseline: predict 1


def test_adding_lstm_learns_small():
    """Budget: T = 20, hidden 16, batch 32, seed 0: MSE < 0.01 within 1500 steps
    (it takes ~600; the T = 50 run is the slow test below)."""
    r = tasks.train_adding("lstm", T=20, hidden=16, batch_size=32, steps=1500, seed=0, verbose=False)
    assert r["mse"] < 0.01, r["history"][-1]


@pytest.mark.slow
def test_adding_t50_lstm_learns_rnn_does_not():
    """`symdl train --task adding --cell lstm` (T = 50, seed 0): MSE < 0.01 within
    3000 steps (~800); the tanh RNN stays near the 0.167 baseline after 1500."""
    r = tasks.train_adding("lstm", T=50, steps=3000, seed=0, verbose=False)
    assert r["mse"] < 0.01
    r = tasks.train_adding("rnn", T=50, steps=1500, seed=0, verbose=False, target=0.0)
    assert min(e for _, e, _ in r["history"]) > 0.1


def test_clip_grad_norm():
    rng = np.random.default_rng(0)
    g = [rng.standard_normal((3, 4)), rng.standard_normal(5).astype(np.float32)]
    before = global_norm(g)
    assert abs(before - np.sqrt(sum((a.astype(np.float64) ** 2).sum() for a in g))) < 1e-9
    ref = [a.copy() for a in g]
    assert clip_grad_norm_(g, 0.5) == pytest.approx(before)
    assert global_norm(g) == pytest.approx(0.5, rel=1e-5)
    np.testing.assert_allclose(g[0] / ref[0], g[0][0, 0] / ref[0][0, 0])   # one common scale
    assert clip_grad_norm_(g, 10.0) == pytest.approx(0.5, rel=1e-5)       # below max: untouched
    assert global_norm(g) == pytest.approx(0.5, rel=1e-5)


def test_fit_sequences_with_clipping():
    rng = np.random.default_rng(1)
    X, y = tasks.adding_problem(256, 8, rng)
    model = nn.Sequential(nn.GRU(2, 8, batch_first=True, rng=rng), nn.LastStep(), nn.Linear(8, 1, rng=rng))
    hist = model.fit(X, y, loss="mse_loss", metrics=(), epochs=3, batch_size=32, lr=1e-2, verbose=0,
                     seed=0, clip_grad_norm=0.5)
    assert hist["loss"][-1] < hist["loss"][0]
    assert model.predict(X).shape == (256, 1)


def test_char_windows():
    ids = np.arange(6)
    X, y = tasks.char_windows(ids, 3)
    assert X.tolist() == [[0, 1, 2], [1, 2, 3], [2, 3, 4]] and y.tolist() == [3, 4, 5]
    assert tasks.unigram_entropy(np.array([0, 1, 1, 1])) == pytest.approx(
        -(0.25 * np.log(0.25) + 0.75 * np.log(0.75)))


def test_charlm_trains_and_samples():
    """Embedding → LSTM → Linear through fit on (N, T) character indices: after
    ~100 steps the cross-entropy is far below the unigram entropy (3.10 nats;
    it reaches ~2.4), on the training and the held-out windows, and it samples."""
    r = tasks.train_charlm(hidden=16, embed=16, seq_len=8, steps=100, lr=1e-2, sample_len=40,
                           verbose=False)
    assert isinstance(r["model"][0], nn.Embedding) and isinstance(r["model"][1], nn.LSTM)
    assert r["loss"] < r["unigram"] - 0.4 and r["val_loss"] < r["unigram"] - 0.2, r
    assert r["sample"].startswith("Shall I compare thee") and len(r["sample"]) == 20 + 40
    assert set(r["sample"]) <= set(r["vocab"])


def test_cli_task(capsys):
    from symdl.cli import main

    assert main(["train", "--task", "adding", "--cell", "gru", "--seq-len", "6", "--steps", "20"]) == 0
    out = capsys.readouterr().out
    assert "|dL/dx_t|" in out and "GRU: test MSE" in out
    assert main(["train", "--task", "charlm", "--seq-len", "4", "--steps", "10"]) == 0
    out = capsys.readouterr().out
    assert "Embedding(" in out and "unigram" in out and "sample" in out
