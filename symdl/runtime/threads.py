"""A short spin for Numba's OpenMP thread pool (no SymPy import).

Numba's threading layer here is OpenMP (GNU libgomp).  After each parallel
kernel libgomp's worker keeps spinning on its core, waiting for the next
one, for GOMP_SPINCOUNT pause loops: 300,000 by default, about 9 ms on this
machine.  NumPy's OpenBLAS runs its own worker thread for each matrix
product.  A CNN step alternates large elementwise kernels (parallel from
65,536 elements) and BLAS products, so on a 2-core machine OpenBLAS's worker
shares a core with a spinning libgomp worker after every ReLU:
``benchmarks/conv.py``'s LeNet step (batch 64, 2 threads) took 32 ms.
Measured with Numba's pool alone changed (SYMDL_OMP_SPINCOUNT; torch 5.8-7 ms
throughout), one process per setting, under the shared lock:

    GOMP_SPINCOUNT     LeNet step     ReLU fwd+bwd, 1e5 / 1e6 elements
    300000 (default)   32 ms          0.025 / 0.16-0.18 ms
    10000              9.7-10.2 ms    0.025 / 0.16-0.17 ms
    3000               8.5-10.6 ms
    0 (passive)        6.8-7.8 ms     0.17-0.21 / 0.33-0.37 ms

(GroupNorm, LayerNorm, BatchNorm fwd+bwd: the same to 5% at every count.)
A shorter spin frees the core for BLAS sooner; but with no spin every launch
wakes a sleeping worker through the kernel, about 0.1 ms on this VM, which
costs small elementwise kernels up to 7x.  symdl uses 10,000 (about 0.3 ms),
which slows no family; a CNN-heavy process can set ``SYMDL_OMP_SPINCOUNT=0``.

libgomp reads GOMP_SPINCOUNT from the environment once, when the library is
loaded, and Numba loads it lazily, at its first parallel kernel.  So symdl
wraps Numba's ``_launch_threads`` (installed when a kernel module is
imported or symdl's first own parallel loop is made): when the threading
layer starts, and only if the user set neither ``OMP_WAIT_POLICY`` nor
``GOMP_SPINCOUNT``, it sets ``GOMP_SPINCOUNT=$SYMDL_OMP_SPINCOUNT`` (default
10000) while Numba loads the library and removes it afterwards.  Set either
OpenMP variable yourself to keep your choice for every pool, or
``SYMDL_OMP_SPINCOUNT=off`` to leave libgomp's default.  If Numba's pool was
started before that (by other code), it keeps what it read then.

PyTorch ships its own libgomp (same soname), loaded at ``import torch`` into
the global symbol scope.  Imported before symdl's first parallel kernel,
torch keeps its library and its policy: Numba's omppool is loaded with
``RTLD_DEEPBIND``, so it binds to the system libgomp loaded then, not to
torch's.  Imported after, torch's loader finds the library Numba loaded
(by soname) and shares it, short spin included.  Import torch first, or set
``GOMP_SPINCOUNT`` yourself, if that matters.
"""
from __future__ import annotations

import os
import sys

__all__ = ["install_short_spin", "POLICY_VARS"]

#: the variables that fix libgomp's wait: if the user set one, symdl sets nothing
POLICY_VARS = ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")

_installed = False


#: libgomp's spin (pause loops) before a worker sleeps, for Numba's pool
DEFAULT_SPINCOUNT = "10000"


def _spincount():
    """The GOMP_SPINCOUNT symdl gives Numba's pool, or None (leave libgomp's)."""
    if any(v in os.environ for v in POLICY_VARS):
        return None
    v = os.environ.get("SYMDL_OMP_SPINCOUNT", DEFAULT_SPINCOUNT).strip().lower()
    if v in ("", "off", "default", "none"):
        return None
    if not v.isdigit():
        raise ValueError(f"SYMDL_OMP_SPINCOUNT={v!r}: expected a non-negative integer (the pause "
                         f"loops libgomp spins before a worker sleeps) or 'off'")
    return v


def _wanted() -> bool:
    return _spincount() is not None


def install_short_spin() -> bool:
    """Wrap Numba's threading-layer start so its OpenMP library loads with a
    short spin (see the module docstring).  Idempotent; False when
    switched off, when the user chose a policy, when the layer already runs,
    or when this Numba lacks the hook."""
    global _installed
    if _installed:
        return True
    if not _wanted():
        return False
    try:
        from numba.np.ufunc import parallel
    except ImportError:                                   # pragma: no cover - another numba
        return False
    launch = getattr(parallel, "_launch_threads", None)
    if launch is None or getattr(parallel, "_is_initialized", True):
        return False

    def _launch_threads():
        if parallel._is_initialized or not _wanted():
            return launch()
        dl = hasattr(sys, "getdlopenflags")                # POSIX only
        flags = sys.getdlopenflags() if dl else 0
        os.environ["GOMP_SPINCOUNT"] = _spincount()
        # RTLD_DEEPBIND (glibc): Numba's omppool binds to the libgomp it loads now, not to
        # one an earlier ``import torch`` put in the global symbol scope
        if dl:
            sys.setdlopenflags(flags | getattr(os, "RTLD_DEEPBIND", 0))
        try:
            return launch()
        finally:
            if dl:
                sys.setdlopenflags(flags)
            os.environ.pop("GOMP_SPINCOUNT", None)

    _launch_threads.__doc__ = launch.__doc__
    _launch_threads._symdl_launch = launch
    parallel._launch_threads = _launch_threads
    _installed = True
    return True
