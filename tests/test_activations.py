"""Every activation kernel against its spec evaluated by mpmath at 50 digits
(random, log-spaced, kinks, ±700, ±1e3, ±inf, nan), through
symdl.testing.check_activation: forward, backward, the fused
forward_backward, serial and prange kernels, each learnable parameter's
gradient (per element and summed), float64 and float32; the mixed bound of
symdl.testing.BOUNDS plus the pure relative bound PURE_REL (float64 1e-12,
float32 1e-6, the documented exceptions in PURE_REL_EXCEPTIONS) wherever the
truth is a normal number, nan exactly where the truth is nan.

Every kernel's parallel copy is compiled (runtime/jitcache.lazy_kernels)
from the very body its serial copy is, with parallel=True: the serial checks
verify that body for every spec, tests/test_one_body.py proves the identity
for every kernel of every module, and the prange path
itself is checked against mpmath for the specs of PARALLEL_SAMPLE (one per
kernel shape of the template) in the default run and for every spec under
``-m slow`` (a parallel compile costs twice a serial one: two thirds of this
file's cold time).
"""
import numpy as np
import pytest

import symdl
import symdl.specs as S
from symdl.testing import PURE_REL_EXCEPTIONS, check_activation

from sampling import slow_unless

#: the prange path in the default run, one spec per kernel shape of
#: templates/activations.py.j2: plain (relu), elementary functions (gelu),
#: the libm fallback loop (sinc), learnable parameters (swish: a scalar,
#: prelu: per channel), a noise input (rrelu); the rest run under -m slow
PARALLEL_SAMPLE = {"relu", "gelu", "sinc", "swish", "prelu", "rrelu"}

CASES = []
for spec in S.all_specs("activation"):
    for variant in spec.variants():
        for params in ({},) + tuple(spec.test_params):
            label = ",".join(f"{k}={v}" for k, v in {**variant, **params}.items())
            tid = f"{spec.name}[{label}]" if label else spec.name
            CASES.append(pytest.param(spec, variant, params, id=tid))

#: the sample: each spec's first variant at its default parameters
PARALLEL_CASES = slow_unless(CASES, lambda spec, variant, params: (
    spec.name in PARALLEL_SAMPLE and not params and variant == spec.variants()[0]))


@pytest.mark.parametrize("spec,variant,params", CASES)
def test_against_mpmath(spec, variant, params, accuracy_reports):
    bundle = symdl.kernel(spec.name, **variant, **params)
    res = check_activation(spec, bundle, variant, params, paths=("serial",))
    accuracy_reports.extend(res)
    res.assert_ok()


@pytest.mark.parametrize("spec,variant,params", PARALLEL_CASES)
def test_parallel_path_against_mpmath(spec, variant, params):
    bundle = symdl.kernel(spec.name, **variant, **params)
    res = check_activation(spec, bundle, variant, params, paths=("parallel",))
    assert res and all("[parallel]" in r.which for r in res)
    res.assert_ok()


def test_parallel_sample_names_real_specs():
    names = {s.name for s in S.all_specs("activation")}
    assert PARALLEL_SAMPLE <= names, PARALLEL_SAMPLE - names


def test_every_entry_point_and_parameter_gradient_is_checked():
    """The checks cover the fused kernel, the prange path and each learnable
    parameter found from the spec (not a hand list)."""
    spec = S.get("swish")
    res = check_activation(spec, symdl.kernel("swish"), dtypes=(np.float64,))
    whichs = {r.which for r in res}
    for w in ("forward y", "backward dx", "forward_backward y", "forward_backward dx",
              "backward d beta (per channel)", "forward_backward d beta (per channel)",
              "backward d beta (sum)", "forward_backward d beta (sum) [parallel]", "forward y [parallel]"):
        assert w in whichs, (w, sorted(whichs))
    assert res.ok and not res.failures
    res.assert_ok()


def test_exceptions_are_explained():
    for key, (bound, reason) in PURE_REL_EXCEPTIONS.items():
        assert len(key) == 3 and len(reason) > 40, key
        assert bound <= 1e-4 or reason.startswith("only the mixed bound"), key
