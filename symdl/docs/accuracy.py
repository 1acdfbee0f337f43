"""The measured worst error of a spec's kernels, for its catalog page.

Elementwise (activation) kernels are measured by ``symdl.testing``'s
ground-truth harness -- the spec and its SymPy derivative evaluated by
mpmath at >= 50 digits -- on a small point set (``sample_points`` with 16
random points: the log-spaced magnitudes 1e-8..1e4 of both signs, 0, the
kinks and their float neighbours, the overflow edges of exp, +-inf and nan;
about 140 points), in float64 and float32, for every choice variant at the
default parameters.

The results are cached in ``docs/catalog/accuracy.json``, keyed by the
spec's content hash and the generator hash of its generated module: a build
measures only specs whose key changed (the measurement of all activations
takes about a minute cold).  Families whose kernels are not elementwise are
The softmax family reduced along ``dim`` (softmax, log_softmax, softmin,
logsumexp) is measured against its formula written out over six rows of
concrete values (``measure_rows``).  glu, maxout, the losses and the
optimizer rules are measured by the table-driven harness itself
(``measure_harness``: ``check_softmax``, ``check_loss``,
``check_class_loss``, ``check_optimizer`` with their default cases, at the
spec's default options, every kernel entry point, both dtypes, serial
kernels), summarized per output and dtype.  Other families (the term
losses, whose cases need each loss's domain -- tests/test_term_losses.py;
normalization, cells) are reported as measured by the test suite.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

CACHE = "catalog/accuracy.json"
#: random points per dtype (on top of the fixed log-spaced, kink and edge points)
N_RANDOM = 16

_TESTED_BY = {"softmax": "tests/test_reductions.py", "loss": "tests/test_losses.py, "
              "tests/test_term_losses.py", "optimizer": "tests/test_optimizers.py"}


def load_cache(root: Path | None = None) -> dict:
    from .pages import docs_dir

    path = (root or docs_dir()) / CACHE
    if not path.exists():
        return {}
    return json.loads(path.read_text(encoding="utf-8"))


def save_cache(cache: dict, root: Path | None = None) -> None:
    from symdl.codegen.generate import atomic_write

    from .pages import docs_dir

    path = (root or docs_dir()) / CACHE
    text = json.dumps(dict(sorted(cache.items())), indent=1, sort_keys=True) + "\n"
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        atomic_write(path, text)


def cache_key(spec, module_header: dict) -> str:
    from .pages import spec_hash

    return f"{spec_hash(spec)}:{module_header.get('generator_hash', '-')}"


def measurable(spec, family: str, meta: dict | None) -> bool:
    if meta is None:
        return False
    if family == "activation" and meta.get("family") == "activation":
        return True
    if meta.get("family") == "loss":   # (term losses: see measure_harness)
        return family == "loss" and meta.get("kind") == "class"
    return meta.get("family") in ("softmax", "optimizer") and meta.get("family") == family


def _by_harness(meta) -> bool:
    return not (meta.get("family") == "activation" or (meta.get("family") == "softmax"
                                                        and meta.get("layout") == "dim"))


def entry(spec, family: str, meta: dict | None, key: str, cache: dict, measure: bool) -> dict:
    """The accuracy entry of a spec: from the cache when its key matches,
    else measured now (``measure``) or marked stale."""
    if not measurable(spec, family, meta):
        tested = _TESTED_BY.get(family, "the test suite")
        if meta is None:
            return {"status": "no kernels"}
        return {"status": "tests", "tested_by": tested}
    hit = cache.get(spec.name)
    if hit is not None and hit.get("key") == key:
        return hit
    if not measure:
        return {"status": "stale", "key": key}
    how = (measure_activation if family == "activation" else
           (lambda s: measure_harness(s, family, meta)) if _by_harness(meta) else measure_rows)
    e = {"key": key, "status": "measured", **how(spec)}
    cache[spec.name] = e
    return e


def _g(v: float) -> float:
    return float(f"{v:.3g}")


def measure_activation(spec) -> dict:
    """Worst pure relative error (and failures of the accuracy bound) of the
    forward and derivative kernels, per variant and dtype."""
    import numpy as np

    from symdl import kernel
    from symdl.testing import compare, sample_points, truths

    rows, npoints = [], 0
    for variant in spec.variants():
        bundle = kernel(spec.name, **variant)
        for dt in (np.float64, np.float32):
            xs = sample_points(spec, {}, dt, n_random=N_RANDOM)
            npoints = max(npoints, xs.size)
            kw, noise = {}, None
            if spec.noise:
                rng = np.random.default_rng(1)
                lo, hi = spec.param("lower").default, spec.param("upper").default
                noise = rng.uniform(lo, hi, xs.size).astype(dt)
                kw = {"noise": noise}
            t = truths(spec, variant, {}, xs, noise)
            y = bundle.forward(xs, **kw)
            dx = bundle.backward(xs, np.ones_like(xs), **kw)
            if isinstance(dx, tuple):
                dx = dx[0]
            for which, got in (("forward", y), ("derivative", dx)):
                r = compare(spec.name, which, xs, got, t[which if which == "forward" else "dx"], dt)
                rows.append({"variant": ", ".join(f"{k}={v!r}" for k, v in variant.items()),
                             "which": which, "dtype": r.dtype, "worst": _g(r.worst_rel),
                             "at": repr(float(r.worst_at)) if not math.isnan(r.worst_at) else "-",
                             "failures": len(r.failures)})
    return {"points": int(npoints), "rows": rows}


#: rows of the softmax-family measurement (C = 8 values each; float32-representable)
_ROWS = [[0.5, -1.25, 2.0, 3.5, -0.75, 1.0, -2.5, 0.125],
         [1e3, -1e3, 999.5, -999.0, 0.0, 1e-7, -3e-9, 2.5],
         [40.0, 0.25, -0.5, 1.5, -1.0, 0.75, 2.0, -2.0],
         [1e-8, -2e-8, 3e-8, 0.0, -0.0, 5e-9, -1e-8, 2e-8],
         [-700.0, -701.0, -699.5, -702.0, -700.25, -698.0, -703.0, -700.0],
         [12.0, -30.0, 7.5, 29.0, -4.0, 0.0, 17.25, -11.0]]


def measure_rows(spec) -> dict:
    """A softmax-family spec reduced along the last axis: the formula written
    out over each row of concrete values (RSum/RMax expanded) and its SymPy
    gradient against a random cotangent, evaluated by mpmath at 80 digits,
    against the kernels' forward and backward in float64 and float32."""
    import mpmath
    import numpy as np
    import sympy as sp

    from symdl import kernel
    from symdl.specs.softmax import RMax, RSum
    from symdl.testing import compare

    X = np.asarray(_ROWS, dtype=np.float32).astype(np.float64)
    R, C = X.shape
    syms = [sp.Symbol(f"x_{j}", real=True) for j in range(C)]
    xsym = spec.x

    def inst(e, c):
        if isinstance(e, (RSum, RMax)):
            terms = [inst(e.args[0], j) for j in range(C)]
            return sp.Add(*terms) if isinstance(e, RSum) else sp.Max(*terms)
        if e == xsym:
            return syms[c]
        if not e.args:
            return e
        return e.func(*[inst(a, c) for a in e.args])

    per_row = tuple(spec.out_axes) == ("r",)
    outs = [inst(spec.expr, 0)] if per_row else [inst(spec.expr, c) for c in range(C)]
    rng = np.random.default_rng(0)
    G = rng.normal(size=(R,) if per_row else (R, C)).astype(np.float32).astype(np.float64)
    gs = [sp.Symbol(f"g_{j}", real=True) for j in range(len(outs))]
    F = sp.Add(*[g * o for g, o in zip(gs, outs)])
    f = sp.lambdify(syms, outs, modules="mpmath")
    df = sp.lambdify(syms + gs, [sp.diff(F, s) for s in syms], modules="mpmath")
    t_fwd, t_dx = [], []
    with mpmath.workdps(80):
        for r in range(R):
            row = [mpmath.mpf(float(v)) for v in X[r]]
            g = [mpmath.mpf(float(v)) for v in np.atleast_1d(G[r])]
            t_fwd += [+v for v in f(*row)]
            t_dx += [+v for v in df(*row, *g)]
    rows = []
    k = kernel(spec.name, dim=-1)
    for dt in (np.float64, np.float32):
        x, g = X.astype(dt), G.astype(dt)
        y, dx = k.forward(x), k.backward(x, g)
        for which, got, truth in (("forward", y, t_fwd), ("backward", dx, t_dx)):
            rep = compare(spec.name, which, np.zeros(got.size), got.reshape(-1), truth, dt)
            rows.append({"variant": "dim=-1", "which": which, "dtype": rep.dtype,
                         "worst": _g(rep.worst_rel), "at": "-", "failures": len(rep.failures)})
    return {"points": int(X.size), "rows": rows, "method": "rows"}


