"""cross_entropy forward+backward: symdl vs PyTorch (not a test).

For (N, C) in {(4096, 10), (4096, 1000)}, float32 and float64, class-index
targets, reduction='mean', it times after a warm-up call (JIT compile / cache
load excluded) the best of several repeats of

* symdl ``forward`` then ``backward`` (two kernels, ``out=`` buffers), the
  same with cached statistics (``forward(..., save_stats=True)`` then
  ``backward(..., stats=...)``: the backward reads each row's max and sum of
  exponentials instead of recomputing them), and the fused
  ``forward_backward`` (one kernel: loss and d input);
* PyTorch: ``F.cross_entropy(x, t).backward()`` with autograd (x.requires_grad),
  ``torch.set_num_threads(THREADS)``.

ratio = torch time / symdl time (>= 1: symdl is faster).

    .venv/bin/python benchmarks/losses.py
    .venv/bin/python benchmarks/losses.py --threads 1 --repeat 30
"""
from __future__ import annotations

import argparse
import time

import numpy as np


def best(f, repeat):
    f()
    ts = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        f()
        ts.append(time.perf_counter() - t0)
    return min(ts)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=20)
    ap.add_argument("--sizes", default="4096x10,4096x1000")
    args = ap.parse_args(argv)

    import numba
    import symdl

    numba.set_num_threads(min(args.threads, numba.config.NUMBA_NUM_THREADS))
    try:
        import torch
        import torch.nn.functional as F
        torch.set_num_threads(args.threads)
    except ImportError:  # pragma: no cover
        torch = None

    ce = symdl.kernel("cross_entropy")
    rng = np.random.default_rng(0)
    rows = []
    for size in args.sizes.split(","):
        N, C = map(int, size.split("x"))
        for dt in (np.float32, np.float64):
            x = rng.normal(0, 2, (N, C)).astype(dt)
            t = rng.integers(0, C, N)
            dx = np.empty_like(x)
            loss = np.empty((), dt)

            def sep():
                ce.forward(x, t, out=loss)
                ce.backward(x, t, 1.0, out=dx)

            def cached():
                _, st = ce.forward(x, t, out=loss, save_stats=True)
                ce.backward(x, t, 1.0, out=dx, stats=st)

            def fused():
                ce.forward_backward(x, t, 1.0, out=(loss, dx))

            t_sep, t_cached, t_fused = best(sep, args.repeat), best(cached, args.repeat), best(fused, args.repeat)
            t_torch = float("nan")
            if torch is not None:
                xt = torch.tensor(x, requires_grad=True)
                tt = torch.tensor(t)

                def tstep():
                    xt.grad = None
                    F.cross_entropy(xt, tt).backward()

                t_torch = best(tstep, args.repeat)
                ce.forward_backward(x, t, 1.0, out=(loss, dx))
                xt.grad = None
                L = F.cross_entropy(xt, tt)
                L.backward()
                err = float(np.max(np.abs(dx - xt.grad.numpy())))
                lerr = abs(float(loss) - L.item())
            else:
                err = lerr = float("nan")
            rows.append((N, C, np.dtype(dt).name, t_sep, t_cached, t_fused, t_torch, err, lerr))

    print(f"cross_entropy forward+backward, reduction='mean', threads={args.threads} "
          f"(best of {args.repeat}); ratio = torch / symdl")
    print(f"{'N':>6} {'C':>6} {'dtype':>8} | {'fwd+bwd':>10} {'cached':>10} {'fused':>10} {'torch':>10} | "
          f"{'ratio':>6} {'cached':>6} {'fused':>6} | {'max|d dx|':>9}")
    for N, C, dt, a, c, b, tt, err, lerr in rows:
        print(f"{N:6d} {C:6d} {dt:>8} | {a * 1e3:7.3f} ms {c * 1e3:7.3f} ms {b * 1e3:7.3f} ms "
              f"{tt * 1e3:7.3f} ms | {tt / a:6.2f} {tt / c:6.2f} {tt / b:6.2f} | {err:9.1e}")


if __name__ == "__main__":
    main()
