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
takes about a minute cold; of the term losses, about ten).

The softmax family reduced along ``dim`` (softmax, log_softmax, softmin,
logsumexp) is measured against its formula written out over six rows of
concrete values (``measure_rows``).  glu, maxout, the class losses and the
optimizer rules are measured by the table-driven harness itself
(``measure_harness``: ``check_softmax``, ``check_class_loss``,
``check_optimizer`` with their default cases, at the spec's default options,
every kernel entry point, both dtypes, serial kernels), summarized per
output and dtype.  The term losses (``measure_term_loss``) are measured by
``check_loss`` on the test suite's own cases (``symdl.testing.loss_cases``:
each loss's input domain, a random case with the kinks placed exactly and an
extreme one, for every option set the tests use), every reduction x kernel
kind x dtype, serial kernels, with where the worst error occurs; their cache
key also holds a hash of those cases.  The Newton objectives
(``measure_objective``) are measured against the objective written out for
explicit data and differentiated by SymPy at 50 digits.  The normalization
kernels (``measure_normalization``) and the recurrent cells' gate blocks
(``measure_cell``) are measured by the test suite's own harness and points
(``symdl.testing.normalization``: every case of the spec, training and eval
mode; ``symdl.testing.cells``: every gate block of every variant, random,
saturating and special points), every entry point x dtype, with where the
worst error occurs; their cache key also holds a hash of that harness and of
the runtime layer that calls the kernels.
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
    """spec hash : generated module's generator hash (: a term loss's cases' hash)."""
    from .pages import spec_hash

    key = f"{spec_hash(spec)}:{module_header.get('generator_hash', '-')}"
    if getattr(spec, "kind", "") == "term" and getattr(spec, "family", "") == "loss" and has_cases(spec.name):
        key += ":" + term_cases_hash(spec.name)
    fam = _kernel_family(spec)
    if fam in HARNESS_SOURCES:
        key += ":" + harness_hash(fam)
    return key


#: the files whose text decides a normalization / cell measurement: the test
#: suite's harness (truth, cases, kernel calls) and the runtime layer it calls
HARNESS_SOURCES = {"normalization": ("testing/normalization.py", "runtime/normalization.py"),
                   "cell": ("testing/cells.py", "runtime/cells.py")}


def _kernel_family(spec) -> str | None:
    from .pages import kernel_meta

    meta, _mod = kernel_meta(spec.name)
    return (meta or {}).get("family")


def harness_hash(family: str) -> str:
    """A hash of the harness (and runtime layer) a family is measured by."""
    from symdl.codegen.header import sha

    pkg = Path(__file__).resolve().parents[1]
    return sha("".join((pkg / f).read_text(encoding="utf-8") for f in HARNESS_SOURCES[family]))


def has_cases(name: str) -> bool:
    """Whether the test suite has cases (an input domain) for this term loss."""
    from symdl.testing.loss_cases import term_case

    try:
        term_case(name, 0, "random")
    except KeyError:
        return False
    return True


def _term_cases(name: str) -> list:
    """[(option-set label, [(kind, options, arrays), ...]), ...]: the test suite's cases of a term loss."""
    from symdl.testing.loss_cases import KINDS, OPTIONS, term_case

    out = []
    for i, opts0 in enumerate(OPTIONS.get(name, [{}])):
        label = ", ".join(f"{k}=" + ("[...]" if isinstance(v, str) else repr(v)) for k, v in opts0.items())
        out.append((label or "defaults", [(kind, *term_case(name, i, kind)) for kind in KINDS]))
    return out


def term_cases_hash(name: str) -> str:
    """A hash of the points a term loss is measured at (its options and arrays)."""
    import hashlib

    import numpy as np

    h = hashlib.sha256()
    for label, cases in _term_cases(name):
        h.update(label.encode())
        for kind, opts, args in cases:
            h.update(kind.encode())
            for k, v in sorted(opts.items()):
                h.update(k.encode() + np.asarray(v, dtype=np.float64).tobytes())
            for a in args:
                a = np.asarray(a)
                h.update(repr((a.dtype.str, a.shape)).encode() + a.tobytes())
    return h.hexdigest()[:12]


