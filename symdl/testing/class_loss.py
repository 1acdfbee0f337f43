"""check_class_loss: every kernel of a class loss (cross_entropy, nll_loss:
the losses over a class axis with class-index or probability targets,
``weight``, ``ignore_index``, ``label_smoothing``) against its *definition*
instantiated at small concrete sizes as plain SymPy (mpmath at >= 60
digits, derivatives by SymPy).

Through the public kernel object only (``symdl.kernel(name, reduction=...,
weight=..., ...)``: ``forward``, ``backward``, ``forward_backward``, and the
cached-statistics pair ``forward(save_stats=True)`` / ``backward(stats=)``
where the loss has it): each case (its target kind -- class indices,
probabilities, scores -- picked by the runtime from the target, as for a
user), every reduction, float64 and float32, the serial kernels and the
``prange`` ones (the case's rows stacked past the parallel threshold).

The truth of each row's loss and of its gradient comes from the spec's
``reduction='none'`` formula (a row's loss depends on that row only);
'sum' adds the rows, 'mean' divides by torch's normalizer (the summed weight
of the non-ignored targets; the number of rows for probability targets),
which is checked against the spec's own 'mean' formula at 40 digits.
Reduced losses are held to PURE_REL·Σ|row terms|, everything else to the
element bounds of ``symdl.testing.bounds``.
"""
from __future__ import annotations

import warnings

import mpmath
import numpy as np
import sympy as sp

from .bounds import CheckResult, compare, compare_sum, double_double, take
from .reduction import no_delta as _no_delta
from .reduction import exact, instantiate, mp_eval, rows_of

EXTREME = np.array([1e3, -1e3, 999.5, -999.0, 0.0, 1e-7, -3e-9, 2.5, -1.25, 700.0])


def f32(a):
    return np.asarray(a, dtype=np.float64).astype(np.float32).astype(np.float64)


def _cdim(x):
    return 1 if x.ndim >= 2 else 0


def make_target(kind, shape, rng, ignore=None):
    """A target for an input of ``shape``: class indices (row 1 set to
    ``ignore`` when given), probabilities (rows summing to 1 in float32 and
    float64) or scores (rows that do not)."""
    cdim = 1 if len(shape) >= 2 else 0
    C = shape[cdim]
    rows = shape[:cdim] + shape[cdim + 1:]
    if kind == "index":
        t = rng.integers(0, C, size=rows)
        if ignore is not None and t.size >= 2:
            t.reshape(-1)[1] = ignore
        return t
    if kind == "probs":   # dyadic probabilities: they sum to 1 exactly in both dtypes
        k = rng.integers(1, 9, size=shape).astype(np.float64)
        p = np.moveaxis(k, cdim, -1)
        p = p / 2.0 ** np.ceil(np.log2(p.sum(-1, keepdims=True)))
        p[..., -1] += 1.0 - p.sum(-1)
        return np.moveaxis(p, -1, cdim)
    p = f32(rng.uniform(-0.1, 1.6, size=shape))
    return p


def default_cases(meta, ignore_index=None, seed=0) -> list:
    """(x, target) cases for each target kind of the loss: random logits,
    extreme ones (±1e3 next to O(1) and tiny values; inner > 1), one
    dominant logit per row (C = 11: the kernels' 8-lane blocks and tail),
    a 1-D input, and rows holding a nan (at a class other than the target,
    or not), an ignored row holding a nan and an inf, and a -inf at a class
    other than the target."""
    rng = np.random.default_rng(seed)
    out = []
    for kind in meta["targets"]:
        ig = ignore_index if kind == "index" else None
        x1 = f32(rng.normal(0, 3, (3, 4)))
        out.append((x1, make_target(kind, x1.shape, rng, ig)))
        x2 = f32(rng.choice(EXTREME, (2, 3, 2)))
        out.append((x2, make_target(kind, x2.shape, rng, ig)))
        if kind != "scores":
            x3 = rng.normal(0, 1, (2, 11))
            x3[:, 4] += 40.0
            x3 = f32(x3)
            t3 = make_target(kind, x3.shape, rng, None)
            if kind == "index":
                t3[:] = (4, 7)   # the dominant class, and another
            out.append((x3, t3))
        if kind == "index":
            x4 = f32(rng.normal(0, 3, (5,)))
            out.append((x4, np.array(3 if ignore_index == 2 else 2)))   # (not ignored: the mean is 0/0 then)
            x5 = f32(rng.choice(EXTREME, (3, 4)))
            t5 = make_target(kind, x5.shape, rng, ig)
            x5[0, 2] = np.nan   # row 0 (not ignored): its loss and gradient are nan
            if ig is not None:   # row 1 is ignored: a nan and an inf in it still give exactly 0
                x5[1, 0], x5[1, 3] = np.nan, np.inf
            x5[2, (t5[2] + 1) % 4] = -np.inf   # row 2: -inf at a class other than the target
            out.append((x5, t5))
    return out


