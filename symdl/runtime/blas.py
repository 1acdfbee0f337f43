"""NumPy's own BLAS, callable from ``@njit`` code (the recurrent layers' time loops).

A recurrent layer's step is a small matmul ``h @ W_hhᵀ`` and a gate kernel; a
Python loop over the steps pays the interpreter and NumPy's call overhead per
step and holds the GIL.  The generated sequence loops (``*_seq_forward_*``,
``*_seq_backward_*`` in ``symdl.generated.cells``) run every step in one
``@njit(nogil=True)`` call and call ``cblas_sgemm``/``cblas_dgemm`` through a
ctypes function pointer passed in as an argument (a pointer baked in as a
global would keep Numba from caching the loop).

The library is the OpenBLAS NumPy ships (``numpy.libs``, ``numpy/.libs``,
``numpy/.dylibs``, or whatever OpenBLAS the process has loaded), found at
run time; both the ILP64 names of NumPy's wheels (``scipy_cblas_sgemm64_``:
64-bit integers) and plain LP64 ``cblas_sgemm`` work.  A library is used only
after a small product through it matched NumPy's.  Anything missing --
another BLAS, no OpenBLAS, a failed check, or ``SYMDL_BLAS=numpy`` in the
environment -- gives ``gemm(dtype) is None`` and the layers keep their NumPy
path (same results, no error).

``threads_set(n)`` sets OpenBLAS's thread count and returns the previous one
(None: unknown).  OpenBLAS's count is global: a layer that runs two halves
of its batch in two threads sets it to 1 around them (two callers each asking
the two-thread pool for help wait on each other) and restores it.
"""
from __future__ import annotations

import ctypes
import glob
import os
import threading

import numpy as np

__all__ = ["gemm", "threads_get", "threads_set", "available", "library_path", "reset", "run_pair", "can_split"]

CblasRowMajor, CblasNoTrans, CblasTrans = 101, 111, 112

#: (cblas name suffix pattern, integer width) in the order tried
_GEMM_NAMES = (("scipy_cblas_{p}gemm64_", 64), ("cblas_{p}gemm64_", 64),
               ("scipy_cblas_{p}gemm", 32), ("cblas_{p}gemm", 32))
_SET_NAMES = ("scipy_openblas_set_num_threads64_", "openblas_set_num_threads64_",
              "scipy_openblas_set_num_threads", "openblas_set_num_threads")
_GET_NAMES = ("scipy_openblas_get_num_threads64_", "openblas_get_num_threads64_",
              "scipy_openblas_get_num_threads", "openblas_get_num_threads")
_CONFIG_NAMES = ("scipy_openblas_get_config64_", "openblas_get_config64_",
                 "scipy_openblas_get_config", "openblas_get_config")

_lock = threading.Lock()
_CPUS = os.cpu_count() or 1
_state: dict | None = None


def _candidates():
    """Paths of the OpenBLAS NumPy uses: its wheel's bundled copies, then any
    OpenBLAS this process has mapped (Linux), then ``find_library``."""
    root = os.path.dirname(np.__file__)
    pats = [os.path.join(root, "..", "numpy.libs", "*openblas*"), os.path.join(root, ".libs", "*openblas*"),
            os.path.join(root, ".dylibs", "*openblas*"), os.path.join(root, "_core", "*openblas*"),
            os.path.join(root, "..", "numpy.libs", "*blas*")]
    out = []
    for p in pats:
        out += sorted(glob.glob(p))
    try:
        with open("/proc/self/maps") as f:
            for line in f:
                path = line.split()[-1] if "/" in line else ""
                if "openblas" in os.path.basename(path).lower():
                    out.append(path)
    except OSError:
        pass
    from ctypes.util import find_library
    lib = find_library("openblas")
    if lib:
        out.append(lib)
    seen, uniq = set(), []
    for p in out:
        if p not in seen and not p.endswith((".a", ".txt")):
            seen.add(p)
            uniq.append(p)
    return uniq


def _gemm_fn(lib, p, ctype):
    for pattern, bits in _GEMM_NAMES:
        name = pattern.format(p=p)
        fn = getattr(lib, name, None)
        if fn is None:
            continue
        it = ctypes.c_int64 if bits == 64 else ctypes.c_int32
        if bits == 32 and _config_ilp64(lib):
            it = ctypes.c_int64       # an ILP64 build without the 64_ suffix
        fn.restype = None
        fn.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int, it, it, it, ctype, ctypes.c_void_p, it,
                       ctypes.c_void_p, it, ctype, ctypes.c_void_p, it]
        return fn, name
    return None, None


def _config_ilp64(lib):
    for name in _CONFIG_NAMES:
        fn = getattr(lib, name, None)
        if fn is not None:
            fn.restype = ctypes.c_char_p
            fn.argtypes = []
            try:
                return b"USE64BITINT" in (fn() or b"")
            except Exception:  # pragma: no cover
                return False
    return False


