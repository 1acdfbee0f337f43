"""Every activation kernel, float32 and float64, against its spec evaluated
by mpmath at 50 digits (random, log-spaced, kinks, ±700, ±1e3, ±inf, nan):
the mixed bound of symdl.testing.BOUNDS in both dtypes, and in float64 also
a pure relative error of at most PURE_REL_F64 wherever the truth is normal."""
import numpy as np
import pytest

import symdl
import symdl.specs as S
from symdl.testing import check_activation, pure_relative_failures

CASES = []
for spec in S.all_specs("activation"):
    for variant in spec.variants():
        for params in ({},) + tuple(spec.test_params):
            label = ",".join(f"{k}={v}" for k, v in {**variant, **params}.items())
            CASES.append(pytest.param(spec, variant, params, id=f"{spec.name}[{label}]" if label else spec.name))


@pytest.mark.parametrize("spec,variant,params", CASES)
def test_against_mpmath(spec, variant, params, accuracy_reports):
    bundle = symdl.kernel(spec.name, **variant, **params)
    reports = check_activation(spec, bundle, variant, params)
    label = ",".join(f"{k}={v}" for k, v in {**variant, **params}.items())
    for r in reports:
        r.name = f"{spec.name}({label})" if label else spec.name
        accuracy_reports.append(r)
    bad = [f"{r}: {r.failures[:6]}" for r in reports if r.failures] + pure_relative_failures(reports)
    assert not bad, "\n".join(bad)
