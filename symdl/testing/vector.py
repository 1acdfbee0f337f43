"""check_softmax: every kernel of a softmax-family function (softmax,
log_softmax, softmin, logsumexp, glu, maxout: whatever the catalog registers
in the softmax family) against its *definition* instantiated at small
concrete sizes as plain SymPy (mpmath at >= 60 digits, derivatives by SymPy).

Through the public kernel object only (``symdl.kernel(name, dim=...)``:
``forward``, ``backward``, ``forward_backward``): for each case, float64 and
float32, the serial kernels and the ``prange`` ones (the case stacked along a
new leading axis past the runtime's parallel threshold).  Every output is
held to the element bounds of ``symdl.testing.bounds`` (mixed, pure relative
where the truth is normal, nan where the truth is nan).

The view of the input as (rows, classes) is rebuilt here from the spec's
``layout`` with numpy index arithmetic (not the runtime's (outer, C, inner)
view): "dim" (classes = the axis dim), "halves" (glu: classes = the two
halves of dim), "pool" (maxout: classes = a group of pool_size along dim).
"""
from __future__ import annotations

import mpmath
import numpy as np
import sympy as sp

from .bounds import CheckResult, compare, double_double, take
from .reduction import no_delta as _no_delta
from .reduction import exact, instantiate, mp_eval

#: the cases' seed-free test inputs (representable in float32: both dtypes share a truth)
EXTREME = np.array([1e3, -1e3, 999.5, -999.0, 0.0, 1e-7, -3e-9, 2.5, -1.25, 700.0])


def f32(a):
    return np.asarray(a, dtype=np.float64).astype(np.float32).astype(np.float64)


