"""Per-claim time limits: a SIGALRM timer that interrupts SymPy (main thread only)."""
from __future__ import annotations

import signal
import threading
import time
from contextlib import contextmanager

class ClaimTimeout(BaseException):
    """Raised by the timer (a BaseException so SymPy's ``except Exception`` cannot eat it)."""

    def __init__(self, token):
        super().__init__("time limit")
        self.token = token


_stack: list = []   # [(deadline, token)]
#: seconds between repeated alarms once a limit has expired
REFIRE = 0.05


def _arm():
    if not _stack:
        signal.setitimer(signal.ITIMER_REAL, 0)
        return
    soonest = min(d for d, _ in _stack)
    # periodic: if the exception is raised where Python only prints and ignores
    # it (a finalizer, a callback), the next tick raises it again
    signal.setitimer(signal.ITIMER_REAL, max(soonest - time.monotonic(), 0.001), REFIRE)


def _on_alarm(signum, frame):
    if not _stack:
        return
    now = time.monotonic()
    expired = [t for d, t in _stack if d <= now + 0.0005]
    if expired:
        # the outermost expired limit wins (its handler unwinds everything inside)
        raise ClaimTimeout(expired[0])
    _arm()


class Limit:
    def __init__(self):
        self.expired = False


@contextmanager
def time_limit(seconds: float | None):
    """Interrupt the body after ``seconds`` (main thread only; else unlimited).

    Nested limits work: the inner one is clipped to the outer remaining time.
    ``lim.expired`` is set when this limit fired (the exception is swallowed)."""
    lim = Limit()
    if seconds is None or threading.current_thread() is not threading.main_thread():
        yield lim
        return
    token = object()
    outer = not _stack
    if outer:
        old = signal.signal(signal.SIGALRM, _on_alarm)
    _stack.append((time.monotonic() + max(seconds, 0.001), token))
    _arm()
    try:
        yield lim
    except ClaimTimeout as t:
        if t.token is not token:
            raise
        lim.expired = True
    finally:
        for i, (_, tok) in enumerate(_stack):
            if tok is token:
                del _stack[i]
                break
        if outer:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, old)
        else:
            _arm()
