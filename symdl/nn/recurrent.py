"""Recurrent layers on the generated gate-block kernels: cells and sequences with BPTT.

``RNNCell``/``GRUCell``/``LSTMCell`` and ``RNN``/``GRU``/``LSTM`` follow torch's
names, layouts and parameter names (``weight_ih_l0``, ``weight_hh_l0``,
``bias_ih_l0``, ``bias_hh_l0``, ``..._reverse``; gate order LSTM i, f, g, o and
GRU r, z, n), so a torch state dict loads unchanged.  Each step is the gate
pre-activations by BLAS matmuls (all time steps of ``W_ih x`` in one matmul,
and the weight gradients of all steps in one matmul each) plus the cell's
gate block: one generated forward and one backward kernel
(``symdl.generated.cells``) whose partials SymPy derived, reading the gates
where the matmuls wrote them (one C-contiguous (batch, G*hidden) row per step).
RNN, LSTM and peephole LSTM sequences of ``SEQ_MIN_T`` steps or more run the
whole time loop, forward and BPTT, in one generated ``nogil`` call per
direction (``*_seq_forward``/``*_seq_backward``: per step one cblas gemm
[x_t, h_t] @ [W_ih, W_hh]ᵀ, or dh = δ W_hh, then the gate kernel) with NumPy's
OpenBLAS called through a ctypes pointer (``symdl.runtime.blas``; without it,
the per-step NumPy loop below).  A large enough sequence (``SPLIT_MIN_WORK``)
runs its two batch halves in two threads and its weight gradients on two
halves of the gate rows, OpenBLAS's own threads set to 1 meanwhile.

* ``LSTM.forward(xs, state=None, training=False) -> (out, (h_n, c_n))``;
  ``GRU``/``RNN`` return ``(out, h_n)``.  ``backward(dout, dstate=None) -> dxs``
  runs full backpropagation through time, writes ``grads`` for every
  parameter and keeps the gradient of the initial state in ``state_grad``
  (``input_grad=False`` skips the input's gradient, e.g. for a first layer).
* Truncated BPTT: pass a chunk's final state to the next chunk's forward
  (``detach(state)`` copies it); the next backward stops at that state.
* Cells: ``LSTMCell.forward(x, (h, c)) -> (h1, c1)``, ``backward(dh1, dc1)
  -> (dx, (dh, dc))``; ``GRUCell``/``RNNCell.forward(x, h) -> h1``,
  ``backward(dh1) -> (dx, dh)``.
* ``GRU(..., reset_after=False)`` is the notes' GRU (seed 001 eq 97-100):
  h̃ = tanh(W x + U(r⊙h)), h' = (1−z)⊙h + z⊙h̃ -- z weights the new candidate,
  the opposite of torch's h' = (1−z)⊙n + z⊙h.
* In a ``Sequential`` a sequence layer passes on its output sequence;
  ``LastStep()`` selects the last time step for a head such as ``Linear``.
"""
from __future__ import annotations

import math

import numpy as np

from symdl.errors import ParameterError, ShapeError
from symdl.runtime import blas as _blas

from . import init as _init
from .layers import LAYERS, Module

__all__ = ["RNNCell", "GRUCell", "LSTMCell", "PeepholeLSTMCell", "RNN", "GRU", "LSTM", "PeepholeLSTM",
           "LastStep", "detach"]

#: kind -> (cell spec, variant, gates per hidden unit)
_KINDS = {
    "rnn_tanh": ("rnn_cell", "tanh", 1), "rnn_relu": ("rnn_cell", "relu", 1),
    "gru": ("gru_cell", "reset_after", 3), "gru_cho": ("gru_cell", "cho", 3),
    "lstm": ("lstm_cell", "lstm", 4), "peephole": ("peephole_lstm_cell", "peephole", 4),
}
_PEEP = ("weight_ci", "weight_cf", "weight_co")


def _t(W, T):
    """Wᵀ for T per-step matmuls h @ Wᵀ: a contiguous copy pays off over a sequence
    (OpenBLAS is ~1.4x faster on it than on the transposed view), not for one step."""
    return np.ascontiguousarray(W.T) if T >= 4 else W.T


def detach(state):
    """A copy of a state (array or tuple of arrays): the handoff between the
    chunks of truncated BPTT (a state passed to ``forward`` is a constant;
    copying protects it from later in-place updates)."""
    if isinstance(state, tuple):
        return tuple(np.array(s) for s in state)
    return None if state is None else np.array(state)


