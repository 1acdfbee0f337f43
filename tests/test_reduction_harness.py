"""The softmax family and the class losses in the table-driven harness
(symdl.testing.check_softmax, check_class_loss): every entry point (forward,
backward, fused; cross_entropy's cached-statistics pair), serial and
parallel, float64 and float32, every target kind x weighting x reduction,
against the spec's definition at >= 60 digits under the mixed bound and the
pure relative one (float64 1e-12, float32 1e-6·(|t| + Σ|x_k ∂t/∂x_k|));
nan truth => nan output.  Only the public kernel objects are used
(symdl.kernel(name, ...)), never generated function names.

Known real cancellations (reported; being fixed in the reductions template)
are strict xfails here, each in a case of its own, so they flip when fixed:
* float64/float32 log_softmax of the dominant class: 0 instead of ~-4e-17;
* softmax's backward at the dominant class: 0 instead of ~1e-16;
* log_softmax's backward g - p·Σg where it cancels (two classes of equal
  probability and cotangent): 7e-8 relative in float64;
* cross_entropy's d input p - y at the dominant class (p = 1 - 3e-17):
  0 instead of -3e-17 (float64), and p - y ~4e-6 relative in float32.
"""
import functools

import numpy as np
import pytest

import symdl
from symdl.specs.losses import LOSS_SPECS
from symdl.specs.softmax import SOFTMAX_SPECS
from symdl.testing.class_loss import check_class_loss, default_cases as class_cases
from symdl.testing.vector import check_softmax, default_cases as vector_cases

SPECS = {s.name: s for s in SOFTMAX_SPECS}
CASE_NAMES = {"dim": ["random", "extreme", "close", "nan"], "halves": ["random", "extreme"],
              "pool": ["random", "extreme"]}
#: log_softmax's backward cancellation: rows of (2, 3, 4) along dim 1, e.g. [0, -1e3, -3e-9]
EXTREME_C3 = np.array([[[-999.0, -1.25, 1.00000001e-07, 1000.0], [2.5, 2.5, -1.25, -1000.0],
                        [1000.0, -1.25, 1000.0, 1.00000001e-07]],
                       [[1000.0, 999.5, 0.0, 0.0], [0.0, 1000.0, 1000.0, -1000.0],
                        [1000.0, -3.00000003e-09, 1.00000001e-07, -3.00000003e-09]]])

XFAIL = {
    ("softmax", "close", "gradients"): "softmax backward p·(g - Σ g p) cancels to 0 at the dominant class "
                                       "(truth ~1e-16); fix pending in the reductions template",
    ("log_softmax", "close", "values"): "log_softmax of the dominant class is x - m - log Σ = 0 instead of "
                                        "-log1p(Σ others) ~ -4e-17; fix pending in the reductions template",
    ("log_softmax", "extreme_c3", "gradients"): "log_softmax backward g - p·Σg cancels (7e-8 relative in "
                                                "float64 at [0, -1e3, -3e-9]); reported",
}


def _vector_case(name, case):
    spec = SPECS[name]
    if case == "extreme_c3":
        return EXTREME_C3.astype(np.float32).astype(np.float64), 1
    return vector_cases(spec)[CASE_NAMES[spec.layout].index(case)]


@functools.lru_cache(maxsize=None)
def _vector_result(name, case):
    return check_softmax(SPECS[name], symdl.kernel(name), cases=[_vector_case(name, case)])


def _part(res, part):
    """The reports of values (forward, loss) or of gradients."""
    grad = ("dx", "d input")
    keep = [r for r in res if any(g in r.which for g in grad) == (part == "gradients")]
    out = type(res)(keep)
    assert len(out), "no reports"
    return out


def _params(table):
    out = []
    for key in table:
        marks = [pytest.mark.xfail(strict=True, reason=XFAIL[key])] if key in XFAIL else []
        out.append(pytest.param(*key, id="-".join(map(str, key)), marks=marks))
    return out


VECTOR = [(n, c, p) for n, s in SPECS.items() for c in CASE_NAMES[s.layout] for p in ("values", "gradients")]
VECTOR += [("log_softmax", "extreme_c3", p) for p in ("values", "gradients")]


@pytest.mark.parametrize("name,case,part", _params(VECTOR))
def test_softmax_family(name, case, part):
    _part(_vector_result(name, case), part).assert_ok()
