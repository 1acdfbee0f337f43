"""f' and f'' kernels (generated/activations_d2.py) of every activation against
mpmath: the spec's definition differentiated once and twice by SymPy, at 50
digits, at the usual points (random, log-spaced 1e-8..1e4, 0, kinks and
their neighbours, ±700, ±1e3, ±inf, nan), float64 and float32; in float64
also the pure relative bound PURE_REL_F64 (sigmoid'' near 0 and
bent_identity'' far out held it only after the sigmoid_difference rule and
the measured choice of derivative form, symdl.derive.accuracy).

Conventions checked here: at a kink, f' takes the spec's declared value and
f'' the derivative of the branch the kernel-form f' takes there (torch's
double backward: relu'' = 0, elu''(0) = alpha); the derivatives of sign
(SymPy's DiracDelta) are 0.  Learnable parameters: d f'/d weight (prelu)
and d f'/d beta (swish) per element against SymPy.

Compile budget: one kernel per activation variant and dtype (the fused
forward_backward, serial -- the one symdl.nn.wgan_gp runs)."""
import math

import mpmath
import numpy as np
import pytest
import sympy as sp

import symdl.specs as S
from symdl.derive.second import derivative_spec, derive_second, drop_delta
from symdl.nn.penalty import second_derivative_kernel
from symdl.specs.functions import to_definition
from symdl.testing import DPS, compare, evaluate, pure_relative_failures, sample_points

x = S.x


def _pw(e):
    """Max/Min as Piecewise (their Heaviside derivatives have no mpmath form)."""
    return e.replace(lambda a: isinstance(a, (sp.Max, sp.Min)), lambda a: a.rewrite(sp.Piecewise))


def _subs(spec, params):
    out = {}
    for p in spec.real_params:
        v = float(params.get(p.name, p.default))
        out[p.symbol] = sp.Rational(v) if math.isfinite(v) else (sp.oo if v > 0 else -sp.oo)
    return out


def _removable(definition):
    """sinc's Piecewise((1, Eq(x, 0)), (sin(x)/x, True)): the general branch and
    the points where the definition only fills a removable singularity (its
    derivatives there are the general branch's limits, not the constant's 0)."""
    if isinstance(definition, sp.Piecewise) and all(
            isinstance(c, sp.Eq) and x in c.free_symbols for _, c in definition.args[:-1]):
        pts = [sp.solve(c.lhs - c.rhs, x)[0] for _, c in definition.args[:-1]]
        return definition.args[-1].expr, pts
    return definition, []


def truths(spec, variant, params, xs, noise=None):
    """{'d1': f' values, 'd2': f'' values} from the definition (not from the
    kernel forms), with the kink conventions."""
    subs = _subs(spec, params)
    definition, removable = _removable(_pw(to_definition(spec.definition(variant))))
    d1 = drop_delta(sp.diff(definition, x))
    d2 = drop_delta(sp.diff(d1, x))
    d1s, d2s = d1.subs(subs), d2.subs(subs)
    extra = {spec.noise_symbol: noise} if spec.noise else {}
    out = {"d1": evaluate(d1s, x, xs, extra), "d2": evaluate(d2s, x, xs, extra)}
    ds = derivative_spec(spec) if spec.kinks else None   # (derives the spec: only when needed)
    kinks = {}
    for k in spec.kinks:
        kv = sp.sympify(k).subs(subs)
        if not kv.is_number:
            continue
        # f' at the kink: the spec's declared (torch) value; f'': the
        # derivative of the branch the kernel-form f' takes there
        kinks[float(kv)] = (sp.sympify(spec.kink_derivative[k]).subs(subs),
                            sp.sympify(ds.kink_derivative.get(k, sp.nan)).subs(subs))
    for r in removable:
        kinks[float(r)] = (sp.limit(d1s, x, r), sp.limit(d2s, x, r))
    for i, xv in enumerate(xs):
        xv = float(xv)
        if xv in kinks:
            for key, val in zip(("d1", "d2"), kinks[xv]):
                if spec.noise:
                    val = val.subs(spec.noise_symbol, sp.Rational(float(noise[i])))
                out[key][i] = mpmath.mpf(sp.N(val, DPS)) if val.is_number and val != sp.nan else None
        if math.isinf(xv):
            for key, e in (("d1", d1s), ("d2", d2s)):
                if spec.noise:
                    e = e.subs(spec.noise_symbol, sp.Rational(float(noise[i])))
                out[key][i] = far_value(e, 1 if xv > 0 else -1)
    return out