class _Kernels:
    """The raw kernels of one kind and dtype (no per-call checks)."""

    def __init__(self, kind, dtype, size):
        from symdl.registry import kernel

        cell, variant, _ = _KINDS[kind]
        blocks = kernel(cell, variant=variant).blocks
        self.fwd = [b.fn("forward", dtype, size) for b in blocks]
        self.bwd = [b.fn("backward", dtype, size) for b in blocks]
        #: the saved values the first block's forward writes after its state (its
        #: local partials, which its backward reads instead of recomputing them)
        self.act_names = list(blocks[0].meta.get("local_partials", ()))
        self.n_act = len(self.act_names)
        #: its backward reads the gate pre-activations (else only saved values)
        self.bwd_gates = "gates" in blocks[0].meta["kernel_bwd"]
        #: the first block's backward arguments by name (before its gradients)
        self.bwd_names = list(blocks[0].meta["kernel_bwd"])
        #: (forward loop, backward loop, cblas gemm): the whole time loop in one nogil
        #: call (``templates/cells.py.j2``), or None: the per-step Python loop (the
        #: GRUs, whose blocks take other operands; no usable BLAS found)
        self.seq = None
        gemm = _blas.gemm(dtype)
        if gemm is not None and len(blocks) == 1:
            f, b = blocks[0].seq_fn("forward", dtype), blocks[0].seq_fn("backward", dtype)
            if f is not None and b is not None:
                self.seq = (f, b, gemm)

    def bwd_inputs(self, named, S_t):
        """The first block's backward inputs at one step: ``named`` (gates, c,
        c1, vectors, cotangents) and the saved local partials ``S_t``."""
        named = {**named, **dict(zip(self.act_names, S_t))}
        return [named[n] for n in self.bwd_names]


#: sequences from this length on run the generated time loops (``_seq_forward``); a
#: shorter one (a cell's single step) the per-step Python loop, cheaper to enter
SEQ_MIN_T = 4

#: a sequence's work (T * batch * hidden * G*hidden) from which the layer runs its
#: loops on two batch halves and its big products on two halves of their rows, in two
#: threads with OpenBLAS's own threads off (each phase pays a thread handoff, ~50 us)
SPLIT_MIN_WORK = 1 << 22


def _dummy(dt, ndim):
    """A placeholder for a sequence loop's argument the cell does not read."""
    return np.zeros((1,) * ndim, dt)


def _split(T, B, H, GH):
    return B >= 4 and T * B * H * GH >= SPLIT_MIN_WORK and _blas.can_split()


def _loop(split, fn, args, B):
    """``fn(*args, 0, B)``, or its two batch halves in two threads."""
    if split:
        half = (B + 1) // 2
        _blas.run_pair(lambda: fn(*args, 0, half), lambda: fn(*args, half, B))
    else:
        fn(*args, 0, B)


def _pair(split, f0, f1):
    if split:
        _blas.run_pair(f0, f1)
    else:
        f0()
        f1()


