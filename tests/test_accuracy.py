"""symdl.derive.accuracy: the measured choice between the derivative of a
spec's stable form and the derivative of its definition."""
import math

import sympy as sp

import symdl.specs as S
from symdl.derive import accuracy
from symdl.derive.elementwise import derive, simplify_stable
from symdl.derive.rules import cost

x = S.x


def test_cancelling_form_measures_inaccurate():
    """1 - cos(x) at x = 1e-4 keeps ~8 digits: the probe sees it, and the
    equal form 2 sin(x/2)^2 measures exact."""
    bad = 1 - sp.cos(x)
    good = 2 * sp.sin(x / 2) ** 2
    assert accuracy.max_error(bad, bad, x, [{}]) > 1e-9
    assert accuracy.max_error(good, bad, x, [{}]) < 1e-14
    assert accuracy.prefer(bad, good, bad, x, [{}], cost)
    assert not accuracy.prefer(good, bad, bad, x, [{}], cost)


def test_overflowing_form_is_never_preferred():
    """A form that overflows where the truth is finite measures inf."""
    truth = sp.exp(x) / (1 + sp.exp(x))
    assert math.isinf(accuracy.max_error(truth, truth, x, [{}]))
    assert not accuracy.prefer(1 / (1 + sp.exp(-x)), truth, truth, x, [{}], cost)


def test_cheaper_form_needs_about_equal_accuracy():
    a = S.get("isru").param("a").symbol
    long = x**2 * a / (a * x**2 + 1) ** sp.Rational(3, 2) * -1 + 1 / sp.sqrt(a * x**2 + 1)
    short = (a * x**2 + 1) ** sp.Rational(-3, 2)
    subs = [{a: sp.Integer(1)}]
    # equal accuracy is not required of the current form; the short one is exact and cheaper
    assert accuracy.prefer(long, short, short, x, subs, cost)
    # about as accurate but not cheaper enough: keep the current
    assert not accuracy.prefer(short, short * 1, short, x, subs, cost)


def test_engine_adopts_the_measured_forms():
    """isru and bent_identity differentiate their definitions (26 -> 6 and
    25 -> 7 operations); squareplus keeps its stable form's derivative (the
    definition's (1 + x/sqrt(x^2 + b))/2 cancels for large negative x)."""
    for name in ("isru", "bent_identity"):
        d = derive(S.get(name))
        assert [r for r, *_ in d.trace].count("measured accuracy") == 1, name
        assert cost(d.dx) <= 7
    sq = S.get("squareplus")
    d = derive(sq)
    assert "measured accuracy" not in [r for r, *_ in d.trace]
    alt = simplify_stable(sp.diff(sq.definition(), x))
    params = accuracy.param_sets(sq)
    assert accuracy.max_error(alt, sp.diff(sq.definition(), x), x, params) > 1e-9
    assert accuracy.max_error(d.dx, sp.diff(sq.definition(), x), x, params) < 1e-14


def test_param_sets_skip_infinite_defaults():
    spec = S.get("isru")
    sets = accuracy.param_sets(spec)
    assert sets[0] == {spec.param("a").symbol: sp.Rational(spec.param("a").default)}
    assert len(sets) == 1 + len(spec.test_params)


def test_probes_are_not_the_test_points():
    """The form is chosen on points of its own: none of the probes (but 0) is
    one of the ground-truth tests' sample points, at any parameter set."""
    import numpy as np
    from symdl.testing import sample_points
    probes = accuracy.PROBES[accuracy.PROBES != 0]
    for name in ("isru", "bent_identity", "squareplus", "gelu"):
        spec = S.get(name)
        for params in ({},) + tuple(spec.test_params):
            pts = sample_points(spec, params, np.float64)
            pts = pts[np.isfinite(pts) & (pts != 0)]
            near = np.min(np.abs(probes[:, None] / pts[None, :] - 1), axis=1)
            assert near.min() > 1e-6, (name, params)
