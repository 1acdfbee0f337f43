"""Gate-block kernels of the recurrent cells against their specs, by mpmath.

Truth: each output's expansion in the block's inputs and the VJP built from
``sympy.diff`` of those expansions (``DerivedBlock.partials``), never the
kernel's own substituted form, evaluated with mpmath at 50 digits.  The
backward kernel is fed the forward kernel's results (the saved gate
activations), exactly as the layers use it.
"""
from __future__ import annotations

import functools

import mpmath
import numpy as np
import pytest
import sympy as sp

import symdl
from symdl.derive.cells import complements, cotangent, derive_block
from symdl.specs.cells import CELLS, GRU, GRU_CHO
from symdl.specs.functions import sigmoid, to_definition

BLOCKS = [(c.name, v, k, b) for c in CELLS for v, bs in c.variants.items() for k, b in enumerate(bs)]
IDS = [b.name for *_, b in BLOCKS]
#: |kernel - truth| <= RTOL |truth| + ATOL * scale, scale = 1 + the largest |term| of the truth
#: (a difference such as z(1-z)(h-n) is accurate to the size of its terms)
TOL = {np.float64: (1e-12, 1e-15), np.float32: (2e-5, 2e-7)}


def _points(rng, block, kind):
    n_in = len(block.inputs)
    n = 30
    if kind == "random":
        return rng.standard_normal((n_in, n)) * 3
    if kind == "saturating":
        return rng.choice([-30.0, 30.0, -12.0, 17.0, 0.0], size=(n_in, n)) + rng.standard_normal((n_in, n)) * 0.01
    # special: nan in one input at a time; ±inf in one gate pre-activation at a
    # time (an input seen only through σ or tanh: an infinite state or h_n is
    # degenerate -- f·c and h_n·sech²(h_n) are 0·∞ there)
    x = rng.standard_normal((n_in, n))
    gates = [k for k, s in enumerate(block.inputs) if s.name.startswith(("a", "x_"))]
    for j in range(n):
        if j % 3 == 2:
            x[j % n_in, j] = np.nan
        else:
            x[gates[j % len(gates)], j] = (np.inf, -np.inf)[j % 3]
    return x


def _lambdas(block, exprs):
    syms = [*block.inputs, *block.vectors, *(cotangent(y) for y in block.outputs)]
    return syms, [sp.lambdify(syms, to_definition(e), modules="mpmath") for e in exprs]


def _truth(fns, deps, syms, cols):
    """Values at each column; nan where an input the expression depends on is nan;
    at ±inf inputs the value there, or, where that is undefined (inf/inf), the
    value at ±1e5 (the limit, to double precision)."""
    out = np.empty((len(fns), cols.shape[1]))
    with mpmath.workdps(50):
        for j in range(cols.shape[1]):
            args = [mpmath.mpf(float(v)) for v in cols[:, j]]
            clipped = [mpmath.mpf(float(np.clip(v, -1e5, 1e5))) for v in cols[:, j]]
            for k, (fn, dep) in enumerate(zip(fns, deps)):
                if any(cols[syms.index(s), j] != cols[syms.index(s), j] for s in dep):
                    out[k, j] = np.nan
                    continue
                v = fn(*args)
                out[k, j] = float(v if not mpmath.isnan(v) else fn(*clipped))
    return out


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


