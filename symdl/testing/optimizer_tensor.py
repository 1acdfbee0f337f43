"""check_optimizer for rules with per-tensor reductions (LAMB, LARS): one
step of the generated kernel against the rule's two passes evaluated by
mpmath at 60 digits -- pass 1 per element, the sums over the whole tensor
(exact at that precision), the per-tensor scalars, pass 2 per element.

The ``prange`` kernel runs on the elements tiled past the parallel threshold
(several blocks of partial sums); the truth then counts each element's terms
as many times as it was tiled.
"""
from __future__ import annotations

import mpmath
import numpy as np
import sympy as sp

from .bounds import CheckResult, compare, double_double, take
from .optimizer_common import _SUFFIX, WARMUP, _module, _paths, default_hyper


def tensor_step_truth(rule, variant, hyper: dict, t: int, theta, grad, states: dict,
                      copies: int = 1, digits: int = 60) -> dict:
    """{"theta" or state key: [new value per element]} and {tensor scalar: value}."""
    from symdl.codegen.optimizers import _compose
    from symdl.derive.optimizers import _numeric
    from symdl.specs.optimizers import g as G_SYM, t as T_SYM, theta as THETA

    hs = rule.hyper_symbols
    base = {T_SYM: sp.Integer(t), **{hs[k]: sp.Rational(v) for k, v in hyper.items() if k in hs}}
    sc = {s: _numeric(sp.sympify(e).xreplace(base), digits) for s, e in rule.step_scalars().items()}
    subs = {**base, **sc}
    svars = list(rule.states(variant))
    args = [THETA, G_SYM] + [s.symbol for s in svars]
    env1, env2 = _compose(rule.pass1(variant)), _compose(rule.pass2(variant))
    tstate = list(getattr(rule, "tensor_state", ()))
    svars = [s for s in svars if s not in tstate]
    args = [THETA, G_SYM] + [s.symbol for s in svars]
    n = theta.size
    with mpmath.workdps(digits):
        old = [[mpmath.mpf(float(theta[i])), mpmath.mpf(float(grad[i]))]
               + [mpmath.mpf(float(states[s.key][i])) for s in svars] for i in range(n)]
        # pass 1: new states (θ and g unchanged), the summed terms
        f1 = {s: sp.lambdify(args, sp.sympify(env1.get(s, s)).xreplace(subs), modules="mpmath")
              for s in args}
        # (pass 2 reads θ and g again as they were: a pass-1 g ← -g is pass 1's own)
        mid = [a[:2] + [f1[s](*a) for s in args[2:]] for a in old]
        sums = {}
        for k, e in rule.reductions.items():
            f = sp.lambdify(args, sp.sympify(e).xreplace(env1).xreplace(subs), modules="mpmath")
            sums[k] = copies * mpmath.fsum(f(*a) for a in old)
        tens = {s.symbol: sp.Float(mpmath.mpf(float(states[s.key][0])), digits) for s in tstate}
        for k, e in rule.tensor_scalars.items():
            tens[k] = _numeric(sp.sympify(e).xreplace({**subs, **sums, **tens}), digits)
        # pass 2, on pass 1's new values
        out = {}
        outs = [THETA] + [s.symbol for s in svars]
        for sym in outs:
            e = sp.sympify(env2.get(sym, sym)).xreplace({**subs, **tens})
            f = sp.lambdify(args, e, modules="mpmath")
            vals = [+f(*a) for a in mid]
            key = "theta" if sym == THETA else next(s.key for s in svars if s.symbol == sym)
            out[key] = vals
        for s in tstate:
            out[s.key] = [mpmath.mpf(tens[rule.tensor_state_update[s.symbol]])]
    return out, tens


def check_tensor_rule(rule, module=None, variants=None, hyper=None,
                      dtypes=(np.float64, np.float32), n=24, steps=(4, 9), seed=0,
                      paths=("serial", "parallel")) -> CheckResult:
    """check_optimizer's comparisons for a TensorRule (the same arguments)."""
    paths = _paths(paths)
    mod = module if module is not None else _module()
    meta = mod.SPECS[rule.name]
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
            theta = rng.standard_normal(n).astype(dt)
            init = {s["key"]: s["init"] for s in meta["state"]}
            st = {k: np.full(1 if k in meta.get("tensor_state", ()) else n,
                             float(hv[init[k]]) if isinstance(init[k], str) else float(init[k]),
                             dtype=dt) for k in states}
            warm = getattr(mod, f"{key}_{_SUFFIX[dt]}")
            for w in range(1, WARMUP + 1):
                kargs, _ = scalars_fn(float(w), *[hv[h] for h in meta["hyper"]])
                warm(theta, rng.standard_normal(n).astype(dt), *st.values(), *kargs)
            grad = rng.standard_normal(n).astype(dt)
            grad[::5] = 0.0
            for t in steps:
                kargs, _ = scalars_fn(float(t), *[hv[h] for h in meta["hyper"]])
                reps = -(-mod.PARALLEL_THRESHOLD // n)
                for path, r in (("serial", 1), ("parallel", reps)):
                    if path not in paths:
                        continue
                    truth, _ = tensor_step_truth(rule, variant, hv, t, theta, grad, st, copies=r)
                    T = {k: double_double(v) for k, v in truth.items()}
                    idx = np.tile(np.arange(n), r)
                    p, gr = theta[idx], grad[idx]
                    per_tensor = meta.get("tensor_state", ())
                    arrays = [st[k].copy() if k in per_tensor else st[k][idx] for k in states]
                    kern = getattr(mod, f"{key}_{_SUFFIX[dt]}{'_par' if path == 'parallel' else ''}")
                    kern(p, gr, *arrays, *kargs)
                    tag = f"t={t}" + (" [parallel]" if path == "parallel" else "")

                    def terms(old):
                        return lambda ui, old=old: np.abs(old[ui]).astype(np.float64) + np.abs(grad[ui])
                    res.append(compare(name, f"{tag} theta", idx, p, take(T["theta"], idx), dt,
                                       slope=terms(theta), idx=idx))
                    for k, a in zip(states, arrays):
                        if k in per_tensor:
                            res.append(compare(name, f"{tag} {k}", np.zeros(1), a, T[k], dt))
                            continue
                        res.append(compare(name, f"{tag} {k}", idx, a, take(T[k], idx), dt,
                                           slope=terms(st[k]), idx=idx))
                # the next step starts from the serial kernel's result
                kern = getattr(mod, f"{key}_{_SUFFIX[dt]}")
                kern(theta, grad, *st.values(), *kargs)
    return res