def _env(spec, x, target, weight, eps, ignore_index):
    cdim = _cdim(x)
    idx = rows_of(np.arange(x.size).reshape(x.shape), cdim)
    R, C = idx.shape
    X = np.array([sp.Symbol(f"x_{i}", real=True) for i in range(x.size)], dtype=object)
    env = {"x": (X[idx], ("r", "c"))}
    index = np.asarray(target).dtype.kind in "iu"
    if index:
        tr = np.asarray(target).reshape(-1)
        env["t"] = (np.array([[sp.Integer(int(tr[r] == c)) for c in range(C)] for r in range(R)], dtype=object),
                    ("r", "c"))
        env["v"] = (np.array([sp.Integer(int(tr[r] != ignore_index)) for r in range(R)], dtype=object), ("r",))
    else:
        yr = rows_of(np.asarray(target, dtype=np.float64), cdim)
        env["y"] = (np.vectorize(exact, otypes=[object])(yr), ("r", "c"))
    if weight is not None:
        env["w"] = (np.array([exact(v) for v in weight], dtype=object), ("c",))
    env["eps"] = (exact(eps), ())
    variant = {"target": "index" if index else "scores", "weighted": weight is not None}
    return env, {"r": R, "c": C}, X, idx, variant


_TABLES: dict = {}


def case_truth(spec, x, target, weight, eps, ignore_index):
    """(row losses ℓ_r, per-element ∂ℓ_row/∂x in C order, the 'mean'
    normalizer D) as mpf values; cached."""
    key = (spec.name, x.shape, x.tobytes(), np.asarray(target).tobytes(), np.asarray(target).dtype.str,
           None if weight is None else np.asarray(weight).tobytes(), float(eps), int(ignore_index))
    hit = _TABLES.get(key)
    if hit is not None:
        return hit
    env, sizes, X, idx, variant = _env(spec, x, target, weight, eps, ignore_index)
    R, C = idx.shape
    f_none = spec.formula({**variant, "reduction": "none"})
    rows = [instantiate(f_none, env, sizes, {"r": r}) for r in range(R)]
    grads = [None] * x.size
    for r in range(R):
        for e in idx[r]:
            grads[int(e)] = sp.diff(rows[r], X[e])
    f_mean = instantiate(spec.formula({**variant, "reduction": "mean"}), env, sizes)
    subs = {s: exact(v) for s, v in zip(X, np.ravel(x))}
    vals = mp_eval(rows + grads + [f_mean], subs)
    ell, G, mean = vals[:R], vals[R:R + x.size], vals[-1]
    if variant["target"] == "index":   # torch's normalizer: the summed weight of the non-ignored targets
        tr = np.asarray(target).reshape(-1)
        D = sum((mpmath.mpf(float(weight[t])) if weight is not None else mpmath.mpf(1))
                for t in tr if t != ignore_index)
    else:
        D = mpmath.mpf(R)
    with mpmath.workdps(60):
        total = mpmath.fsum(ell)
        if D != 0 and mpmath.isfinite(total) and abs(total / D - mean) > mpmath.mpf(10) ** -40 * abs(mean):
            raise AssertionError(f"{spec.name}: the 'mean' formula is not the row sum over {D}")
    row_syms = {int(e): list(X[idx[r]]) for r in range(R) for e in idx[r]}
    hit = _TABLES[key] = (ell, G, D, _slopes(grads, row_syms, subs))
    return hit