def far_value(e, sign):
    """The truth at ±inf, numerically: e at ±1e20 when e at ±2e20 agrees
    (every limit here is approached exponentially or like a power of 1/x,
    far below float precision at 1e20); beyond the float range both: ±inf;
    not real far out: nan; no agreement (an oscillation): None, not
    compared.  (sp.limit gave the same values at ~10x the cost.)"""
    a, b = evaluate(e, x, [sign * 1e20, sign * 2e20])
    if mpmath.isnan(a) or mpmath.isnan(b):
        return mpmath.nan if mpmath.isnan(a) and mpmath.isnan(b) else None
    big = mpmath.mpf(np.finfo(np.float64).max)
    if abs(a) > big and abs(b) > big and mpmath.sign(a) == mpmath.sign(b):
        return mpmath.inf * mpmath.sign(a)
    tol = mpmath.mpf(10) ** -30 * max(1, abs(a)) + mpmath.mpf(10) ** -40
    if abs(a - b) > tol:
        return None
    # decaying to 0 (1e-60 at 1e20 for a 1/x^3 tail): the limit is 0, not a
    # tiny value whose relative error would fill the accuracy report
    return mpmath.mpf(0) if abs(a) < mpmath.mpf(10) ** -30 and abs(b) <= abs(a) else a


