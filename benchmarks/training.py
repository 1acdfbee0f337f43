"""MLP training step: symdl.nn + symdl.optim vs PyTorch eager, in the same run.

One step = forward (training mode), cross-entropy loss and its gradient,
backward, optimizer step.  Model: Linear(64, 128) -> activation -> Linear(128, 10),
float32, the same initial weights in both libraries (copied through
``load_state_dict``).  The ratio is torch time / symdl time: > 1 means symdl
is faster.  Issue 4's targets: >= 3x at batch 32 and >= 1.2x at batch 256.

    .venv/bin/python benchmarks/training.py                    # batch 32 and 256, Adam
    .venv/bin/python benchmarks/training.py --optimizer sgd    # SGD with momentum 0.9
    .venv/bin/python benchmarks/training.py --batch 32 64 256 --activation relu --json out.json

Only trust the numbers on a quiet machine: the script prints the load average
before and after (it warns above 0.5) -- with other processes on the cores,
BLAS and torch threads lose their time slices and both sides become erratic.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402


def load() -> float:
    try:
        return os.getloadavg()[0]
    except OSError:  # pragma: no cover
        return float("nan")


def timeit(fn, min_time=0.5, repeat=7, number=None):
    """Median and min seconds per call over ``repeat`` rounds of ``number`` calls."""
    fn()
    fn()
    if number is None:
        t0 = time.perf_counter()
        k = 0
        while time.perf_counter() - t0 < 0.05:
            fn()
            k += 1
        per = (time.perf_counter() - t0) / k
        number = max(1, int(min_time / repeat / per))
    rounds = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        rounds.append((time.perf_counter() - t0) / number)
    return statistics.median(rounds), min(rounds)


TORCH_ACT = {"gelu": "GELU", "relu": "ReLU", "tanh": "Tanh", "sigmoid": "Sigmoid", "silu": "SiLU",
             "elu": "ELU", "leaky_relu": "LeakyReLU", "softplus": "Softplus", "mish": "Mish"}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--batch", type=int, nargs="+", default=[32, 256])
    ap.add_argument("--hidden", type=int, default=128)
    ap.add_argument("--activation", default="gelu", choices=sorted(TORCH_ACT))
    ap.add_argument("--optimizer", default="adam", choices=["adam", "sgd"])
    ap.add_argument("--threads", type=int, default=2, help="torch threads (default 2)")
    ap.add_argument("--min-time", type=float, default=1.0, help="seconds per measurement")
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--json", help="write the rows here")
    args = ap.parse_args(argv)

    import symdl
    import symdl.nn as nn
    import symdl.optim as optim
    from symdl.train import train_step

    load0 = load()
    print(f"load average {load0:.2f} at start" + ("  (WARNING: > 0.5, timings unreliable)" if load0 > 0.5 else ""))
    try:
        import torch
        torch.set_num_threads(args.threads)
    except ImportError:
        torch = None
        print("torch not installed: symdl only")

    rows = []
    for B in args.batch:
        nn.manual_seed(0)
        model = nn.Sequential(nn.Linear(64, args.hidden), nn.Activation(args.activation),
                              nn.Linear(args.hidden, 10))
        if args.optimizer == "adam":
            opt = optim.Adam(model.parameters(), lr=1e-3)
        else:
            opt = optim.SGD(model.parameters(), lr=1e-2, momentum=0.9)
        lossk = symdl.kernel("cross_entropy")
        rng = np.random.default_rng(0)
        x = rng.standard_normal((B, 64)).astype(np.float32)
        t = rng.integers(0, 10, B)
        bufs: dict = {}

        def step_symdl():
            train_step(model, lossk, opt, x, t, buffers=bufs)

        s_med, s_min = timeit(step_symdl, args.min_time, args.repeat)
        row = {"batch": B, "activation": args.activation, "optimizer": args.optimizer,
               "symdl_us": s_med * 1e6, "symdl_min_us": s_min * 1e6}
        if torch is not None:
            tm = torch.nn.Sequential(torch.nn.Linear(64, args.hidden),
                                     getattr(torch.nn, TORCH_ACT[args.activation])(),
                                     torch.nn.Linear(args.hidden, 10))
            tm.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in model.state_dict().items()})
            topt = (torch.optim.Adam(tm.parameters(), lr=1e-3) if args.optimizer == "adam"
                    else torch.optim.SGD(tm.parameters(), lr=1e-2, momentum=0.9))
            lf = torch.nn.CrossEntropyLoss()
            tx = torch.from_numpy(x)
            tt = torch.from_numpy(t)

            def step_torch():
                topt.zero_grad(set_to_none=True)
                loss = lf(tm(tx), tt)
                loss.backward()
                topt.step()

            t_med, t_min = timeit(step_torch, args.min_time, args.repeat)
            row.update(torch_us=t_med * 1e6, torch_min_us=t_min * 1e6, ratio=t_med / s_med,
                       ratio_min=t_min / s_min)
        rows.append(row)

    target = {32: 3.0, 256: 1.2}
    print(f"\nMLP 64-{args.hidden}-10 ({args.activation}), float32, {args.optimizer}; one training "
          f"step (forward, loss, backward, optimizer step); torch threads {args.threads}")
    print(f"{'batch':>6} {'symdl us':>10} {'torch us':>10} {'torch/symdl':>12} {'(min/min)':>10} {'target':>7}")
    for r in rows:
        tr = f"{r['torch_us']:10.1f} {r['ratio']:12.2f} {r['ratio_min']:10.2f}" if "torch_us" in r else f"{'-':>10} {'-':>12} {'-':>10}"
        tg = f"{target[r['batch']]:.1f}x" if r["batch"] in target else "-"
        print(f"{r['batch']:>6} {r['symdl_us']:10.1f} {tr} {tg:>7}")
    load1 = load()
    print(f"load average {load1:.2f} at end" + ("  (WARNING: > 0.5, timings unreliable)" if load1 > 0.5 else ""))
    if args.json:
        Path(args.json).write_text(json.dumps({"rows": rows, "load": [load0, load1]}, indent=2))


if __name__ == "__main__":
    main()