def _slopes(grads, row_syms, subs):
    """(loss slope, gradient slope): functions(indices) -> Σ_k |x_k ∂t/∂x_k|
    over the inputs of the value's row (its condition under a relative
    perturbation of each input, which the float32 roundings inside a kernel
    act as), for row losses (from the gradients) and per-element gradients
    (SymPy and mpmath, only where a float32 value needs it)."""
    cache = {}

    def grad_slope(indices):
        todo = [int(i) for i in indices if int(i) not in cache]
        if todo:
            es = [sym * _no_delta(sp.diff(grads[i], sym)) for i in todo for sym in row_syms[i]]
            vals = iter(mp_eval(es, subs))
            for i in todo:
                cache[i] = sum(abs(float(v)) if mpmath.isfinite(v) else 0.0
                               for v in (next(vals) for _ in row_syms[i]))
        return np.array([cache[int(i)] for i in indices])
    return grad_slope


def _threshold():
    from symdl.runtime.reductions import PARALLEL_THRESHOLD
    return PARALLEL_THRESHOLD


def rebind(bundle, **params):
    """The bundle with another reduction, running the same (possibly mutant) kernels."""
    names = {p["name"] for p in bundle.meta["params"]}
    opts = {"reduction": bundle.reduction}
    if bundle.weight is not None:
        opts["weight"] = bundle.weight
    if "ignore_index" in names:
        opts["ignore_index"] = bundle.ignore_index
    if "label_smoothing" in names:
        opts["label_smoothing"] = bundle.label_smoothing
    opts.update(params)
    return type(bundle)(bundle.name, bundle.meta, bundle._module, **opts)


def class_weight(C):
    """The per-class weight a weighted bundle is checked with for a case of
    C classes, when its own weight has another length (float32-exact)."""
    return f32(0.25 + (np.arange(C) * 5 % 8) / 4.0)


def _stack(a, r, cdim):
    a = np.asarray(a)
    if r == 1:
        return a
    if a.ndim == 0 or cdim == 0:   # a 1-D input: r rows of it
        return np.ascontiguousarray(np.broadcast_to(a, (r,) + a.shape))
    return np.concatenate([a] * r, axis=0)


def _times(vals, k):
    with mpmath.workdps(70):
        return [v * k for v in vals]


def _row_weights(n):
    return f32((4 + np.arange(n) % 9) / 8)