def points(spec, params, thin=2):
    """(float32 points, float64 points): the float64 run takes the float32
    points (exact in float64) plus float64's own kink neighbours, so one
    mpmath truth serves both dtypes.  The truth's budget: 64/(2 thin) random
    points and every thin-th log-spaced magnitude (thin=2 for a spec's
    defaults, 4 for its extra test parameters)."""
    p32 = sample_points(spec, params, np.float32, n_random=64 // (2 * thin))
    mags = np.logspace(-8, 4, 49)
    drop = np.setdiff1d(mags, mags[::thin]).astype(np.float32)
    p32 = p32[~np.isin(np.abs(p32), drop)]
    subs = _subs(spec, params)
    near = []
    for k in spec.kinks:
        kv = sp.sympify(k).subs(subs)
        if kv.is_number:
            near += [np.nextafter(float(kv), np.inf), np.nextafter(float(kv), -np.inf)]
    return p32, np.concatenate([p32[:-3].astype(np.float64), near, p32[-3:].astype(np.float64)])


CASES = []
for spec in S.all_specs("activation"):
    for variant in spec.variants():
        for params in ({},) + tuple(spec.test_params):
            label = ",".join(f"{k}={v}" for k, v in {**variant, **params}.items())
            CASES.append(pytest.param(spec, variant, params,
                                      id=f"{spec.name}[{label}]" if label else spec.name))


@pytest.mark.parametrize("spec,variant,params", CASES)
def test_second_derivative_against_mpmath(spec, variant, params, accuracy_reports):
    bundle = second_derivative_kernel(spec.name, **variant, **params)
    label = ",".join(f"{k}={v}" for k, v in {**variant, **params}.items())
    name = f"{spec.name}({label})" if label else spec.name
    bad = []
    p32, p64 = points(spec, params, thin=4 if params else 2)
    noise = None
    if spec.noise:   # rrelu's slopes, exact in float32 (one truth for both dtypes)
        noise = np.random.default_rng(1).uniform(0.125, 1 / 3, p64.size).astype(np.float32).astype(np.float64)
    n32 = p32.size - 3
    # one truth for both: p64 = p32's finite points, float64 extras, then inf, -inf, nan
    t = truths(spec, variant, params, p64, noise)
    for dt in (np.float64, np.float32):
        idx = np.arange(p64.size) if dt is np.float64 else np.r_[0:n32, p64.size - 3:p64.size]
        xs = p64[idx].astype(dt)
        kw = {"noise": noise[idx].astype(dt)} if spec.noise else {}
        tt = {k: [v[i] for i in idx] for k, v in t.items()}
        res = bundle.forward_backward(xs, np.ones_like(xs), **kw)
        d1, d2 = res[0], res[1]
        assert d1.dtype == d2.dtype == dt
        for which, got, truth in (("f'", d1, tt["d1"]), ("f''", d2, tt["d2"])):
            r = compare(name, which, xs, got, truth, dt)
            accuracy_reports.append(r)
            if r.failures:
                bad.append(f"{r}: {r.failures[:6]}")
            bad += pure_relative_failures([r])
    assert not bad, "\n".join(bad)


LEARNABLE = [pytest.param(s, p, id=f"{s.name}.{p.name}") for s in S.all_specs("activation")
             for p in s.learnable]


@pytest.mark.parametrize("spec,param", LEARNABLE)
def test_learnable_parameter_derivative(spec, param):
    """d f'/d w per element (one-element calls: the bundle sums over the
    elements) against SymPy's derivative of the definition, float64."""
    values = [{}] + [dict(t) for t in spec.test_params]
    rng = np.random.default_rng(5)
    xs = np.concatenate([rng.normal(0, 3, 12), [0.0, -0.0, 1e-8, -1e-8, 30.0, -30.0]])
    for params in values:
        subs = _subs(spec, params)
        d1 = drop_delta(sp.diff(_pw(to_definition(spec.definition())), x))
        dw = sp.diff(d1, param.symbol).subs(subs)
        truth = evaluate(dw, x, xs)
        bundle = second_derivative_kernel(spec.name, **params)
        got = [bundle.forward_backward(np.array([v]), np.ones(1))[2] for v in xs]
        for xv, g, t in zip(xs, got, truth):
            if xv == 0.0 and spec.kinks:   # the kernel-form branch at the kink (x <= 0 here)
                t = evaluate(dw, x, [-1e-300])[0]
            assert abs(float(g) - t) <= 1e-12 * abs(t) + 1e-15, (spec.name, params, xv, float(g), t)


def test_kink_second_derivatives_follow_the_branch():
    """relu'' = 0 everywhere, elu''(0) = alpha (the x <= 0 branch), as torch's
    double backward; softsign''(0) = 0 (sign's derivative is 0)."""
    assert derivative_spec(S.get("relu")).kink_derivative == {0: 0}
    alpha = S.get("elu").param("alpha").symbol
    assert derivative_spec(S.get("elu")).kink_derivative == {0: alpha}
    k = second_derivative_kernel("elu", alpha=0.5)
    d1, d2 = k.forward_backward(np.array([0.0, 1.0, -1.0]), np.ones(3))
    np.testing.assert_allclose(d1, [0.5, 1.0, 0.5 * math.exp(-1)], rtol=1e-15)
    np.testing.assert_allclose(d2, [0.5, 0.0, 0.5 * math.exp(-1)], rtol=1e-15)
    d1, d2 = second_derivative_kernel("softsign").forward_backward(np.array([0.0]), np.ones(1))
    assert d1[0] == 1.0 and d2[0] == 0.0


def test_derivations_come_from_the_engine():
    """The f'' the kernels evaluate is sympy.diff of the kernel-form f' (the
    first-order kernels' derivative), up to the sinh_tanh rule."""
    from symdl.derive.elementwise import derive
    for name in ("tanh", "softplus"):
        spec = S.get(name)
        d = derive(spec)
        d2 = derive_second(derivative_spec(spec))
        assert sp.simplify(to_definition(d2.forward - d.dx)) == 0
        subs = _subs(spec, {})
        want = to_definition(sp.diff(d.dx, x)).subs(subs)
        got = to_definition(d2.dx).subs(subs)
        for v in (-3.5, -0.25, 0.5, 2.0):
            v = sp.Rational(v)
            assert abs(sp.N((got - want).subs(x, v), 30)) < 1e-25, (name, v)
