"""The softmax family and the class losses in the table-driven harness
(symdl.testing.check_softmax, check_class_loss): every entry point (forward,
backward, fused; cross_entropy's cached-statistics pair), serial and
parallel, float64 and float32, every target kind x weighting x reduction,
against the spec's definition at >= 60 digits under the mixed bound and the
pure relative one (float64 1e-12, float32 1e-6·(|t| + Σ|x_k ∂t/∂x_k|));
nan truth => nan output.  Only the public kernel objects are used
(symdl.kernel(name, ...)), never generated function names.

The cancellations at the dominant class (log_softmax's value, softmax's
backward, cross_entropy's loss and d input with the dominant class as target)
are fixed by the engine's stable rewrites (symdl/derive/reduce_stable.py) and
checked here under the strict bound.  Two known cases remain strict xfails,
each in a case of its own, so they flip when fixed:
* log_softmax's backward g - p·Σg where it cancels (two classes of equal
  probability and cotangent): 7e-8 relative in float64;
* nll_loss with a nan input at a non-target class: the row's loss is nan
  (the definition's one-hot selection, and torch, give -w_t·x_t).
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


# ---------------------------------------------------------------------------- class losses
LOSSES = {s.name: s for s in LOSS_SPECS if getattr(s, "kind", "") != "term"}
W4 = np.array([0.5, 1.25, 2.0, 0.75])
OPTION_SETS = {
    "cross_entropy": {"plain": {}, "weight": {"weight": W4},
                      "smoothing-ignore": {"label_smoothing": 0.2, "ignore_index": 2},
                      "weight-smoothing": {"weight": W4, "label_smoothing": 0.1}},
    "nll_loss": {"plain": {}, "weight-ignore": {"weight": W4, "ignore_index": 1}},
}
CLASS_CASES = {"index": ["random", "extreme", "close", "1d", "nan"], "probs": ["random", "extreme", "close"],
               "scores": ["random", "extreme"]}
#: the parallel path in the default run (every other combination: -m slow): each
#: option set compiles its own prange kernels, and compile time dominates
FAST_PARALLEL = {("cross_entropy", "plain"), ("nll_loss", "plain")}


def _class_case_names(name):
    return [f"{k}-{c}" for k in LOSSES[name].targets for c in CLASS_CASES[k]]


def _bundle(name, opts):
    return symdl.kernel(name, **opts)


@functools.lru_cache(maxsize=None)
def _class_result(name, opts_name, case, path):
    opts = OPTION_SETS[name][opts_name]
    b = _bundle(name, opts)
    cases = class_cases(b.meta, b.ignore_index)
    return check_class_loss(LOSSES[name], b, cases=[cases[_class_case_names(name).index(case)]], paths=(path,))


CLASS = [(n, o, c, p) for n in LOSSES for o in OPTION_SETS[n] for c in _class_case_names(n)
         for p in ("values", "gradients")]


@pytest.mark.parametrize("name,opts,case,part", _params(CLASS))
def test_class_loss_serial(name, opts, case, part):
    _part(_class_result(name, opts, case, "serial"), part).assert_ok()


PARALLEL = [pytest.param(*p.values, id=p.id, marks=list(p.marks) + (
    [] if tuple(p.values[:2]) in FAST_PARALLEL else [pytest.mark.slow])) for p in _params(CLASS)]


@pytest.mark.parametrize("name,opts,case,part", PARALLEL)
def test_class_loss_parallel(name, opts, case, part):
    _part(_class_result(name, opts, case, "parallel"), part).assert_ok()