def check_class_loss(spec, bundle, cases=None, dtypes=(np.float64, np.float32), reductions=None,
                     paths=("serial", "parallel")) -> CheckResult:
    """Compare every kernel of a class-loss bundle (its weight, ignore_index
    and label_smoothing) with the spec's definition, for each reduction;
    ``cases``: [(x, target)]; returns a CheckResult."""
    meta = bundle.meta
    names = {p["name"] for p in meta["params"]}
    ignore = bundle.ignore_index if "ignore_index" in names else -100
    eps = bundle.label_smoothing if "label_smoothing" in names else 0.0
    if reductions is None:
        reductions = next(p["choices"] for p in meta["params"] if p["name"] == "reduction")
    cases = default_cases(meta, ignore) if cases is None else cases
    opts = ",".join(f"{k}={v}" for k, v in (("weight", "[...]" if bundle.weight is not None else None),
                                            ("ignore_index", ignore if "ignore_index" in names else None),
                                            ("label_smoothing", eps if eps else None)) if v is not None)
    res = CheckResult()
    for ci, (x, target) in enumerate(cases):
        x = np.asarray(x, dtype=np.float64)
        target = np.asarray(target)
        kind = "index" if target.dtype.kind in "iu" else "float"
        C = x.shape[_cdim(x)]
        weight = None if bundle.weight is None else \
            (bundle.weight if bundle.weight.shape == (C,) else class_weight(C))
        ell, G, D, gslope = case_truth(spec, x, target, weight, eps, ignore)
        row_idx = rows_of(np.arange(x.size).reshape(x.shape), _cdim(x))
        xf = np.ravel(x)
        # (an infinite input contributes no slope: a relative change of it is no change)
        lslope_v = np.array([sum(abs(float(G[e]) * xf[e]) if mpmath.isfinite(G[e]) and np.isfinite(xf[e])
                                 else 0.0 for e in row) for row in row_idx])
        R, n = len(ell), x.size
        cdim = _cdim(x)
        reps = -(-_threshold() // n)
        for red in reductions:
            k = rebind(bundle, reduction=red, **({"weight": weight} if weight is not None else {}))
            name = f"{spec.name}(reduction={red}{',' if opts else ''}{opts})"
            for path in paths:
                r = 1 if path == "serial" else reps
                xs, ts = _stack(x, r, cdim), _stack(target, r, cdim)
                rows_idx = np.tile(np.arange(R), r)
                el_idx = np.arange(xs.size)
                # element e of the stacked input: element (e mod n) of the case in C order
                el_small = el_idx % n
                gw = _row_weights(R)
                tag = f"case {ci} {x.shape} {kind} target" + (" [parallel]" if r > 1 else "")
                if red == "none":
                    g_small = gw.reshape(np.shape(np.empty(x.shape).sum(axis=cdim)))
                    grad_f = _stack(g_small, r, cdim if g_small.ndim else 0)
                    row_of = rows_of(np.arange(n).reshape(x.shape), cdim)
                    per_el = np.empty(n)
                    per_el[row_of.reshape(-1)] = np.repeat(gw, x.shape[cdim])
                    t_grad = double_double([G[e] * mpmath.mpf(float(per_el[e])) for e in range(n)])
                    gscale = np.abs(per_el)
                else:
                    grad_f = 0.75
                    s = mpmath.mpf(1) if red == "sum" else 1 / (r * D) if D != 0 else mpmath.nan
                    t_grad = double_double(_times(G, s * mpmath.mpf(0.75)))
                    gscale = np.full(n, abs(float(s * mpmath.mpf(0.75))))
                    t_terms = double_double(_times(ell, s))
                for dt in dtypes:
                    dt = np.dtype(dt)
                    xd = xs.astype(dt)
                    td = ts.astype(dt) if ts.dtype.kind == "f" else ts
                    gd = np.asarray(grad_f, dtype=dt) if red == "none" else grad_f
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore", RuntimeWarning)
                        runs = [("forward", k.forward(xd, td), None),
                                ("backward", None, k.backward(xd, td, gd))]
                        runs.append(("forward_backward",) + tuple(k.forward_backward(xd, td, gd)))
                        if kind == "index":
                            try:
                                loss_s, stats = k.forward(xd, td, save_stats=True)
                            except Exception as e:   # no cached-statistics kernels for this loss
                                if "save_stats" not in str(e):
                                    raise
                            else:
                                runs.append(("forward_stats", loss_s, None))
                                runs.append(("backward_stats", None, k.backward(xd, td, gd, stats=stats)))
                    for entry, loss, dx in runs:
                        if loss is not None:
                            if red == "none":
                                res.append(compare(name, f"{tag} {entry} loss", rows_idx,
                                                   np.ravel(loss), take(double_double(ell), rows_idx), dt,
                                                   slope=lambda ii: lslope_v[ii], idx=rows_idx))
                            else:
                                res.append(compare_sum(name, f"{tag} {entry} loss", np.asarray(loss).reshape(()),
                                                       t_terms, dt, np.full(R, r)))
                        if dx is not None:
                            res.append(compare(name, f"{tag} {entry} d input", el_small, np.ravel(dx),
                                               take(t_grad, el_small), dt, idx=el_small,
                                               slope=lambda ii, sc=gscale: gslope(ii) * sc[ii]))
    return res
