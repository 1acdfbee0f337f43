"""Ground truth for the normalization kernels: the spec's own SymPy formula
(RSum over named axes) evaluated with mpmath at 50 digits on concrete arrays,
and its gradients by the complex step (Im L(v + i·h·e_k)/h with h = 1e-30:
no cancellation, exact to far beyond float64).  Independent of the
derivation engine: nothing here differentiates symbolically.

The cases the kernels are checked on (``CASES``, ``EVAL_CASES``, the input
kinds, their seeds) and ``train_outputs`` / ``eval_outputs`` (every kernel
entry point's result beside its truth) are used by
tests/test_normalization_kernels.py and by the docs' accuracy measurement
(symdl.docs.accuracy), so both check the same points the same way."""
from __future__ import annotations

import functools
import itertools
import zlib

import mpmath as mp
import numpy as np
import sympy as sp

from symdl.specs.softmax import RSum

DPS = 50
H = mp.mpf("1e-30")


def axis_sizes(spec, shape, num_groups=None, normalized_ndim=1):
    """Sizes of the spec's named axes for a torch-shaped input, and a function
    mapping an index tuple over the named axes to the flat input index."""
    shape = tuple(shape)
    if spec.name in ("layer_norm", "rms_norm"):
        n = int(np.prod(shape[:len(shape) - normalized_ndim]))
        d = int(np.prod(shape[len(shape) - normalized_ndim:]))
        return {"n": n, "d": d}, lambda ix: ix["n"] * d + ix["d"], lambda ix: ix["d"]
    n, c, s = shape[0], shape[1], int(np.prod(shape[2:]))
    if spec.name == "group_norm":
        g = num_groups
        j = c // g
        return ({"n": n, "g": g, "j": j, "s": s},
                lambda ix: ((ix["n"] * c + ix["g"] * j + ix["j"]) * s + ix["s"]),
                lambda ix: ix["g"] * j + ix["j"])
    return {"n": n, "c": c, "s": s}, lambda ix: (ix["n"] * c + ix["c"]) * s + ix["s"], lambda ix: ix["c"]


class Evaluator:
    """Evaluates the spec formula at every element with memoized sums."""

    def __init__(self, spec, sizes, flat, aff, x, w, b, eps):
        self.spec, self.sizes, self.flat, self.aff = spec, sizes, flat, aff
        self.x, self.w, self.b, self.eps = x, w, b, eps
        self.memo = {}

    def axes(self, e):
        if isinstance(e, RSum):
            return self.axes(e.args[0]) - {e.axis}
        if e.is_Symbol:
            if e.name == "x":
                return set(self.spec.axes)
            if e.name in ("weight", "bias"):
                return set(self.spec.affine_axes)
            return set()
        return set().union(*[self.axes(a) for a in e.args]) if e.args else set()

    def ev(self, e, ix):
        key = (e, tuple(sorted((a, ix[a]) for a in self.axes(e))))
        if key in self.memo:
            return self.memo[key]
        if isinstance(e, RSum):
            a = e.axis
            v = mp.fsum(self.ev(e.args[0], {**ix, a: i}) for i in range(self.sizes[a]))
        elif e.is_Symbol:
            name = e.name
            if name == "x":
                v = self.x[self.flat(ix)]
            elif name == "weight":
                v = self.w[self.aff(ix)]
            elif name == "bias":
                v = self.b[self.aff(ix)]
            elif name == "eps":
                v = self.eps
            elif name.startswith("N_"):
                v = mp.mpf(self.sizes[name[2:]])
            else:
                raise KeyError(name)
        elif e.is_Number:
            v = mp.mpf(sp.Rational(e).p) / mp.mpf(sp.Rational(e).q) if e.is_Rational else mp.mpf(str(e))
        elif e.is_Add:
            v = mp.fsum(self.ev(a, ix) for a in e.args)
        elif e.is_Mul:
            v = mp.mpf(1)
            for a in e.args:
                v = v * self.ev(a, ix)
        elif e.is_Pow:
            base, ex = self.ev(e.base, ix), e.exp
            v = base ** int(ex) if ex.is_Integer else mp.power(base, self.ev(ex, ix))
        else:
            raise NotImplementedError(type(e))
        self.memo[key] = v
        return v

    def outputs(self):
        f = self.spec.formula()
        names = list(self.sizes)
        out = {}
        for idx in itertools.product(*[range(self.sizes[a]) for a in names]):
            ix = dict(zip(names, idx))
            out[self.flat(ix)] = self.ev(f, ix)
        return [out[k] for k in range(len(out))]


