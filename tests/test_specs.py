"""Proofs about the specs themselves: every declared stable form equals its
definition (and so do their derivatives); each primitive's stable
implementation and derived derivative equal its definition; the kernel-form
derivative takes the declared (torch) value at every kink."""
import math

import mpmath
import numpy as np
import pytest
import sympy as sp

import symdl.specs as S
from symdl.codegen.printer import Lets, expand_primitives
from symdl.derive.elementwise import derive, derive_all
from symdl.derive.timeout import TimeLimit, time_limit
from symdl.specs.functions import PRIMITIVES, cosh_implementation, to_definition
from symdl.testing import evaluate

x = S.x
POINTS = sorted(set(
    [float(v) for v in np.random.default_rng(7).normal(0, 4, 60)]
    + [s * 10.0 ** k for s in (1, -1) for k in np.linspace(-6, 2.5, 25)]
    + [0.3, -0.3, 0.5, -0.5, 0.75, -0.75, 1.5, -1.5, 2.5, -2.5, 3.5, -3.5, 6.5]))


def defaults(spec):
    return {p.symbol: sp.Rational(p.default) for p in spec.real_params
            if math.isfinite(p.default)} | {p.symbol: sp.oo for p in spec.real_params
                                             if not math.isfinite(p.default)}


def param_sets(spec):
    sets = [{}] + [dict(t) for t in spec.test_params]
    out = []
    for ps in sets:
        subs = defaults(spec)
        for k, v in ps.items():
            subs[spec.param(k).symbol] = sp.Rational(v)
        out.append(subs)
    return out


def assert_equal_numerically(a, b, subs, label, rtol=mpmath.mpf("1e-30")):
    a, b = to_definition(a).subs(subs), to_definition(b).subs(subs)
    va, vb = evaluate(a, x, POINTS), evaluate(b, x, POINTS)
    compared = 0
    for p, u, v in zip(POINTS, va, vb):
        if mpmath.isnan(u) or mpmath.isnan(v):
            continue  # singular set / outside the domain
        compared += 1
        if mpmath.isinf(u) or mpmath.isinf(v):
            assert u == v, f"{label} differs at x={p}: {u} vs {v}"
            continue
        assert abs(u - v) <= rtol * max(1, abs(u)), f"{label} differs at x={p}: {u} vs {v}"
    assert compared >= len(POINTS) // 2, f"{label}: only {compared} comparable points"


STABLE = [pytest.param(s, v, id=f"{s.name}{v or ''}") for s in S.all_specs("activation") if s.stable is not None
          for v in s.variants()]


@pytest.mark.parametrize("spec,variant", STABLE)
def test_stable_form_equals_definition(spec, variant):
    stable, definition = spec.stable_form(variant), spec.definition(variant)
    for subs in param_sets(spec):
        assert_equal_numerically(stable, definition, subs, f"{spec.name} stable form")
        assert_equal_numerically(sp.diff(stable, x), sp.diff(to_definition(definition), x), subs,
                                 f"{spec.name} derivative of the stable form")


ALL = [pytest.param(d, id=d.key) for s in S.all_specs("activation") for d in derive_all(s)]


@pytest.mark.parametrize("d", ALL)
def test_kernel_forms_equal_definition(d):
    """What the kernels evaluate (stable form + rules + series branch) is the
    definition and its derivative, away from the singular set."""
    spec = d.spec
    for subs in param_sets(spec)[:2]:
        if spec.noise:
            subs = {**subs, spec.noise_symbol: sp.Rational(1, 5)}
        series = spec.series is not None
        tol = mpmath.mpf("1e-16") if series else mpmath.mpf("1e-30")  # Taylor truncation bound
        assert_equal_numerically(d.forward, d.definition, subs, f"{d.key} forward", tol)
        assert_equal_numerically(d.dx, d.raw_dx, subs, f"{d.key} derivative", tol)
        for name, e in d.dparams.items():
            assert_equal_numerically(e, sp.diff(d.definition, spec.param(name).symbol), subs,
                                     f"{d.key} d/d{name}")


KINKS = [pytest.param(s, k, v, id=f"{s.name}@{k}") for s in S.all_specs("activation")
         for k, v in s.kink_derivative.items()]


@pytest.mark.parametrize("spec,kink,value", KINKS)
def test_kink_convention(spec, kink, value):
    """The derived derivative takes the declared (torch) value at each kink,
    for the default parameters and every tested parameter set."""
    for d in derive_all(spec):
        for subs in param_sets(spec):
            at = sp.sympify(kink).subs(subs)
            got = d.dx.subs(subs).subs(x, at)
            want = sp.sympify(value).subs(subs)
            assert sp.simplify(got - want) == 0, f"{spec.name}'({at}) = {got}, declared {want}"