def layout_view(layout, shape, dim, pool_size=2):
    """(rows, outs, oshape): ``rows`` (R, C) flat C-order indices of the
    input's elements of each (row, class); ``outs`` the flat indices of the
    output's elements, (R, C) for a map or (R,) for a reduction; the output
    shape (None: like the input)."""
    shape = tuple(shape)
    n = int(np.prod(shape))
    d = dim % len(shape)
    idx = np.moveaxis(np.arange(n).reshape(shape), d, -1)
    C = shape[d]
    if layout == "dim":
        rows = idx.reshape(-1, C)
        return rows, rows, None
    k = 2 if layout == "halves" else pool_size
    oshape = shape[:d] + (C // k,) + shape[d + 1:]
    out = np.moveaxis(np.arange(int(np.prod(oshape))).reshape(oshape), d, -1).reshape(-1)
    if layout == "halves":
        rows = np.stack([idx[..., : C // 2].reshape(-1), idx[..., C // 2:].reshape(-1)], axis=1)
    else:
        rows = idx.reshape(-1, C // k, k).reshape(-1, k)
    return rows, out, oshape


def truth(spec, x, dim, g, pool_size=2):
    """(forward truths in C order of the output, d x truths in C order of x,
    {output index: expression}, {x index: (expression, row symbols)},
    substitutions) for the cotangent ``g`` (the output's shape): the spec's
    expression on arrays of symbols, differentiated by SymPy (row by row:
    a row's outputs depend on that row's inputs only), evaluated by mpmath."""
    from symdl.specs.functions import to_definition
    rows, outs, oshape = layout_view(spec.layout, x.shape, dim, pool_size)
    X = np.array([sp.Symbol(f"x_{i}", real=True) for i in range(x.size)], dtype=object)
    R, C = rows.shape
    env = {"x": (X[rows], ("r", "c"))}
    for name, axes, (kind, which) in spec.extra_inputs:   # glu's class selectors [c = which]
        assert kind == "cindex" and axes == ("c",)
        env[name] = (np.array([sp.Integer(int(c == which)) for c in range(C)], dtype=object), ("c",))
    sizes = {"r": R, "c": C}
    expr = to_definition(spec.expr)
    if tuple(spec.out_axes) == ("r",) and outs.ndim == 2:   # logsumexp: one output per row
        outs = np.arange(R)
    gf = np.ravel(g)
    fwd, dx = {}, {}
    for i in range(R):
        if tuple(spec.out_axes) == ("r", "c"):
            ys = {int(outs[i, j]): instantiate(expr, env, sizes, {"r": i, "c": j}) for j in range(C)}
        else:
            ys = {int(outs[i]): instantiate(expr, env, sizes, {"r": i})}
        fwd.update(ys)
        F = sp.Add(*[exact(gf[o]) * e for o, e in ys.items()])
        row = [X[e] for e in rows[i]]
        for e in rows[i]:
            dx[int(e)] = (sp.diff(F, X[e]), row)
    subs = {s: exact(v) for s, v in zip(X, np.ravel(x))}
    fexprs = [fwd[i] for i in range(len(fwd))]
    dexprs = [dx[i][0] for i in range(x.size)]
    vals = mp_eval(fexprs + dexprs, subs)
    return vals[:len(fexprs)], vals[len(fexprs):], fwd, dx, subs


def default_cases(spec, seed=0) -> list:
    """(x, dim) cases: random, extreme (±1e3 next to O(1) and tiny values),
    one dominant logit per row, and (dim layout) a row holding a nan; C = 11
    runs the kernels' 8-lane blocks and their tail, inner > 1 the strided loops."""
    rng = np.random.default_rng(seed)
    if spec.layout == "dim":
        x1 = f32(rng.normal(0, 3, (3, 4)))
        x2 = f32(rng.choice(EXTREME, (2, 3, 2)))
        x3 = rng.normal(0, 1, (2, 11))
        x3[:, 5] += 40.0
        x4 = f32(rng.choice(EXTREME, (2, 3)))
        x4[0, 1] = np.nan
        return [(x1, -1), (x2, 1), (f32(x3), -1), (x4, -1)]
    if spec.layout == "halves":
        return [(f32(rng.normal(0, 3, (3, 4))), -1), (f32(rng.choice(EXTREME, (2, 6, 3))), 1)]
    # pool: no ties (their convention is pinned by the torch tests)
    x1 = f32(rng.normal(0, 3, (3, 4)) + np.arange(12).reshape(3, 4) * 1e-3)
    x2 = f32(rng.choice(EXTREME, (2, 16)) + np.arange(32).reshape(2, 16) * 1e-3)
    return [(x1, 1), (x2, 1)]


_TABLES: dict = {}


def _slope(exprs, subs):
    """function(indices) -> Σ_k |x_k ∂t/∂x_k| over the inputs x_k of the
    output's row (its condition under a relative perturbation of each input:
    the float32 roundings inside a kernel act as one), by SymPy and mpmath,
    only where a float32 value needs it."""
    cache = {}

    def slope(indices):
        todo = [int(i) for i in indices if int(i) not in cache]
        if todo:
            es = []
            for i in todo:
                e, row = exprs[i]
                es += [sym * _no_delta(sp.diff(e, sym)) for sym in row]
            vals = iter(mp_eval(es, subs))
            for i in todo:
                tot = 0.0
                for _ in exprs[i][1]:
                    v = next(vals)
                    tot += abs(float(v)) if mpmath.isfinite(v) else 0.0
                cache[i] = tot
        return np.array([cache[int(i)] for i in indices])
    return slope


def _case_truth(spec, x, dim, pool_size):
    key = (spec.name, spec.content_hash(), x.shape, x.tobytes(), dim, pool_size)
    hit = _TABLES.get(key)
    if hit is None:
        rows, outs, oshape = layout_view(spec.layout, x.shape, dim, pool_size)
        if oshape is None:
            oshape = x.shape if tuple(spec.out_axes) == ("r", "c") else \
                tuple(s for i, s in enumerate(x.shape) if i != dim % x.ndim)
        n = int(np.prod(oshape))
        g = f32(0.5 + (np.arange(n) % 7) / 4.0).reshape(oshape)   # the cotangent
        g.reshape(-1)[::3] *= -1.0
        fwd, dx, fexprs, dexprs, subs = truth(spec, x, dim, g, pool_size)
        by_row = {int(e): [sp.Symbol(f"x_{k}", real=True) for k in r] for r in rows for e in r}
        if tuple(spec.out_axes) == ("r", "c"):
            orow = {int(o): by_row[int(rows[i, j])] for i in range(rows.shape[0]) for j, o in enumerate(outs[i])}
        else:
            outs = np.arange(rows.shape[0]) if outs.ndim == 2 else outs
            orow = {int(o): by_row[int(rows[i, 0])] for i, o in enumerate(outs)}
        slopes = (_slope({i: (e, orow[i]) for i, e in fexprs.items()}, subs),
                  _slope(dexprs, subs))
        hit = _TABLES[key] = (g, double_double(fwd), double_double(dx), slopes)
    return hit


def _threshold():
    from symdl.runtime.reductions import PARALLEL_THRESHOLD
    return PARALLEL_THRESHOLD


def rebind(bundle, **params):
    """The bundle with other parameters, running the same (possibly mutant) kernels."""
    opts = {"dim": bundle.dim, **({"pool_size": bundle.pool_size} if bundle.pool_size else {}), **params}
    return type(bundle)(bundle.name, bundle.meta, bundle._module, **opts)


def check_softmax(spec, bundle, cases=None, dtypes=(np.float64, np.float32), paths=("serial", "parallel")
                  ) -> CheckResult:
    """Compare every kernel of a softmax-family bundle with the spec's
    definition; ``cases``: [(x, dim)] (float32-representable x); the bundle's
    own dim is replaced by each case's.  Returns a CheckResult."""
    cases = default_cases(spec) if cases is None else cases
    pool = bundle.pool_size or 2
    res = CheckResult()
    for ci, (x, dim) in enumerate(cases):
        x = np.asarray(x, dtype=np.float64)
        g, t_y, t_dx, (s_y, s_dx) = _case_truth(spec, x, dim, pool)
        reps = -(-_threshold() // x.size)
        for path in paths:
            r = 1 if path == "serial" else reps
            # the parallel path: the case stacked r times along a new leading axis
            d = dim if (r == 1 or dim < 0) else dim + 1
            k = rebind(bundle, dim=d)
            name = f"{spec.name}(dim={dim}{', pool_size=%d' % pool if spec.layout == 'pool' else ''})"
            for dt in dtypes:
                dt = np.dtype(dt)
                xs = np.broadcast_to(x, (r,) + x.shape) if r > 1 else x
                gs = np.broadcast_to(g, (r,) + g.shape) if r > 1 else g
                xd, gd = np.ascontiguousarray(xs, dtype=dt), np.ascontiguousarray(gs, dtype=dt)
                tag = f"case {ci} {x.shape}" + (" [parallel]" if r > 1 else "")
                y = k.forward(xd)
                dx = k.backward(xd, gd)
                y2, dx2 = k.forward_backward(xd, gd)
                yi = np.tile(np.arange(g.size), r)
                xi = np.tile(np.arange(x.size), r)
                for which, got, tt, ii, sl in (("forward", y, t_y, yi, s_y), ("backward dx", dx, t_dx, xi, s_dx),
                                               ("forward_backward y", y2, t_y, yi, s_y),
                                               ("forward_backward dx", dx2, t_dx, xi, s_dx)):
                    ok_dtype = np.asarray(got).dtype == dt
                    rep = compare(name, f"{tag} {which}", ii, np.ravel(got), take(tt, ii), dt, slope=sl, idx=ii)
                    if not ok_dtype:
                        rep.failures.append((float("nan"), float("nan"), float("nan"),
                                             f"output dtype {np.asarray(got).dtype}, input {dt}"))
                    res.append(rep)
    return res