def measurable(spec, family: str, meta: dict | None) -> bool:
    if meta is None:
        return False
    if family == "activation" and meta.get("family") == "activation":
        return True
    if meta.get("family") == "loss":
        return family == "loss" and (meta.get("kind") == "class" or
                                     meta.get("kind") == "term" and has_cases(spec.name))
    return meta.get("family") in ("softmax", "optimizer", "objective", "normalization", "cell") and \
        meta.get("family") == family


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
    how = _MEASURE.get(family) or (measure_term_loss if meta.get("kind") == "term" else
                                   (lambda s: measure_harness(s, family, meta)) if _by_harness(meta)
                                   else measure_rows)
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
        else:   # class losses (term losses: measure_term_loss)
            res = T.check_class_loss(spec, kernel(spec.name), paths=("serial",))
    rows = summarize(res)
    return {"points": int(sum(r["values"] for r in rows)), "rows": rows, "method": "harness",
            "dtypes": [np.dtype(d).name for d in (np.float64, np.float32)]}


def _term_output(which: str) -> tuple:
    """(output, reduction, entry point) of a check_loss report: 'case 0 none backward d input'."""
    parts = which.split()
    red, ep = parts[2], parts[3]
    return ("value" if parts[4] == "loss" else "d " + parts[5]), red, ep


def _term_where(spec, kind: str, red: str, ep: str, out: str, at: float, args) -> str:
    """Where a term loss's worst error is: the case, reduction and entry point,
    and for a per-element output the element and the arguments' values there."""
    import numpy as np

    place = f"{kind} case, {red}, {ep}"
    if at != at:                                  # a reduced value (compare_sum)
        return place + (" (the reduced value)" if out == "value" else "")
    arrs = {a.name: np.asarray(v) for a, v in zip([a for a in spec.args if not a.optional], args)}
    if out == "value":
        if spec.classes:
            return place + f", row {int(at)}"
        ref = next(iter(arrs.values()))
    else:
        ref = arrs[out[2:]]
    idx = np.unravel_index(int(at), ref.shape)
    vals = [f"{n}={float(a[idx]):.7g}" for n, a in arrs.items() if a.shape == ref.shape and a.dtype.kind == "f"]
    return place + f" at [{', '.join(map(str, idx))}]: " + ", ".join(vals)


def measure_term_loss(spec, option_sets=None) -> dict:
    """A term loss's kernels checked by ``check_loss`` on the test suite's
    cases (every option set of ``loss_cases.OPTIONS``, or the indices in
    ``option_sets``; the random and the extreme case): every reduction x
    kernel kind (forward, backward, fused) x dtype, serial kernels; worst
    pure relative error per option set, output and dtype, and where it occurs."""
    import warnings

    import numpy as np

    from symdl import kernel
    from symdl.testing import check_loss

    rows = []
    for i, (label, cases) in enumerate(_term_cases(spec.name)):
        if option_sets is not None and i not in option_sets:
            continue
        agg = {}
        for kind, opts, args in cases:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                res = check_loss(spec, kernel(spec.name, **opts), cases=[args], paths=("serial",))
            for r in res:
                out, red, ep = _term_output(r.which)
                a = agg.setdefault((out, r.dtype), {"worst": 0.0, "at": "-", "failures": 0, "values": 0})
                a["failures"] += len(r.failures)
                a["values"] += r.n
                if r.worst_rel == r.worst_rel and r.worst_rel > a["worst"]:
                    a["worst"] = r.worst_rel
                    a["at"] = _term_where(spec, kind, red, ep, out, r.worst_at, args)
        for (out, dt), a in sorted(agg.items(), key=lambda kv: (kv[0][0] != "value", kv[0])):
            rows.append({"variant": label, "which": out, "dtype": dt, "worst": _g(a["worst"]),
                         "at": a["at"], "failures": a["failures"], "values": a["values"]})
    return {"points": int(sum(r["values"] for r in rows)), "rows": rows, "method": "term",
            "dtypes": [np.dtype(d).name for d in (np.float64, np.float32)],
            "exceptions": [list(x) for x in _exceptions(spec.name)]}


#: a Newton objective's measurement: the scales of θ (scores ~1, ~±40, ~±800: exp overflows)
OBJECTIVE_SCALES = (0.3, 40.0, 800.0)
#: the bound tests/test_newton.py holds the kernels to: |g - t| <= rel·(|t| + max|t|)
OBJECTIVE_REL = 1e-12


