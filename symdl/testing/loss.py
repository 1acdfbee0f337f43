"""check_loss: every kernel of a term loss (mse_loss, huber_loss, bce, ...,
or a user's elementwise loss) against its *definition* instantiated at small
concrete sizes as plain SymPy (mpmath at >= 60 digits, derivatives by SymPy).

For each case (a tuple of argument arrays) it runs every reduction the loss
has (mean, sum, none, batchmean) x every kernel kind (forward, backward,
fused forward_backward: the loss and the gradient of every differentiated
argument) x float64 and float32 x the serial kernels and the ``prange`` ones
(the case's rows tiled past the runtime's parallel threshold).  Reduced
losses are held to PURE_REL·Σ|row terms| (the bound of each term, added up);
everything else to the element bounds of ``symdl.testing.bounds``.
"""
from __future__ import annotations

import warnings

import mpmath
import numpy as np
import sympy as sp

from .bounds import CheckResult, compare, compare_sum, double_double, take
from .reduction import exact, instantiate, mp_eval

# values representable in float32 (both dtypes share one truth)
EXTREME = np.array([1e3, -1e3, 999.5, -999.0, 0.0, 1e-7, -3e-9, 2.5, -1.25, 700.0, 30.0, -30.0])
UNIT = np.array([0.0, 1.0, 1e-7, 0.99999994, 0.5, 1e-30, 0.25, 0.75, 0.125, 1e-3, 0.999, 0.6])


def f32(a):
    return np.asarray(a, dtype=np.float64).astype(np.float32).astype(np.float64)


def default_cases(meta, shape=(3, 4), seed=0) -> list:
    """A random and an extreme case from the loss's argument declarations."""
    rng = np.random.default_rng(seed)
    cases = []
    for kind in ("random", "extreme"):
        args = []
        for a in (a for a in meta["args"] if not a["optional"]):
            s = shape[:1] if a["shape"] == "rows" else shape
            if a["kind"] == "index":
                args.append(rng.integers(0, shape[-1], shape[0]))
                continue
            check = dict(meta["checks"]).get(a["name"])
            if check == "unit":
                v = f32(rng.choice(UNIT, s)) if kind == "extreme" else f32(rng.uniform(0, 1, s))
            elif check == "nonnegative":
                v = f32(rng.uniform(0, 5, s))
            else:
                v = f32(rng.choice(EXTREME, s)) if kind == "extreme" else f32(rng.normal(0, 3, s))
            args.append(v)
        cases.append(tuple(args))
    return cases


def _plain(e):
    """Ground-truth helpers SymPy's mpmath printer understands."""
    from symdl.specs import losses as L
    from symdl.specs.softmax import Shifted
    e = e.replace(lambda a: isinstance(a, Shifted), lambda a: a.args[0] - a.args[1])
    return e.replace(lambda a: isinstance(a, L.ClampMin), lambda a: sp.Max(*a.args))


def variant_of(spec, opts, red):
    v = {p.name: opts.get(p.name, p.default) for p in spec.choices}
    v.update({a.name: a.name in opts for a in spec.args if a.optional})
    v["reduction"] = red
    return v


def truth(spec, opts, args, g, scale):
    """(loss values, {arg: gradient}, row shape) from the definition: 'none'
    (one loss per row, ``g`` per row) when ``g`` is an array, else 'sum'."""
    red = "none" if np.ndim(g) else "sum"
    variant = variant_of(spec, opts, red)
    env, subs, grad_syms = {}, {}, {}
    first = args[0]
    if spec.classes:
        R, Cn = first.shape
        rows_shape = (R,)
    else:
        R, Cn = first.size, 1
        rows_shape = first.shape
    sizes = {"r": R, "c": Cn}
    wrt = spec.wrt(variant)
    positional = [a for a in spec.args if not a.optional]
    for a, val in zip(positional, args):
        if a.kind == "index":
            oh = np.array([[sp.Integer(int(val[r] == c)) for c in range(Cn)] for r in range(R)], dtype=object)
            env["t"] = (oh, ("r", "c"))
            continue
        axes = spec.arg_axes(a)   # an elementwise loss: (rows, 1) here
        shape = (R, Cn) if axes == ("r", "c") else (R,)
        flat = np.asarray(val, dtype=np.float64).reshape(shape)
        if a.name in wrt:
            syms = np.empty(shape, dtype=object)
            for idx in np.ndindex(*shape):
                syms[idx] = sp.Symbol(f"{a.sym}_{'_'.join(map(str, idx))}", real=True)
                subs[syms[idx]] = exact(flat[idx])
            env[a.sym] = (syms, axes)
            grad_syms[a.name] = syms.reshape(-1)
        else:
            env[a.sym] = (np.vectorize(exact, otypes=[object])(flat), axes)
    for a in spec.args:
        if a.optional and a.name in opts:
            arr = np.asarray(opts[a.name], dtype=np.float64)
            if a.axes == ("c",):
                env[a.sym] = (np.array([exact(v) for v in arr], dtype=object), ("c",))
            else:
                full = np.broadcast_to(arr, first.shape).reshape(-1)
                vals = np.array([exact(v) for v in full], dtype=object)
                env[a.sym] = (vals.reshape(R, 1), ("r", "c")) if not spec.classes else (vals, ("r",))
    for p in spec.scalars:
        env[p.name] = (exact(opts.get(p.name, p.default)), ())
    env["scale"] = (exact(scale), ())
    f = spec.definition(variant)
    if red == "none":
        at = {} if spec.classes else {"c": 0}
        outs = [instantiate(f, env, sizes, {"r": i, **at}) for i in range(R)]
        F = sp.Add(*[exact(gv) * o for gv, o in zip(np.ravel(g), outs)])
    else:
        outs = [instantiate(f, env, sizes)]
        F = exact(g) * outs[0]
    names = list(grad_syms)
    grads = [_plain(sp.diff(F, s)) for n in names for s in grad_syms[n]]
    vals = mp_eval([_plain(o) for o in outs] + grads, subs)
    loss, rest = vals[:len(outs)], vals[len(outs):]
    out, i = {}, 0
    for n in names:
        k = grad_syms[n].size
        out[n] = rest[i:i + k]
        i += k
    return loss, out, rows_shape


