"""Throughput of symdl's generated elementary functions (not a test).

For each function and dtype, at N = 1e6 and 1e7 elements, times a Numba loop
``out[i] = f(x[i])`` with

* ``symdl``  : the generated vectorizable function (generated/elementary.py),
* ``math``   : ``math.<f>`` (a scalar libm call; Numba has no SVML),
* ``numpy``  : the NumPy ufunc with ``out=`` (``erf``/``erfc``: SciPy if present),

serial (``range``) and parallel (``prange``), and prints elements/s (G/s),
memory bandwidth reached (read x + write out) and the ratios
symdl/math and symdl/numpy.  A streaming kernel (``out = 2*x + 1``) gives the
machine's bandwidth ceiling for the same loop shape.

    .venv/bin/python benchmarks/elementary.py [--quick] [--only exp,tanh]
"""
from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import numpy as np
from numba import get_num_threads, njit, prange

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

try:
    import symdl.generated.elementary as E
except ImportError:  # source tree
    import generated.elementary as E
from symdl.testing import map_loops  # noqa: E402

FUNCS = ("exp", "expm1", "log", "log1p", "tanh", "sech2", "erf", "erfc", "expmsq", "atan")
MATH = {"exp": math.exp, "expm1": math.expm1, "log": math.log, "log1p": math.log1p,
        "tanh": math.tanh, "sech2": njit(lambda v: 1.0 / math.cosh(v) ** 2), "erf": math.erf,
        "erfc": math.erfc, "expmsq": njit(lambda v: math.exp(-v * v)), "atan": math.atan}
RANGE = {"exp": (-10, 10), "expm1": (-10, 10), "log": (1e-3, 1e3), "log1p": (-0.9, 10),
         "tanh": (-5, 5), "sech2": (-5, 5), "erf": (-5, 5), "erfc": (-5, 5),
         "expmsq": (-5, 5), "atan": (-50, 50)}
#: NumPy compositions for the functions NumPy has no ufunc for
NUMPY = {"sech2": lambda x, out: np.divide(1, np.cosh(x) ** 2, out=out),
         "expmsq": lambda x, out: np.exp(-x * x, out=out), "atan": np.arctan}


def _numpy_func(name):
    if name in NUMPY:
        return NUMPY[name]
    if hasattr(np, name):
        return getattr(np, name)
    try:
        import scipy.special as sc
        return getattr(sc, name)
    except ImportError:
        return None


@njit(error_model="numpy")
def _stream_ser(x, out):
    for i in range(x.shape[0]):
        out[i] = x[i] * 2 + 1


@njit(error_model="numpy", parallel=True)
def _stream_par(x, out):
    for i in prange(x.shape[0]):
        out[i] = x[i] * 2 + 1


def best_time(fn, *args, repeat=7, min_time=0.2):
    fn(*args)  # warm up (compile, page in)
    best = math.inf
    t_end = time.perf_counter() + min_time
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn(*args)
        best = min(best, time.perf_counter() - t0)
    while time.perf_counter() < t_end:
        t0 = time.perf_counter()
        fn(*args)
        best = min(best, time.perf_counter() - t0)
    return best


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="N=1e6 only")
    ap.add_argument("--only", default="", help="comma-separated function names")
    args = ap.parse_args(argv)
    funcs = [f for f in FUNCS if not args.only or f in args.only.split(",")]
    sizes = [10 ** 6] if args.quick else [10 ** 6, 10 ** 7]
    rng = np.random.default_rng(0)
    print(f"threads: {get_num_threads()}; times are best-of; G/s = 1e9 elements/s; "
          f"GB/s counts read+write")
    rows = []
    for dt in (np.float64, np.float32):
        for n in sizes:
            x0 = np.empty(n, dtype=dt)
            out = np.empty_like(x0)
            nbytes = 2 * x0.nbytes
            x0[:] = rng.uniform(0, 1, n)
            ts = best_time(_stream_ser, x0, out)
            tp = best_time(_stream_par, x0, out)
            print(f"\n== {np.dtype(dt).name} N={n:.0e}: stream 2x+1 serial {nbytes / ts / 1e9:.1f} GB/s, "
                  f"prange {nbytes / tp / 1e9:.1f} GB/s")
            print(f"{'func':6s} {'mode':6s} {'symdl G/s':>9s} {'GB/s':>6s} {'%bw':>5s} "
                  f"{'math G/s':>9s} {'numpy G/s':>9s} {'x math':>7s} {'x numpy':>7s}")
            for name in funcs:
                lo, hi = RANGE[name]
                x = rng.uniform(lo, hi, n).astype(dt)
                ours = getattr(E, f"{name}_{'f64' if dt == np.float64 else 'f32'}")
                o_ser, o_par = map_loops(ours)
                m_ser, m_par = map_loops(MATH[name])
                npf = _numpy_func(name)
                t_np = best_time(npf, x, out) if npf is not None else math.nan
                for mode, ok, mk, bw_t in (("serial", o_ser, m_ser, ts), ("prange", o_par, m_par, tp)):
                    t_o = best_time(ok, x, out)
                    t_m = best_time(mk, x, out)
                    r = dict(func=name, dtype=np.dtype(dt).name, n=n, mode=mode,
                             ours=n / t_o / 1e9, math=n / t_m / 1e9,
                             numpy=n / t_np / 1e9 if npf is not None else math.nan,
                             gbs=nbytes / t_o / 1e9, bw=bw_t / t_o)
                    rows.append(r)
                    print(f"{name:6s} {mode:6s} {r['ours']:9.3f} {r['gbs']:6.1f} {100 * r['bw']:4.0f}% "
                          f"{r['math']:9.3f} {r['numpy']:9.3f} {t_m / t_o:7.1f} "
                          f"{(t_np / t_o):7.1f}")
    return rows


if __name__ == "__main__":
    main()