def _objective_truth(o, theta, X, y, lam) -> list:
    """[value, gradient, Hessian] (mpf lists) of the objective written out for
    explicit data (``full_objective``), by ``sympy.diff`` / ``sympy.hessian``
    at 50 digits."""
    import mpmath
    import sympy as sp

    def q(v):
        return sp.Rational(repr(float(v)))

    if o.kind == "glm":
        f, th = o.full_objective([[q(v) for v in row] for row in X], [q(v) for v in y], q(lam))
    else:
        f, th = o.full_objective(None, None, None)
    at = {t: q(v) for t, v in zip(th, theta)}
    outs = [[f], [sp.diff(f, t) for t in th], list(sp.hessian(f, th))]
    with mpmath.workdps(50):
        return [[mpmath.mpf(str(sp.N(e.xreplace(at), 50))) for e in out] for out in outs]


def measure_objective(spec) -> dict:
    """A Newton objective's kernel (``value_grad_hess``, float64) against the
    objective written out for explicit data and differentiated by SymPy at
    50 digits: X (6, d) normal, y normal (ridge) or in {0, 1} (logistic), λ =
    0.5, θ normal at each scale of OBJECTIVE_SCALES.  Per output: the worst
    error relative to the output's largest entry, and where."""
    import mpmath
    import numpy as np

    from symdl.newton import value_grad_hess

    rng = np.random.default_rng(1)
    agg = {}
    for scale in OBJECTIVE_SCALES:
        if spec.kind == "glm":
            d = 3
            X = rng.normal(size=(6, d))
            y = rng.integers(0, 2, 6).astype(float) if "logistic" in spec.name else rng.normal(size=6)
            args, kw = (X, y), {"lam": 0.5}
        else:
            d = len(spec.params)
            args, kw = (), {}
        theta = rng.normal(size=d) * scale
        got = value_grad_hess(spec.name, theta, *args, **kw)
        truth = _objective_truth(spec, theta, *(args or (None, None)), kw.get("lam", 0.0))
        for which, g, t in zip(("value", "gradient", "Hessian"), got, truth):
            g = np.atleast_1d(np.asarray(g, dtype=np.float64)).reshape(-1)
            with mpmath.workdps(50):
                top = max(abs(v) for v in t)
                errs = [abs(mpmath.mpf(float(gv)) - tv) for gv, tv in zip(g, t)]
                fails = sum(1 for e, tv in zip(errs, t) if not e <= OBJECTIVE_REL * (abs(tv) + top))
                k = max(range(len(errs)), key=lambda i: errs[i])
                rel = float(errs[k] / top) if top else float(errs[k])
            a = agg.setdefault(which, {"worst": 0.0, "at": "-", "failures": 0, "values": 0})
            a["failures"] += fails
            a["values"] += len(errs)
            if rel > a["worst"]:
                idx = "" if which == "value" else "[" + ", ".join(map(str, np.unravel_index(k, (d,) * (2 if which == "Hessian" else 1)))) + "]"
                a["worst"], a["at"] = rel, f"θ ~ {scale:g}·N(0, 1){', entry ' + idx if idx else ''}"
    rows = [{"variant": "default options", "which": w, "dtype": "float64", "worst": _g(a["worst"]),
             "at": a["at"], "failures": a["failures"], "values": a["values"]} for w, a in agg.items()]
    return {"points": len(OBJECTIVE_SCALES), "rows": rows, "method": "objective", "dtypes": ["float64"]}


def _fmt_idx(idx) -> str:
    return "[" + ", ".join(str(int(i)) for i in idx) + "]"


def norm_cases(name: str) -> list:
    """[(mode, shape, options, kind), ...]: the test suite's cases of a
    normalization spec (training: every shape x input kind; eval mode: the
    specs with running estimates)."""
    from symdl.testing import normalization as N

    out = [("training", shape, opts, kind) for n, shape, opts in N.CASES if n == name for kind in N.KINDS]
    out += [("eval", shape, {}, kind) for n, shape in N.EVAL_CASES if n == name for kind in N.EVAL_KINDS]
    return out


