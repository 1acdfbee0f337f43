"""Worked sequence tasks shipped with symdl (no download): the adding problem
and a character-level language model.  ``symdl train --task adding|charlm``.

The adding problem (Hochreiter & Schmidhuber 1997): a sequence of T pairs
(value ~ U(0, 1), marker); exactly two markers are 1, one in each half; the
target is the sum of the two marked values.  Predicting the mean (1) gives
MSE 1/6 ≈ 0.167 -- the baseline.  An LSTM carries the marked values across
the sequence and drives the MSE far below it; a plain tanh RNN's gradient
from the last step back to the early marker vanishes (seed 001 eq 112-114),
which the per-time-step input-gradient norms printed during training show.
"""
from __future__ import annotations

import sys
import time
from importlib import resources

import numpy as np

from symdl.errors import ParameterError

__all__ = ["adding_problem", "adding_model", "train_adding", "char_corpus", "train_charlm", "sample"]

BASELINE = 1.0 / 6.0


def adding_problem(n: int, T: int, rng) -> tuple[np.ndarray, np.ndarray]:
    """(X, y): X (n, T, 2) float32 = (values, markers), y (n, 1) the marked sum."""
    if T < 2:
        raise ParameterError(f"the adding problem needs T >= 2, got {T}")
    X = np.zeros((n, T, 2), np.float32)
    X[:, :, 0] = rng.random((n, T))
    half = T // 2
    a = rng.integers(0, half, n)
    b = rng.integers(half, T, n)
    rows = np.arange(n)
    X[rows, a, 1] = 1.0
    X[rows, b, 1] = 1.0
    y = (X[rows, a, 0] + X[rows, b, 0]).astype(np.float32)[:, None]
    return X, y


def adding_model(cell: str, hidden: int, rng, dtype=np.float32):
    from symdl import nn

    layers = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn": nn.RNN}
    if cell not in layers:
        raise ParameterError(f"--cell {cell!r} is not one of {sorted(layers)}")
    return nn.Sequential(layers[cell](2, hidden, batch_first=True, dtype=dtype, rng=rng), nn.LastStep(),
                         nn.Linear(hidden, 1, dtype=dtype, rng=rng))


