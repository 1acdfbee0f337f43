"""The range-limited sin/cos vector path and its libm recompute pass.

sin_f32/f64 and cos_f32/f64 return nan ("not reduced") for |x| > TRIG_MAX
(and within 2**-62 of a nonzero multiple of pi/2); kernels that use them
count such results and recompute exactly those elements with libm.  Checked
here against mpmath at arguments on both sides of TRIG_MAX, in the serial
and the prange kernels, for forward, backward and the fused kernel.
"""
import numpy as np
import pytest

import symdl
from symdl import specs
from symdl.specs import elementary as E
from symdl.testing import compare, truths

TRIG_MAX = dict(E.get("sin", "f64").constants)["TRIG_MAX"]
XS = [0.5, -2.0, 700.0, TRIG_MAX * 0.999, TRIG_MAX * 1.001, -1e6, 3.5e7, 1e10, -1e15, 1e300,
      np.inf, -np.inf, np.nan]


@pytest.mark.parametrize("name,params", [("sinusoid", {}), ("sinusoid", {"omega": 3.0}),
                                         ("sinc", {})])
@pytest.mark.parametrize("dt", [np.float32, np.float64])
def test_huge_arguments_take_the_libm_pass(name, params, dt):
    spec = specs.get(name)
    k = symdl.kernel(name, **params)
    # float32 has no 1e300: drop what the dtype cannot hold (a cast would make it inf)
    big = float(np.finfo(dt).max)
    xs = np.array([v for v in XS if not abs(v) > big or np.isinf(v)], dtype=dt)
    t = truths(spec, {}, params, xs)
    g = np.ones_like(xs)
    # small: serial kernels; tiled past the parallel threshold: prange kernels
    for reps in (1, 70000 // len(xs) + 1):
        X = np.tile(xs, reps)
        G = np.tile(g, reps)
        y = k.forward(X)
        dx = k.backward(X, G)
        y2, dx2 = k.forward_backward(X, G)
        n = len(xs)
        for which, got, truth in (("forward", y[:n], t["forward"]), ("derivative", dx[:n], t["dx"]),
                                  ("forward", y2[:n], t["forward"]), ("derivative", dx2[:n], t["dx"])):
            rep = compare(name, which, xs, got, truth, dt)
            assert not rep.failures, rep.failures[:5]
        # every copy identical to the first (the pass fixes all of them)
        for arr in (y, dx, y2, dx2):
            np.testing.assert_array_equal(arr.reshape(reps, -1), np.tile(arr[:n], (reps, 1)))


@pytest.mark.parametrize("dt", ["f32", "f64"])
def test_double_word_sin_cos(dt):
    """sin2/cos2(hi, lo) = sin/cos(hi + lo) for a rounded product hi and its
    exact error lo, within the sin/cos bound, where sin(fl(ab)) alone can be
    wrong in every digit."""
    import mpmath
    from fractions import Fraction

    import symdl.generated.elementary as G
    t = np.float32 if dt == "f32" else np.float64
    rng = np.random.default_rng(11)
    a = (rng.uniform(1, 4, 400) * rng.choice([-1, 1], 400)).astype(t)
    b = (10.0 ** rng.uniform(-3, 5.3, 400)).astype(t)
    rel = E.get("sin", dt).rel_bound
    s2, c2 = getattr(G, f"sin2_{dt}"), getattr(G, f"cos2_{dt}")
    with mpmath.workdps(60):
        for ai, bi in zip(a, b):
            exact = Fraction(float(ai)) * Fraction(float(bi))
            hi = t(ai * bi)
            lo = t(float(exact - Fraction(float(hi))))
            assert Fraction(float(hi)) + Fraction(float(lo)) == exact  # the product is a double word
            u = mpmath.mpf(exact.numerator) / exact.denominator
            for f, truth in ((s2, mpmath.sin(u)), (c2, mpmath.cos(u))):
                got = f(hi, lo)
                assert abs(got - truth) <= rel * abs(truth) + 4 * float(np.finfo(t).eps) * 1e-3, \
                    (f.__name__, ai, bi, got, truth)