@functools.lru_cache(maxsize=None)
def _table(index_in_blocks, kind):
    """Points (float32-representable, so both dtypes see the same values),
    the truth of every forward result and VJP at them, and their scales."""
    *_, block = BLOCKS[index_in_blocks]
    rng = np.random.default_rng(1000 * index_in_blocks + ["random", "saturating", "special"].index(kind))
    d = derive_block(block)
    x = _points(rng, block, kind)
    vec = rng.standard_normal((len(block.vectors), x.shape[1])) * 0.5   # peephole weights, per column
    cot = rng.standard_normal((len(block.outputs), x.shape[1]))
    cols = np.vstack([x, vec, cot]).astype(np.float32).astype(np.float64)
    fexprs = [d.full[s] for s in d.fwd_results]
    vjps, terms = [], []
    for u in d.wrt:
        terms.append([cotangent(y) * d.partials[(y, u)] for y in block.outputs])
        vjps.append(sp.Add(*terms[-1]))
    syms, fns = _lambdas(block, fexprs + vjps)
    want = _truth(fns, [e.free_symbols for e in fexprs + vjps], syms, cols)
    scale = _scales(fexprs + vjps, [[]] * len(fexprs) + terms, syms, cols)
    return cols, want, scale


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("kind", ["random", "saturating", "special"])
@pytest.mark.parametrize("index", range(len(BLOCKS)), ids=IDS)
def test_gate_block_against_mpmath(index, kind, dtype):
    cell, variant, k, block = BLOCKS[index]
    d = derive_block(block)
    kern = symdl.kernel(cell, variant=variant).blocks[k]
    cols, want, scale = _table(index, kind)
    n_in, n_vec = len(block.inputs), len(block.vectors)
    ins = [a.astype(dtype)[None, :] for a in cols[:n_in]]          # one row, n columns
    vs = [a.astype(dtype) for a in cols[n_in:n_in + n_vec]]        # vectors: per column
    res = kern.forward(*ins, *vs)
    named = dict(zip([s.name for s in d.fwd_results], res))
    named.update({s.name: a for s, a in zip(block.inputs, ins)})
    named.update({s.name: a for s, a in zip(block.vectors, vs)})
    named.update({cotangent(y).name: c.astype(dtype)[None, :]
                  for y, c in zip(block.outputs, cols[n_in + n_vec:])})
    grads = kern.backward(*[named[s.name] for s in d.bwd_args])
    got = [r[0] for r in res] + [g[0] for g in grads]
    labels = [s.name for s in d.fwd_results] + [f"d{u.name}" for u in d.wrt]
    for j, name in enumerate(labels):
        _check(f"{block.name} {name} ({kind})", got[j], want[j], dtype, scale[j])


def _scales(exprs, terms, syms, cols):
    """The scale of the rounding a result inherits from its inputs, per column:
    1 + Σ_s |s · ∂e/∂s| (the inputs' own rounding, propagated; by central
    differences in float64 -- a magnitude is all a tolerance needs) + Σ |terms|
    (the size of the terms of a sum that cancels, e.g. z(1−z)(h − n))."""
    out = np.zeros((len(exprs), cols.shape[1]))
    args = np.clip(cols, -1e5, 1e5)
    with np.errstate(all="ignore"):
        for k, (e, ts) in enumerate(zip(exprs, terms)):
            fn = sp.lambdify(syms, to_definition(e), modules="numpy")
            for m in range(len(syms)):
                up, dn = args.copy(), args.copy()
                up[m] *= 1 + 1e-6
                dn[m] *= 1 - 1e-6
                out[k] += np.abs(np.broadcast_to(fn(*up) - fn(*dn), out[k].shape)) / 2e-6
            for t in ts:
                tf = sp.lambdify(syms, to_definition(t), modules="numpy")
                out[k] += np.abs(np.broadcast_to(tf(*args), out[k].shape))
    return 1 + np.nan_to_num(out, nan=0.0, posinf=0.0)


def test_complement_identities():
    """The two identities ``complements`` uses: σ(−u) = 1 − σ(u), sech² = 1 − tanh²."""
    u, w = sp.symbols("u w", real=True)
    assert sp.simplify(to_definition(sigmoid(-u)) - (1 - to_definition(sigmoid(u)))) == 0
    assert sp.simplify(sp.cosh(u) ** -2 - (1 - sp.tanh(u) ** 2)) == 0
    assert complements(w + 1 - sigmoid(u)) == w + sigmoid(-u)
    assert complements(w + 1 - sp.tanh(u) ** 2) == w + sp.cosh(u) ** -2


def test_backward_arguments():
    """The LSTM backward reads the pre-activations and the saved c' (for
    tanh(c')); no gate activation is stored."""
    lstm = derive_block(CELLS[2].variants["lstm"][0])
    assert [s.name for s in lstm.bwd_args] == ["a_i", "a_f", "a_g", "a_o", "c", "c1", "d_h1", "d_c1"]
    assert [s.name for s in lstm.fwd_results] == ["h1", "c1"]
    gru = derive_block(GRU)
    assert [s.name for s in gru.bwd_args] == ["a_r", "a_z", "x_n", "h_n", "h", "d_h1"]


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
    c, c1, dh, dc = (rng.standard_normal((B, H)).astype(np.float32) for _ in range(4))
    outs = []
    for size in (1, PARALLEL_THRESHOLD):
        h1, c1_ = np.empty((B, H), np.float32), np.empty((B, H), np.float32)
        blk.fn("forward", np.float32, size)(gates, c, h1, c1_)
        dg, dcp = np.full((B, 4 * H), np.nan, np.float32), np.empty((B, H), np.float32)
        blk.fn("backward", np.float32, size)(gates, c, c1, dh, dc, dg, dcp)
        outs.append((h1, c1_, dg, dcp))
    assert not np.isnan(outs[0][2]).any()
    for a, b in zip(*outs):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
