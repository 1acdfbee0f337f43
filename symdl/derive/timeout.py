"""A wall-clock limit for SymPy calls that can run away (limit, simplify)."""
from __future__ import annotations

import contextlib
import signal
import threading
import time


class TimeLimit(Exception):
    pass


@contextlib.contextmanager
def time_limit(seconds: float):
    """Raise TimeLimit in the block after ``seconds`` (main thread only;
    elsewhere the block simply runs without a limit)."""
    if seconds is None or threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        raise TimeLimit(f"gave up after {seconds:g} s")

    start = time.monotonic()
    outer_left, outer_interval = signal.getitimer(signal.ITIMER_REAL)
    if outer_left and outer_left < seconds:
        seconds = outer_left  # an enclosing limit is sooner: keep it, and its handler fires
        yield
        return
    old = signal.signal(signal.SIGALRM, handler)
    # periodic, so an exception Python swallows (raised inside a finalizer or
    # callback) is raised again 50 ms later instead of being lost
    signal.setitimer(signal.ITIMER_REAL, seconds, 0.05)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
        if outer_left:  # restore the enclosing limit, minus the time spent here
            left = outer_left - (time.monotonic() - start)
            signal.setitimer(signal.ITIMER_REAL, max(left, 1e-3), outer_interval)