@pytest.mark.parametrize("prim", PRIMITIVES, ids=lambda p: p.__name__)
def test_primitive_implementation_and_derivative(prim):
    u = sp.Symbol("u", real=True)
    lets = Lets()
    impl = prim.implementation(u, lets)
    for s, v in lets.items():
        impl = impl.subs(s, v)
    pts = [-800.0, -40.0, -1.5, -1e-9, 0.0, 1e-9, 0.7, 40.0, 800.0]
    a = evaluate(impl.subs(u, x), x, pts)
    b = evaluate(prim.definition(u).subs(u, x), x, pts)
    for p, va, vb in zip(pts, a, b):
        assert abs(va - vb) <= mpmath.mpf("1e-30") * abs(vb) + mpmath.mpf(10) ** -400, (prim, p)
    derived = sp.diff(prim(u), u)
    direct = sp.diff(prim.definition(u), u)
    a = evaluate(to_definition(derived).subs(u, x), x, pts)
    b = evaluate(direct.subs(u, x), x, pts)
    for p, va, vb in zip(pts, a, b):
        assert abs(va - vb) <= mpmath.mpf("1e-30") * abs(vb) + mpmath.mpf(10) ** -400, (prim, p)


def test_cosh_implementation():
    lets = Lets()
    impl = cosh_implementation(x, lets)
    for s, v in lets.items():
        impl = impl.subs(s, v)
    pts = [-800.0, -3.0, -1e-9, 0.0, 2.0, 800.0]
    for p, u, v in zip(pts, evaluate(impl, x, pts), evaluate(sp.cosh(x), x, pts)):
        assert abs(u - v) <= mpmath.mpf("1e-30") * abs(v), p


def test_every_catalog_activation_is_specified():
    catalog = """identity binary_step sign sigmoid tanh hardtanh arctan softsign isru isrlu sqnl relu
    relu6 leaky_relu prelu rrelu elu selu celu gelu gelu_sigmoid silu swish mish softplus
    logsigmoid hardsigmoid hardswish softshrink hardshrink tanhshrink threshold bent_identity
    soft_exponential soft_clipping sinusoid sinc gaussian squareplus""".split()
    assert sorted(s.name for s in S.all_specs("activation")) == sorted(catalog)


def test_torch_defaults_match_catalog():
    assert S.get("leaky_relu").param("negative_slope").default == 0.01
    assert S.get("elu").param("alpha").default == 1.0
    assert S.get("softshrink").param("lambd").default == 0.5
    assert S.get("hardtanh").param("min_val").default == -1.0
    assert S.get("rrelu").param("lower").default == 1 / 8
    assert S.get("rrelu").param("upper").default == 1 / 3
    assert S.get("squareplus").param("b").default == 4.0
    assert S.get("gelu").param("approximate").choices == ("none", "tanh")


def _engine_candidates(d):
    """What the derivation engine makes of d's spec: sympy.diff of the
    stabilized forward form, simplified by the rules; or (the engine measures
    both) the same of the definition (its general branch for a series spec)."""
    from symdl.derive.elementwise import _general_branch, simplify_stable
    from symdl.derive.rules import stabilize
    spec = d.spec
    base = spec.stable_form(d.variant)
    base = d.definition if base is None else base
    general = _general_branch(d.definition) if spec.series is not None else d.definition
    return {simplify_stable(sp.diff(stabilize(base), x)), simplify_stable(sp.diff(general, x))}


def _generated_lines(d):
    """The stripped source lines of the generated module holding d's kernels
    (found through the registry, as the runtime finds it)."""
    import pathlib
    from symdl.registry import metadata
    path = pathlib.Path(metadata(d.spec.name)[1].__file__)
    return [ln.strip() for ln in path.read_text().splitlines()]


def _contains_block(lines, block):
    n = len(block)
    return any(lines[i:i + n] == block for i in range(len(lines) - n + 1))


def test_derivatives_are_derived_not_typed():
    """The kernel derivative of every spec is the derivation engine's output
    -- sympy.diff of its forward form, simplified by the rules (the
    expression itself, not only its values) -- and the code in the spec's
    generated module is exactly the printer's rendering of that expression
    (so no derivative was typed into a spec or a generated file)."""
    from symdl.codegen.render import kernel_source
    from symdl.codegen.targets import elementary_available
    elementary = elementary_available()
    for spec in S.all_specs("activation"):
        for d in derive_all(spec):
            lines = _generated_lines(d)
            dx = d.dx.args[-1][0] if spec.series is not None else d.dx   # the general branch
            assert dx in _engine_candidates(d), f"{d.key}: d/dx is not the engine's output"
            assert d.raw_dx == sp.diff(d.definition, x)
            if spec.series is None:
                for subs in param_sets(spec)[:1]:
                    if spec.noise:
                        subs = {**subs, spec.noise_symbol: sp.Rational(1, 5)}
                    assert_equal_numerically(d.dx, d.raw_dx, subs, spec.name)
            ks = kernel_source(d, elementary)
            for dt in ("f32", "f64"):
                for kind in ("bwd", "fb"):
                    block = [ln.strip() for ln in ks.__dict__[kind][dt].splitlines()]
                    assert _contains_block(lines, block), \
                        f"{d.key} {kind} {dt}: the generated module does not hold the engine's derivative"
