"""Ground truth for the recurrent cells' gate-block kernels, and the points
they are checked on.

Truth: each output's expansion in the block's inputs and the VJP built from
``sympy.diff`` of those expansions (``DerivedBlock.partials``), never the
kernel's own substituted form, evaluated with mpmath at 50 digits.  The
backward kernel is fed the forward kernel's results (the saved gate
activations), exactly as the layers use it.

``BLOCKS`` (every gate block of every cell variant), ``KINDS`` (random,
saturating, special points) and ``block_outputs`` (every forward result and
VJP of a block's kernels beside its truth and scale) are used by
tests/test_cells.py and by the docs' accuracy measurement
(symdl.docs.accuracy), so both check the same points the same way.
"""
from __future__ import annotations

import functools

import mpmath
import numpy as np
import sympy as sp

from symdl.derive.cells import cotangent, derive_block
from symdl.specs.cells import CELLS
from symdl.specs.functions import to_definition

BLOCKS = [(c.name, v, k, b) for c in CELLS for v, bs in c.variants.items() for k, b in enumerate(bs)]
IDS = [b.name for *_, b in BLOCKS]
KINDS = ("random", "saturating", "special")
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


@functools.lru_cache(maxsize=None)
def table(index_in_blocks, kind):
    """Points (float32-representable, so both dtypes see the same values),
    the truth of every forward result and VJP at them, and their scales."""
    *_, block = BLOCKS[index_in_blocks]
    rng = np.random.default_rng(1000 * index_in_blocks + KINDS.index(kind))
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




def gate_block(index):
    """The GateBlock of ``BLOCKS[index]`` (``symdl.kernel(cell, variant=...)``)."""
    import symdl

    cell, variant, k, _ = BLOCKS[index]
    return symdl.kernel(cell, variant=variant).blocks[k]


def forced_path(kern, parallel: bool):
    """A copy of GateBlock ``kern`` (its module kept) that runs the serial or
    the prange kernels at every size (the points are one row)."""
    import copy

    from symdl.runtime.cells import PARALLEL_THRESHOLD, GateBlock

    k = copy.copy(kern)
    k._cache = {}
    size = PARALLEL_THRESHOLD if parallel else 0
    k.fn = lambda kind, dtype, _size: GateBlock.fn(k, kind, dtype, size)
    return k


def block_outputs(index, kind, dtype, kern=None, parallel=False) -> list:
    """[(label, kernel result, truth, scale)] of every forward result and VJP
    of block ``BLOCKS[index]``'s kernels (``kern``, default ``gate_block(index)``;
    ``parallel``: its prange kernels) on the points of ``kind``, in ``dtype``
    (one row, 30 columns)."""
    *_, block = BLOCKS[index]
    d = derive_block(block)
    kern = forced_path(gate_block(index) if kern is None else kern, parallel)
    cols, want, scale = table(index, kind)
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
    return [(name, got[j], want[j], scale[j]) for j, name in enumerate(labels)]


def errors(got, want, dtype, scale):
    """(error relative to |truth| + scale per element, nan where the truth
    is not finite; failures of the tests' checks: nan/inf mismatch or
    |err| > RTOL |truth| + ATOL scale)."""
    rtol, atol = TOL[np.dtype(dtype).type]
    got = np.asarray(got, np.float64)
    fin = np.isfinite(want)
    bad = (np.isnan(got) != np.isnan(want)) | (np.isinf(want) & (got != want))
    with np.errstate(all="ignore"):
        err = np.where(fin, np.abs(got - want), np.nan)
        rel = np.where(fin, np.where(err == 0, 0.0, err / (np.abs(want) + scale)), np.nan)
        bad |= fin & ~(err <= rtol * np.abs(want) + atol * scale)
    return rel, bad


def check_cell_block(index, kern=None, kinds=KINDS, dtypes=(np.float64, np.float32),
                     paths=("serial", "parallel")):
    """Every forward result and VJP of block ``BLOCKS[index]``'s kernels
    (``kern``: a GateBlock, default ``gate_block(index)``) on the points of
    ``kinds`` in each dtype, through the serial and the prange kernels,
    against the truth (the tests' checks, ``errors``): a CheckResult with one
    Report per (kind, output, dtype, path)."""
    from .bounds import CheckResult
    from .truth import point_report

    *_, block = BLOCKS[index]
    kern = gate_block(index) if kern is None else kern
    res = CheckResult()
    for kind in kinds:
        cols = table(index, kind)[0]
        for dt in dtypes:
            for path in paths:
                with np.errstate(all="ignore"):
                    outs = block_outputs(index, kind, dt, kern=kern, parallel=path == "parallel")
                for label, got, want, scale in outs:
                    rel, bad = errors(got, want, dt, scale)
                    res.append(point_report(block.name, dt, f"{label} ({kind}, {path})", got, want,
                                            rel, bad, at=np.asarray(cols[0], np.float64), nan_rel=0.0))
    return res
