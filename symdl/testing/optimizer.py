"""check_optimizer: an optimizer rule's generated step kernels against the
rule's own update equations evaluated by mpmath at 60 digits.

Each variant (one kernel set per option combination), float64 and float32,
the serial and the ``prange`` kernel (the elements tiled past the module's
parallel threshold; ``paths`` picks them: both are compilations of one body,
tests/test_one_body.py), at steps t = 4 and 9: one step from a state the kernel
reached in 3 steps from the declared initial state, the kernel's new θ and every new state array compared element
by element with the equations applied to the same (exact) inputs.  A single
step per comparison, so no error accumulates and the element bounds of
``symdl.testing.bounds`` apply as they are.
"""
from __future__ import annotations

import mpmath
import numpy as np
import sympy as sp

from .bounds import CheckResult, compare, double_double, take

from .optimizer_common import _SUFFIX, WARMUP, _module, _paths, default_hyper  # noqa: F401  (shared with the per-tensor and factored checks)


def step_truth(rule, variant, hyper: dict, t: int, ss_old: dict, theta, grad, states: dict, digits=60):
    """{output symbol name: [new value per element]} of one step."""
    from symdl.derive.optimizers import _numeric
    from symdl.specs.optimizers import g as G_SYM, t as T_SYM, theta as THETA
    comp = rule.composed(variant)
    scal = rule.step_scalars()
    hs = rule.hyper_symbols
    base = {T_SYM: sp.Integer(t), **{hs[k]: sp.Rational(v) for k, v in hyper.items() if k in hs}}
    sc = {s: _numeric(sp.sympify(e).xreplace(base), digits) for s, e in scal.items()}
    ssn = {ss.symbol: _numeric(sp.sympify(ss.update).xreplace({**base, **sc, ss.symbol: sp.Rational(ss_old[ss.key])}),
                               digits) for ss in rule.scalar_state}
    subs = {**base, **sc, **ssn}
    svars = [s for s in rule.states(variant)]
    args = [THETA, G_SYM] + [s.symbol for s in svars]
    out = {}
    for sym, e in comp.items():
        f = sp.lambdify(args, e.xreplace(subs), modules="mpmath")
        vals = []
        with mpmath.workdps(digits):
            for i in range(theta.size):
                a = [mpmath.mpf(float(theta[i])), mpmath.mpf(float(grad[i]))]
                a += [mpmath.mpf(float(states[s.key][i])) for s in svars]
                r = f(*a)
                if isinstance(r, mpmath.mpc):   # a root of a negative (centered RMSprop's v - m^2 < 0)
                    r = r.real if r.imag == 0 else mpmath.nan
                vals.append(+r)
        key = "theta" if sym == THETA else next(s.key for s in svars if s.symbol == sym)
        out[key] = vals
    return out


_TRUTHS: dict = {}


