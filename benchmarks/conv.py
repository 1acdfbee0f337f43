"""Convolutions: symdl.nn vs PyTorch eager on the CPU, in the same run.

* ``conv``: Conv2d forward + backward (d input, d weight, d bias) at
  (32, 16, 28, 28) -> 32 channels, 3×3, padding 1, float32.
* ``lenet``: one LeNet-sized training step on (N, 1, 28, 28) images, float32:
  Conv2d(1, 6, 5, padding=2) -> ReLU -> MaxPool2d(2) -> Conv2d(6, 16, 5) ->
  ReLU -> MaxPool2d(2) -> Flatten -> Linear(400, 120) -> ReLU -> Linear(120, 84)
  -> ReLU -> Linear(84, 10), cross-entropy, SGD (momentum 0.9); forward,
  loss gradient, backward, optimizer step.

Both sides start from the same weights (copied through ``load_state_dict``)
and are checked to agree before timing.  torch runs with ``--threads``
threads (default 2).  symdl runs each case twice, one thread pool each time:
with OpenBLAS on ``--threads`` threads (``OPENBLAS_NUM_THREADS`` is set before
NumPy is imported; NumPy's default), where the conv loops over the samples on
one thread and each GEMM runs on OpenBLAS's threads; and with OpenBLAS on 1
thread (``blas.threads_set``), where the conv splits the batch over Numba's
threads and the dense layers' products run on one.  The LeNet step is
``symdl.train.train_step``, which runs a model with convolutions with
OpenBLAS on one thread whatever the process's count (``train.blas_mode``),
so its two rows measure the same configuration.  In the OpenBLAS-2 run the
row "the same layer as Sequential(it)" times that Conv2d inside a model:
``Sequential`` runs a model with convolutions with OpenBLAS on one thread
(``nn.conv.blas_mode``), so it measures the split.  The ratio is torch time
/ symdl time: > 1 means symdl is faster.  Target: >= 1.0x.

    .venv/bin/python benchmarks/conv.py                 # both, default sizes
    .venv/bin/python benchmarks/conv.py --tiny          # a smoke run at tiny sizes (not a measurement)
    .venv/bin/python benchmarks/conv.py --json out.json

Only trust the numbers on a quiet machine (the load average is printed):
threaded BLAS and torch lose their time slices to other processes and both
sides become erratic.  The CPU column (process time per call, all threads)
shows thread pools that spin.  Numba's OpenMP workers spin after each
parallel kernel (here the ReLU kernels above 65536 elements) and fought
OpenBLAS's worker for the second core: LeNet step 32 ms.  symdl now starts
Numba's pool with GOMP_SPINCOUNT=10000 (``symdl/runtime/threads.py``; torch,
imported first here, keeps its own libgomp and policy): about 10 ms.  Compare
    SYMDL_OMP_SPINCOUNT=off .venv/bin/python benchmarks/conv.py   # libgomp's default spin
    SYMDL_OMP_SPINCOUNT=0 .venv/bin/python benchmarks/conv.py     # sleep at once

What bounds the Conv2d case (``runtime.conv.conv2d_forward``/``_backward``):
per sample, [W | b] · [P x[n]; 1], [dW | db]ᵀ += [P x[n]; 1] · g[n]ᵀ and
d(P x[n]) = Wᵀ g[n], three OpenBLAS sgemm calls of ~100 us each on one
thread (72 GFLOP/s), plus P x[n] twice (forward, backward: 18 us each) and
Pᵀ once (19 us) in cache.  The row "of which 96 GEMMs, on 1 thread" times
the GEMMs alone: 9.6-10 ms of CPU, i.e. ~5 ms on 2 threads, against torch's
whole forward + backward (oneDNN's direct convolution) at 5.7-6.9 ms; the
conv's CPU time is 11-13.7 ms, torch's 10.6-13.  So with the batch split
(2026-12-07, four runs: 1.00x (5.71 vs 5.70 ms), 0.81x, 0.83x, 1.17x; the
1.17x run had torch at 9.8 ms, not its usual 5.7-6.9; the
2-part static split loses most when another process takes a core for a
while; 4-8 parts handed out one at a time measured slower, each part's
scratch leaving the cache) the GEMMs are ~75-85% of the time
and OpenBLAS's speed at these shapes (M = 32, K = 145, N = 784) is the bound;
going past ~1.1x needs a faster GEMM or no columns at all (a direct kernel).
Before (whole-batch columns, 14.5 MB, through NumPy's matmul, a transposing
copy and fold_cf): 12.6-14.3 ms, 0.45-0.66x.  With OpenBLAS on 2 threads the
loop over samples is one thread and only the GEMMs run on two (8.4 ms,
0.81x).  Splitting the batch over Numba's threads while OpenBLAS has 2 is
worse where dense layers run too: OpenBLAS's worker spins ~0.1 s after each
threaded product, and a split conv run meanwhile took 2.5-3.5x as long; the
LeNet step 14-15 ms against 9.6 without the split.  Hence the rule in
``runtime.conv._parts``: split only when OpenBLAS runs on one thread.
LeNet step (same run): 4.6 vs 6.2 ms (1.35x) with OpenBLAS on 1 thread and
Numba's 2; 7.7 vs 6.5 ms (0.85x) with OpenBLAS on 2 -- hence
``train.blas_mode`` (later run: 7.2 vs 8.9 ms, 1.24x, in the OpenBLAS-2
process; 12.8 vs 8.3 ms, 0.65x, before it).  The numbers move by
+-20% between runs on this shared 2-core VM; trust rows measured together.

2026-12-08 (h21), what was tried for the Conv2d row, each under the lock,
processes alternated (the host's load average was 1.4-1.9 throughout):

* Kept: the split takes samples (forward) and chunks of 2 samples (backward,
  one dW partial sum each, summed in chunk order) from an atomic counter
  instead of a fixed half per thread.  Split fwd+bwd medians 6.5-8.2 ms
  against 6.7-10.4 ms static (same ~6.2 ms minimum): a thread that loses its
  core for a while takes fewer samples; and y, dx, dW, db are now the
  one-thread bits whatever the split (tested).  Chunks of 1, 2 or 4 samples:
  the same within the noise.
* Not kept: the layer switching OpenBLAS to one thread for its own call and
  splitting (the brief's idea 1).  Alone in a loop it wins (6.2-7.7 ms against
  8.9-11.6 unsplit, one process per setting), but OpenBLAS's worker spins
  ~110 ms after every threaded product, and openblas_set_num_threads(1) does
  not stop it (measured: 48-52 ms of other-thread CPU in the 50 ms after a
  512² product, with or without it).  So after a threaded product the split
  fights it: a 512² matmul then the conv 16-17.8 ms against 9.8-14.1 unsplit;
  Conv2d + Linear(25088, 64) called layer by layer 19-22 ms against 13.8-18.8.
  A lone layer cannot know what ran before it; a model can.  Instead
  ``Sequential.forward``/``backward`` run a model with convolutions with
  OpenBLAS on one thread (``nn.conv.blas_mode``, also ``train.blas_mode``'s
  rule): LeNet forward + backward at batch 64 in an OpenBLAS-2 process
  9.4-10.5 -> 5.0-5.2 ms, inference 3.5-3.9 -> 2.1-2.4 ms, train_step the
  same, Conv2d + Linear(25088, 64) as a Sequential 13.6-14.3 vs 12.9-15.5 ms
  (its big product on one thread costs what the split saves).  The lone
  layer in an OpenBLAS-2 process therefore still runs the loop of threaded
  GEMMs (0.64x in the run below; 0.70-0.96x in two others).
* No measurable change: the backward's d-columns in the columns' scratch
  (the columns are dead after the dW product; 4.51 vs 4.53 ms backward,
  split), y and dx in preallocated ``out`` buffers (1.80-1.86 ms forward
  either way).  Keeping the forward's columns was measured before (no faster).
* Not done, measured first: larger GEMM calls.  One thread, cblas
  (M, K, N) = (32, 145, 784) 75.6 GFLOP/s, N = 1568 75.2, N = 3136 78.6
  (1024³: 94): at most 4%, and y's (N, O, P) layout would need a copy.
* Slower: convolution without im2col as shifted products over a padded
  sample (9 GEMMs with K or N = 16, per sample: forward 185 us, dW 211, dx
  186, against 111, 116, 115 for im2col/col2im + one GEMM); columns over kw
  only (3 GEMMs with K = 48: 127, 140, 131 us).

Where the split stands (OpenBLAS 1, or inside Sequential): 11.2-12.6 ms of
CPU = the 96 GEMMs' 9.3-9.7 + im2col twice and col2im (51 us a sample,
1.6 ms) + pool spin and the last chunk's wait; 5.7-7.4 ms wall against
torch's 5.4-6.5 when torch runs at its best (0.94x in the run below, on a
quiet host; 0.88-0.94x and 0.93-1.18x in others).  Even with no im2col or
col2im at all the GEMMs alone, split perfectly, would be ~4.7 ms (1.15x).
They run at 75-79 GFLOP/s against the core's ~94 at large sizes, so no
reordering of this design passes ~1.1x: that needs fewer flops or a direct
kernel -- but Winograd F(2x2, 3x3) through OpenBLAS, 2.25x fewer multiplies,
measured slower (below).

Tried 2026-12-08, not kept (the code and its tests: commit 9b0ee8a, reverted by 4bcea98):
Winograd F(2x2, 3x3) for the forward and for dx (the same routine on g padded
by 2 - p with the weights turned 180 degrees, in/out swapped; dW kept on
im2col).  Correct (the F(2,3) identity proven with SymPy; within 32 ulps of
Σ|terms| of a float64 reference; torch comparisons pass at 1e-10), but per
sample on one thread, (32, 16, 28, 28) -> 32: the 16 products
(32 x 16)(16 x S·196) ~63 us at S = 4 samples per product (OpenBLAS at K = 16
is ~55 GFLOP/s against ~78 at K = 145), plus the input transform (copy into a
zero-padded plane, Bᵀ d B into 16 planes of 16 x S·196) ~20 us and the output
transform (Aᵀ m A from 16 planes of 32 x S·196, + bias, into y) ~25 us,
against ~111 + 18 us for im2col + one GEMM.  The transforms are bound by
moving V and M (200 KB + 400 KB a sample, past L2 at S >= 2; at S = 1 the
products run at ~42 GFLOP/s); three layouts of the transforms measured the
same or worse.  Split fwd+bwd, minima of alternated runs under the lock:
forward 2.03-2.21 vs 1.91-1.95 ms, backward 4.32-4.71 vs 3.83-3.93 ms; in
this benchmark 0.55-0.97x vs 0.96-1.19x (OpenBLAS 1), 0.73-0.89x vs
0.97-1.21x (inside Sequential), always below im2col in the same pairing.
Beating im2col this way needs the products and the transforms fused in one
kernel that keeps a block of tiles in L1/L2 (a hand-written small GEMM), not
16 OpenBLAS calls.

The run (load average 0.57, 2026-12-08 01:54 UTC):

    Conv2d fwd+bwd [OpenBLAS 2 thr]            symdl 8.45 ms  torch 5.40 ms  0.64x
      the same layer as Sequential(it)         symdl 5.77 ms  torch 5.40 ms  0.94x
      of which 96 GEMMs, on 1 thread           symdl 9.31 ms (CPU 9.27)
    LeNet training step [OpenBLAS 2 thr]       symdl 4.40 ms  torch 5.89 ms  1.34x
    Conv2d fwd+bwd [OpenBLAS 1, Numba 2 thr]   symdl 5.72 ms  torch 5.37 ms  0.94x
    LeNet training step [OpenBLAS 1, Numba 2]  symdl 4.42 ms  torch 6.24 ms  1.41x
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path


def _threads_from_argv(argv) -> int:
    for i, a in enumerate(argv):
        if a == "--threads" and i + 1 < len(argv):
            return int(argv[i + 1])
        if a.startswith("--threads="):
            return int(a.split("=", 1)[1])
    return 2


if __name__ == "__main__":   # BLAS reads its thread count when NumPy loads
    os.environ.setdefault("OPENBLAS_NUM_THREADS", str(_threads_from_argv(sys.argv[1:])))
    os.environ.setdefault("OMP_NUM_THREADS", str(_threads_from_argv(sys.argv[1:])))

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402


def timeit(fn, min_time=0.5, repeat=7):
    """Median and min wall seconds per call over ``repeat`` rounds, and the
    min process CPU seconds per call (all threads: spinning pools show here)."""
    fn()
    fn()
    t0, k = time.perf_counter(), 0
    while time.perf_counter() - t0 < 0.05:
        fn()
        k += 1
    number = max(1, int(min_time / repeat / ((time.perf_counter() - t0) / k)))
    rounds, cpu = [], []
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        for _ in range(number):
            fn()
        rounds.append((time.perf_counter() - t0) / number)
        cpu.append((time.process_time() - c0) / number)
    return statistics.median(rounds), min(rounds), min(cpu)


def bench_conv(torch, nn, shape, out_ch, args):
    N, C, H, W = shape
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape).astype(np.float32)
    mine = nn.Conv2d(C, out_ch, 3, padding=1)
    ref = torch.nn.Conv2d(C, out_ch, 3, padding=1)
    mine.load_state_dict(ref.state_dict())
    g = rng.standard_normal((N, out_ch, H, W)).astype(np.float32)
    tx, tg = torch.tensor(x, requires_grad=True), torch.tensor(g)

    def run_symdl():
        mine.forward(x, training=True)
        return mine.backward(g)

    def run_torch():
        tx.grad = None
        ref.zero_grad(set_to_none=True)
        ref(tx).backward(tg)
        return tx.grad

    np.testing.assert_allclose(run_symdl(), run_torch().numpy(), rtol=1e-3, atol=1e-3)
    np.testing.assert_allclose(mine.grads["weight"], ref.weight.grad.numpy(), rtol=1e-3, atol=1e-2)
    # the floor of this design: its GEMMs alone, the same cblas calls per sample on one
    # thread (y[n] = [W | b]·[P x[n]; 1], [dW | db]ᵀ += [P x[n]; 1]·g[n]ᵀ, d(P x[n]) = Wᵀ·g[n])
    from symdl.runtime import blas
    from symdl.runtime.windows import unfold
    gemm, P, K = blas.gemm(np.float32), H * W, C * 9
    cols = np.ones((K + 1, P), np.float32)
    cols[:K] = unfold(x[:1], (3, 3), (1, 1), ((1, 1), (1, 1)), (1, 1), channels_first=True).reshape(K, P)
    wa = np.ascontiguousarray(np.concatenate([mine.params["weight"].reshape(out_ch, -1),
                                              mine.params["bias"][:, None]], 1))
    yn, gn = np.empty((out_ch, P), np.float32), g[0].reshape(out_ch, P)
    dwt, dc = np.zeros((K + 1, out_ch), np.float32), np.empty((K, P), np.float32)
    ptr = [a.ctypes.data for a in (wa, cols, yn, gn, dwt, dc)]

    def gemms():
        with blas.OneThread():
            for _ in range(N):
                gemm(101, 111, 111, out_ch, P, K + 1, 1.0, ptr[0], K + 1, ptr[1], P, 0.0, ptr[2], P)
                gemm(101, 111, 112, K + 1, out_ch, P, 1.0, ptr[1], P, ptr[3], P, 1.0, ptr[4], out_ch)
                gemm(101, 112, 111, K, P, out_ch, 1.0, ptr[0], K + 1, ptr[3], P, 0.0, ptr[5], P)

    ts = timeit(run_symdl, args.min_time, args.repeat)
    tt = timeit(run_torch, args.min_time, args.repeat)
    rows = [{"what": f"Conv2d fwd+bwd {shape} -> {out_ch} ch 3x3", "symdl_ms": ts[0] * 1e3,
             "torch_ms": tt[0] * 1e3, "ratio": tt[0] / ts[0], "symdl_cpu_ms": ts[2] * 1e3,
             "torch_cpu_ms": tt[2] * 1e3}]
    if args.gemms and args.threads > 1:
        # the same layer inside a model: Sequential runs a model with convolutions with
        # OpenBLAS on one thread (nn.conv.blas_mode), so its conv splits the batch
        seq = nn.Sequential(mine)

        def run_seq():
            seq.forward(x, training=True)
            return seq.backward(g)
        tq = timeit(run_seq, args.min_time, args.repeat)
        rows.append({"what": "  the same layer as Sequential(it)", "symdl_ms": tq[0] * 1e3,
                     "torch_ms": tt[0] * 1e3, "ratio": tt[0] / tq[0], "symdl_cpu_ms": tq[2] * 1e3,
                     "torch_cpu_ms": tt[2] * 1e3})
    if gemm is not None and args.gemms:
        tg = timeit(gemms, args.min_time, args.repeat)
        rows.append({"what": f"  of which {3 * N} GEMMs, on 1 thread", "symdl_ms": tg[0] * 1e3,
                     "torch_ms": tt[0] * 1e3, "ratio": tt[0] / tg[0], "symdl_cpu_ms": tg[2] * 1e3,
                     "torch_cpu_ms": tt[2] * 1e3})
    return rows


def bench_lenet(torch, nn, optim, batch, side, args):
    from symdl.train import train_step

    rng = np.random.default_rng(0)
    x = rng.standard_normal((batch, 1, side, side)).astype(np.float32)
    y = rng.integers(0, 10, size=batch)
    flat = 16 * ((side // 2 - 4) // 2) ** 2

    def layers(m):
        return [m.Conv2d(1, 6, 5, padding=2), m.ReLU(), m.MaxPool2d(2), m.Conv2d(6, 16, 5), m.ReLU(),
                m.MaxPool2d(2), m.Flatten(), m.Linear(flat, 120), m.ReLU(), m.Linear(120, 84), m.ReLU(),
                m.Linear(84, 10)]

    ref = torch.nn.Sequential(*layers(torch.nn))
    mine = nn.Sequential(*layers(nn))
    mine.load_state_dict({k: v for k, v in ref.state_dict().items()})
    np.testing.assert_allclose(mine.forward(x), ref(torch.tensor(x)).detach().numpy(), rtol=1e-3,
                               atol=1e-4)
    from symdl.train import resolve_loss
    lossk = resolve_loss("cross_entropy")
    opt = optim.SGD(mine.parameters(), lr=0.01, momentum=0.9)
    topt = torch.optim.SGD(ref.parameters(), lr=0.01, momentum=0.9)
    tx, ty = torch.tensor(x), torch.tensor(y)
    lf = torch.nn.CrossEntropyLoss()

    def run_symdl():
        train_step(mine, lossk, opt, x, y)

    def run_torch():
        topt.zero_grad(set_to_none=True)
        lf(ref(tx), ty).backward()
        topt.step()

    ts = timeit(run_symdl, args.min_time, args.repeat)
    tt = timeit(run_torch, args.min_time, args.repeat)
    return [{"what": f"LeNet training step, batch {batch}, {side}x{side}", "symdl_ms": ts[0] * 1e3,
             "torch_ms": tt[0] * 1e3, "ratio": tt[0] / ts[0], "symdl_cpu_ms": ts[2] * 1e3,
             "torch_cpu_ms": tt[2] * 1e3}]


def _spin():
    from symdl.runtime.threads import _spincount
    mine = _spincount()
    return repr(os.environ.get("GOMP_SPINCOUNT", "libgomp's default")) if mine is None else \
        f"{mine} (symdl's)"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--threads", type=int, default=2, help="torch and BLAS threads (default 2)")
    ap.add_argument("--batch", type=int, default=64, help="LeNet batch size")
    ap.add_argument("--min-time", type=float, default=1.0, help="seconds per measurement")
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--tiny", action="store_true", help="tiny sizes, one short round: a smoke run")
    ap.add_argument("--json", help="write the rows here")
    args = ap.parse_args(argv)
    try:
        import torch
    except ImportError:
        print("PyTorch is not installed: nothing to compare with", file=sys.stderr)
        return 1
    import symdl.nn as nn
    import symdl.optim as optim

    torch.set_num_threads(args.threads)
    if args.tiny:
        args.min_time, args.repeat = 0.01, 1
    import numba

    print(f"load average {os.getloadavg()[0]:.2f}; torch {torch.__version__}, {args.threads} threads; "
          f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS')}; Numba threading layer "
          f"{numba.config.THREADING_LAYER!r}, NUMBA_NUM_THREADS={numba.config.NUMBA_NUM_THREADS}, "
          f"its GOMP_SPINCOUNT {_spin()}")
    from symdl.runtime import blas
    rows = []
    # symdl with --threads threads: OpenBLAS's (NumPy's default; the conv then runs one
    # thread, each GEMM on OpenBLAS's pool), or OpenBLAS on 1 and Numba's pool on all
    # (the conv splits the batch over it): one thread pool either way
    configs = [(args.threads, f"OpenBLAS {args.threads} thr")]
    if args.threads > 1:
        configs.append((1, f"OpenBLAS 1, Numba {numba.config.NUMBA_NUM_THREADS} thr"))
    for n_blas, how in configs:
        prev = blas.threads_set(n_blas)
        args.gemms = n_blas == args.threads
        part = bench_conv(torch, nn, (2, 3, 6, 6) if args.tiny else (32, 16, 28, 28),
                          4 if args.tiny else 32, args)
        part += bench_lenet(torch, nn, optim, 4 if args.tiny else args.batch, 28, args)
        if prev is not None:
            blas.threads_set(prev)
        for r in part:
            if not r["what"].startswith(" "):
                r["what"] += f" [{how}]"
        rows += part
    for r in rows:
        print(f"{r['what']:<72} symdl {r['symdl_ms']:9.3f} ms   torch {r['torch_ms']:9.3f} ms   "
              f"ratio {r['ratio']:.2f}x   (CPU ms/call: symdl {r['symdl_cpu_ms']:.2f}, "
              f"torch {r['torch_cpu_ms']:.2f})")
    try:
        layer = numba.threading_layer()
    except ValueError:      # no parallel Numba kernel ran
        layer = "none used"
    print(f"load average after: {os.getloadavg()[0]:.2f}; Numba threading layer used: {layer}")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
