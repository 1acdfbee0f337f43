"""Recurrent layers: symdl.nn vs PyTorch eager (CPU), in the same run, float32.

* ``LSTMCell`` forward + backward at B=32, I=64, H=128 (issue 16 target: >= 1.3x);
* ``LSTM`` and ``GRU`` training step -- forward over T=50, loss (sum of the
  outputs times a fixed cotangent), full BPTT, Adam -- at T=50, B=32, I=64,
  H=128, one layer (target: >= 1.2x).

Both sides start from the same weights (``load_state_dict``).  The ratio is
torch time / symdl time (medians; then of the minimums): > 1 means symdl is
faster.  The two sides' rounds are interleaved in alternating order.

    .venv/bin/python benchmarks/recurrent.py                       # the issue's sizes
    .venv/bin/python benchmarks/recurrent.py --T 5 --batch 4 --input 8 --hidden 16 --min-time 0.05  # smoke
    .venv/bin/python benchmarks/recurrent.py --phases         # + where one symdl step's time goes

Only trust the numbers on a quiet machine (the load average is printed).
NumPy's BLAS threads: set OPENBLAS_NUM_THREADS (e.g. 1 or 2) before running to
match torch's ``--threads``; a recurrent step's matmuls are small, and an
oversubscribed BLAS thread pool slows them by an order of magnitude.
Unset, NumPy's OpenBLAS runs 2 threads here (one per core); the LSTM sets it to
1 around its split phases either way (``runtime.blas.run_pair``): LSTM step
medians 8.4, 9.3 and 10.3 ms with 2 threads, 9.4 and 9.4 ms with 1 (one run
each under the lock, 2026-12-08; torch 9.3-12.3 ms in the same runs).

What bounds the LSTM step (``--phases``; T=50 B=32 I=64 H=128, 2 cores, under
the lock, 2026-12-08): time loop forward 3.4-4.3 ms, BPTT loop 2.1-2.5, weight
gradient products 2.2-2.6, the rest of forward and backward 0.4, Adam 0.2 --
about 95% in the loops and products (~420 M multiply-adds).  Per step, in each
of the two batch halves: [x_t, h_t] Wᵀ (16x192 @ 192x512) takes ~51 us by cblas,
~17 us of it a fixed cost (OpenBLAS packs the weight on every call, and both
halves pay it: 32 rows take 85 us); δ W_hh (16x512 @ 512x128) 38 us (32 rows:
61); the forward gate kernel ~30 us for 32x128 units (five exp/expm1, five
divisions, eight stores a unit).  Side by side the halves run 1.2-1.3x slower
than alone (forward half 3.2 ms alone), and each handoff to the worker thread
costs 35-95 us.  Measured and not kept: the input projection as one product
over all steps (0.65 ms a thread, against 0.55 ms for the same products inside
the per-step gemm, whose K grows 128 -> 192); dW_ih, dW_hh and db as one product
over [x, h, 1] (the same time); the BPTT loop or the weight gradients on
OpenBLAS's 2 threads instead of the batch halves (slower in the step); W passed
as is to the gemm (CblasTrans) instead of the Wᵀ copy (+6 us a call against 90
us once).  A prototype that splits the hidden units instead of the batch (each
thread the gates of half the units for all 32 rows, 32x192 @ 192x256, one spin
barrier per step) ran the forward loop 0.4 ms faster (3.0 against 3.5 ms a
thread alone; 3.7 against 4.2 side by side) and the BPTT loop no faster.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from interleave import timeit_pair  # noqa: E402


def load() -> float:
    try:
        return os.getloadavg()[0]
    except OSError:  # pragma: no cover
        return float("nan")


def phases(layer, opt, grads, xs, g, repeat, calls=40):
    """Where one symdl training step's time goes: the generated time loops (the
    sequence layers' ``_loop``: per step the gemm and the gate kernel, in two
    batch halves when split), the weight-gradient products (``_pair``), the rest
    of forward and backward (Python, allocations, the small copies), and the
    optimizer step.  Medians and minimums over ``repeat`` rounds of ``calls``
    steps; the time loops and products are timed around the layer's own calls
    (the thread handoffs included)."""
    import time
    from collections import defaultdict

    from symdl.nn import recurrent as R

    acc = defaultdict(float)
    loop, pair = R._loop, R._pair

    def timed_loop(split, fn, args, B):
        t0 = time.perf_counter()
        loop(split, fn, args, B)
        acc["forward loop" if "forward" in fn.__name__ else "backward loop"] += time.perf_counter() - t0

    def timed_pair(split, f0, f1):
        t0 = time.perf_counter()
        pair(split, f0, f1)
        acc["weight-gradient products"] += time.perf_counter() - t0

    rounds = defaultdict(list)
    R._loop, R._pair = timed_loop, timed_pair
    try:
        for r in range(repeat + 1):
            acc.clear()
            for _ in range(calls):
                t0 = time.perf_counter()
                layer.forward(xs, training=True)
                t1 = time.perf_counter()
                layer.backward(g, input_grad=False)
                t2 = time.perf_counter()
                opt.step(grads)
                t3 = time.perf_counter()
                acc["forward"] += t1 - t0
                acc["backward"] += t2 - t1
                acc["optimizer step"] += t3 - t2
                acc["whole step"] += t3 - t0
            if r == 0:
                continue            # warm-up round
            acc["forward outside its loop"] = acc["forward"] - acc["forward loop"]
            acc["backward outside loop and products"] = (acc["backward"] - acc["backward loop"]
                                                         - acc["weight-gradient products"])
            for k in ("forward loop", "forward outside its loop", "backward loop", "weight-gradient products",
                      "backward outside loop and products", "optimizer step", "whole step"):
                rounds[k].append(acc[k] / calls * 1e3)
    finally:
        R._loop, R._pair = loop, pair
    return {k: (sorted(v)[len(v) // 2], min(v)) for k, v in rounds.items()}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--T", type=int, default=50)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--input", type=int, default=64)
    ap.add_argument("--hidden", type=int, default=128)
    ap.add_argument("--threads", type=int, default=2, help="torch threads (default 2)")
    ap.add_argument("--min-time", type=float, default=1.0, help="seconds per measurement")
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--json", help="write the rows here")
    ap.add_argument("--phases", action="store_true",
                    help="also time the phases of one symdl LSTM training step")
    args = ap.parse_args(argv)

    import symdl.nn as nn
    from symdl import optim

    try:
        import torch
    except ImportError:
        torch = None
        print("torch is not installed: symdl times only", file=sys.stderr)
    else:
        torch.set_num_threads(args.threads)
    B, I, H, T = args.batch, args.input, args.hidden, args.T
    rng = np.random.default_rng(0)
    rows = []
    l0 = load()
    print(f"load average {l0:.2f}" + ("  (> 0.5: numbers unreliable)" if l0 > 0.5 else ""))

    # ---- LSTMCell forward + backward
    cell = nn.LSTMCell(I, H, rng=rng)
    x = rng.standard_normal((B, I)).astype(np.float32)
    h = rng.standard_normal((B, H)).astype(np.float32)
    c = rng.standard_normal((B, H)).astype(np.float32)
    dh = rng.standard_normal((B, H)).astype(np.float32)
    dc = rng.standard_normal((B, H)).astype(np.float32)

    def cell_symdl():
        cell.forward(x, (h, c))
        cell.backward(dh, dc)

    cases = [("LSTMCell fwd+bwd", f"B={B} I={I} H={H}", cell_symdl, None)]
    if torch is not None:
        tcell = torch.nn.LSTMCell(I, H)
        cell.load_state_dict({k: v.detach().numpy() for k, v in tcell.state_dict().items()})
        tx = torch.tensor(x, requires_grad=True)
        th, tc = torch.tensor(h, requires_grad=True), torch.tensor(c, requires_grad=True)
        tdh, tdc = torch.tensor(dh), torch.tensor(dc)

        def cell_torch():
            h1, c1 = tcell(tx, (th, tc))
            torch.autograd.backward((h1, c1), (tdh, tdc))

        cases[0] = cases[0][:3] + (cell_torch,)

    # ---- sequence training steps
    phase_rows = []
    xs = rng.standard_normal((T, B, I)).astype(np.float32)
    g = rng.standard_normal((T, B, H)).astype(np.float32)
    for name in ("LSTM", "GRU"):
        layer = getattr(nn, name)(I, H, rng=rng)
        opt = optim.Adam(layer.parameters(), lr=1e-3)
        grads = layer.gradients()

        def step_symdl(layer=layer, opt=opt, grads=grads):
            layer.forward(xs, training=True)
            layer.backward(g, input_grad=False)   # as torch: xs needs no gradient
            opt.step(grads)

        step_torch = None
        if torch is not None:
            tl = getattr(torch.nn, name)(I, H)
            layer.load_state_dict({k: v.detach().numpy() for k, v in tl.state_dict().items()})
            topt = torch.optim.Adam(tl.parameters(), lr=1e-3)
            txs, tg = torch.tensor(xs), torch.tensor(g)

            def step_torch(tl=tl, topt=topt, txs=txs, tg=tg):
                topt.zero_grad(set_to_none=True)
                out, _ = tl(txs)
                out.backward(tg)
                topt.step()

        cases.append((f"{name} train step", f"T={T} B={B} I={I} H={H}", step_symdl, step_torch))
        if args.phases and name == "LSTM":     # the GRU runs the per-step Python loop: no phases
            phase_rows.append((name, phases(layer, opt, grads, xs, g, args.repeat)))

    print(f"{'case':<20} {'size':<24} {'symdl ms':>10} {'torch ms':>10} {'torch/symdl':>12} {'(minimums)':>11}")
    for label, size, fs, ft in cases:
        (s_med, s_min), (t_med, t_min) = timeit_pair(fs, ft, args.min_time, args.repeat)
        ratio = t_med / s_med
        rows.append({"case": label, "size": size, "symdl_ms": s_med * 1e3, "torch_ms": t_med * 1e3,
                     "ratio": ratio, "symdl_min_ms": s_min * 1e3, "torch_min_ms": t_min * 1e3,
                     "ratio_min": t_min / s_min})
        print(f"{label:<20} {size:<24} {s_med * 1e3:10.3f} {t_med * 1e3:10.3f} {ratio:12.2f} "
              f"{t_min / s_min:11.2f}", flush=True)
    for name, ph in phase_rows:
        print(f"\n{name} train step, symdl, by phase (ms; median, min over {args.repeat} rounds):")
        for k, (med, mn) in ph.items():
            print(f"  {k:<34} {med:8.3f} {mn:8.3f}")
    l1 = load()
    print(f"load average {l1:.2f}" + ("  (> 0.5: numbers unreliable)" if l1 > 0.5 else ""))
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