def _check(fn, dtype):
    """A 3x5 @ 5x4 product plus C, with transposes, through ``fn`` against NumPy."""
    rng = np.random.default_rng(1)
    a = rng.standard_normal((5, 3)).astype(dtype)       # used transposed
    b = rng.standard_normal((5, 4)).astype(dtype)
    c = rng.standard_normal((3, 4)).astype(dtype)
    want = a.T @ b + 0.5 * c
    fn(CblasRowMajor, CblasTrans, CblasNoTrans, 3, 4, 5, 1.0, a.ctypes.data, 3, b.ctypes.data, 4, 0.5,
       c.ctypes.data, 4)
    tol = 1e-4 if dtype == np.float32 else 1e-12
    return bool(np.allclose(c, want, rtol=tol, atol=tol))


def _load():
    state = {"s": None, "d": None, "path": None, "set": None, "get": None}
    if os.environ.get("SYMDL_BLAS", "").lower() in ("numpy", "0", "off", "none"):
        return state
    for path in _candidates():
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        s, _ = _gemm_fn(lib, "s", ctypes.c_float)
        d, _ = _gemm_fn(lib, "d", ctypes.c_double)
        if s is None or d is None:
            continue
        try:
            if not (_check(s, np.float32) and _check(d, np.float64)):
                continue
        except Exception:  # pragma: no cover - a broken library
            continue
        state.update(s=s, d=d, path=path)
        for key, names, argt, rest in (("set", _SET_NAMES, [ctypes.c_int], None),
                                       ("get", _GET_NAMES, [], ctypes.c_int)):
            for name in names:
                fn = getattr(lib, name, None)
                if fn is not None:
                    fn.argtypes, fn.restype = argt, rest
                    state[key] = fn
                    break
        break
    return state


def _get():
    global _state
    if _state is None:
        with _lock:
            if _state is None:
                _state = _load()
    return _state


def reset():
    """Forget the library found (the next call looks again; tests use it with
    ``SYMDL_BLAS=numpy`` to force the NumPy path)."""
    global _state
    with _lock:
        _state = None


def gemm(dtype):
    """``cblas_?gemm`` for float32/float64 as a ctypes function (row-major
    cblas signature), or None: use NumPy."""
    st = _get()
    dt = np.dtype(dtype)
    return st["s"] if dt == np.float32 else st["d"] if dt == np.float64 else None


def available() -> bool:
    return _get()["s"] is not None


def library_path():
    return _get()["path"]


def threads_get():
    """OpenBLAS's thread count, or None when the library does not tell."""
    st = _get()
    return None if st["get"] is None else int(st["get"]())


def threads_set(n):
    """Set OpenBLAS's thread count to ``n``; returns the previous count, or
    None when the library does not expose both calls (nothing is changed)."""
    st = _get()
    if st["set"] is None or st["get"] is None:
        return None
    prev = int(st["get"]())
    if prev != n:
        st["set"](int(n))
    return prev


class OneThread:
    """``with OneThread():`` OpenBLAS runs on one thread inside, its previous
    count restored after (reusable; nothing changes where the library does not
    expose its thread count)."""

    def __enter__(self):
        self._prev = threads_set(1)
        return self

    def __exit__(self, *exc):
        if self._prev is not None and self._prev != 1:
            threads_set(self._prev)
        return False


class _Worker:
    """One daemon thread that runs a function handed over through two locks
    (a ThreadPoolExecutor's future costs ~100 us a round trip; this ~20 us)."""

    def __init__(self):
        self._go, self._done, self._busy = threading.Lock(), threading.Lock(), threading.Lock()
        self._go.acquire()
        self._done.acquire()
        self._fn, self._exc = None, None
        self.pid = os.getpid()           # a forked child has the object but not the thread
        threading.Thread(target=self._loop, name="symdl-blas", daemon=True).start()

    def _loop(self):
        while True:
            self._go.acquire()
            try:
                self._fn()
            except BaseException as e:  # noqa: BLE001 - handed back to the caller
                self._exc = e
            self._fn = None
            self._done.release()

    def run(self, f0, f1):
        """``f0()`` here and ``f1()`` on the worker; both if another caller holds it."""
        if not self._busy.acquire(blocking=False):
            f0()
            f1()
            return
        try:
            self._fn, self._exc = f1, None
            self._go.release()
            try:
                f0()
            finally:
                self._done.acquire()
            if self._exc is not None:
                exc, self._exc = self._exc, None
                raise exc
        finally:
            self._busy.release()


_worker = None


def run_pair(f0, f1):
    """Run ``f0()`` on the calling thread and ``f1()`` on a worker thread (both
    must release the GIL: a ``nogil`` loop, a NumPy matmul), with OpenBLAS's
    thread count 1 meanwhile (restored after)."""
    global _worker
    if _worker is None or _worker.pid != os.getpid():     # none yet, or a forked child's copy
        with _lock:
            if _worker is None or _worker.pid != os.getpid():
                _worker = _Worker()
    with OneThread():
        _worker.run(f0, f1)


def can_split() -> bool:
    """Two halves in two threads pay off only with two CPUs and a BLAS whose
    thread count can be pinned to 1 around them."""
    st = _get()
    return _CPUS >= 2 and st["set"] is not None and st["get"] is not None
