"""Steps of the rules with per-tensor trust ratios: symdl's fused two-pass
kernels vs torch composites (issue 19 item 6).

    .venv/bin/python benchmarks/optimizers_extra.py                 # N = 1e6, 1e7; float32
    .venv/bin/python benchmarks/optimizers_extra.py --n 1e4 --repeat 3 --min-time 0   # does it run

torch has no LAMB or LARS class: the torch side is the update written with
in-place torch ops (optax's equations, as a torch user would write them:
moments in place, the direction in one temporary, the two norms, one add),
on one flat parameter of N elements, 2 threads.  Each row times one step,
median over repeats, symdl's and torch's steps in alternating blocks so that
a change in the machine's load hits both sides of the ratio; ``torch/s`` > 1
means symdl is faster (target >= 1.1).  ``GB/s`` counts the bytes symdl's
two passes move: LAMB reads p, g, m, v and writes m, v (pass 1), reads p, m,
v and writes p (pass 2): 10 arrays; LARS 3 + 4 = 7.  Adafactor (a square
matrix of ~N elements -- a linear layer's weight, 1000 x 1000 and 3162 x 3162 --
against ``torch.optim.Adafactor(foreach=False)``; ``--adafactor-shape R C``
adds a rectangular one, e.g. 4096 x 256) reads θ and g (row sums, each block
of rows' column sums, Σθ²), g (Σu²), θ and g and writes θ: 6 arrays; its
kernels run in blocks of rows, prange past PARALLEL_THRESHOLD.
"""
from __future__ import annotations

import argparse
import os
import sys
import time


def _parse():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", nargs="+", type=float, default=[1e6, 1e7])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeat", type=int, default=20)
    p.add_argument("--min-time", type=float, default=0.5)
    p.add_argument("--adafactor-shape", nargs=2, type=int, action="append", default=[], metavar=("R", "C"),
                   help="also time Adafactor on an R x C matrix (repeatable)")
    return p.parse_args()


def main():
    args = _parse()
    os.environ.setdefault("NUMBA_NUM_THREADS", str(args.threads))
    import numba
    import numpy as np
    import torch

    import symdl.optim as O

    torch.set_num_threads(args.threads)
    numba.set_num_threads(args.threads)

    def timeit_blocks(*fns, rounds=4):
        ts = [[] for _ in fns]
        per = max(2, -(-args.repeat // rounds))
        t_end = time.perf_counter() + args.min_time * len(fns)
        while len(ts[0]) < args.repeat or time.perf_counter() < t_end:
            for f, t in zip(fns, ts):
                f()
                for _ in range(per):
                    t0 = time.perf_counter()
                    f()
                    t.append(time.perf_counter() - t0)
            if len(ts[0]) > 2000:
                break
        return [sorted(t)[len(t) // 2] for t in ts]

    lr, b1, b2, eps, wd = 1e-3, 0.9, 0.999, 1e-6, 0.01

    def torch_lamb(p, g):
        m, v = torch.zeros_like(p), torch.zeros_like(p)
        t = [0]

        def step():
            t[0] += 1
            bc1, bc2 = 1 - b1 ** t[0], 1 - b2 ** t[0]
            m.mul_(b1).add_(g, alpha=1 - b1)
            v.mul_(b2).addcmul_(g, g, value=1 - b2)
            u = v.div(bc2).sqrt_().add_(eps)
            u = torch.div(m, u).div_(bc1).add_(p, alpha=wd)
            wn, un = torch.linalg.vector_norm(p), torch.linalg.vector_norm(u)
            ratio = torch.where((wn > 0) & (un > 0), wn / un, torch.ones_like(wn))
            p.add_(u.mul_(ratio * -lr))
        return step

    def torch_lars(p, g, mom=0.9, tc=1e-3):
        buf = torch.zeros_like(p)

        def step():
            u = torch.add(g, p, alpha=wd)
            wn, un = torch.linalg.vector_norm(p), torch.linalg.vector_norm(u)
            ratio = torch.where((wn > 0) & (un > 0), tc * wn / un, torch.ones_like(wn))
            buf.mul_(mom).add_(u.mul_(ratio * lr))
            p.sub_(buf)
        return step

    def adafactor_row(rows, cols, rng):
        p = rng.standard_normal((rows, cols)).astype(np.float32)
        g = (rng.standard_normal((rows, cols)) * 1e-3).astype(np.float32)
        opt = O.Adafactor([p], lr=1e-2)
        w = torch.from_numpy(rng.standard_normal((rows, cols)).astype(np.float32)).requires_grad_()
        w.grad = torch.from_numpy(g.copy())
        topt = torch.optim.Adafactor([w], lr=1e-2, foreach=False)
        ts, tt = timeit_blocks(lambda: opt.step([g]), topt.step)
        gbs = 6 * 4 * rows * cols / ts / 1e9
        name = "adafactor" if rows == cols else f"af {rows}x{cols}"
        print(f"{name:<12}{rows * cols:>10.0e}{ts * 1e3:>10.3f}{tt * 1e3:>10.3f}{tt / ts:>9.2f}{gbs:>8.1f}",
              flush=True)

    print(f"# load average at start: {os.getloadavg()}; threads={args.threads}; torch={torch.__version__}")
    print(f"{'step':<12}{'N':>10}{'symdl ms':>10}{'torch ms':>10}{'torch/s':>9}{'GB/s':>8}")
    for n in (int(x) for x in args.n):
        rng = np.random.default_rng(0)
        for name, arrays, make, tmake in (
                ("lamb", 10, lambda p: O.LAMB([p], lr=lr, betas=(b1, b2), eps=eps, weight_decay=wd), torch_lamb),
                ("lars", 7, lambda p: O.LARS([p], lr=lr, weight_decay=wd), torch_lars)):
            p = rng.standard_normal(n).astype(np.float32)
            g = (rng.standard_normal(n) * 1e-3).astype(np.float32)
            opt = make(p)
            tp = torch.from_numpy(rng.standard_normal(n).astype(np.float32))
            tstep = tmake(tp, torch.from_numpy(g.copy()))
            ts, tt = timeit_blocks(lambda: opt.step([g]), tstep)
            gbs = arrays * 4 * n / ts / 1e9
            print(f"{name:<12}{n:>10.0e}{ts * 1e3:>10.3f}{tt * 1e3:>10.3f}{tt / ts:>9.2f}{gbs:>8.1f}", flush=True)
            del opt, p, g, tp, tstep
        # Adafactor on a square matrix of ~n elements (factored statistics)
        side = int(n ** 0.5)
        adafactor_row(side, side, rng)
    for rows, cols in args.adafactor_shape:
        adafactor_row(rows, cols, np.random.default_rng(0))
    print(f"# load average at end: {os.getloadavg()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