def truth(spec, x, w, b, g, eps, num_groups=None, normalized_ndim=1, grads=True):
    """(y, dx, dw, db) as float64 arrays of the exact values (db None
    without bias), for float inputs x, w, b, g (any dtype)."""
    with mp.workdps(DPS):
        sizes, flat, aff = axis_sizes(spec, x.shape, num_groups, normalized_ndim)
        X = [mp.mpf(float(v)) for v in x.reshape(-1)]
        W = [mp.mpf(float(v)) for v in w.reshape(-1)]
        B = [mp.mpf(float(v)) for v in b.reshape(-1)] if b is not None else [mp.mpf(0)] * len(W)
        G = [mp.mpf(float(v)) for v in g.reshape(-1)]
        E = mp.mpf(float(eps))

        def loss(X_, W_, B_):
            ys = Evaluator(spec, sizes, flat, aff, X_, W_, B_, E).outputs()
            return ys, mp.fsum(gk * yk for gk, yk in zip(G, ys))

        ys, _ = loss(X, W, B)
        y = np.array([float(v) for v in ys]).reshape(x.shape)
        if not grads:
            return y, None, None, None

        def cstep(vec, which):
            out = []
            for k in range(len(vec)):
                v = list(vec)
                v[k] = mp.mpc(v[k], H)
                args = {"x": (X, W, B), "w": (X, W, B), "b": (X, W, B)}[which]
                a = list(args)
                a["xwb".index(which)] = v
                out.append(float(mp.im(loss(*a)[1]) / H))
            return np.array(out)

        dx = cstep(X, "x").reshape(x.shape)
        dw = cstep(W, "w")
        db = cstep(B, "b") if spec.has_bias else None
        return y, dx, dw, db


def statistics_truth(spec, x, eps, num_groups=None, normalized_ndim=1) -> dict:
    """The statistics the training forward saves, per group (the groups in
    the order of the spec's non-statistic axes): {"mean", "var", "rstd"} as
    float64 arrays of the exact values from the spec's own formulas (the
    biased variance mean((x - mean x)²), or mean(x²) without centring; rstd =
    1/sqrt(var + eps)); no "mean" for a spec that does not centre."""
    x_ = spec.x
    exprs = {"var": spec.mean((x_ - spec.mean(x_)) ** 2) if spec.centered else spec.mean(x_ ** 2)}
    if spec.centered:
        exprs["mean"] = spec.mean(x_)
    with mp.workdps(DPS):
        sizes, flat, aff = axis_sizes(spec, x.shape, num_groups, normalized_ndim)
        X = [mp.mpf(float(v)) for v in x.reshape(-1)]
        ev = Evaluator(spec, sizes, flat, aff, X, None, None, mp.mpf(float(eps)))
        groups = [a for a in sizes if a not in spec.stat_axes]
        out = {k: [] for k in exprs}
        out["rstd"] = []
        for idx in itertools.product(*[range(sizes[a]) for a in groups]):
            ix = {a: 0 for a in sizes}
            ix.update(zip(groups, idx))
            vals = {k: ev.ev(e, ix) for k, e in exprs.items()}
            for k, v in vals.items():
                out[k].append(float(v))
            out["rstd"].append(float(1 / mp.sqrt(vals["var"] + ev.eps)))
        return {k: np.array(v) for k, v in out.items()}


def eval_truth(spec, x, w, b, rm, rv, g, eps, channel):
    """Eval mode (running statistics): (y, dx, dw, db) from the spec's
    ``eval_formula`` at 50 digits, per element with the element's channel
    ``channel[k]`` (flat index -> affine index); gradients by the complex step
    (the formula is evaluated, never differentiated symbolically)."""
    syms = [sp.Symbol(n, real=True) for n in ("x", "weight", "bias", "running_mean")]
    rv_s, eps_s = sp.Symbol("running_var", nonnegative=True), sp.Symbol("eps", positive=True)
    f = sp.lambdify([*syms, rv_s, eps_s], spec.eval_formula(), modules="mpmath")
    with mp.workdps(DPS):
        X = [mp.mpf(float(v)) for v in x.reshape(-1)]
        G = [mp.mpf(float(v)) for v in g.reshape(-1)]
        W = [mp.mpf(float(v)) for v in w]
        B = [mp.mpf(float(v)) for v in b] if b is not None else [mp.mpf(0)] * len(W)
        RM = [mp.mpf(float(v)) for v in rm]
        RV = [mp.mpf(float(v)) for v in rv]
        E = mp.mpf(float(eps))
        y, dx = [], []
        dw, db = [mp.mpf(0)] * len(W), [mp.mpf(0)] * len(W)
        for k, xk in enumerate(X):
            c = int(channel[k])
            args = [xk, W[c], B[c], RM[c], RV[c], E]
            y.append(f(*args))
            for j, acc in ((0, dx), (1, dw), (2, db)):
                a = list(args)
                a[j] = mp.mpc(a[j], H)
                d = G[k] * mp.im(f(*a)) / H
                if j == 0:
                    acc.append(d)
                else:
                    acc[c] += d
        arr = lambda v: np.array([float(u) for u in v])
        return (arr(y).reshape(x.shape), arr(dx).reshape(x.shape), arr(dw),
                arr(db) if spec.has_bias else None)