def _output_of(which: str) -> str:
    """The kernel output a harness report is about: 'value' or 'd <argument>'."""
    w = which.replace(" [parallel]", "")
    for tok in (" d ", " dx"):
        i = w.find(tok)
        if i >= 0:
            rest = w[i + 1:].split()
            return "d x" if rest[0] == "dx" else "d " + rest[1]
    for state in ("theta", "param"):
        if f" {state}" in w:
            return "θ"
    return "value" if any(k in w for k in ("forward", "loss", " y")) else w.split()[-1]


def summarize(res) -> list:
    """Rows (output, dtype, worst pure relative error, failures, values) of a CheckResult."""
    agg = {}
    for r in res:
        key = (_output_of(r.which), r.dtype)
        a = agg.setdefault(key, {"worst": 0.0, "failures": 0, "n": 0})
        if r.worst_rel == r.worst_rel:
            a["worst"] = max(a["worst"], r.worst_rel)
        a["failures"] += len(r.failures)
        a["n"] += 0 if "parallel" in r.which else r.n
    return [{"variant": "default options", "which": k[0], "dtype": k[1], "worst": _g(v["worst"]),
             "at": "-", "failures": v["failures"], "values": v["n"]}
            for k, v in sorted(agg.items(), key=lambda kv: (kv[0][0] != "value", kv[0]))]