class _Recurrent(Module):
    """Shared engine of the cells and the sequence layers."""

    _lstm_state = False

    def __init__(self, kind, input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, *, dtype=np.float32, rng=None, suffix=True):
        super().__init__(dtype)
        name = type(self).__name__
        for n, v in (("input_size", input_size), ("hidden_size", hidden_size), ("num_layers", num_layers)):
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
                raise ParameterError(f"{name}: {n} must be a positive integer, got {v!r}")
        if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) or not 0 <= dropout <= 1:
            raise ParameterError(f"{name}: dropout must be a probability in [0, 1], got {dropout!r}")
        self.kind = kind
        self.input_size, self.hidden_size, self.num_layers = int(input_size), int(hidden_size), int(num_layers)
        self.bias, self.batch_first = bool(bias), bool(batch_first)
        self.dropout, self.bidirectional = float(dropout), bool(bidirectional)
        self._named = suffix
        self.rng = rng if rng is not None else (np.random.default_rng() if dropout > 0 else None)
        G, H = _KINDS[kind][2], self.hidden_size
        bound = 1.0 / math.sqrt(H)
        for layer in range(self.num_layers):
            for sfx in self._suffixes(layer):
                inp = self.input_size if layer == 0 else H * self.num_directions
                shapes = {"weight_ih": (G * H, inp), "weight_hh": (G * H, H)}
                if self.bias:
                    shapes.update(bias_ih=(G * H,), bias_hh=(G * H,))
                if kind == "peephole":
                    shapes.update({p: (H,) for p in _PEEP})
                for pname, shape in shapes.items():
                    w = np.empty(shape)
                    _init.uniform_(w, -bound, bound, rng=rng)   # torch's init
                    self._add_param(pname + sfx, w.astype(self.dtype))
        self._cache = None
        self.state_grad = None
        self._kern = {}

    # ---- structure ---------------------------------------------------------------------
    @property
    def num_directions(self):
        return 2 if self.bidirectional else 1

    def _suffixes(self, layer):
        if not self._named:
            return [""]
        return [f"_l{layer}"] + ([f"_l{layer}_reverse"] if self.bidirectional else [])

    def config(self):
        return {"input_size": self.input_size, "hidden_size": self.hidden_size,
                "num_layers": self.num_layers, "bias": self.bias, "batch_first": self.batch_first,
                "dropout": self.dropout, "bidirectional": self.bidirectional}

    def extra_repr(self):
        c = self.config()
        args = [str(self.input_size), str(self.hidden_size)]
        defaults = {"num_layers": 1, "bias": True, "batch_first": False, "dropout": 0.0, "bidirectional": False}
        args += [f"{k}={c[k]!r}" for k in defaults if k in c and c[k] != defaults[k]]
        return ", ".join(args)

    def _kernels(self, size):
        key = (self.dtype, size >= (1 << 15))
        k = self._kern.get(key)
        if k is None:
            k = self._kern[key] = _Kernels(self.kind, self.dtype, size)
        return k

    def __getstate__(self):
        return {**self.__dict__, "_kern": {}, "_cache": None}

    def _clear(self):
        self._cache = None

    # ---- checks ------------------------------------------------------------------------
    def _state_arrays(self, state, B):
        L, H = self.num_layers * self.num_directions, self.hidden_size
        names = ("h0", "c0") if self._lstm_state else ("h0",)
        if state is None:
            return [np.zeros((L, B, H), self.dtype) for _ in names]
        parts = state if self._lstm_state else (state,)
        if self._lstm_state and (not isinstance(state, (tuple, list)) or len(state) != 2):
            raise ShapeError(f"{self._where()}: the state is a tuple (h0, c0), got {type(state).__name__}")
        out = []
        for n, s in zip(names, parts):
            s = self._input(s)
            if s.shape != (L, B, H):
                raise ShapeError(f"{self._where()}: state {n} has shape {s.shape}, expected "
                                 f"(num_layers*num_directions, batch, hidden_size) = {(L, B, H)}")
            out.append(s)
        return out

    def _sequence(self, xs):
        x = self._input(xs)
        if x.ndim not in (2, 3):
            raise ShapeError(f"{self._where()}: input must be (seq, batch, features) "
                             f"{'(batch_first: (batch, seq, features)) ' if self.batch_first else ''}"
                             f"or unbatched (seq, features), got shape {x.shape}")
        unbatched = x.ndim == 2
        if unbatched:
            x = x[:, None, :]
        elif self.batch_first:
            x = x.transpose(1, 0, 2)
        if x.shape[2] != self.input_size:
            raise ShapeError(f"{self._where()}: input has {x.shape[2]} features (last axis) but "
                             f"input_size is {self.input_size} (input shape {np.shape(xs)})")
        if x.shape[0] == 0:
            raise ShapeError(f"{self._where()}: the input sequence has length 0 (shape {np.shape(xs)})")
        return np.ascontiguousarray(x), unbatched

    # ---- one direction -----------------------------------------------------------------
    # The gate pre-activations of a step live in one C-contiguous (batch, G*hidden) row of
    # XG (torch's gate order), and the kernels read them there (the specs' ``packed``
    # layout): per step one matmul h @ W_hhᵀ into a preallocated buffer, one add and one
    # kernel call; the input projection of all steps is one matmul before the loop, and
    # the weight gradients are one matmul each over all steps after it.
    def _dir_forward(self, sfx, X, h0, c0):
        P, kind, H, dt = self.params, self.kind, self.hidden_size, self.dtype
        T, B, _ = X.shape
        Wih, Whh = P["weight_ih" + sfx], P["weight_hh" + sfx]
        GH = Whh.shape[0]
        K = self._kernels(B * H)
        if K.seq is not None and T >= SEQ_MIN_T:
            return self._seq_forward(K, sfx, X, h0, c0)
        XG = np.matmul(X.reshape(T * B, -1), Wih.T).reshape(T, B, GH)
        bih, bhh = P.get("bias_ih" + sfx), P.get("bias_hh" + sfx)
        Hs = np.empty((T + 1, B, H), dt)
        Hs[0] = h0
        Cs, extra = None, None
        mm, add = np.matmul, np.add
        S = None
        if kind in ("rnn_tanh", "rnn_relu", "lstm", "peephole"):
            HG = np.empty((B, GH), dt)
            WhhT = _t(Whh, T)
            if bih is not None:
                XG += bih + bhh
            fwd = K.fwd[0]
            S = np.empty((K.n_act, T, B, H), dt)     # the saved local partials
            if kind in ("lstm", "peephole"):
                Cs = np.empty((T + 1, B, H), dt)
                Cs[0] = c0
                peep = [P[p + sfx] for p in _PEEP] if kind == "peephole" else []
                for t in range(T):
                    A = XG[t]
                    mm(Hs[t], WhhT, out=HG)
                    add(A, HG, out=A)
                    fwd(A, Cs[t], *peep, Hs[t + 1], Cs[t + 1], *S[:, t])
            else:
                for t in range(T):
                    A = XG[t]
                    mm(Hs[t], WhhT, out=HG)
                    add(A, HG, out=A)
                    fwd(A, Hs[t + 1], *S[:, t])
        elif kind == "gru":
            # extra[t] = W_hh h + b_hh, whose n block (h_n) the kernel reads
            if bih is not None:
                XG += bih
                XG[:, :, :2 * H] += bhh[:2 * H]
            extra = np.empty((T, B, GH), dt)
            WhhT, bhn = _t(Whh, T), (bhh[2 * H:] if bhh is not None else None)
            fwd = K.fwd[0]
            for t in range(T):
                A, E = XG[t], extra[t]
                mm(Hs[t], WhhT, out=E)
                if bhn is not None:
                    E[:, 2 * H:] += bhn
                A[:, :2 * H] += E[:, :2 * H]
                fwd(A, E, Hs[t], Hs[t + 1])
        else:  # gru_cho: r⊙h before U_h
            if bih is not None:
                XG += bih
                XG += bhh
            extra = np.empty((T, B, H), dt)        # r⊙h per step
            HG2, U = np.empty((B, 2 * H), dt), np.empty((B, H), dt)
            WrzT, WnT = _t(Whh[:2 * H], T), _t(Whh[2 * H:], T)
            fwd0, fwd1 = K.fwd
            for t in range(T):
                A = XG[t]
                mm(Hs[t], WrzT, out=HG2)
                A[:, :2 * H] += HG2
                fwd0(A, Hs[t], extra[t])
                mm(extra[t], WnT, out=U)
                A[:, 2 * H:] += U
                fwd1(A, Hs[t], Hs[t + 1])
        return {"X": X, "XG": XG, "Hs": Hs, "Cs": Cs, "extra": extra, "S": S}

    def _dir_backward(self, sfx, cache, dHout, dhT, dcT, need_dx=True):
        P, G, kind, H, dt = self.params, self.grads, self.kind, self.hidden_size, self.dtype
        X, XG, Hs, Cs, extra = cache["X"], cache["XG"], cache["Hs"], cache["Cs"], cache["extra"]
        S = cache["S"]
        T, B, _ = X.shape
        Wih, Whh = P["weight_ih" + sfx], P["weight_hh" + sfx]
        GH = Whh.shape[0]
        K = self._kernels(B * H)
        if K.seq is not None and cache.get("seq"):
            return self._seq_backward(K, sfx, cache, dHout, dhT, dcT, need_dx)
        DG = np.empty((T, B, GH), dt)
        DGh = np.empty((T, B, GH), dt) if kind == "gru" else DG
        dh = np.array(dhT, dtype=dt)
        dtot = np.empty((B, H), dt)
        mm, add = np.matmul, np.add
        tmp, tmp2 = np.empty((B, H), dt), np.empty((B, H), dt)
        if kind in ("lstm", "peephole"):
            dc = np.array(dcT, dtype=dt)
            dc_new = np.empty((B, H), dt)
            bwd = K.bwd[0]
            if kind == "peephole":
                peep = [P[p + sfx] for p in _PEEP]
                dpeep = np.empty((len(_PEEP), T, B, H), dt)
            for t in range(T - 1, -1, -1):
                if dHout is None:
                    dtot, dh = dh, dtot
                else:
                    add(dHout[t], dh, out=dtot)
                D = DG[t]
                named = {"gates": XG[t], "c": Cs[t], "c1": Cs[t + 1], "d_h1": dtot, "d_c1": dc,
                         **dict(zip(("w_ci", "w_cf", "w_co"), peep if kind == "peephole" else ()))}
                bwd(*K.bwd_inputs(named, S[:, t]), D, dc_new, *(dpeep[:, t] if kind == "peephole" else ()))
                dc, dc_new = dc_new, dc
                mm(D, Whh, out=dh)
        elif kind in ("rnn_tanh", "rnn_relu"):
            dc, bwd = None, K.bwd[0]
            for t in range(T - 1, -1, -1):
                if dHout is None:
                    dtot, dh = dh, dtot
                else:
                    add(dHout[t], dh, out=dtot)
                D = DG[t]
                bwd(*K.bwd_inputs({"gates": XG[t], "d_h1": dtot}, S[:, t]), D)
                mm(D, Whh, out=dh)
        elif kind == "gru":
            dc, bwd = None, K.bwd[0]
            for t in range(T - 1, -1, -1):
                if dHout is None:
                    dtot, dh = dh, dtot
                else:
                    add(dHout[t], dh, out=dtot)
                D, Dh = DG[t], DGh[t]
                bwd(XG[t], extra[t], Hs[t], dtot, D, Dh, tmp)   # writes Dh's n block
                Dh[:, :2 * H] = D[:, :2 * H]
                mm(Dh, Whh, out=dh)
                add(dh, tmp, out=dh)
        else:  # gru_cho
            dc = None
            bwd0, bwd1 = K.bwd
            Wrz, Wn = Whh[:2 * H], Whh[2 * H:]
            drh = np.empty((B, H), dt)
            for t in range(T - 1, -1, -1):
                if dHout is None:
                    dtot, dh = dh, dtot
                else:
                    add(dHout[t], dh, out=dtot)
                A, D = XG[t], DG[t]
                bwd1(A, Hs[t], dtot, D, tmp)                  # D's z and n blocks
                mm(D[:, 2 * H:], Wn, out=drh)
                bwd0(A, Hs[t], drh, D, tmp2)                  # D's r block
                mm(D[:, :2 * H], Wrz, out=dh)
                add(dh, tmp, out=dh)
                add(dh, tmp2, out=dh)
        flat = DG.reshape(T * B, GH)
        Hprev = Hs[:-1].reshape(T * B, H)
        mm(flat.T, X.reshape(T * B, -1), out=G["weight_ih" + sfx])
        if kind == "gru_cho":
            mm(flat[:, :2 * H].T, Hprev, out=G["weight_hh" + sfx][:2 * H])
            mm(flat[:, 2 * H:].T, extra.reshape(T * B, H), out=G["weight_hh" + sfx][2 * H:])
        else:
            mm(DGh.reshape(T * B, GH).T, Hprev, out=G["weight_hh" + sfx])
        if self.bias:      # column sums as a matvec (2.5x faster than add.reduce on axis 0)
            ones = np.ones(T * B, dt)
            mm(ones, flat, out=G["bias_ih" + sfx])
            if DGh is DG:      # b_ih and b_hh enter as one sum
                np.copyto(G["bias_hh" + sfx], G["bias_ih" + sfx])
            else:
                mm(ones, DGh.reshape(T * B, GH), out=G["bias_hh" + sfx])
        if kind == "peephole":
            for p, dp in zip(_PEEP, dpeep):
                G[p + sfx][...] = dp.reshape(T * B, H).sum(axis=0, dtype=np.float64)
        dX = mm(flat, Wih).reshape(X.shape) if need_dx else None
        return dX, dh, dc

    # ---- one direction, the whole time loop in one call (RNN, LSTM, peephole LSTM) --------------
    # The generated loops (``K.seq``) run every step -- the gate pre-activations
    # x_t W_ihᵀ + h_t W_hhᵀ + b by cblas gemm, the gate block -- without the GIL; a large
    # enough sequence runs them on two batch halves in two threads, and the weight
    # gradients' products on two halves of the gate rows (OpenBLAS's own threads off
    # meanwhile: its spinning pool would take the second core).
    def _seq_forward(self, K, sfx, X, h0, c0):
        P, kind, H, dt = self.params, self.kind, self.hidden_size, self.dtype
        T, B, _ = X.shape
        Wih, Whh = P["weight_ih" + sfx], P["weight_hh" + sfx]
        GH = Whh.shape[0]
        bih, bhh = P.get("bias_ih" + sfx), P.get("bias_hh" + sfx)
        bias = (bih + bhh).astype(dt) if bih is not None else np.zeros(GH, dt)
        # the gate pre-activations of every step, or one step's scratch when the
        # backward reads only the saved local partials (no T*batch*G*hidden store)
        XG = np.empty((T if K.bwd_gates else 1, B, GH), dt)
        Hs = np.empty((T + 1, B, H), dt)
        Hs[0] = h0
        Cs = None
        if kind in ("lstm", "peephole"):
            Cs = np.empty((T + 1, B, H), dt)
            Cs[0] = c0
        V = np.stack([P[p + sfx] for p in _PEEP]) if kind == "peephole" else np.empty((0, H), dt)
        S = np.empty((K.n_act, T, B, H), dt)      # the saved local partials
        fwd, _, gemm = K.seq
        WT = np.concatenate([Wih, Whh], axis=1).T.copy()      # [W_ih, W_hh]ᵀ: one product per step
        args = (gemm, X, WT, bias, XG, Hs, Cs if Cs is not None else _dummy(dt, 3), V, S,
                np.empty((B, WT.shape[0]), dt))
        _loop(_split(T, B, H, GH), fwd, args, B)
        return {"X": X, "XG": XG, "Hs": Hs, "Cs": Cs, "extra": None, "S": S, "seq": True}

    def _seq_backward(self, K, sfx, cache, dHout, dhT, dcT, need_dx):
        P, G, kind, H, dt = self.params, self.grads, self.kind, self.hidden_size, self.dtype
        X, XG, Hs, Cs, S = cache["X"], cache["XG"], cache["Hs"], cache["Cs"], cache["S"]
        T, B, _ = X.shape
        Wih, Whh = P["weight_ih" + sfx], P["weight_hh" + sfx]
        GH = Whh.shape[0]
        lstm = kind in ("lstm", "peephole")
        DG = np.empty((T, B, GH), dt)
        dh = np.array(dhT, dtype=dt)
        dc = np.array(dcT, dtype=dt) if lstm else _dummy(dt, 2)
        dc_new = np.empty((B, H), dt) if lstm else dc
        if kind == "peephole":
            dpeep = np.empty((len(_PEEP), T, B, H), dt)
            V = np.stack([P[p + sfx] for p in _PEEP])
        else:
            dpeep, V = _dummy(dt, 4), np.empty((0, H), dt)
        dH = _dummy(dt, 3) if dHout is None else np.ascontiguousarray(dHout, dtype=dt)
        _, bwd, gemm = K.seq
        split = _split(T, B, H, GH)
        _loop(split, bwd, (gemm, XG, np.ascontiguousarray(Whh), Cs if lstm else _dummy(dt, 3), V, S, dH,
                           dHout is not None, dh, dc, dc_new, np.empty((B, H), dt), DG, dpeep), B)
        # the weight gradients: one product each over all steps, in two halves of the gate rows
        flat = DG.reshape(T * B, GH)
        Xf, Hprev = X.reshape(T * B, -1), Hs[:-1].reshape(T * B, H)
        gih, ghh = G["weight_ih" + sfx], G["weight_hh" + sfx]
        gb = G["bias_ih" + sfx] if self.bias else None
        ones = np.ones(T * B, dt) if self.bias else None
        r = (GH // 2 + 7) // 8 * 8

        def rows(lo, hi):
            def f():
                np.matmul(flat[:, lo:hi].T, Xf, out=gih[lo:hi])
                np.matmul(flat[:, lo:hi].T, Hprev, out=ghh[lo:hi])
                if gb is not None:      # column sums as a matvec
                    np.matmul(ones, flat[:, lo:hi], out=gb[lo:hi])
            return f

        _pair(split, rows(0, r), rows(r, GH))
        if self.bias:      # b_ih and b_hh enter as one sum
            np.copyto(G["bias_hh" + sfx], gb)
        if kind == "peephole":
            for p, dp in zip(_PEEP, dpeep):
                G[p + sfx][...] = dp.reshape(T * B, H).sum(axis=0, dtype=np.float64)
        dX = None
        if need_dx:
            dX = np.empty((T * B, Wih.shape[1]), dt)
            n = (T * B) // 2
            _pair(split and n > 0, lambda: np.matmul(flat[:n], Wih, out=dX[:n]),
                  lambda: np.matmul(flat[n:], Wih, out=dX[n:]))
            dX = dX.reshape(X.shape)
        return dX, dh, (dc if lstm else None)

    # ---- all layers and directions ---------------------------------------------------------
    def _forward(self, x, states, training):
        D, H = self.num_directions, self.hidden_size
        T, B, _ = x.shape
        h0 = states[0]
        c0 = states[1] if self._lstm_state else None
        hn, cn = np.empty_like(h0), (np.empty_like(c0) if c0 is not None else None)
        caches, masks = [], []
        inp = x
        for layer in range(self.num_layers):
            if layer > 0 and training and self.dropout > 0:
                keep = 1.0 - self.dropout
                m = (self.rng.random(inp.shape) >= self.dropout).astype(self.dtype)
                m *= self.dtype.type(1.0 / keep if keep > 0 else 0.0)
                inp = inp * m
                masks.append(m)
            else:
                masks.append(None)
            out = np.empty((T, B, D * H), self.dtype)
            lc = []
            for d, sfx in enumerate(self._suffixes(layer)):
                j = layer * D + d
                X = inp if d == 0 else np.ascontiguousarray(inp[::-1])
                cache = self._dir_forward(sfx, X, h0[j], c0[j] if c0 is not None else None)
                lc.append(cache)
                hs = cache["Hs"][1:]
                out[:, :, d * H:(d + 1) * H] = hs if d == 0 else hs[::-1]
                hn[j] = cache["Hs"][-1]
                if cn is not None:
                    cn[j] = cache["Cs"][-1]
            caches.append(lc)
            inp = out
        self._cache = {"caches": caches, "masks": masks, "shape": x.shape}
        return inp, hn, cn

    def _backward(self, dout, dhn, dcn, input_grad=True):
        if self._cache is None:
            raise RuntimeError(f"{self._where()}: backward() before forward()")
        D, H = self.num_directions, self.hidden_size
        caches, masks = self._cache["caches"], self._cache["masks"]
        dh0, dc0 = np.empty_like(dhn), (np.empty_like(dcn) if dcn is not None else None)
        g = dout
        for layer in range(self.num_layers - 1, -1, -1):
            dinp = None
            for d, sfx in enumerate(self._suffixes(layer)):
                j = layer * D + d
                dH = None if g is None else g[:, :, d * H:(d + 1) * H]
                if dH is not None and d == 1:
                    dH = dH[::-1]
                need_dx = layer > 0 or input_grad
                dX, dh, dc = self._dir_backward(sfx, caches[layer][d], dH, dhn[j],
                                                dcn[j] if dcn is not None else None, need_dx)
                dh0[j] = dh
                if dc0 is not None:
                    dc0[j] = dc
                if not need_dx:
                    continue
                dX = dX if d == 0 else dX[::-1]
                dinp = dX if dinp is None else dinp + dX
            if dinp is not None and masks[layer] is not None:
                dinp = dinp * masks[layer]
            g = dinp
        return g, dh0, dc0

    def _dstate(self, dstate, B):
        L, H = self.num_layers * self.num_directions, self.hidden_size
        names = ("h_n", "c_n") if self._lstm_state else ("h_n",)
        if dstate is None:
            return [np.zeros((L, B, H), self.dtype) for _ in names]
        parts = dstate if self._lstm_state else (dstate,)
        out = []
        for n, s in zip(names, parts):
            if s is None:
                out.append(np.zeros((L, B, H), self.dtype))
                continue
            s = self._input(s)
            if s.shape != (L, B, H):
                raise ShapeError(f"{self._where()}: gradient of {n} has shape {s.shape}, expected {(L, B, H)}")
            out.append(s)
        return out


class _Sequence(_Recurrent):
    """RNN / GRU / LSTM over a whole sequence."""

    def forward(self, xs, state=None, training=False):
        x, unbatched = self._sequence(xs)
        if unbatched and state is not None:
            state = tuple(np.asarray(s)[:, None, :] for s in state) if self._lstm_state \
                else np.asarray(state)[:, None, :]
        states = self._state_arrays(state, x.shape[1])
        out, hn, cn = self._forward(x, states, training)
        self._cache.update(unbatched=unbatched)
        if unbatched:
            out, hn, cn = out[:, 0], hn[:, 0], (cn[:, 0] if cn is not None else None)
        elif self.batch_first:
            out = np.ascontiguousarray(out.transpose(1, 0, 2))
        return out, ((hn, cn) if self._lstm_state else hn)

    def backward(self, dout, dstate=None, input_grad=True):
        """BPTT: writes ``grads`` and ``state_grad``; returns the input's gradient
        (None with ``input_grad=False``, which skips its matmul, e.g. for a first layer)."""
        if self._cache is None:
            raise RuntimeError(f"{self._where()}: backward() before forward()")
        T, B, _ = self._cache["shape"]
        unbatched = self._cache["unbatched"]
        want = (T, B, self.num_directions * self.hidden_size)
        g = None
        if dout is not None:
            g = self._input(dout)
            if unbatched:
                g = g[:, None, :]
            elif self.batch_first:
                g = g.transpose(1, 0, 2)
            if g.shape != want:
                raise ShapeError(f"{self._where()}: dout has shape {np.shape(dout)}, but the last "
                                 f"forward's output has shape "
                                 f"{(B, T, want[2]) if self.batch_first else want}")
        if unbatched and dstate is not None:
            dstate = tuple(None if s is None else np.asarray(s)[:, None, :] for s in dstate) \
                if self._lstm_state else np.asarray(dstate)[:, None, :]
        ds = self._dstate(dstate, B)
        dx, dh0, dc0 = self._backward(g, ds[0], ds[1] if self._lstm_state else None, input_grad)
        if unbatched:
            dh0, dc0 = dh0[:, 0], (dc0[:, 0] if dc0 is not None else None)
        self.state_grad = (dh0, dc0) if self._lstm_state else dh0
        if not input_grad:
            return None
        if unbatched:
            dx = dx[:, 0]
        elif self.batch_first:
            dx = dx.transpose(1, 0, 2)
        return np.ascontiguousarray(dx)

    # Sequential: the output sequence flows on; the final state is kept in ``state``
    def in_sequential(self, x, training):
        out, self.state = self.forward(x, training=training)
        return out

    def backward_in_sequential(self, g, input_grad=True):
        return self.backward(g, input_grad=input_grad)


class RNN(_Sequence):
    """Elman RNN, torch's nn.RNN: h' = tanh|relu(W_ih x + b_ih + W_hh h + b_hh)."""

    def __init__(self, input_size, hidden_size, num_layers=1, nonlinearity="tanh", bias=True,
                 batch_first=False, dropout=0.0, bidirectional=False, *, dtype=np.float32, rng=None):
        if nonlinearity not in ("tanh", "relu"):
            raise ParameterError(f"RNN: nonlinearity={nonlinearity!r} is not one of ('tanh', 'relu')")
        self.nonlinearity = nonlinearity
        super().__init__(f"rnn_{nonlinearity}", input_size, hidden_size, num_layers, bias, batch_first,
                         dropout, bidirectional, dtype=dtype, rng=rng)

    def config(self):
        return {**super().config(), "nonlinearity": self.nonlinearity}


class GRU(_Sequence):
    """GRU, torch's nn.GRU (``reset_after=True``), or the notes' form (``reset_after=False``)."""

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
                 bidirectional=False, *, reset_after=True, dtype=np.float32, rng=None):
        self.reset_after = bool(reset_after)
        super().__init__("gru" if reset_after else "gru_cho", input_size, hidden_size, num_layers, bias,
                         batch_first, dropout, bidirectional, dtype=dtype, rng=rng)

    def config(self):
        return {**super().config(), "reset_after": self.reset_after}


