"""Startup: a fresh process's ``import symdl.nn`` + the first call of one
kernel, with a warm Numba cache (not a test).

For each case a new interpreter runs: ``import symdl, symdl.nn`` then the
first ``forward_backward`` of ``symdl.kernel("gelu")`` / ``"cross_entropy"``,
or the first ``symdl.optim.Adam(...).step``; the time from before the import
to after the call is printed (and the process's CPU time over the same span:
on a busy machine the wall time includes waiting for a core), with the
generated modules the process imported.  A first round warms the Numba
cache (not reported); each case is then timed once with bytecode allowed
(PYTHONDONTWRITEBYTECODE removed from the environment) and once with
``PYTHONDONTWRITEBYTECODE=1`` (sources compiled again on import when no
``__pycache__`` exists; with a populated one it changes little).
Targets (issue 17): <= 0.3 s each.

The ``numba-floor`` case is what any Numba program pays, for comparison: numpy,
numba, and the first call of a one-line ``@njit(cache=True)`` function from
the disk cache (numba's own path, its full context refresh included; symdl's
kernels skip that refresh, see symdl.runtime.jitcache).  ``numba-import`` is
numpy + ``import numba`` alone.

    .venv/bin/python benchmarks/startup.py            # every case
    .venv/bin/python benchmarks/startup.py --cases gelu --rounds 1
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile

CASES = {
    "gelu": ("k = symdl.kernel('gelu'); x = np.linspace(-3, 3, 64); "
             "k.forward_backward(x, np.ones_like(x))"),
    "cross_entropy": ("k = symdl.kernel('cross_entropy'); x = np.zeros((8, 4)); "
                      "k.forward_backward(x, np.arange(8) % 4)"),
    "adam": ("p = np.zeros(64); opt = symdl.optim.Adam([p], lr=1e-3); "
             "opt.step([np.ones(64)])"),
}

FLOOR_MODULE = "import numpy as np\nfrom numba import njit\n\n\n@njit(cache=True)\ndef one(x):\n    return x[0] + 1.0\n"
BASELINES = {
    "numba-floor": "import numpy as np\nimport numba\nimport symdl_startup_floor as m\nm.one(np.ones(4))",
    "numba-import": "import numpy as np\nimport numba",
}

PROGRAM = """
import time
t0 = time.perf_counter(); c0 = time.process_time()
import numpy as np
import symdl, symdl.nn, symdl.optim
t1 = time.perf_counter()
{call}
t2 = time.perf_counter(); c2 = time.process_time()
import json, sys
print(json.dumps({{"import": t1 - t0, "total": t2 - t0, "cpu": c2 - c0,
                  "generated": sorted(m for m in sys.modules if m.startswith("symdl.generated."))}}))
"""


BASELINE_PROGRAM = """
import time
t0 = time.perf_counter(); c0 = time.process_time()
{call}
t1 = time.perf_counter(); c1 = time.process_time()
import json
print(json.dumps({{"import": t1 - t0, "total": t1 - t0, "cpu": c1 - c0, "generated": []}}))
"""


def run_case(name: str, nobytecode: bool) -> dict:
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    if nobytecode:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    if name in BASELINES:
        d = os.path.join(tempfile.gettempdir(), "symdl-startup-floor")
        os.makedirs(d, exist_ok=True)
        path = os.path.join(d, "symdl_startup_floor.py")
        if not os.path.exists(path):
            with open(path, "w", encoding="utf-8") as f:
                f.write(FLOOR_MODULE)
        env["PYTHONPATH"] = d + os.pathsep + env.get("PYTHONPATH", "")
        program = BASELINE_PROGRAM.format(call=BASELINES[name])
    else:
        program = PROGRAM.format(call=CASES[name])
    out = subprocess.run([sys.executable, "-c", program], env=env,
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", nargs="*", default=[*CASES, *BASELINES], choices=[*CASES, *BASELINES])
    ap.add_argument("--rounds", type=int, default=1, help="timed runs per case and mode (min reported)")
    ap.add_argument("--json", help="also write the results to this file")
    args = ap.parse_args(argv)
    results = []
    for name in args.cases:
        run_case(name, False)                      # warm the Numba cache and __pycache__
        for nob in (False, True):
            runs = [run_case(name, nob) for _ in range(args.rounds)]
            best = min(runs, key=lambda r: r["total"])
            results.append({"case": name, "PYTHONDONTWRITEBYTECODE": nob, **best})
            print(f"{name:<14} {'no-bytecode' if nob else 'bytecode':<11} import {best['import']:.3f} s"
                  f"  import+first call {best['total']:.3f} s (CPU {best['cpu']:.3f} s)  "
                  f"{'(target 0.3 s)' if name in CASES else '(baseline)'}  "
                  f"modules: {', '.join(best['generated'])}")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(results, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