def _agg_row(agg, key, rel, bad, where):
    """Fold one output's per-element errors (rel: nan where not compared) into agg[key]."""
    import numpy as np

    a = agg.setdefault(key, {"worst": 0.0, "at": "-", "failures": 0, "values": 0})
    a["failures"] += int(np.count_nonzero(bad))
    a["values"] += int(rel.size)
    r = np.where(np.isnan(rel), -1.0, rel)
    k = int(np.argmax(r))
    if r.flat[k] > a["worst"]:
        a["worst"], a["at"] = float(r.flat[k]), where(k)


def _rows(agg, order) -> list:
    return [{"variant": v, "which": w, "dtype": d, "worst": _g(a["worst"]), "at": a["at"],
             "failures": a["failures"], "values": a["values"]}
            for (v, w, d), a in sorted(agg.items(), key=lambda kv: order(kv[0]))]


NORM_OUTPUTS = ("forward", "normalize", "dx", "dweight", "dbias", "eval forward", "eval dx", "eval dweight",
                "eval dbias")


def measure_normalization(spec, cases=None, dtypes=None) -> dict:
    """A normalization spec's kernels on the test suite's cases
    (``symdl.testing.normalization``: ``train_outputs`` / ``eval_outputs``,
    the cases of ``norm_cases`` or those given): per mode, entry point
    (training forward, normalize from the saved statistics, dx, dweight,
    dbias; eval forward and backward) and dtype, the worst error relative to
    |truth| + the output's largest |truth| (what the tests bound) and where."""
    import warnings

    import numpy as np

    from symdl.testing import normalization as N

    dtypes = dtypes or (np.float64, np.float32)
    agg = {}
    for mode, shape, opts, kind in (cases or norm_cases(spec.name)):
        for dt in dtypes:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                run = (N.train_outputs(spec.name, shape, opts, kind, dt) if mode == "training" else
                       N.eval_outputs(spec.name, shape, kind, dt))
            x = run["x"]
            case = f"{kind} x {tuple(shape)}" + "".join(f", {k}={v}" for k, v in opts.items())
            for label, got, want in run["outputs"]:
                rel, bad = N.errors(got, want, dt)
                want = np.asarray(want)

                def where(k, want=want, case=case):
                    idx = np.unravel_index(k, want.shape)
                    xs = f"x={float(x[idx]):.7g}, " if want.shape == x.shape else ""
                    return f"{case}, element {_fmt_idx(idx)}: {xs}truth={float(want[idx]):.7g}"

                key = ("training" if mode == "training" else "eval (running statistics)", label,
                       np.dtype(dt).name)
                _agg_row(agg, key, rel.reshape(-1), bad.reshape(-1), where)
    rows = _rows(agg, lambda k: (k[0] != "training", NORM_OUTPUTS.index(k[1]), k[2] != "float64"))
    return {"points": len(cases or norm_cases(spec.name)), "rows": rows, "method": "normalization",
            "dtypes": [np.dtype(d).name for d in dtypes]}


def cell_blocks(name: str) -> list:
    """Indices into ``symdl.testing.cells.BLOCKS`` of a cell's gate blocks."""
    from symdl.testing.cells import BLOCKS

    return [i for i, (cell, *_r) in enumerate(BLOCKS) if cell == name]


def measure_cell(spec, blocks=None, kinds=None, dtypes=None) -> dict:
    """A recurrent cell's gate-block kernels on the test suite's points
    (``symdl.testing.cells.block_outputs``: every block of every variant,
    random, saturating and special points, or those given): per block,
    output (each forward result; the VJP of every input and peephole
    weight) and dtype, the worst error relative to |truth| + the scale of
    its rounding (what the tests bound) and where."""
    import warnings

    import numpy as np

    from symdl.testing import cells as C

    dtypes = dtypes or (np.float64, np.float32)
    agg, order = {}, {}
    for index in (blocks if blocks is not None else cell_blocks(spec.name)):
        _cell, variant, _k, block = C.BLOCKS[index]
        names = [s.name for s in (*block.inputs, *block.vectors)]
        label = f"{variant}: {block.name}"
        for kind in (kinds or C.KINDS):
            cols = C.table(index, kind)[0]
            for dt in dtypes:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    outs = C.block_outputs(index, kind, dt)
                for j, (out, got, want, scale) in enumerate(outs):
                    rel, bad = C.errors(got, want, dt, scale)

                    def where(k, kind=kind, want=want, cols=cols, names=names):
                        vals = ", ".join(f"{n}={float(cols[m, k]):.7g}" for m, n in enumerate(names))
                        return f"{kind} points, column {k}: {vals}; truth={float(want[k]):.7g}"

                    which = ("backward " if out.startswith("d") else "forward ") + out
                    order.setdefault((label, which), (index, j))
                    _agg_row(agg, (label, which, np.dtype(dt).name), rel, bad, where)
    rows = _rows(agg, lambda k: (order[k[0], k[1]], k[2] != "float64"))
    return {"points": int(sum(r["values"] for r in rows if r["dtype"] == "float64")), "rows": rows,
            "method": "cell", "dtypes": [np.dtype(d).name for d in dtypes]}