class LSTM(_Sequence):
    """LSTM, torch's nn.LSTM (gate order i, f, g, o); state (h, c)."""

    _lstm_state = True

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
                 bidirectional=False, *, dtype=np.float32, rng=None):
        super().__init__("lstm", input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, dtype=dtype, rng=rng)


class PeepholeLSTM(_Sequence):
    """LSTM with diagonal peephole weights ``weight_ci``, ``weight_cf`` (on c) and ``weight_co`` (on c')."""

    _lstm_state = True

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
                 bidirectional=False, *, dtype=np.float32, rng=None):
        super().__init__("peephole", input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, dtype=dtype, rng=rng)


# ---------------------------------------------------------------------------------- cells
class _Cell(_Recurrent):
    """One step; parameters named as torch's cells (weight_ih, weight_hh, bias_ih, bias_hh)."""

    def __init__(self, kind, input_size, hidden_size, bias=True, *, dtype=np.float32, rng=None):
        super().__init__(kind, input_size, hidden_size, 1, bias, dtype=dtype, rng=rng, suffix=False)

    def config(self):
        return {"input_size": self.input_size, "hidden_size": self.hidden_size, "bias": self.bias}

    def extra_repr(self):
        return f"{self.input_size}, {self.hidden_size}" + ("" if self.bias else ", bias=False")

    def _step(self, x, hx):
        x = self._input(x)
        unbatched = x.ndim == 1
        if unbatched:
            x = x[None]
        if x.ndim != 2 or x.shape[1] != self.input_size:
            raise ShapeError(f"{self._where()}: input has {x.shape[-1] if x.ndim else 'no'} features "
                             f"(last axis) but input_size is {self.input_size} (input shape {x.shape})")
        B, H = x.shape[0], self.hidden_size
        names = ("h", "c") if self._lstm_state else ("h",)
        parts = (hx if hx is not None else (None,) * len(names)) if self._lstm_state else (hx,)
        if self._lstm_state and hx is not None and (not isinstance(hx, (tuple, list)) or len(hx) != 2):
            raise ShapeError(f"{self._where()}: the state is a tuple (h, c), got {type(hx).__name__}")
        states = []
        for n, s in zip(names, parts):
            if s is None:
                states.append(np.zeros((1, B, H), self.dtype))
                continue
            s = self._input(s)
            s = s[None] if unbatched and s.ndim == 1 else s
            if s.shape != (B, H):
                raise ShapeError(f"{self._where()}: state {n} has shape {np.shape(parts[names.index(n)])}, "
                                 f"expected (batch, hidden_size) = {(B, H) if not unbatched else (H,)}")
            states.append(s[None])
        _, hn, cn = self._forward(x[None], states, False)
        self._cache["unbatched"] = unbatched
        h1 = hn[0, 0] if unbatched else hn[0]
        if not self._lstm_state:
            return h1
        return h1, (cn[0, 0] if unbatched else cn[0])

    def _step_back(self, dh1, dc1):
        if self._cache is None:
            raise RuntimeError(f"{self._where()}: backward() before forward()")
        _, B, _ = self._cache["shape"]
        unbatched = self._cache["unbatched"]
        H = self.hidden_size

        def prep(v, n):
            if v is None:
                return np.zeros((1, B, H), self.dtype)
            v = self._input(v)
            v = v[None] if unbatched else v
            if v.shape != (B, H):
                raise ShapeError(f"{self._where()}: {n} has shape {v.shape}, expected {(B, H)}")
            return v[None]

        dx, dh, dc = self._backward(None, prep(dh1, "dh1"), prep(dc1, "dc1") if self._lstm_state else None)
        dx, dh = dx[0], dh[0]
        dc = dc[0] if dc is not None else None
        if unbatched:
            dx, dh, dc = dx[0], dh[0], (dc[0] if dc is not None else None)
        return dx, dh, dc


