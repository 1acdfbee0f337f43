"""Ground truth for kernels: the spec evaluated by mpmath at high precision.

Used by symdl's own tests and available to users for their own specs
(``symdl generate --spec-file`` renders them; ``check_activation`` proves
them).  Imports SymPy and mpmath.
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field

import mpmath
import numpy as np
import sympy as sp

from symdl.derive.timeout import TimeLimit, time_limit
from symdl.specs.functions import to_definition

from symdl.derive.exact import DPS, _compiled, _eval_point, _mp, evaluate  # noqa: E402,F401  (moved: derive uses it)
#: |kernel - truth| <= rtol*|truth| + atol
BOUNDS = {np.dtype(np.float64): (1e-12, 1e-15), np.dtype(np.float32): (1e-5, 1e-6)}
#: float64 kernels also keep this *pure* relative error wherever the true
#: value is a normal number (no absolute slack near 0 or for tiny values)
PURE_REL_F64 = 1e-12


def pure_relative_failures(reports) -> list:
    """The float64 reports whose worst pure relative error exceeds PURE_REL_F64."""
    return [f"{r} (pure relative bound {PURE_REL_F64:g})" for r in reports
            if r.dtype == "float64" and r.worst_rel > PURE_REL_F64]


def map_loops(f):
    """Serial and prange Numba loops ``out[i] = f(x[i])`` over a scalar jitted
    ``f`` (how the tests and benchmarks see an elementary function inlined and
    vectorized in a caller's loop).  Compiled on first call, not cached."""
    from numba import njit, prange

    @njit(error_model="numpy")
    def ser(x, out):
        for i in range(x.shape[0]):
            out[i] = f(x[i])

    @njit(error_model="numpy", parallel=True)
    def par(x, out):
        for i in prange(x.shape[0]):
            out[i] = f(x[i])
    return ser, par


def sample_points(spec, params: dict, dtype, n_random=96, seed=0) -> np.ndarray:
    """Random, log-spaced (1e-8..1e4, both signs), 0, kinks (and their float
    neighbours), the overflow edges of exp (±700, ±1e3), ±inf and nan."""
    dtype = np.dtype(dtype)
    rng = np.random.default_rng(seed)
    mags = np.logspace(-8, 4, 49)
    pts = [rng.normal(0, 3, n_random // 2), rng.uniform(-30, 30, n_random // 2),
           mags, -mags, [0.0, -0.0, 700.0, -700.0, 1e3, -1e3, 0.5, -0.5, 1.0, -1.0, 2.0, -2.0]]
    subs = {spec.param(k).symbol: v for k, v in params.items() if spec.param(k).kind == "real"
            and not isinstance(v, (list, tuple, np.ndarray))}
    kinks = []
    for k in spec.kinks:
        v = sp.sympify(k).subs(subs)
        if v.is_number:
            kinks.append(float(v))
    for k in kinks:
        kd = dtype.type(k)
        pts.append([kd, np.nextafter(kd, dtype.type(np.inf)), np.nextafter(kd, dtype.type(-np.inf))])
    if spec.series is not None:
        x0, r = (float(v) for v in spec.series)
        pts.append([x0 + r, x0 - r, x0 + r * 0.999, x0 - r * 0.999, x0 + r * 1.001, x0 - r * 1.001])
    xs = np.concatenate([np.asarray(p, dtype=np.float64) for p in pts]).astype(dtype)
    return np.concatenate([xs, np.array([np.inf, -np.inf, np.nan], dtype=dtype)])


def limit_at(expr, x, direction):
    try:
        with time_limit(20):
            v = sp.limit(to_definition(expr), x, direction)
    except (TimeLimit, NotImplementedError, ValueError, TypeError):
        return None
    if v.has(sp.AccumBounds, sp.Limit, sp.nan, sp.zoo, sp.I):
        return None
    if v == sp.oo:
        return math.inf
    if v == -sp.oo:
        return -math.inf
    return float(v) if v.is_number else None


@dataclass
class Report:
    name: str
    dtype: str
    which: str
    worst_rel: float = 0.0
    worst_at: float = float("nan")
    failures: list = field(default_factory=list)
    n: int = 0

    def __str__(self):
        return (f"{self.name} {self.which} {self.dtype}: worst relative error {self.worst_rel:.2e} "
                f"at x={self.worst_at!r} over {self.n} points; {len(self.failures)} failure(s)")


def point_report(name, dtype, which, got, want, rel, bad, at=None, nan_rel=np.inf) -> Report:
    """A Report of a whole array checked at once: ``rel`` the per-point
    relative errors (a nan counts as ``nan_rel``), ``bad`` where the bound
    failed; a point is named by ``at`` (default: its flat index)."""
    want = np.asarray(want)
    rep = Report(name, np.dtype(dtype).name, which, n=int(want.size))
    r = np.nan_to_num(np.asarray(rel, np.float64).reshape(-1), nan=nan_rel)
    at = np.arange(r.size) if at is None else np.asarray(at).reshape(-1)
    if r.size:
        j = int(np.argmax(r))
        rep.worst_rel, rep.worst_at = float(r[j]), at[j].item()
    g, w = np.asarray(got, np.float64).reshape(-1), want.reshape(-1)
    rep.failures = [(at[j].item(), float(g[j]), float(w[j]), "bound")
                    for j in np.flatnonzero(np.asarray(bad).reshape(-1))]
    return rep


def compare(name, which, xs, got, truth, dtype) -> Report:
    """Compare kernel values ``got`` with mpmath ``truth`` (list of mpf)."""
    dtype = np.dtype(dtype)
    rtol, atol = BOUNDS[dtype]
    big = float(np.finfo(dtype).max)
    rep = Report(name, dtype.name, which, n=len(xs))
    for xv, g, t in zip(xs, got, truth):
        g = float(g)
        if t is None:
            continue
        if mpmath.isnan(t):
            if not math.isnan(g):
                rep.failures.append((float(xv), g, "nan"))
            continue
        if mpmath.isinf(t) or math.isinf(float(t)) or abs(t) > mpmath.mpf(big):
            tv = math.inf if t > 0 else -math.inf
            if g != tv:
                rep.failures.append((float(xv), g, tv))
            continue
        tf = float(t)
        if not math.isfinite(g):
            rep.failures.append((float(xv), g, tf))
            continue
        err = abs(mpmath.mpf(g) - t)
        if err > rtol * abs(t) + atol:
            rep.failures.append((float(xv), g, tf))
        if abs(t) > 0:
            rel = float(err / abs(t))
            # report pure relative error where the value is representable
            if abs(t) > float(np.finfo(dtype).tiny) and rel > rep.worst_rel:
                rep.worst_rel, rep.worst_at = rel, float(xv)
    return rep


def truths(spec, variant, params, xs, noise=None):
    """{'forward': [...], 'dx': [...]} truths at xs for the given param values."""
    x = spec.x
    definition = spec.definition(variant)
    subs = {}
    for p in spec.real_params:
        v = params.get(p.name, p.default)
        if not p.learnable or np.ndim(v) == 0:
            subs[p.symbol] = sp.Rational(float(v)) if math.isfinite(float(v)) else (
                sp.oo if float(v) > 0 else -sp.oo)
    f = definition.subs(subs)
    extra = {}
    if spec.noise:
        extra = {spec.noise_symbol: noise}
    d = sp.diff(to_definition(definition), x).subs(subs)
    kinks = {}
    for k, v in spec.kink_derivative.items():
        kv = sp.sympify(k).subs(subs)
        if kv.is_number:
            kinks[float(kv)] = sp.sympify(v).subs(subs)
    out = {"forward": evaluate(f, x, xs, extra), "dx": evaluate(d, x, xs, extra)}
    for i, xv in enumerate(xs):
        xv = float(xv)
        if xv in kinks:
            val = kinks[xv]
            if spec.noise:
                val = val.subs(spec.noise_symbol, sp.Rational(float(noise[i])))
            out["dx"][i] = mpmath.mpf(sp.N(val, DPS)) if val.is_number else None
        if math.isinf(xv):
            for key, e in (("forward", f), ("dx", d)):
                if spec.noise:
                    e = e.subs(spec.noise_symbol, sp.Rational(float(noise[i])))
                # outside the real domain far out (soft_exponential, alpha < 0)?
                far = evaluate(e, x, [1e300 if xv > 0 else -1e300])[0]
                if mpmath.isnan(far):
                    out[key][i] = mpmath.nan
                    continue
                lim = limit_at(e, x, sp.oo if xv > 0 else -sp.oo)
                out[key][i] = None if lim is None else mpmath.mpf(lim)
    return out


def check_activation(spec, bundle, variant=None, params=None, dtypes=(np.float64, np.float32)) -> list:
    """Compare a kernel bundle with its spec at ``sample_points``; returns Reports."""
    params = params or {}
    variant = variant or {}
    reports = []
    for dt in dtypes:
        xs = sample_points(spec, params, dt)
        noise = None
        kw = {}
        if spec.noise:
            rng = np.random.default_rng(1)
            lo, hi = params.get("lower", spec.param("lower").default), params.get("upper", spec.param("upper").default)
            noise = rng.uniform(lo, hi, xs.size).astype(dt)
            kw = {"noise": noise}
        t = truths(spec, variant, params, xs, noise)
        y = bundle.forward(xs, **kw)
        dx = bundle.backward(xs, np.ones_like(xs), **kw)
        if isinstance(dx, tuple):
            dx = dx[0]
        reports.append(compare(spec.name, "forward", xs, y, t["forward"], dt))
        reports.append(compare(spec.name, "derivative", xs, dx, t["dx"], dt))
    return reports
