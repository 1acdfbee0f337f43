"""Normalization layers: forward + backward in training mode, symdl vs
PyTorch CPU (2 threads), and the fraction of the machine's triad bandwidth
(not a test).

Cases (the issue's): BatchNorm1d (256, 512), BatchNorm2d (32, 64, 28, 28),
LayerNorm (2048, 512), GroupNorm(8, 64) on (32, 64, 28, 28); float32 and
float64.  symdl: ``layer.forward(x, training=True)`` then
``layer.backward(g)`` (kernels warm: JIT compile / cache load excluded);
torch: ``y = layer(x); y.backward(g)`` with x.requires_grad.  The two
sides run in ``--repeat`` interleaved rounds (alternating which goes first),
each round timing a batch of calls lasting about ``--round-ms`` after 30 ms
of untimed calls (the other side's threads spinning down; ``interleave.py``); the table
gives each side's median per-call time and their ratio, then the ratio of
the minimums (a single call of the small cases lasts 0.1-0.5 ms, where
one-call timings swing with the machine).

Bandwidth: the minimal memory traffic of a training step: forward 1 read
of x + 1 write of y, backward 1 read of x and of g + 1 write of dx: 5
arrays x itemsize x N (the statistics' extra passes over a group run from
cache: a layer-norm row, a group-norm group, a batch-norm channel fit in L1
or L2, so they are not counted).  ``%triad`` = that / time / the triad's
GB/s (a[i] = b[i] + s*c[i], Numba prange, 3 arrays counted).

    .venv/bin/python benchmarks/normalization.py                 # the issue's sizes
    .venv/bin/python benchmarks/normalization.py --scale 0.01 --repeat 2   # a smoke run
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from interleave import timeit_pair  # noqa: E402

CASES = [("BatchNorm1d", (256, 512), lambda nn: nn.BatchNorm1d(512)),
         ("BatchNorm2d", (32, 64, 28, 28), lambda nn: nn.BatchNorm2d(64)),
         ("LayerNorm", (2048, 512), lambda nn: nn.LayerNorm(512)),
         ("GroupNorm", (32, 64, 28, 28), lambda nn: nn.GroupNorm(8, 64))]
ARRAYS = 5


def _time(fn, repeat):
    fn()
    ts = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t)
    return statistics.median(ts)


def triad_gbs(n=10_000_000, repeat=5):
    from numba import njit, prange

    @njit(parallel=True, cache=False)
    def triad(a, b, c, s):
        for i in prange(a.shape[0]):
            a[i] = b[i] + s * c[i]

    a, b, c = np.empty(n), np.ones(n), np.ones(n)
    t = _time(lambda: triad(a, b, c, 2.0), repeat)
    return 3 * 8 * n / t / 1e9


def scaled(shape, scale):
    if scale >= 1:
        return shape
    n = max(2, int(round(shape[0] * scale)))
    return (n,) + shape[1:]


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeat", type=int, default=15, help="interleaved rounds per case")
    p.add_argument("--round-ms", type=float, default=30.0, help="length of one round of calls")
    p.add_argument("--scale", type=float, default=1.0, help="batch-size factor (smoke runs: 0.01)")
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args(argv)

    import symdl.nn as snn
    try:
        import torch
        torch.set_num_threads(args.threads)
    except ImportError:
        torch = None
    from numba import set_num_threads
    set_num_threads(min(args.threads, __import__("numba").config.NUMBA_NUM_THREADS))
    bw = triad_gbs(n=max(100_000, int(10_000_000 * min(1.0, args.scale * 10))), repeat=args.repeat)
    print(f"triad: {bw:.1f} GB/s")
    print(f"{'case':<13}{'shape':<20}{'dtype':<9}{'symdl ms':>10}{'torch ms':>10}{'torch/symdl':>13}"
          f"{'(of mins)':>10}{'%triad':>8}")
    rng = np.random.default_rng(0)
    for name, shape, make in CASES:
        shape = scaled(shape, args.scale)
        for dt in (np.float32, np.float64):
            x = rng.normal(size=shape).astype(dt)
            g = rng.normal(size=shape).astype(dt)
            layer = make(snn).to(dt)

            def step():
                layer.forward(x, training=True)
                layer.backward(g)
            tstep = None
            if torch is not None:
                tl = make(torch.nn).to(torch.float32 if dt == np.float32 else torch.float64).train()
                tx = torch.tensor(x, requires_grad=True)
                tg = torch.tensor(g)

                def tstep():
                    tx.grad = None
                    tl(tx).backward(tg)
            (ts, ts_min), (tt, tt_min) = timeit_pair(step, tstep, args.round_ms / 1e3 * args.repeat, args.repeat)
            gbs = ARRAYS * x.itemsize * x.size / ts / 1e9
            print(f"{name:<13}{str(shape):<20}{np.dtype(dt).name:<9}{ts * 1e3:>10.3f}{tt * 1e3:>10.3f}"
                  f"{tt / ts:>13.2f}{tt_min / ts_min:>10.2f}{100 * gbs / bw:>7.0f}%")


if __name__ == "__main__":
    main()
