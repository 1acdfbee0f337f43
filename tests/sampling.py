"""The default run's sample of a check that also runs in full under -m slow.

A family's prange kernels are compiled from the bodies its serial kernels
are (tests/test_one_body.py), so the default run checks their path on a
sample that covers each kernel shape and ``-m slow`` checks every case:

    PARALLEL_CASES = slow_unless(CASES, lambda spec, variant, params: spec.name in PARALLEL_SAMPLE)
"""
import pytest


def slow_unless(params, in_sample, ids=None):
    """``params`` (``pytest.param`` objects, or plain values with ``ids``:
    one id per value, or a function of it) with ``slow`` added to every one
    whose values ``in_sample(*values)`` rejects; their own marks are kept."""
    out = []
    for i, p in enumerate(params):
        if not hasattr(p, "values"):
            pid = ids(p) if callable(ids) else ids[i] if ids is not None else None
            p = pytest.param(p, id=pid)
        out.append(pytest.param(*p.values, id=p.id, marks=list(p.marks) + (
            [] if in_sample(*p.values) else [pytest.mark.slow])))
    return out
