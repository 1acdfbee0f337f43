"""Interleaved timing of two callables (symdl and torch), shared by the
benchmarks that compare them call for call (not a test).

Each side runs ``repeat`` rounds of batched calls, alternating which goes
first; each round starts after ``settle``: untimed calls, because the other
side's thread pools (torch's OpenMP workers, OpenBLAS's) keep spinning for up
to ~10 ms after its last call, and neither side should be charged for that.
"""
from __future__ import annotations

import statistics
import time

__all__ = ["timeit", "timeit_pair", "settle", "SETTLE"]


def _number(fn, min_time, repeat):
    fn()
    fn()
    t0 = time.perf_counter()
    k = 0
    while time.perf_counter() - t0 < 0.05:
        fn()
        k += 1
    per = (time.perf_counter() - t0) / k
    return max(1, int(min_time / repeat / per))


#: untimed calls at the start of each round, in seconds: the other side's thread
#: pools (torch's OpenMP workers, OpenBLAS's) keep spinning for up to ~10 ms after
#: its last call, and neither side should be charged for that
SETTLE = 0.03


def settle(fn, seconds=SETTLE):
    t0 = time.perf_counter()
    fn()
    while time.perf_counter() - t0 < seconds:
        fn()


def timeit(fn, min_time=0.5, repeat=7):
    """Median and min seconds per call."""
    return timeit_pair(fn, None, min_time, repeat)[0]


def timeit_pair(fa, fb, min_time=0.5, repeat=7):
    """(median, min) seconds per call of ``fa`` and of ``fb`` (None: not timed), their
    rounds interleaved in alternating order, each after ``settle`` (untimed calls: torch's
    OpenMP threads keep spinning for a while after its calls, which slows whatever runs
    right after them)."""
    fns = [f for f in (fa, fb) if f is not None]
    numbers = [_number(f, min_time, repeat) for f in fns]
    rounds = [[] for _ in fns]
    for r in range(repeat):
        order = list(range(len(fns)))[::(1 if r % 2 == 0 else -1)]
        for i in order:
            settle(fns[i])
            t0 = time.perf_counter()
            for _ in range(numbers[i]):
                fns[i]()
            rounds[i].append((time.perf_counter() - t0) / numbers[i])
    out = [(statistics.median(x), min(x)) for x in rounds]
    return out + [(float("nan"), float("nan"))] * (2 - len(out))