def rebind(bundle, **params):
    opts = {**bundle.choices, **bundle.scalars, **bundle.arrays, "reduction": bundle.reduction, **params}
    return type(bundle)(bundle.name, bundle.meta, bundle._module, **opts)


def _threshold():
    from symdl.runtime.reductions import PARALLEL_THRESHOLD
    return PARALLEL_THRESHOLD


def _times(vals, k):
    with mpmath.workdps(70):
        return [v * k for v in vals]


_TABLES: dict = {}


def _case_truth(spec, opts, args):
    """Row terms (from 'none' with g = 1) and per-element ∂(row term) (from
    'sum' with g = 1), cached per case."""
    key = (spec.name, repr(sorted((k, np.asarray(v).tobytes()) for k, v in opts.items())),
           tuple(np.asarray(a).tobytes() for a in args))
    hit = _TABLES.get(key)
    if hit is None:
        first = args[0]
        rows = first.shape[:-1] if spec.classes else first.shape
        terms, _, _ = truth(spec, opts, args, np.ones(rows), 1.0)
        _, grads, _ = truth(spec, opts, args, 1.0, 1.0)
        hit = _TABLES[key] = (terms, grads, rows)
    return hit


def _row_weights(n, dtype):
    return ((4 + np.arange(n) % 9) / 8).astype(dtype)


def check_loss(spec, bundle, cases=None, dtypes=(np.float64, np.float32), reductions=None,
               paths=("serial", "parallel")) -> CheckResult:
    """Compare every kernel of a term loss with its spec's definition, at the
    options ``bundle`` was made with (``paths``: the serial kernels, the
    prange ones or both); returns a CheckResult."""
    meta = bundle.meta
    opts = {**bundle.choices, **bundle.scalars, **bundle.arrays}
    label = ",".join(f"{k}={v if np.ndim(v) == 0 else '[...]'}" for k, v in opts.items())
    name = f"{spec.name}({label})"
    if reductions is None:
        reductions = next(p["choices"] for p in meta["params"] if p["name"] == "reduction")
    cases = default_cases(meta) if cases is None else cases
    res = CheckResult()
    for ci, args in enumerate(cases):
        terms, dterm, rows = _case_truth(spec, opts, args)
        nrows = int(np.prod(rows))
        reps = -(-_threshold() // max(np.asarray(args[0]).size, 1))
        for red in reductions:
            k = rebind(bundle, reduction=red)
            for dt in dtypes:
                dt = np.dtype(dt)
                cast = [np.asarray(a).astype(dt) if np.asarray(a).dtype.kind == "f" else np.asarray(a) for a in args]
                for path, r in (("serial", 1), ("parallel", reps)):
                    if path not in paths:
                        continue
                    tag = f"case {ci} {red} " + ("" if path == "serial" else " [parallel]")
                    targs = [np.concatenate([a] * r, axis=0) for a in cast]
                    n_all = nrows * r
                    if red == "none":
                        gw = _row_weights(n_all, dt).reshape((r * rows[0],) + tuple(rows[1:]))
                        grad = gw
                    else:
                        grad = dt.type(0.75)
                    s = {"sum": 1, "none": 1, "mean": mpmath.mpf(1) / n_all,
                         "batchmean": mpmath.mpf(1) / (r * (rows[0] if len(rows) else 1))}[red]
                    # the truth of each output
                    ridx = np.tile(np.arange(nrows), r)
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore", UserWarning)
                        runs = {"forward": k._call("forward", targs, None)[0],
                                "backward": k._call("backward", targs, grad)[1]}
                        lf, gf = k._call("forward_backward", targs, grad)
                    for entry, loss, grads in (("forward", runs["forward"], None),
                                               ("backward", None, runs["backward"]),
                                               ("forward_backward", lf, gf)):
                        if loss is not None:
                            if red == "none":
                                res.append(compare(name, f"{tag}{entry} loss", ridx,
                                                   np.ravel(loss), take(double_double(terms), ridx), dt))
                            else:
                                res.append(compare_sum(name, f"{tag}{entry} loss", np.asarray(loss).reshape(()),
                                                       double_double(_times(terms, s)), dt, np.full(nrows, r)))
                        for wn, gv in (grads or {}).items():
                            per = dterm[wn]
                            m = len(per)
                            eidx = np.tile(np.arange(m), r)
                            if red == "none":   # each element's row weight
                                per_row = m // nrows
                                gel = np.repeat(np.ravel(gw).astype(np.float64), per_row)
                                hi, lo, sk = take(double_double(per), eidx)
                                t_dd = (hi * gel, lo * gel, sk)   # exact to ~1e-16 of the value
                            else:
                                t_dd = take(double_double(_times(per, s * mpmath.mpf(0.75))), eidx)
                            res.append(compare(name, f"{tag}{entry} d {wn}", eidx, np.ravel(gv), t_dd, dt))
    return res