def _exceptions(name: str) -> list:
    """The documented exceptions to the pure relative bound that apply to a spec."""
    import fnmatch

    from symdl.testing import PURE_REL_EXCEPTIONS

    return [(n, w, d, reason) for (n, w, d), (_b, reason) in PURE_REL_EXCEPTIONS.items()
            if fnmatch.fnmatchcase(name, n.split("(")[0])]


def _wide_narrow(table: dict) -> tuple:
    """(the float64 entry, the float32 entry) of a table keyed by dtype or dtype class."""
    import numpy as np

    size = lambda d: np.dtype(d).itemsize   # noqa: E731
    return table[max(table, key=size)], table[min(table, key=size)]


def accuracy_markdown(e: dict | None) -> str:
    from symdl.testing import BOUNDS, PURE_REL

    from .pages import md_text as md

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
    (r64, a64), (r32, a32) = (tuple(b[:2]) for b in _wide_narrow(BOUNDS))
    p64, p32 = _wide_narrow(PURE_REL)
    if e.get("method") == "harness":
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
    if e.get("method") == "term":
        lines = ["Measured by `symdl.testing.check_loss` (the check the test suite runs) on the test suite's "
                 "own cases (`symdl.testing.loss_cases`): for each option set the tests use, a random case "
                 "with the kinks placed at exact floats and an extreme one (±1e3, 700, tiny values, the ends "
                 "of the domain), each in the loss's input domain; every reduction × kernel entry point "
                 "(forward, backward, fused; the gradient of every differentiated argument) × dtype, serial "
                 "kernels (the test suite also runs the prange ones), against the definition evaluated by "
                 "mpmath at >= 60 digits with derivatives by SymPy. Worst *pure* relative error where the "
                 "true value is a normal number (a reduced value: against the exact sum), and where it "
                 "occurs; a failure is a value outside the harness's bounds: the mixed bound "
                 f"(float64: {r64:g}|t| + {a64:g}; float32: {r32:g}|t| + {a32:g}), the pure relative bound "
                 f"(float64: {p64:g}; float32: {p32:g}·(|t| + the output's condition); a reduced value: that "
                 "bound times Σ|terms|), inf/nan where the truth is finite, or a number where the truth is nan.", ""]
        for n, w, d, reason in e.get("exceptions", ()):
            lines += [f"**Exception to the pure relative bound** (`{n}`, output `{w}`, dtype `{d}`: "
                      f"`symdl.testing.PURE_REL_EXCEPTIONS`): {md(reason)}.", ""]
        lines += ["| options | output | dtype | worst relative error | where | values | failures |",
                  "|---|---|---|---|---|---|---|"]
        for r in e["rows"]:
            lines.append(f"| {md(r['variant'])} | {r['which']} | {r['dtype']} | {r['worst']:.2e} | {md(r['at'])} "
                         f"| {r['values']} | {r['failures']} |")
        return "\n".join(lines) + "\n"
    if e.get("method") in ("normalization", "cell"):
        if e["method"] == "normalization":
            from symdl.testing.normalization import BOUNDS as NB
            (n64, m64), (n32, m32) = _wide_narrow(NB)
            lines = ["Measured by the test suite's own harness and cases (`symdl.testing.normalization`, the "
                     "check `tests/test_normalization_kernels.py` runs), through the runtime kernel API "
                     f"(`symdl.kernel`), on {e['points']} cases, each in both dtypes: small inputs of each "
                     "layout the tests use with random, tiny-variance (1 + 1e-3·N(0, 1)), huge-offset (1e8 + "
                     "N(0, 1); float32: 1e4) and constant values, and, for the specs with running estimates, "
                     "eval mode (running statistics as constants, near the data) on random and huge-offset ones; every entry point (the training forward, normalize "
                     "from the saved statistics, dx and the parameter gradients dweight, dbias; the eval "
                     "forward and backward) × dtype, against the spec's formula evaluated by mpmath at 50 "
                     "digits with gradients by the complex step. Worst error relative to |truth| + the "
                     "output's largest |truth| (the measure the tests bound; a gradient that cancels to "
                     "~0 is measured against the output's scale), and where it occurs; a failure is a value "
                     f"outside rtol·(|truth| + max|truth|) + atol (float64: {n64:g}, {m64:g}; float32: "
                     f"{n32:g}, {m32:g}) or a non-finite one.", "",
                     "| mode | output | dtype | worst relative error | where | values | failures |",
                     "|---|---|---|---|---|---|---|"]
        else:
            from symdl.testing.cells import TOL
            (n64, m64), (n32, m32) = _wide_narrow(TOL)
            lines = ["Measured by the test suite's own harness and points (`symdl.testing.cells`, the check "
                     "`tests/test_cells.py` runs), through the kernel API (`symdl.kernel(cell, "
                     "variant=...)`), for every gate block of every variant: 30 random (3·N(0, 1)), 30 "
                     "saturating (±30, −12, 17, 0 plus noise) and 30 special points (nan in one input, ±inf "
                     "in one pre-activation), the backward fed the forward's saved results as the layers do; "
                     "every forward result and the gradient of every input (peephole weights included) × "
                     "dtype, against each output's expansion and its `sympy.diff` VJP evaluated by mpmath at "
                     "50 digits. Worst error relative to |truth| + its scale (1 + the rounding it inherits from "
                     "its inputs + the size of the terms of a sum that cancels: the measure the tests bound) "
                     "where the truth is finite, and where it occurs; a failure is a value outside "
                     f"rtol·|truth| + atol·scale (float64: {n64:g}, {m64:g}; float32: {n32:g}, {m32:g}), a nan "
                     "where the truth is a number or the reverse, or a wrong infinity.", "",
                     "| variant: block | output | dtype | worst relative error | where | values | failures |",
                     "|---|---|---|---|---|---|---|"]
        for r in e["rows"]:
            lines.append(f"| {md(r['variant'])} | {md(r['which'])} | {r['dtype']} | {r['worst']:.2e} "
                         f"| {md(r['at'])} | {r['values']} | {r['failures']} |")
        return "\n".join(lines) + "\n"
    if e.get("method") == "objective":
        lines = [f"Measured against the objective written out for explicit data (6 rows of normal "
                 f"values; targets normal for a regression, in {{0, 1}} for a classification; λ = 0.5) and "
                 f"differentiated by SymPy (`sympy.diff`, `sympy.hessian`), evaluated at 50 digits, at θ of "
                 f"{len(OBJECTIVE_SCALES)} scales ({', '.join(f'{v:g}' for v in OBJECTIVE_SCALES)} times "
                 "normal values; the largest make exp overflow). The kernel is float64 only. Worst error "
                 "relative to the output's largest entry (a Hessian entry that underflows to 0 where the "
                 "truth is ~1e-300 counts against the largest one); a failure is an entry outside "
                 f"|kernel − truth| ≤ {OBJECTIVE_REL:g}·(|truth| + the largest |truth|), the bound "
                 "`tests/test_newton.py` holds the kernels to.", "",
                 "| output | dtype | worst relative error | where | values | failures |",
                 "|---|---|---|---|---|---|"]
        for r in e["rows"]:
            lines.append(f"| {r['which']} | {r['dtype']} | {r['worst']:.2e} | {md(r['at'])} | {r['values']} "
                         f"| {r['failures']} |")
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


#: the measurement of each family that has one of its own (the rest: entry())
_MEASURE = {"activation": measure_activation, "objective": measure_objective,
            "normalization": measure_normalization, "cell": measure_cell}
