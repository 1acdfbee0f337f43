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

Only trust the numbers on a quiet machine (the load average is printed).
NumPy's BLAS threads: set OPENBLAS_NUM_THREADS (e.g. 1 or 2) before running to
match torch's ``--threads``; a recurrent step's matmuls are small, and an
oversubscribed BLAS thread pool slows them by an order of magnitude.
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

    print(f"{'case':<20} {'size':<24} {'symdl ms':>10} {'torch ms':>10} {'torch/symdl':>12} {'(minimums)':>11}")
    for label, size, fs, ft in cases:
        (s_med, s_min), (t_med, t_min) = timeit_pair(fs, ft, args.min_time, args.repeat)
        ratio = t_med / s_med
        rows.append({"case": label, "size": size, "symdl_ms": s_med * 1e3, "torch_ms": t_med * 1e3,
                     "ratio": ratio, "symdl_min_ms": s_min * 1e3, "torch_min_ms": t_min * 1e3,
                     "ratio_min": t_min / s_min})
        print(f"{label:<20} {size:<24} {s_med * 1e3:10.3f} {t_med * 1e3:10.3f} {ratio:12.2f} "
              f"{t_min / s_min:11.2f}", flush=True)
    l1 = load()
    print(f"load average {l1:.2f}" + ("  (> 0.5: numbers unreliable)" if l1 > 0.5 else ""))
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
