"""Optimizer steps: symdl's fused kernels vs torch.optim(fused=True) and a triad.

    .venv/bin/python benchmarks/optimizers.py                  # N = 1e6, 1e7; float32
    .venv/bin/python benchmarks/optimizers.py --n 1e5 1e6 --dtype float64
    .venv/bin/python benchmarks/optimizers.py --threads 1 --clock cpu --stat min   # busy machine

Each row times one ``opt.step`` on one flat parameter of N elements (state
already allocated, gradients fixed), median (or min) over repeats; symdl's
and torch's steps are timed in alternating blocks, so that a change in the
machine's load affects both sides of the ratio.  ``torch/s``
> 1 means symdl is faster.  ``GB/s`` counts the bytes the update must move:
Adam reads p, g, m, v and writes p, m, v (7 arrays); SGD with momentum reads
p, g, b and writes p, b (5 arrays).  ``%axpy`` compares that with the
bandwidth of the simplest in-place update, a Numba ``prange`` a += s·b (3 arrays
moved, the same access pattern as an optimizer step); the triad a = b + s·c is
printed too (STREAM's count of 3 arrays; it also pays a write-allocate read of
a, so in-place updates can exceed it).  ``%stream`` is the time of a kernel
moving the step's very arrays in place with next to no arithmetic (no sqrt, no
division) in the generated kernels' loop (512-bit vectors, chunks, prefetch),
as a percentage of symdl's step time; ``torch%stream`` the same for torch's.
A step near 100% is bound by memory traffic: no formula or code change can
make it faster, only moving fewer bytes.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time


def _parse():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", nargs="+", type=float, default=[1e6, 1e7])
    p.add_argument("--dtype", nargs="+", default=["float32"], choices=["float32", "float64"])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeat", type=int, default=20)
    p.add_argument("--min-time", type=float, default=0.5)
    p.add_argument("--stat", choices=["median", "min"], default="median")
    p.add_argument("--clock", choices=["wall", "cpu"], default="wall")
    p.add_argument("--json", help="write every row here")
    return p.parse_args()


def main():
    args = _parse()
    os.environ.setdefault("NUMBA_NUM_THREADS", str(args.threads))
    import numpy as np
    import numba
    from numba import njit, prange

    import symdl.optim as O

    try:
        import torch
        torch.set_num_threads(args.threads)
    except ImportError:
        torch = None
    numba.set_num_threads(args.threads)
    clock = time.perf_counter if args.clock == "wall" else time.process_time

    def pick(ts):
        ts = sorted(ts)
        return ts[0] if args.stat == "min" else ts[len(ts) // 2]

    def timeit(fn):
        return timeit_blocks(fn)[0]

    def timeit_blocks(*fns, rounds=4):
        """Time the callables (None: skipped, nan) in alternating blocks
        (a x k, b x k, ..., a x k, ...; the first call of each block untimed):
        a change of the machine's load during the run hits every side of a
        ratio, and each block runs on its own warm caches."""
        live = [f for f in fns if f is not None]
        ts = [[] for _ in live]
        per = max(2, -(-args.repeat // rounds))
        t_end = time.perf_counter() + args.min_time * len(live)
        while len(ts[0]) < args.repeat or time.perf_counter() < t_end:
            for f, t in zip(live, ts):
                f()
                for _ in range(per):
                    t0 = clock(); f(); t.append(clock() - t0)
            if len(ts[0]) > 2000:
                break
        it = iter(pick(t) for t in ts)
        return [next(it) if f is not None else float("nan") for f in fns]

    @njit(parallel=True, cache=True)
    def triad(a, b, c, s):
        for i in prange(a.shape[0]):
            a[i] = b[i] + s * c[i]

    @njit(parallel=True, cache=True)
    def axpy(a, b, s):
        for i in prange(a.shape[0]):
            a[i] += s * b[i]

    # The streaming ceiling of each step: the same arrays read and written in
    # place with next to no arithmetic (no sqrt, no division), in the same
    # loop as the generated kernels (512-bit vectors, chunks, prefetch).  A
    # step at ~100% of it is bound by memory traffic, not by its formula.
    from symdl.runtime.bits import prefer_wide_vectors
    from symdl.runtime.prefetch import chunk_start, chunk_stop, n_chunks, prefetch_chunk, worth_prefetching

    # (not cached: the prefetch helpers they inline live in another module)
    @njit(parallel=True)
    def stream_adam(p, g, m, v, s):
        n = p.shape[0]
        ahead = worth_prefetching(p)
        for c in prange(n_chunks(n)):
            lo = chunk_start(c)
            if ahead:
                prefetch_chunk(p, lo)
                prefetch_chunk(g, lo)
                prefetch_chunk(m, lo)
                prefetch_chunk(v, lo)
            for i in range(lo, chunk_stop(c, n)):
                prefer_wide_vectors()
                gi = g[i]
                m[i] = m[i] * s + gi
                v[i] = v[i] * s + gi
                p[i] += s * gi

    @njit(parallel=True)
    def stream_sgd(p, g, b, s):
        n = p.shape[0]
        ahead = worth_prefetching(p)
        for c in prange(n_chunks(n)):
            lo = chunk_start(c)
            if ahead:
                prefetch_chunk(p, lo)
                prefetch_chunk(g, lo)
                prefetch_chunk(b, lo)
            for i in range(lo, chunk_stop(c, n)):
                prefer_wide_vectors()
                bi = b[i] * s + g[i]
                b[i] = bi
                p[i] += s * bi

    print(f"# load average at start: {os.getloadavg()}; threads={args.threads}; "
          f"clock={args.clock}; stat={args.stat}; torch={'-' if torch is None else torch.__version__}")
    hdr = (f"{'step':<14}{'dtype':<9}{'N':>10}{'symdl ms':>10}{'torch ms':>10}{'torch/s':>9}{'GB/s':>8}{'%axpy':>8}"
           f"{'%stream':>9}{'torch%stream':>14}")
    print(hdr)
    rows = []
    for dt in args.dtype:
        dtype = np.dtype(dt)
        for n in (int(x) for x in args.n):
            rng = np.random.default_rng(0)
            a, b, c = (rng.standard_normal(n).astype(dtype) for _ in range(3))
            tt = timeit(lambda: triad(a, b, c, dtype.type(0.5)))
            triad_gbs = 3 * dtype.itemsize * n / tt / 1e9
            ta = timeit(lambda: axpy(a, b, dtype.type(1e-30)))
            axpy_gbs = 3 * dtype.itemsize * n / ta / 1e9
            del a, b, c
            cases = [
                ("adam", 7, lambda p: O.Adam([p], lr=1e-3),
                 (lambda tp: torch.optim.Adam([tp], lr=1e-3, fused=True)) if torch else None,
                 stream_adam, 2),
                ("sgd_momentum", 5, lambda p: O.SGD([p], lr=1e-3, momentum=0.9),
                 (lambda tp: torch.optim.SGD([tp], lr=1e-3, momentum=0.9, fused=True)) if torch else None,
                 stream_sgd, 1),
            ]
            for name, arrays, make, tmake, stream, nstate in cases:
                p = rng.standard_normal(n).astype(dtype)
                g = (rng.standard_normal(n) * 1e-3).astype(dtype)
                opt = make(p)
                topt = tp = None
                if tmake is not None:
                    tp = torch.from_numpy(rng.standard_normal(n).astype(dtype)).requires_grad_()
                    tp.grad = torch.from_numpy(g)
                    topt = tmake(tp)
                sarr = [rng.standard_normal(n).astype(dtype) for _ in range(2 + nstate)]
                ts, t_torch, t_stream = timeit_blocks(lambda: opt.step([g]), topt.step if topt else None,
                                                      lambda: stream(*sarr, dtype.type(0.5)))
                del topt, tp, sarr
                gbs = arrays * dtype.itemsize * n / ts / 1e9
                row = dict(step=name, dtype=dt, n=n, symdl_ms=ts * 1e3, torch_ms=t_torch * 1e3,
                           ratio=t_torch / ts, gbs=gbs, triad_gbs=triad_gbs, axpy_gbs=axpy_gbs,
                           pct_axpy=100 * gbs / axpy_gbs, stream_ms=t_stream * 1e3,
                           pct_stream=100 * t_stream / ts, torch_pct_stream=100 * t_stream / t_torch)
                rows.append(row)
                print(f"{name:<14}{dt:<9}{n:>10.0e}{ts * 1e3:>10.3f}{t_torch * 1e3:>10.3f}"
                      f"{row['ratio']:>9.2f}{gbs:>8.1f}{row['pct_axpy']:>7.0f}%{row['pct_stream']:>8.0f}%"
                      f"{row['torch_pct_stream']:>13.0f}%", flush=True)
                del opt, p, g
            print(f"{'axpy (ref)':<14}{dt:<9}{n:>10.0e}{ta * 1e3:>10.3f}{'':>10}{'':>9}{axpy_gbs:>8.1f}{100:>7.0f}%")
            print(f"{'triad (ref)':<14}{dt:<9}{n:>10.0e}{tt * 1e3:>10.3f}{'':>10}{'':>9}{triad_gbs:>8.1f}"
                  f"{100 * triad_gbs / axpy_gbs:>7.0f}%")
    print(f"# load average at end: {os.getloadavg()}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"rows": rows, "load": os.getloadavg(), "threads": args.threads}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
