"""Worked sequence tasks shipped with symdl (no download): the adding problem
and a character-level language model.  ``symdl train --task adding|charlm``.

The adding problem (Hochreiter & Schmidhuber 1997): a sequence of T pairs
(value ~ U(0, 1), marker); exactly two markers are 1, one in each half; the
target is the sum of the two marked values.  Predicting the mean (1) gives
MSE 1/6 ≈ 0.167 -- the baseline.  An LSTM carries the marked values across
the sequence and drives the MSE far below it; a plain tanh RNN's gradient
from the last step back to the early marker vanishes (seed 001 eq 112-114),
which the per-time-step input-gradient norms printed during training show.

The character model reads windows of character indices (N, T) through
``Embedding`` → ``LSTM`` → last step → ``Linear`` and is trained by ``fit``
to predict the next character; its cross-entropy is compared with the
unigram entropy (predicting each character by its frequency).
"""
from __future__ import annotations

import sys
import time
from importlib import resources

import numpy as np

from symdl.errors import ParameterError

__all__ = ["adding_problem", "adding_model", "train_adding", "char_corpus", "char_windows",
           "unigram_entropy", "charlm_model", "train_charlm", "sample"]

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


def char_windows(ids: np.ndarray, T: int) -> tuple[np.ndarray, np.ndarray]:
    """Every window of T character indices (X, (n, T) int64) and the character
    that follows it (y, (n,)): the next-character task as ``fit`` data."""
    if T < 1 or len(ids) <= T:
        raise ParameterError(f"a window of {T} characters needs T >= 1 and a text longer than T "
                             f"({len(ids)} characters)")
    X = np.lib.stride_tricks.sliding_window_view(ids[:-1], T)
    return np.ascontiguousarray(X), np.ascontiguousarray(ids[T:])


def unigram_entropy(ids: np.ndarray) -> float:
    """The cross-entropy (nats/char) of predicting each character by its
    frequency alone: the bar a model that reads the context must beat."""
    p = np.bincount(ids) / len(ids)
    p = p[p > 0]
    return float(-(p * np.log(p)).sum())


def charlm_model(vocab_size: int, embed: int = 32, hidden: int = 128, rng=None, dtype=np.float32):
    """Embedding(V, E) → LSTM(E, H) → last step → Linear(H, V): next-character
    logits from a window of character indices (N, T)."""
    from symdl import nn

    return nn.Sequential(nn.Embedding(vocab_size, embed, dtype=dtype, rng=rng),
                         nn.LSTM(embed, hidden, batch_first=True, dtype=dtype, rng=rng),
                         nn.LastStep(), nn.Linear(hidden, vocab_size, dtype=dtype, rng=rng))


def sample(model, vocab, start: str, n: int, rng, temperature=0.8) -> str:
    """Generate ``n`` characters after ``start`` with a ``charlm_model``: the
    LSTM reads ``start`` once, then one character per step, its state carried."""
    emb, lstm, head = model[0], model[1], model[3]
    index = {c: i for i, c in enumerate(vocab)}
    text = list(start)
    out, state = lstm.forward(emb.forward(np.array([[index.get(c, 0) for c in start]])))
    for _ in range(n):
        logits = head.forward(out[:, -1]).astype(np.float64)[0] / temperature
        p = np.exp(logits - logits.max())
        p /= p.sum()
        k = int(rng.choice(len(vocab), p=p))
        text.append(vocab[k])
        out, state = lstm.forward(emb.forward(np.array([[k]])), state)
    return "".join(text)


def train_charlm(hidden=128, seq_len=32, batch_size=64, steps=600, lr=3e-3, clip=1.0, seed=0,
                 embed=32, sample_len=300, verbose=True, stream=None):
    """Train ``charlm_model`` with ``fit`` on every window of ``seq_len``
    characters of the bundled sonnets (the last 10 % of the text held out) for
    about ``steps`` optimizer steps, then sample.  Returns dict(loss,
    val_loss: mean cross-entropy in nats/char on the training windows and the
    held-out ones, unigram: the frequency-only entropy, sample, vocab, model)."""
    from symdl.train import evaluate

    stream = stream or sys.stdout
    text = char_corpus()
    vocab = sorted(set(text))
    ids = np.array([vocab.index(c) for c in text], np.int64)
    X, y = char_windows(ids, seq_len)
    cut = int(0.9 * len(X))
    rng = np.random.default_rng(seed)
    model = charlm_model(len(vocab), embed, hidden, rng=rng)
    H0 = unigram_entropy(ids)
    train = np.arange(cut)
    if steps * batch_size < cut:        # fewer steps than one epoch: a random subset of windows
        train = np.sort(rng.choice(cut, steps * batch_size, replace=False))
    epochs = max(1, -(-steps // -(-len(train) // batch_size)))
    t0 = time.perf_counter()
    if verbose:
        print(f"char LM: {len(text)} characters, vocabulary {len(vocab)}, Embedding({len(vocab)}, "
              f"{embed}) → LSTM hidden={hidden} → Linear; windows of {seq_len} characters, "
              f"batch {batch_size}, {epochs} epochs; unigram entropy {H0:.3f} nats/char",
              file=stream, flush=True)
    model.fit(X[train], y[train], validation_data=(X[cut:], y[cut:]), epochs=epochs,
              batch_size=batch_size, lr=lr, clip_grad_norm=clip, seed=seed, verbose=2 if verbose else 0)
    loss = evaluate(model, X[:cut], y[:cut], metrics=())["loss"]
    val = evaluate(model, X[cut:], y[cut:], metrics=())["loss"]
    s = sample(model, vocab, "Shall I compare thee", sample_len, np.random.default_rng(seed))
    if verbose:
        print(f"cross-entropy {loss:.3f} nats/char (held out {val:.3f}; unigram {H0:.3f})\n"
              f"sample ({time.perf_counter() - t0:.1f} s):\n{s}", file=stream)
    return {"loss": loss, "val_loss": val, "unigram": H0, "sample": s, "vocab": vocab, "model": model}