#: (spec, input shape, layout options) -- a few groups each: fast
CASES = [("batch_norm", (4, 3, 2), {}), ("batch_norm", (5, 2), {}), ("layer_norm", (3, 5), {}),
         ("layer_norm", (2, 2, 3), {"normalized_ndim": 2}), ("group_norm", (2, 4, 3), {"num_groups": 2}),
         ("instance_norm", (2, 3, 4), {}), ("rms_norm", (3, 5), {})]
#: the input kinds of the training-mode check
KINDS = ("random", "tiny", "huge", "constant")
#: eval mode: batch norm (N, C, L) and (N, C) (the column kernels), instance norm
EVAL_CASES = [("batch_norm", (4, 3, 2)), ("batch_norm", (5, 3)), ("instance_norm", (2, 3, 4))]
EVAL_KINDS = ("random", "huge")
#: the activation tests' bounds: |got - want| <= rtol·(|want| + max|want|) + atol
BOUNDS = {np.float64: (1e-12, 1e-15), np.float32: (1e-5, 1e-6)}
OFFSET = {np.float64: 1e8, np.float32: 1e4}
EPS = 1e-5


def seed(*key) -> int:
    """A seed of a case, the same in every process (``hash`` of a str is not)."""
    return zlib.crc32(repr(key).encode())


def make_input(kind, shape, dtype, rng):
    z = rng.normal(size=shape)
    if kind == "random":
        return (z * 2.0 + 0.5).astype(dtype)
    if kind == "tiny":      # tiny variance
        return (1.0 + 1e-3 * z).astype(dtype)
    if kind == "huge":      # |mean| >> std
        return (OFFSET[dtype] + z).astype(dtype)
    if kind == "constant":
        return np.full(shape, 3.25, dtype)
    raise ValueError(kind)


def specs() -> dict:
    from symdl.specs.normalization import NORM_SPECS

    return {s.name: s for s in NORM_SPECS}


@functools.lru_cache(maxsize=None)
def _train_case(name, shape, opts, kind, dtype):
    """The inputs of a training-mode case and their truth (outputs and saved
    statistics), computed once per case (``opts``: sorted items)."""
    from symdl.runtime import normalization as RN

    spec, opts = specs()[name], dict(opts)
    rng = np.random.default_rng(seed(name, shape, kind))
    x = make_input(kind, shape, dtype, rng)
    lay = RN.layout(name, shape, **opts)
    w = rng.normal(size=lay["naff"]).astype(dtype)
    b = rng.normal(size=lay["naff"]).astype(dtype) if spec.has_bias else None
    g = rng.normal(size=shape).astype(dtype)
    return (x, w, b, g, lay), truth(spec, x, w, b, g, EPS, **opts), statistics_truth(spec, x, EPS, **opts)


