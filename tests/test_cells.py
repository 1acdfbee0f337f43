"""Gate-block kernels of the recurrent cells against their specs, by mpmath.

Truth: each output's expansion in the block's inputs and the VJP built from
``sympy.diff`` of those expansions (``DerivedBlock.partials``), never the
kernel's own substituted form, evaluated with mpmath at 50 digits.  The
backward kernel is fed the forward kernel's results (the saved gate
activations), exactly as the layers use it.  The truth, the points and
the kernel calls: symdl.testing.cells (shared with the docs' accuracy
measurement).
"""
from __future__ import annotations

import numpy as np
import pytest
import sympy as sp

import symdl
from symdl.derive.cells import complements, derive_block
from symdl.specs.cells import CELLS, GRU, GRU_CHO
from symdl.specs.functions import sigmoid, to_definition
from symdl.testing.cells import BLOCKS, IDS, KINDS, TOL, block_outputs


def _check(name, got, want, dtype, scale):
    rtol, atol = TOL[dtype]
    got = got.astype(np.float64)
    nan_want = np.isnan(want)
    assert np.array_equal(np.isnan(got), nan_want), (
        f"{name}: nan mismatch at {np.nonzero(np.isnan(got) != nan_want)[0][:5]} "
        f"(got {got[np.isnan(got) != nan_want][:3]}, truth {want[np.isnan(got) != nan_want][:3]})")
    inf_want = np.isinf(want)
    assert np.array_equal(got[inf_want], want[inf_want]), f"{name}: infinite truth {want[inf_want]}, got {got[inf_want]}"
    ok = ~nan_want & ~inf_want
    err = np.abs(got[ok] - want[ok])
    bound = rtol * np.abs(want[ok]) + atol * scale[ok]
    bad = err > bound
    assert not bad.any(), (f"{name}: worst |err| {err[bad].max():.3g} at truth "
                           f"{want[ok][bad][np.argmax(err[bad])]!r} (bound {bound[bad][np.argmax(err[bad])]:.3g})")


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("index", range(len(BLOCKS)), ids=IDS)
def test_gate_block_against_mpmath(index, kind, dtype):
    block = BLOCKS[index][3]
    for name, got, want, scale in block_outputs(index, kind, dtype):
        _check(f"{block.name} {name} ({kind})", got, want, dtype, scale)


def test_complement_identities():
    """The two identities ``complements`` uses: σ(−u) = 1 − σ(u), sech² = 1 − tanh²."""
    u, w = sp.symbols("u w", real=True)
    assert sp.simplify(to_definition(sigmoid(-u)) - (1 - to_definition(sigmoid(u)))) == 0
    assert sp.simplify(sp.cosh(u) ** -2 - (1 - sp.tanh(u) ** 2)) == 0
    assert complements(w + 1 - sigmoid(u)) == w + sigmoid(-u)
    assert complements(w + 1 - sp.tanh(u) ** 2) == w + sp.cosh(u) ** -2


def test_backward_arguments():
    """The LSTM backward reads the local partials its forward saved (the
    cotangent-free factors of the derived VJP: ∂h'/∂c', ∂c'/∂a_i, ∂c'/∂a_f,
    ∂c'/∂a_g, ∂h'/∂a_o, and f = ∂c'/∂c) and the cotangents: no pre-activation,
    no σ, tanh or cosh left; the GRU's block (not a whole step) recomputes its
    gates from the pre-activations."""
    lstm = derive_block(CELLS[2].variants["lstm"][0])
    saved = ["j_d_h1", "j_a_i", "j_a_f", "j_a_g", "j_a_o", "f"]
    assert [s.name for s in lstm.bwd_args] == [*saved, "d_h1", "d_c1"]
    assert [s.name for s in lstm.fwd_results] == ["h1", "c1", *saved]
    for e in lstm.backward.values():
        assert not e.atoms(sp.Function)          # no σ, tanh, cosh left: products and sums
    a_o, c1 = sp.Symbol("a_o", real=True), sp.Symbol("c1", real=True)
    assert lstm.local_partials[sp.Symbol("j_d_h1", real=True)] == sigmoid(a_o) / sp.cosh(c1) ** 2
    gru = derive_block(GRU)
    assert [s.name for s in gru.bwd_args] == ["a_r", "a_z", "x_n", "h_n", "h", "d_h1"]
    assert not gru.local_partials


@pytest.mark.parametrize("index", range(len(BLOCKS)), ids=IDS)
def test_saved_local_partials_are_a_substitution(index):
    """Step 5 of the derivation only renames: the backward read from the saved
    local partials, each replaced by its definition, is the backward of step 4
    (the derived stable form), symbolically; each saved value's forward
    expression is its definition with the block's saved steps expanded."""
    block = BLOCKS[index][3]
    d = derive_block(block)
    back = {s: a for s, a in d.local_partials.items()}
    for u, e in d.backward.items():
        assert sp.simplify(e.xreplace(back) - d.backward_recomputed[u]) == 0, (block.name, u)
    steps = {s: e for s, e in block.steps}
    for s, a in d.local_partials.items():
        assert sp.simplify(to_definition(d.full[s] - a.xreplace(d.full))) == 0
        if s in steps:                       # a step saved under its own name is that step
            assert sp.simplify(to_definition(d.full[s] - steps[s].xreplace(d.full))) == 0
    assert bool(d.local_partials) == (block.name in ("rnn_tanh", "rnn_relu", "lstm", "peephole_lstm"))


def test_gru_directions_differ():
    """torch's GRU keeps the old state with weight z; the notes' (cho) form
    takes the candidate with weight z."""
    z, n, h = sp.symbols("z n h", real=True)
    assert sp.expand(dict(GRU.steps)[sp.Symbol("h1", real=True)] - ((1 - z) * n + z * h)) == 0
    assert sp.expand(dict(GRU_CHO.steps)[sp.Symbol("h1", real=True)] - ((1 - z) * h + z * n)) == 0


def test_parallel_kernels_match_serial():
    """The prange variants (used from batch*hidden >= 2**15) compute what the
    serial kernels do, on the packed gate matrix the layers pass (LSTM, float32)."""
    from symdl.runtime.cells import PARALLEL_THRESHOLD

    blk = symdl.kernel("lstm_cell").blocks[0]
    rng = np.random.default_rng(3)
    B, H = 6, 37
    gates = (rng.standard_normal((B, 4 * H)) * 4).astype(np.float32)
    c, dh, dc = (rng.standard_normal((B, H)).astype(np.float32) for _ in range(3))
    outs = []
    n_act = len(blk.meta["local_partials"])
    for size in (1, PARALLEL_THRESHOLD):
        h1, c1_ = np.empty((B, H), np.float32), np.empty((B, H), np.float32)
        acts = np.empty((n_act, B, H), np.float32)
        blk.fn("forward", np.float32, size)(gates, c, h1, c1_, *acts)
        dg, dcp = np.full((B, 4 * H), np.nan, np.float32), np.empty((B, H), np.float32)
        blk.fn("backward", np.float32, size)(*acts, dh, dc, dg, dcp)
        outs.append((h1, c1_, acts, dg, dcp))
    assert not np.isnan(outs[0][3]).any()
    for a, b in zip(*outs):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
