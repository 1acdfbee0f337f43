"""check_optimizer for factored rules (Adafactor): one step of the matrix
kernel (a batch of matrices) and of the vector kernel, serial and prange,
against the rule's expressions evaluated by mpmath at 60 digits -- the row
and column means of g², their moving averages, v̂, u (its definition, not the
kernel's split form), the norms and the new θ, all from the spec.

The ``prange`` kernels run on the inputs tiled past the parallel threshold
(the matrices' rows and columns, the vector's elements; several blocks of
rows, each with its own column sums).  Every statistic of the step is a mean
(row and column means, mean R, Σθ²/N, Σu²/N), so the tiled step's truth is
the small step's truth, tiled.
"""
from __future__ import annotations

import mpmath
import numpy as np
import sympy as sp

from .bounds import CheckResult, compare, double_double, take
from .optimizer_common import _SUFFIX, WARMUP, _module, _paths, default_hyper

SHAPES = {"mat": (2, 3, 5), "vec": (13,)}
#: the parallel path's tiling of the matrix's columns (rows: past the threshold)
COL_TILES = 40


def _tiling(kind, shape, threshold):
    """np.tile reps of θ (and g) and of each state array for the parallel path."""
    if kind == "mat":
        b, r, c = shape
        rr = -(-threshold // (b * r * c * COL_TILES))
        return (1, rr, COL_TILES), {"row_var": (1, rr), "col_var": (1, COL_TILES)}
    reps = -(-threshold // shape[0])
    return (reps,), {"variance": (reps,)}


def factored_step_truth(rule, variant, hyper: dict, t: int, theta, grad, states: dict, digits=60):
    """{"theta", state keys: flat list of new values} of one step (mpmath)."""
    from symdl.derive.optimizers import _numeric
    from symdl.specs import optimizers_factored as F
    from symdl.specs.optimizers import g as G, t as T, theta as TH

    hs = rule.hyper_symbols
    base = {T: sp.Integer(t), **{hs[k]: sp.Rational(v) for k, v in hyper.items() if k in hs}}
    sc = {s: _numeric(sp.sympify(e).xreplace(base), digits) for s, e in rule.step_scalars().items()}
    subs = {**base, **sc}
    g_eff = -G if variant.get("maximize") else G
    mp = lambda a: np.vectorize(lambda x: mpmath.mpf(float(x)), otypes=[object])(a)  # noqa: E731
    stat = sp.lambdify([G], rule.stat.xreplace({G: g_eff}).xreplace(subs), "mpmath")
    ema = sp.lambdify([F.old, F.mean], rule.ema.xreplace(subs), "mpmath")
    with mpmath.workdps(digits):
        P, Gr = mp(theta), mp(grad)
        S = np.vectorize(stat, otypes=[object])(Gr)
        out = {}
        if theta.ndim == 3:
            Rn = np.vectorize(ema, otypes=[object])(mp(states["row_var"]), S.mean(axis=2))
            Cn = np.vectorize(ema, otypes=[object])(mp(states["col_var"]), S.mean(axis=1))
            Rbar = Rn.mean(axis=1)
            u_of = sp.lambdify([G, F.R, F.C, F.rbar], rule.direction.xreplace(
                {F.vhat: rule.vhat_matrix, G: g_eff}).xreplace(subs), "mpmath")
            U = np.vectorize(u_of, otypes=[object])(Gr, Rn[:, :, None], Cn[:, None, :], Rbar[:, None, None])
            out["row_var"], out["col_var"] = list(Rn.ravel()), list(Cn.ravel())
        else:
            V = np.vectorize(ema, otypes=[object])(mp(states["variance"]), S)
            u_of = sp.lambdify([G, F.v], rule.direction.xreplace({F.vhat: F.v, G: g_eff}).xreplace(subs),
                               "mpmath")
            U = np.vectorize(u_of, otypes=[object])(Gr, V)
            out["variance"] = list(V.ravel())
        sums = {F.w_sq: sp.Float(mpmath.fsum(x * x for x in P.ravel()), digits),
                F.u_sq: sp.Float(mpmath.fsum(x * x for x in U.ravel()), digits), F.N: sp.Integer(P.size)}
        tens = {k: _numeric(sp.sympify(e).xreplace({**subs, **sums}), digits)
                for k, e in rule.tensor_scalars.items()}
        th = sp.lambdify([TH, F.u], sp.sympify(rule.new_theta(variant)).xreplace({**subs, **tens}), "mpmath")
        out["theta"] = [+th(a, b) for a, b in zip(P.ravel(), U.ravel())]
    return out


def check_factored_rule(rule, module=None, variants=None, hyper=None,
                        dtypes=(np.float64, np.float32), n=None, steps=(4, 9), seed=0,
                        paths=("serial", "parallel")) -> CheckResult:
    """check_optimizer's comparisons for a FactoredRule: both kernels (matrix
    and vector), serial and prange, each variant and dtype, one step at t = 4
    and 9 (the next step starts from the serial kernel's result, which runs
    unchecked when ``paths`` leaves it out)."""
    paths = _paths(paths)
    mod = module if module is not None else _module()
    meta = mod.SPECS[rule.name]
    by_key = {rule.variant_key(v): v for v in rule.variants()}
    res = CheckResult()
    rng = np.random.default_rng(seed)
    for mvariant, key, _ in meta["variants"]:
        if variants is not None and mvariant not in variants:
            continue
        variant = by_key[key]
        hv = default_hyper(meta, mvariant)
        hv.update(hyper or {})
        name = f"optimizer {rule.name}[{key.split('__', 1)[1]}]"
        scalars_fn = getattr(mod, key + "_scalars")
        for dt in dtypes:
            dt = np.dtype(dt)
            for kind, shape in SHAPES.items():
                theta = rng.standard_normal(shape).astype(dt)
                if kind == "mat":
                    st = {"row_var": np.zeros(shape[:2], dt), "col_var": np.zeros((shape[0], shape[2]), dt)}
                else:
                    st = {"variance": np.zeros(shape, dt)}
                kern = getattr(mod, f"{key}_{kind}_{_SUFFIX[dt]}")
                for w in range(1, WARMUP + 1):
                    kargs, _ = scalars_fn(float(w), *[hv[h] for h in meta["hyper"]])
                    kern(theta, rng.standard_normal(shape).astype(dt), *st.values(), *kargs)
                grad = rng.standard_normal(shape).astype(dt)
                grad.reshape(-1)[::5] = 0.0
                for t in steps:
                    kargs, _ = scalars_fn(float(t), *[hv[h] for h in meta["hyper"]])
                    truth = factored_step_truth(rule, variant, hv, t, theta, grad, st)
                    T = {k: double_double(v) for k, v in truth.items()}
                    treps, sreps = _tiling(kind, shape, mod.PARALLEL_THRESHOLD)
                    for path in ("serial", "parallel"):
                        if path == "parallel" and "parallel" not in paths:
                            continue
                        if path == "serial":
                            p, gr, arrays = theta.copy(), grad, {k: a.copy() for k, a in st.items()}
                            idx = np.arange(theta.size)
                            sidx = {k: np.arange(a.size) for k, a in st.items()}
                        else:
                            flat = np.arange(theta.size).reshape(shape)
                            p, gr, idx = np.tile(theta, treps), np.tile(grad, treps), np.tile(flat, treps)
                            arrays = {k: np.tile(a, sreps[k]) for k, a in st.items()}
                            sidx = {k: np.tile(np.arange(a.size).reshape(a.shape), sreps[k]).reshape(-1)
                                    for k, a in st.items()}
                        idx = idx.reshape(-1)
                        kern = getattr(mod, f"{key}_{kind}_{_SUFFIX[dt]}{'_par' if path == 'parallel' else ''}")
                        kern(p, gr, *arrays.values(), *kargs)
                        if path == "serial":
                            nxt = p, arrays
                        if path not in paths:     # (the serial step only advances the state)
                            continue
                        tag = f"t={t} [{kind}]" + (" [parallel]" if path == "parallel" else "")
                        res.append(compare(name, f"{tag} theta", idx, p.reshape(-1), take(T["theta"], idx), dt,
                                           slope=lambda ui: np.abs(theta.reshape(-1)[ui]).astype(np.float64)
                                           + np.abs(grad.reshape(-1)[ui]), idx=idx))
                        for k, a in arrays.items():
                            ia = sidx[k]
                            res.append(compare(name, f"{tag} {k}", ia, a.reshape(-1), take(T[k], ia), dt,
                                               slope=lambda ui, a=st[k]: np.abs(a.reshape(-1)[ui]).astype(np.float64),
                                               idx=ia))
                    theta, st = nxt
    return res