def train_outputs(name, shape, opts, kind, dtype, kernels=None) -> dict:
    """One training-mode case: the inputs, the kernels' results and their
    truth.  ``outputs``: [(entry point, kernel result, truth)] for the
    training forward, dx, dweight, dbias and normalize from the saved
    statistics (eval path); ``saved``: (mean, rstd) as the forward saved them;
    ``statistics``: [(name, saved value, truth)] of the saved mean (rounded
    double-float; centred specs), variance and rstd (and the running-estimate
    update, specs with running estimates: ``running_outputs``).  ``kernels``: the
    NormKernels to run (default ``runtime.normalization.kernels(name)``); the
    truth is computed once per case."""
    from symdl.runtime import normalization as RN

    spec = specs()[name]
    (x, w, b, g, lay), (y, dx, dw, db), stats = _train_case(name, tuple(shape), tuple(sorted(opts.items())),
                                                          kind, dtype)
    k = RN.kernels(name) if kernels is None else kernels
    yk, mean, rstd, var = k.train_forward(x, w, b, EPS, lay)
    res = k.backward(x, g, w, mean, rstd, EPS, lay)
    out = [("forward", yk, y), ("dx", res[0], dx), ("dweight", res[1], dw)]
    if spec.has_bias:
        out.append(("dbias", res[2], db))
    out.append(("normalize", k.normalize(x, w, b, mean, rstd, lay), y))
    saved = [("saved var", var, stats["var"]), ("saved rstd", rstd, stats["rstd"])]
    if "mean" in stats:
        saved.insert(0, ("saved mean", mean[0] + mean[1], stats["mean"]))
    if spec.running:
        saved += running_outputs(name, shape, opts, kind, dtype, k)
    return {"x": x, "outputs": out, "saved": (mean, rstd), "statistics": saved}


@functools.lru_cache(maxsize=None)
def _running_case(name, shape, opts, kind, dtype):
    """The running-update inputs of a case (the old estimates in ``dtype``;
    the batch statistics: the case's exact ones, per channel, as float64) and
    the truth of the new estimates (the spec's ``running_update``, 50 digits)."""
    from symdl.runtime import normalization as RN
    from symdl.specs.normalization import running_update

    _, _, stats = _train_case(name, shape, opts, kind, dtype)
    lay = RN.layout(name, shape, **dict(opts))
    c = lay["naff"]
    mean, var = (stats[k].reshape(-1, c).mean(axis=0) for k in ("mean", "var"))   # instance norm: over N
    rng = np.random.default_rng(seed(name, shape, kind, "running"))
    rm = (mean + rng.normal(size=c)).astype(dtype)
    rv = rng.uniform(0.5, 2.0, size=c).astype(dtype)
    factor, count = 0.1, lay["count"]
    ru = running_update()
    syms = sorted(set().union(*[e.free_symbols for e in ru.values()]), key=lambda u: u.name)
    fns = {k: sp.lambdify(syms, e, modules="mpmath") for k, e in ru.items()}
    vals = {"running_mean": rm, "running_var": rv, "mean": mean, "var": var}
    with mp.workdps(DPS):
        want = {k: np.array([float(f(*[mp.mpf(float(vals[u.name][j])) if u.name in vals else
                                       mp.mpf(factor) if u.name == "factor" else mp.mpf(count) for u in syms]))
                             for j in range(c)]) for k, f in fns.items()}
    return (rm, rv, mean, var, factor, count), want


def running_outputs(name, shape, opts, kind, dtype, kernels=None) -> list:
    """[(label, new estimate, truth)] of the running-estimate update
    (``running_update``, in place on copies of the case's old estimates)."""
    from symdl.runtime import normalization as RN

    (rm, rv, mean, var, factor, count), want = _running_case(name, tuple(shape), tuple(sorted(opts.items())),
                                                            kind, dtype)
    rm, rv = rm.copy(), rv.copy()
    (RN.kernels(name) if kernels is None else kernels).running_update(rm, rv, mean, var, factor, count)
    return [("running mean", rm, want["running_mean"]), ("running var", rv, want["running_var"])]


@functools.lru_cache(maxsize=None)
def _eval_case(name, shape, kind, dtype):
    """The inputs of an eval-mode case and their truth, computed once per case."""
    spec = specs()[name]
    rng = np.random.default_rng(seed(name, shape, kind, "eval"))
    x = make_input(kind, shape, dtype, rng)
    n, c = shape[:2]
    s = int(np.prod(shape[2:]))
    w = rng.normal(size=c).astype(dtype)
    b = rng.normal(size=c).astype(dtype)
    g = rng.normal(size=shape).astype(dtype)
    rm = (x.reshape(n, c, s).astype(np.float64).mean(axis=(0, 2)) + 0.3 * rng.normal(size=c)).astype(dtype)
    rv = rng.uniform(0.5, 2.0, size=c).astype(dtype)
    channel = np.broadcast_to(np.arange(c)[None, :, None], (n, c, s)).reshape(-1)
    return (x, w, b, g, rm, rv), eval_truth(spec, x, w, b, rm, rv, g, EPS, channel)