def check_optimizer(rule, module=None, variants=None, hyper=None, dtypes=(np.float64, np.float32),
                    n=24, steps=(4, 9), seed=0, paths=("serial", "parallel")) -> CheckResult:
    """Compare ``rule``'s generated step kernels (in ``module``, default the
    catalog's) with its update equations; returns a CheckResult.  ``paths``:
    the serial kernels, the prange kernels or both."""
    paths = _paths(paths)
    if isinstance(rule, str):
        from symdl.specs import get
        rule = get(rule)
    mod = module if module is not None else _module()
    meta = mod.SPECS[rule.name]
    if meta.get("reductions"):   # per-tensor sums (LAMB, LARS): two passes
        from .optimizer_tensor import check_tensor_rule
        return check_tensor_rule(rule, mod, variants, hyper, dtypes, n, steps, seed, paths)
    if meta.get("factored"):     # row/column statistics (Adafactor): matrix and vector kernels
        from .optimizer_factored import check_factored_rule
        return check_factored_rule(rule, mod, variants, hyper, dtypes, n, steps, seed, paths)
    by_key = {rule.variant_key(v): v for v in rule.variants()}
    res = CheckResult()
    rng = np.random.default_rng(seed)
    for mvariant, key, states in meta["variants"]:
        if variants is not None and mvariant not in variants:
            continue
        variant = by_key[key]
        hv = default_hyper(meta, mvariant)
        hv.update(hyper or {})
        name = f"optimizer {rule.name}[{key.split('__', 1)[1] if '__' in key else ''}]"
        scalars_fn = getattr(mod, key + "_scalars")
        for dt in dtypes:
            dt = np.dtype(dt)
            # a reachable state: the declared initial values, then WARMUP steps
            # of the kernel itself on random gradients (centered RMSprop needs
            # v >= m^2, Rprop's step sizes their bounds, ...)
            theta = rng.standard_normal(n).astype(dt)
            init = {s["key"]: s["init"] for s in meta["state"]}
            st = {k: np.full(n, float(hv[init[k]]) if isinstance(init[k], str) else float(init[k]), dtype=dt)
                  for k in states}
            ss = {s["key"]: float(s["init"]) for s in meta["scalar_state"]}
            warm = getattr(mod, f"{key}_{_SUFFIX[dt]}")
            for w in range(1, WARMUP + 1):
                kargs, new_ss = scalars_fn(float(w), *[hv[h] for h in meta["hyper"]], *ss.values())
                warm(theta, rng.standard_normal(n).astype(dt), *st.values(), *kargs)
                ss = dict(zip(ss, new_ss))
            grad = rng.standard_normal(n).astype(dt)
            grad[::5] = 0.0
            for t in steps:
                ss_old = dict(ss)
                ck = (rule.name, rule.content_hash(), key, repr(sorted(hv.items())), t,
                      theta.tobytes(), grad.tobytes(), tuple(a.tobytes() for a in st.values()))
                T = _TRUTHS.get(ck)
                if T is None:
                    truth = step_truth(rule, variant, hv, t, ss_old, theta, grad, st)
                    T = _TRUTHS[ck] = {k: double_double(v) for k, v in truth.items()}
                kargs, _ = scalars_fn(float(t), *[hv[h] for h in meta["hyper"]], *ss_old.values())
                reps = -(-mod.PARALLEL_THRESHOLD // n)
                for path, r in (("serial", 1), ("parallel", reps)):
                    if path not in paths:
                        continue
                    idx = np.tile(np.arange(n), r)
                    p, gr = theta[idx], grad[idx]
                    arrays = [st[k][idx] for k in states]
                    kern = getattr(mod, f"{key}_{_SUFFIX[dt]}{'_par' if path == 'parallel' else ''}")
                    kern(p, gr, *arrays, *kargs)
                    tag = f"t={t}" + (" [parallel]" if path == "parallel" else "")
                    # float32: where the new value cancels (beta·m + (1 - beta)·g ~ 0) the
                    # bound is PURE_REL·(|new| + |old| + |g|), the size of the terms
                    def terms(old):
                        return lambda ui, old=old: np.abs(old[ui]).astype(np.float64) + np.abs(grad[ui])
                    res.append(compare(name, f"{tag} theta", idx, p, take(T["theta"], idx), dt,
                                       slope=terms(theta), idx=idx))
                    for k, a in zip(states, arrays):
                        res.append(compare(name, f"{tag} {k}", idx, a, take(T[k], idx), dt,
                                           slope=terms(st[k]), idx=idx))
    return res


def check_optimizer_of(opt, paths=("serial", "parallel")) -> CheckResult:
    """``check_optimizer`` on what optimizer ``opt`` (a symdl.optim instance)
    runs for its first parameter group: its rule, the kernel variant its
    options select and its hyperparameters."""
    group = opt.param_groups[0]
    meta, key, _ = opt._variant_meta(group)
    variant = next(v for v, k, _ in meta["variants"] if k == key)
    hyper = dict(zip(meta["hyper"], opt._hyper(meta, group)))
    return check_optimizer(opt._rule(group), variants=[variant], hyper=hyper, paths=paths)