def measure_harness(spec, family: str, meta: dict) -> dict:
    """The harness's own check of the spec's kernels at its default options
    (every entry point, both dtypes, the serial kernels; optimizers: serial
    and prange, as check_optimizer runs), summarized per output and dtype."""
    import warnings

    import numpy as np

    from symdl import kernel
    from symdl import testing as T

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if family == "softmax":
            res = T.check_softmax(spec, kernel(spec.name), paths=("serial",))
        elif family == "optimizer":   # the variant of the default options
            want = {p["name"]: p["default"] for p in meta["params"] if p["kind"] != "real"}
            variants = [v for v, _k, _s in meta["variants"] if all(v.get(n, d) == d for n, d in want.items())]
            res = T.check_optimizer(spec, n=8, steps=(4,), variants=variants[:1] or None)
        else:   # class losses (term losses need per-loss domains for their cases: the test suite's)
            res = T.check_class_loss(spec, kernel(spec.name), paths=("serial",))
    rows = summarize(res)
    return {"points": int(sum(r["values"] for r in rows)), "rows": rows, "method": "harness",
            "dtypes": [np.dtype(d).name for d in (np.float64, np.float32)]}


def accuracy_markdown(e: dict | None) -> str:
    from symdl.testing import BOUNDS

    e = e or {"status": "no kernels"}
    status = e.get("status")
    if status == "no kernels":
        return "No kernels to measure.\n"
    if status == "tests":
        return (f"Not measured by the docs build: these kernels are compared with the spec "
                f"evaluated by mpmath at high precision by `{e['tested_by']}` "
                "(float64 and float32, random, tiny, huge and extreme inputs).\n")
    if status == "stale":
        return "**Stale:** the spec or its kernels changed since the last measurement; run `symdl docs generate`.\n"
    (r64, a64), (r32, a32) = ((BOUNDS[k][0], BOUNDS[k][1]) for k in sorted(BOUNDS, key=str, reverse=True))
    if e.get("method") == "harness":
        from symdl.testing import PURE_REL
        p64, p32 = PURE_REL[max(PURE_REL, key=lambda d: d.itemsize)], PURE_REL[min(PURE_REL, key=lambda d: d.itemsize)]
        lines = ["Measured by `symdl.testing`'s table-driven harness (the check the test suite runs), at the "
                 "spec's default options: every kernel entry point (forward, backward, fused; every "
                 "reduction of a loss; every variant of a rule) against the definition evaluated by mpmath "
                 "at >= 60 digits with derivatives by SymPy, on its default cases (random, extreme, "
                 "dominant and nan inputs). Worst *pure* relative error where the true value is a normal "
                 "number; a failure is a value outside the harness's bounds: the mixed bound "
                 f"(float64: {r64:g}|t| + {a64:g}; float32: {r32:g}|t| + {a32:g}), the pure relative bound "
                 f"(float64: {p64:g}; float32: {p32:g}·(|t| + the output's condition)), inf/nan where the "
                 "truth is finite, or a number where the truth is nan.", "",
                 "| output | dtype | worst relative error | values | failures |", "|---|---|---|---|---|"]
        for r in e["rows"]:
            lines.append(f"| {r['which']} | {r['dtype']} | {r['worst']:.2e} | {r['values']} | {r['failures']} |")
        return "\n".join(lines) + "\n"
    if e.get("method") == "rows":
        where = (f"Measured against the formula written out over {len(_ROWS)} rows of 8 values (random, "
                 "±1e3 beside tiny values, one dominant value, all tiny, all near −700, mixed) and its "
                 "SymPy gradient against a random cotangent, evaluated by mpmath at 80 digits. Worst *pure* ")
    else:
        where = (f"Measured by `symdl.testing`'s ground-truth harness (mpmath, >= 50 digits) at "
                 f"{e['points']} points per dtype: random, log-spaced magnitudes 1e-8..1e4 of both signs, "
                 "0, the kinks and their float neighbours, ±700, ±1e3, ±inf and nan. Worst *pure* ")
    lines = [where + 
             "relative error where the true value is a normal number; a failure is a point outside "
             f"|kernel − truth| ≤ rtol·|truth| + atol (float64: {r64:g}, {a64:g}; float32: {r32:g}, {a32:g}) "
             "or an inf/nan where the truth is finite (so a value that cancels to ~1e-17 and is "
             "computed as 0 shows a relative error of 1 and no failure).", "",
             "| variant | kernel | dtype | worst relative error | at x | failures |",
             "|---|---|---|---|---|---|"]
    for r in e["rows"]:
        lines.append(f"| {r['variant'] or 'default'} | {r['which']} | {r['dtype']} | {r['worst']:.2e} "
                     f"| {r['at']} | {r['failures']} |")
    return "\n".join(lines) + "\n"