class RNNCell(_Cell):
    """torch's nn.RNNCell: h' = tanh|relu(W_ih x + b_ih + W_hh h + b_hh)."""

    def __init__(self, input_size, hidden_size, bias=True, nonlinearity="tanh", *, dtype=np.float32, rng=None):
        if nonlinearity not in ("tanh", "relu"):
            raise ParameterError(f"RNNCell: nonlinearity={nonlinearity!r} is not one of ('tanh', 'relu')")
        self.nonlinearity = nonlinearity
        super().__init__(f"rnn_{nonlinearity}", input_size, hidden_size, bias, dtype=dtype, rng=rng)

    def config(self):
        return {**super().config(), "nonlinearity": self.nonlinearity}

    def forward(self, x, h=None):
        return self._step(x, h)

    def backward(self, dh1):
        dx, dh, _ = self._step_back(dh1, None)
        return dx, dh


class GRUCell(RNNCell):
    """torch's nn.GRUCell (``reset_after=True``), or the notes' GRU (``reset_after=False``)."""

    def __init__(self, input_size, hidden_size, bias=True, *, reset_after=True, dtype=np.float32, rng=None):
        self.reset_after = bool(reset_after)
        _Cell.__init__(self, "gru" if reset_after else "gru_cho", input_size, hidden_size, bias,
                       dtype=dtype, rng=rng)

    def config(self):
        return {**_Cell.config(self), "reset_after": self.reset_after}