def train_adding(cell="lstm", T=50, hidden=32, steps=3000, batch_size=64, lr=1e-2, clip=1.0, seed=0,
                 target=0.01, eval_every=100, n_test=1000, verbose=True, stream=None):
    """Train on fresh batches until the test MSE is below ``target`` or
    ``steps`` are done.  Returns a dict: mse (final test MSE), steps, history
    [(step, test mse, per-time-step |dL/dx_t| at 5 positions)], seconds."""
    from symdl import optim
    from symdl.nn.clip import clip_grad_norm_
    from symdl.registry import kernel

    stream = stream or sys.stdout
    rng = np.random.default_rng(seed)
    model = adding_model(cell, hidden, rng)
    Xt, yt = adding_problem(n_test, T, np.random.default_rng(seed + 10_000))
    opt = optim.Adam(model.parameters(), lr=lr)
    mse = kernel("mse_loss")
    grads = model.gradients()
    probe_t = sorted({0, T // 4, T // 2, 3 * T // 4, T - 1})
    history, t0, err, step = [], time.perf_counter(), float("nan"), 0
    if verbose:
        print(f"adding problem T={T}: {cell.upper()} hidden={hidden}, batch {batch_size}, Adam lr={lr}, "
              f"clip_grad_norm={clip}; baseline MSE {BASELINE:.3f}, target {target}", file=stream)
    for step in range(1, steps + 1):
        X, y = adding_problem(batch_size, T, rng)
        out = model.forward(X, training=True)
        val, dout = mse.forward_backward(out, y)
        dx = model.backward(dout)
        if clip:
            clip_grad_norm_(grads, clip)
        opt.step(grads)
        if step % eval_every == 0 or step == steps:
            err = float(np.mean((model.predict(Xt, batch_size=500) - yt) ** 2))
            # how much the loss still feels the input at time t (vanishing gradients)
            norms = np.sqrt((dx.astype(np.float64) ** 2).sum(axis=(0, 2)))
            history.append((step, err, {t: float(norms[t]) for t in probe_t}))
            if verbose:
                g = "  ".join(f"t={t}: {norms[t]:.1e}" for t in probe_t)
                print(f"step {step:5d}  test mse {err:.4f}   |dL/dx_t|  {g}", file=stream, flush=True)
            if err < target:
                break
    return {"mse": err, "steps": step, "history": history, "seconds": time.perf_counter() - t0,
            "model": model}


# ----------------------------------------------------------------------------- char LM
def char_corpus() -> str:
    """The bundled public-domain text: five of Shakespeare's sonnets (18, 29, 73, 116, 130; 1609)."""
    return resources.files("symdl.datasets").joinpath("data/sonnets.txt").read_text(encoding="utf-8")


def _onehot(idx, V, dtype):
    out = np.zeros(idx.shape + (V,), dtype)
    np.put_along_axis(out, idx[..., None], 1.0, axis=-1)
    return out


def sample(lstm, head, vocab, start: str, n: int, rng, temperature=0.8) -> str:
    """Generate ``n`` characters after ``start`` (one LSTM step at a time, the state carried)."""
    index = {c: i for i, c in enumerate(vocab)}
    V = len(vocab)
    state = None
    text = list(start)
    x = _onehot(np.array([[index.get(c, 0) for c in start]]), V, lstm.dtype)
    out, state = lstm.forward(x, state)
    for _ in range(n):
        logits = head.forward(out[:, -1]).astype(np.float64)[0] / temperature
        p = np.exp(logits - logits.max())
        p /= p.sum()
        k = int(rng.choice(V, p=p))
        text.append(vocab[k])
        out, state = lstm.forward(_onehot(np.array([[k]]), V, lstm.dtype), state)
    return "".join(text)


def train_charlm(hidden=128, seq_len=32, batch_size=16, steps=600, lr=3e-3, clip=1.0, seed=0,
                 sample_len=300, verbose=True, stream=None):
    """A one-layer LSTM over characters with truncated BPTT (the state handed
    from chunk to chunk within each of ``batch_size`` parallel streams).
    Returns dict(loss=final mean cross-entropy (nats/char), sample=text)."""
    from symdl import nn, optim
    from symdl.nn.clip import clip_grad_norm_
    from symdl.registry import kernel

    stream = stream or sys.stdout
    text = char_corpus()
    vocab = sorted(set(text))
    V = len(vocab)
    ids = np.array([vocab.index(c) for c in text], np.int64)
    rng = np.random.default_rng(seed)
    lstm = nn.LSTM(V, hidden, batch_first=True, rng=rng)
    head = nn.Linear(hidden, V, rng=rng)
    params = lstm.parameters() + head.parameters()
    grads = lstm.gradients() + head.gradients()
    opt = optim.Adam(params, lr=lr)
    ce = kernel("cross_entropy")
    span = len(ids) // batch_size                       # each row reads its own stretch of the text
    starts = np.arange(batch_size) * span
    pos, state, t0, avg = 0, None, time.perf_counter(), None
    if verbose:
        print(f"char LM: {len(text)} characters, vocabulary {V}, LSTM hidden={hidden}, "
              f"truncated BPTT over {seq_len} characters, batch {batch_size}", file=stream)
    for step in range(1, steps + 1):
        if pos + seq_len + 1 > span:
            pos, state = 0, None
        cut = starts[:, None] + pos + np.arange(seq_len + 1)
        chunk = ids[cut]
        x = _onehot(chunk[:, :-1], V, lstm.dtype)
        out, state = lstm.forward(x, nn.detach(state), training=True)
        logits = head.forward(out.reshape(-1, hidden))
        val, dlogits = ce.forward_backward(logits, chunk[:, 1:].reshape(-1))
        dh = head.backward(dlogits)
        lstm.backward(dh.reshape(out.shape))
        clip_grad_norm_(grads, clip)
        opt.step(grads)
        pos += seq_len
        avg = float(val) if avg is None else 0.95 * avg + 0.05 * float(val)
        if verbose and (step % 100 == 0 or step == steps):
            print(f"step {step:5d}  loss {avg:.3f} nats/char", file=stream, flush=True)
    s = sample(lstm, head, vocab, "Shall I compare thee", sample_len, np.random.default_rng(seed))
    if verbose:
        print(f"\nsample ({time.perf_counter() - t0:.1f} s):\n{s}", file=stream)
    return {"loss": avg, "sample": s, "vocab": vocab, "lstm": lstm, "head": head}
