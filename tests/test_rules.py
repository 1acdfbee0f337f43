"""Each stabilization rule on its own: it fires on its pattern, lowers the
cost, and its rewrite equals its input (at high precision, incl. far out)."""
import mpmath
import pytest
import sympy as sp

from symdl.derive import rules as R
from symdl.specs.functions import prod_err
from symdl.testing import evaluate

x = sp.Symbol("x", real=True)
k = sp.Symbol("k", positive=True)  # a parameter: rules see structure, not merged numbers
a = k
K = sp.Rational(3, 7)

CASES = [
    (R.SOFTPLUS, sp.log(1 + sp.exp(2 * x))),
    (R.LOG_SIGMOID, sp.log(sp.Function("sigmoid")(x)) if False else None),
    (R.SIGMOID, sp.exp(-x) / (1 + sp.exp(-x)) ** 2),
    (R.SIGMOID, x / (1 + sp.exp(-a * x))),
    (R.EXPM1, a * (sp.exp(x) - 1)),
    (R.EXPM1, (sp.exp(a * x) - 1) / a + a),
    (R.LOG1P, sp.log(1 - a * (x + a))),
    (R.SECH2, 1 - sp.tanh(x) ** 2),
    (R.SECH2, 3 - 3 * sp.tanh(a * x) ** 2),
    (R.SQRT1PM1, sp.sqrt(x**2 + 1) - 1),
    (R.SIGN_ABS, -x * sp.sign(x) / (sp.Abs(x) + 1) ** 2 + 1 / (sp.Abs(x) + 1)),
    (R.TRIG_PRODUCT, sp.sin(a * x)),
    (R.TRIG_PRODUCT, sp.cos(a * x)),
    (R.SINH_TANH, -(2 * x * sp.sinh(x) - 3 * sp.cosh(x)) / sp.cosh(x) ** 3),
    (R.SCALED_EXP, a * sp.exp(a * x)),
    (R.SIGMOID_DIFFERENCE, None),
]


def _log_sigmoid_case():
    from symdl.specs.functions import sigmoid
    return sp.log(sigmoid(x))


def _sigmoid_difference_case():
    from symdl.specs.functions import sigmoid
    # sigmoid'' as SymPy derives it, times a parameter, plus an unrelated term
    return (sigmoid(-a * x) - sigmoid(a * x)) * sigmoid(a * x) * sigmoid(-a * x) + x * sigmoid(2 * x)


CASES[1] = (R.LOG_SIGMOID, _log_sigmoid_case())
CASES[-1] = (R.SIGMOID_DIFFERENCE, _sigmoid_difference_case())
PTS = [-700.0, -40.0, -3.0, -0.5, -1e-7, 1e-7, 0.25, 1.0, 2.0, 40.0, 700.0]


@pytest.mark.parametrize("rule,expr", CASES, ids=[f"{r.name}-{i}" for i, (r, _) in enumerate(CASES)])
def test_rule(rule, expr):
    assert rule.hazards(expr) > 0, "pattern not recognised"
    out = rule(expr)
    assert out != expr
    assert R.cost(out) < R.cost(expr)
    assert rule.hazards(out) == 0
    va, vb = evaluate(expr.subs(k, K), x, PTS), evaluate(out.subs(k, K), x, PTS)
    for p, u, v in zip(PTS, va, vb):
        if mpmath.isnan(u):
            continue
        assert not mpmath.isnan(v), (p, u, v)
        assert abs(u - v) <= mpmath.mpf("1e-30") * abs(u) + mpmath.mpf(10) ** -300, (p, u, v)


def test_every_rule_has_a_case():
    assert {r.name for r, _ in CASES} == {r.name for r in R.RULES + R.SECOND_RULES}