class LSTMCell(_Cell):
    """torch's nn.LSTMCell: ``forward(x, (h, c)) -> (h1, c1)``, ``backward(dh1, dc1) -> (dx, (dh, dc))``."""

    _lstm_state = True
    _kind = "lstm"

    def __init__(self, input_size, hidden_size, bias=True, *, dtype=np.float32, rng=None):
        super().__init__(self._kind, input_size, hidden_size, bias, dtype=dtype, rng=rng)

    def forward(self, x, state=None):
        return self._step(x, state)

    def backward(self, dh1, dc1=None):
        dx, dh, dc = self._step_back(dh1, dc1)
        return dx, (dh, dc)


class PeepholeLSTMCell(LSTMCell):
    """LSTM cell with diagonal peepholes (``weight_ci``, ``weight_cf``, ``weight_co``)."""

    _kind = "peephole"


# ---------------------------------------------------------------------------------- selectors
class LastStep(Module):
    """The last time step of a sequence: (batch, seq, F) -> (batch, F) with
    ``batch_first=True`` (the default, as ``fit`` batches on axis 0), else
    (seq, batch, F) -> (batch, F)."""

    def __init__(self, batch_first=True, *, dtype=np.float32):
        super().__init__(dtype)
        self.batch_first = bool(batch_first)
        self._shape = None

    def config(self):
        return {"batch_first": self.batch_first}

    def extra_repr(self):
        return "" if self.batch_first else "batch_first=False"

    def forward(self, x, training=False, out=None):
        x = self._input(x)
        if x.ndim != 3:
            raise ShapeError(f"{self._where()}: expects a sequence (3 axes), got shape {x.shape}")
        self._shape = x.shape
        return np.ascontiguousarray(x[:, -1] if self.batch_first else x[-1])

    def backward(self, grad, out=None, input_grad=True):
        if self._shape is None:
            raise RuntimeError(f"{self._where()}: backward() before forward()")
        g = self._input(grad)
        d = np.zeros(self._shape, self.dtype)
        if self.batch_first:
            d[:, -1] = g
        else:
            d[-1] = g
        return d


LAYERS.update({c.__name__: c for c in (RNN, GRU, LSTM, PeepholeLSTM, RNNCell, GRUCell, LSTMCell,
                                       PeepholeLSTMCell, LastStep)})