def eval_outputs(name, shape, kind, dtype, kernels=None) -> dict:
    """One eval-mode case (running statistics, constants; the running
    estimates near the data): normalize and the eval backward (dx, dweight,
    dbias) beside the spec's eval formula at 50 digits.  ``kernels``: as
    for ``train_outputs``."""
    from symdl.runtime import normalization as RN

    (x, w, b, g, rm, rv), (y, dx, dw, db) = _eval_case(name, tuple(shape), kind, dtype)
    lay = RN.layout(name, shape)
    c = shape[1]
    k = RN.kernels(name) if kernels is None else kernels
    rows = np.tile(np.arange(c), lay["R"] // c)          # the running statistic of each group
    rstd = k.rstd(rv, EPS, dtype)[rows]
    yk = k.normalize(x, w, b, rm[rows], rstd, lay)
    ddx, ddw, ddb = k.backward(x, g, w, rm[rows], rstd, EPS, lay, eval_mode=True)
    return {"x": x, "outputs": [("eval forward", yk, y), ("eval dx", ddx, dx), ("eval dweight", ddw, dw),
                                ("eval dbias", ddb, db)]}


def errors(got, want, dtype):
    """(error relative to |want| + max|want| per element, failures of the
    bound): the measure the tests bound, rtol·(|want| + max|want|) + atol."""
    rtol, atol = BOUNDS[np.dtype(dtype).type]
    got = np.asarray(got, np.float64)
    scale = np.abs(want).max()
    err = np.abs(got - want)
    with np.errstate(all="ignore"):
        rel = np.where(err == 0, 0.0, err / (np.abs(want) + scale))
    bad = ~np.isfinite(got) | ~(err <= rtol * (np.abs(want) + scale) + atol)
    return rel, bad


# ------------------------------------------------------------ a check of a module's kernels
def forced_kernels(name, module, parallel: bool):
    """``runtime.normalization.NormKernels`` of ``module`` that run the serial
    (``parallel=False``) or the prange kernels at every size (the checks'
    cases are far below ``PARALLEL_MIN``)."""
    from symdl.runtime import normalization as RN

    class Forced(RN.NormKernels):
        def _call(self, kind, lay, dt, size):
            return super()._call(kind, lay, dt, 1 << 62 if parallel else 0)

    return Forced(name, module)


class NormBundle:
    """A normalization spec's generated module for ``check_normalization``:
    ``_module`` may be replaced (symdl.testing.mutants); ``kernels(parallel)``
    gives its NormKernels on one path."""

    def __init__(self, name: str):
        import importlib

        self.name = name
        self._module = importlib.import_module(f"symdl.generated.normalization.{name}")
        self._cache: dict = {}

    def kernels(self, parallel: bool):
        k = self._cache.get(parallel)
        if k is None:
            k = self._cache[parallel] = forced_kernels(self.name, self._module, parallel)
        return k


def norm_cases(name) -> list:
    """The checked cases of spec ``name``: ("training", shape, opts, kind) for
    CASES x KINDS and ("eval", shape, {}, kind) for EVAL_CASES x EVAL_KINDS."""
    return ([("training", sh, op, k) for n, sh, op in CASES if n == name for k in KINDS]
            + [("eval", sh, {}, k) for n, sh in EVAL_CASES if n == name for k in EVAL_KINDS])


def check_normalization(name, bundle=None, cases=None, dtypes=(np.float64, np.float32),
                        paths=("serial", "parallel")):
    """Every output of spec ``name``'s kernels (training forward, the saved
    mean, variance and rstd, dx, dweight, dbias, normalize; eval mode) on
    ``cases`` (default ``norm_cases``) in each dtype, through the serial and
    the prange kernels, against the truth (the tests' bound, ``errors``): a
    CheckResult with one Report per (case, output, dtype, path)."""
    from .bounds import CheckResult
    from .truth import point_report

    bundle = bundle or NormBundle(name)
    res = CheckResult()
    for mode, shape, opts, kind in (cases if cases is not None else norm_cases(name)):
        for dt in dtypes:
            for path in paths:
                k = bundle.kernels(path == "parallel")
                with np.errstate(all="ignore"):
                    run = (train_outputs(name, shape, opts, kind, dt, kernels=k) if mode == "training"
                           else eval_outputs(name, shape, kind, dt, kernels=k))
                for label, got, want in run["outputs"] + run.get("statistics", []):
                    rel, bad = errors(got, want, dt)
                    res.append(point_report(name, dt, f"{mode} {label} ({kind} {tuple(shape)}, {path})",
                                            got, want, rel, bad))
    return res
