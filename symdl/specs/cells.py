"""Recurrent cells (CATALOG.md, "Recurrent cells"): linear maps + gate blocks.

A cell is the gate pre-activations -- linear maps ``W_ih x + b_ih`` and
``W_hh h + b_hh`` that the runtime computes with BLAS matmuls -- followed by
one elementwise **gate block**: the gate nonlinearities and the state update,
stated here once as SymPy.  A ``GateBlock`` lists its per-element inputs,
its steps (each a symbol and its definition in the inputs and earlier
steps), which steps are the block's outputs (the new state) and which
forward values the backward reads instead of recomputing them.  Nothing else: the
partials come from ``sympy.diff`` (``symdl.derive.cells``) and the code
generator fuses each block into one forward and one backward kernel.

Only the notes' GRU (``reset_after=False``) needs two blocks: its reset gate
multiplies h *before* the matmul ``U_h (r ⊙ h)``, so the reset r ⊙ h is one
block and the update another, with the matmul between them.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass

import sympy as sp
from sympy import Piecewise, tanh

from .functions import sigmoid


def _s(names: str):
    return sp.symbols(names, real=True)


@dataclass(frozen=True, eq=False)
class GateBlock:
    """One fused elementwise block of a cell.

    inputs: per-element inputs (gate pre-activations, previous state), each an
        array of shape (batch, hidden).
    vectors: per-hidden-unit learnable vectors (peephole weights), shape (hidden,).
    steps: ((symbol, definition), ...) in order; a definition uses the inputs,
        the vectors and earlier step symbols.
    outputs: the step symbols that are the block's differentiable results.
    saved: step symbols whose forward value the backward reads (the LSTM's
        c' inside tanh(c')).  The derivatives are taken in the stable forms
        σ' = σ(u)σ(−u) and tanh' = sech² (a saved gate σ would give
        σ' = σ(1−σ), whose 1−σ has no correct digit once σ rounds to 1;
        tests/test_cells.py measures it).  Where the block is a whole cell
        step, the derivation (``symdl.derive.cells``, step 5) has the forward
        save the local partials -- each product's cotangent-free factor, in
        those stable forms -- and the backward reads them instead of
        recomputing gates.
    packed: the layout of the gate matrices the layers hold, ((matrix, slots),
        ...): ``slots`` names, in column-block order, the input read from each
        (batch, hidden) column block of ``matrix`` (None: a block this gate
        block does not read).  The kernels read those inputs, and write their
        gradients, at those column blocks of one C-contiguous
        (batch, len(slots)*hidden) array, e.g. the LSTM's four pre-activations
        from the (batch, 4*hidden) result of its matmuls in torch's gate order.
        Layout only: not part of ``content_hash`` (the math).
    """

    name: str
    inputs: tuple
    steps: tuple
    outputs: tuple
    saved: tuple = ()
    vectors: tuple = ()
    doc: str = ""
    packed: tuple = ()

    def step(self, sym):
        return dict(self.steps)[sym]

    def content_hash(self) -> str:
        parts = [self.name] + [s.name for s in (*self.inputs, *self.vectors)]
        parts += [f"{s.name}={sp.srepr(e)}" for s, e in self.steps]
        parts += ["out:" + ",".join(s.name for s in self.outputs),
                  "saved:" + ",".join(s.name for s in self.saved)]
        return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


@dataclass(frozen=True, eq=False)
class Cell:
    """A recurrent cell: its variants (choice -> gate blocks) and the linear
    maps that feed them, described for the LaTeX output and the layers."""

    name: str
    variants: dict            # variant name -> tuple of GateBlock
    default: str
    linear: dict              # variant name -> text lines: how the block inputs are formed
    source: str = ""
    torch: str | None = None
    doc: str = ""
    family: str = "cell"

    def blocks(self, variant: str | None = None):
        return self.variants[variant or self.default]

    def all_blocks(self):
        return [b for v in self.variants for b in self.variants[v]]

    def content_hash(self) -> str:
        parts = [self.name, self.default] + [f"{v}:{b.content_hash()}"
                                             for v in self.variants for b in self.variants[v]]
        return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


# ---------------------------------------------------------------------------- RNN
a, h1 = _s("a h1")
RNN_TANH = GateBlock("rnn_tanh", (a,), ((h1, tanh(a)),), (h1,),
                     doc="h' = tanh(a), a = W_ih x + b_ih + W_hh h + b_hh", packed=(("gates", (a,)),))
# relu'(0) = 0 as torch
RNN_RELU = GateBlock("rnn_relu", (a,), ((h1, Piecewise((a, a > 0), (0, True))),), (h1,),
                     doc="h' = relu(a) (relu'(0) = 0, torch's convention)", packed=(("gates", (a,)),))

# ---------------------------------------------------------------------------- GRU
a_r, a_z, x_n, h_n, h, r, z, n = _s("a_r a_z x_n h_n h r z n")
#: torch's GRU: reset applied after the matmul and bias; z keeps the old state
GRU = GateBlock(
    "gru", (a_r, a_z, x_n, h_n, h),
    ((r, sigmoid(a_r)), (z, sigmoid(a_z)), (n, tanh(x_n + r * h_n)), (h1, (1 - z) * n + z * h)),
    (h1,),
    doc="torch.nn.GRUCell: r = σ(a_r), z = σ(a_z), n = tanh(x_n + r⊙h_n), h' = (1−z)⊙n + z⊙h",
    # gates: W_ih x + b_ih (+ W_hh h + b_hh for r, z); hidden: W_hh h + b_hh
    packed=(("gates", (a_r, a_z, x_n)), ("hidden", (None, None, h_n))))

rh, a_n = _s("rh a_n")
#: the notes' GRU (seed 001 eq 97-100), stage 1: the reset gate before U_h
GRU_CHO_RESET = GateBlock(
    "gru_cho_reset", (a_r, h), ((r, sigmoid(a_r)), (rh, r * h)), (rh,),
    doc="r = σ(W_r x + U_r h + b_r); the block outputs r⊙h, the input of U_h",
    packed=(("gates", (a_r, None, None)),))
#: stage 2: candidate and update in the notes' direction -- z weights the NEW
#: candidate: h' = (1−z)⊙h + z⊙h̃ (torch and Cho et al. 2014 use the opposite)
GRU_CHO = GateBlock(
    "gru_cho", (a_z, a_n, h),
    ((z, sigmoid(a_z)), (n, tanh(a_n)), (h1, (1 - z) * h + z * n)), (h1,),
    doc="z = σ(W_z x + U_z h + b_z), h̃ = tanh(W_h x + U_h(r⊙h) + b_h), h' = (1−z)⊙h + z⊙h̃",
    packed=(("gates", (None, a_z, a_n)),))

# ---------------------------------------------------------------------------- LSTM
a_i, a_f, a_g, a_o, c, i, f, g, o, c1 = _s("a_i a_f a_g a_o c i f g o c1")
LSTM = GateBlock(
    "lstm", (a_i, a_f, a_g, a_o, c),
    ((i, sigmoid(a_i)), (f, sigmoid(a_f)), (g, tanh(a_g)), (o, sigmoid(a_o)),
     (c1, f * c + i * g), (h1, o * tanh(c1))),
    (h1, c1), saved=(c1,),
    doc="seed 001 eq 101-106, torch gate order i, f, g, o", packed=(("gates", (a_i, a_f, a_g, a_o)),))

w_ci, w_cf, w_co = _s("w_ci w_cf w_co")
#: Gers & Schmidhuber (2000): input and forget gates look at c, the output gate at c'
PEEPHOLE_LSTM = GateBlock(
    "peephole_lstm", (a_i, a_f, a_g, a_o, c),
    ((i, sigmoid(a_i + w_ci * c)), (f, sigmoid(a_f + w_cf * c)), (g, tanh(a_g)),
     (c1, f * c + i * g), (o, sigmoid(a_o + w_co * c1)), (h1, o * tanh(c1))),
    (h1, c1), saved=(c1,), vectors=(w_ci, w_cf, w_co),
    doc="LSTM with diagonal peephole weights w_ci, w_cf (on c) and w_co (on c')",
    packed=(("gates", (a_i, a_f, a_g, a_o)),))

_PRE = "a_* = W_i* x + b_i* + W_h* h + b_h*  (one (4H|3H|H, I) matmul for x, one for h)"

CELLS = (
    Cell("rnn_cell", {"tanh": (RNN_TANH,), "relu": (RNN_RELU,)}, "tanh",
         {"tanh": ["a = W_ih x + b_ih + W_hh h + b_hh"], "relu": ["a = W_ih x + b_ih + W_hh h + b_hh"]},
         source="seed 001 eq 93, 107", torch="nn.RNNCell",
         doc="Elman RNN cell, nonlinearity tanh or relu."),
    Cell("gru_cell", {"reset_after": (GRU,), "cho": (GRU_CHO_RESET, GRU_CHO)}, "reset_after",
         {"reset_after": ["a_r = W_ir x + b_ir + W_hr h + b_hr", "a_z = W_iz x + b_iz + W_hz h + b_hz",
                          "x_n = W_in x + b_in", "h_n = W_hn h + b_hn"],
          "cho": ["a_r = W_ir x + b_ir + W_hr h + b_hr", "a_z = W_iz x + b_iz + W_hz h + b_hz",
                  "a_n = W_in x + b_in + W_hn (r⊙h) + b_hn  (after the first block)"]},
         source="seed 001 eq 97-100 (cho); torch nn.GRUCell (reset_after)", torch="nn.GRUCell",
         doc="GRU. reset_after=True (variant 'reset_after'): torch's, h' = (1−z)⊙n + z⊙h. "
             "reset_after=False (variant 'cho'): the notes' h̃ = tanh(W x + U(r⊙h)) and "
             "h' = (1−z)⊙h + z⊙h̃ -- z weights the new candidate, the opposite of torch."),
    Cell("lstm_cell", {"lstm": (LSTM,)}, "lstm", {"lstm": [_PRE]},
         source="seed 001 eq 101-106", torch="nn.LSTMCell",
         doc="LSTM cell, torch's gate order i, f, g, o."),
    Cell("peephole_lstm_cell", {"peephole": (PEEPHOLE_LSTM,)}, "peephole", {"peephole": [_PRE]},
         source="Gers & Schmidhuber 2000 (peephole connections)",
         doc="LSTM cell with diagonal peephole weights (w_ci, w_cf on c; w_co on c')."),
)

CELL_SPECS = {c.name: c for c in CELLS}