def test_second_derivative_rules_with_a_parameter_of_either_sign():
    """sinh_tanh and scaled_exp (the second-derivative rules) are identities,
    scaled_exp also for a negative or small factor."""
    from symdl.specs.functions import to_definition
    u = sp.Symbol("u", real=True)
    al = sp.Symbol("alpha", real=True)
    e = -(2 * u * sp.sinh(u) - 3 * sp.cosh(u)) / sp.cosh(u) ** 3
    r = R.SINH_TANH(e)
    assert not r.has(sp.sinh)
    e2 = al * sp.exp(al * u) + sp.exp(u / al) / al
    r2 = R.SCALED_EXP(e2)
    assert r2 != e2
    for v in (-40, sp.Rational(-3, 2), sp.Rational(3, 10), 7):
        assert abs(sp.N((e - r).subs(u, v), 40)) < 1e-35
        for av in (sp.Rational(1, 2), -3, 2):
            assert abs(sp.N(to_definition(e2 - r2).subs({u: v, al: av}), 40)) < 1e-30 * abs(sp.N(e2.subs({u: v, al: av})))


def test_stabilize_leaves_stable_expressions_alone():
    for e in (x**2 + 1, sp.exp(x) * x, sp.log(x)):
        assert R.stabilize(e) == e


def test_prod_err_is_zero_in_the_truth_and_exact_in_the_kernel():
    """prod_err(a, b) is 0 in real arithmetic: the ground truth of
    sin(a·x + prod_err(a, x)) is sin(a·x) at 60 digits, and its derivative is
    the derivative of sin(a·x); in a kernel it is the exact rounding error
    of the product: fl(a·b) + err == a·b exactly (as rationals), both dtypes."""
    from fractions import Fraction

    import numpy as np

    from symdl.runtime.eft import two_prod_err_f32, two_prod_err_f64
    e = sp.sin(3 * x + prod_err(3, x))
    for v in (0.1, 1e5 + 0.3, -7.25e8):
        got, want = evaluate(e, x, [v])[0], evaluate(sp.sin(3 * x), x, [v])[0]
        assert got == want
    assert sp.diff(e, x) == 3 * sp.cos(3 * x + prod_err(3, x))
    rng = np.random.default_rng(2)
    for dt, fn in ((np.float64, two_prod_err_f64), (np.float32, two_prod_err_f32)):
        for _ in range(200):
            p, q = (dt(v) for v in rng.normal(0, 1e3, 2))
            err = fn(p, q)
            assert Fraction(float(dt(p * q))) + Fraction(float(err)) == Fraction(float(p)) * Fraction(float(q))


def test_printer_implements_a_bare_cosh_with_one_exp():
    """cosh(u) (not a power of it, no erfc beside it) prints as one exp of
    -|u| that runs: finite, exact at 0, inf only past overflow."""
    import math

    import numpy as np

    from symdl.codegen.printer import print_block

    xs = sp.Symbol("x", real=True)
    for extra in (0, sp.erfc(xs) * sp.exp(-xs ** 2)):
        lines, used = print_block({"y_": sp.cosh(xs) + extra}, "f64", {}, frozenset({"exp", "erfc", "expmsq"}))
        assert not any("cosh" in ln for ln in lines), lines
        assert "exp_f64" in used
    lines, _ = print_block({"y_": sp.cosh(xs)}, "f64", {}, frozenset())
    env = {"np": np}
    for v, want in ((0.0, 1.0), (3.0, math.cosh(3.0)), (-700.0, math.cosh(700.0))):
        scope = dict(env, x=v)
        with np.errstate(over="ignore"):
            exec("\n".join(lines), scope)  # no elementary functions: NumPy's exp
        assert scope["y_"] == pytest.approx(want, rel=1e-15)


def test_sigmoid_difference_keeps_tiny_arguments_accurate():
    """sigmoid(-u) - sigmoid(u) is -tanh(u/2): at u = 1e-9 the difference of
    two numbers near 1/2 would keep ~7 of its 16 digits; tanh keeps all."""
    from symdl.specs.functions import sigmoid
    u = sp.Symbol("u", real=True)
    c = sp.Symbol("c", real=True)
    out = R.SIGMOID_DIFFERENCE(c * sigmoid(u) - c * sigmoid(-u) + 1)
    assert out == c * sp.tanh(u / 2) + 1
    assert R.SIGMOID_DIFFERENCE.hazards(sigmoid(u) + sigmoid(-u)) == 0   # a sum: no cancellation
    assert R.SIGMOID_DIFFERENCE.hazards(sigmoid(u) - sigmoid(-2 * u)) == 0
