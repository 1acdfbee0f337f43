"""Throughput of symdl's activation kernels vs NumPy, PyTorch and memory bandwidth (not a test).

For every activation (both gelu variants), dtype and size N it times, with
preallocated ``out=`` buffers, after a warm-up call (JIT compile / cache load
excluded), the median of several repeats of

* symdl ``forward_backward`` (fused; the headline number), ``forward`` and ``backward``;
* PyTorch: ``y = f(x); y.backward(g)`` with autograd (x.requires_grad, fresh
  outputs every call -- that is what a torch training step does) and a
  ``torch.no_grad()`` forward; ``torch.set_num_threads(2)``.  Activations with
  no ``torch.nn.functional`` equivalent are timed against a composite of torch
  ops (marked ``*``);
* NumPy: a straightforward forward + backward (relu, leaky_relu, sigmoid, tanh,
  elu, softplus, silu, gelu -- gelu only when SciPy provides ``erf``);
* a STREAM-like triad ``a[i] = b[i] + s*c[i]`` (Numba prange), in GB/s.

Effective bandwidth of a kernel = bytes it must move / time: forward_backward
reads x and g and writes y and dx, i.e. 4 arrays x itemsize x N (rrelu in
training mode also reads its noise: 5).  ``%triad`` is that divided by the triad
bandwidth (which counts its 3 arrays the same way, no write-allocate traffic).

    .venv/bin/python benchmarks/activations.py                      # N=1e6,1e7; float32, float64
    .venv/bin/python benchmarks/activations.py --quick --names relu gelu
    .venv/bin/python benchmarks/activations.py --json results.json
    .venv/bin/python benchmarks/activations.py --threads 1 --clock cpu --stat min   # busy machine
    .venv/bin/python benchmarks/activations.py --asm-only                           # SIMD report

See benchmarks/README.md for how to read the table.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import re
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

if "--avx512" in sys.argv and "NUMBA_CPU_FEATURES" not in os.environ:
    # Must happen before numba is imported.  LLVM's tuning for Intel server
    # CPUs prefers 256-bit vectors even where AVX-512 exists; removing the
    # prefer-256-bit tuning lets the kernels use zmm registers (torch's
    # kernels already dispatch to AVX-512).  Kernels are cached per CPU
    # feature set, so the first run recompiles them.
    import llvmlite.binding as _ll
    _feats = _ll.get_host_cpu_features().flatten()
    if "+avx512f" in _feats:
        os.environ["NUMBA_CPU_NAME"] = _ll.get_host_cpu_name()
        os.environ["NUMBA_CPU_FEATURES"] = _feats + ",-prefer-256-bit"
        # keep these kernels out of the project's __pycache__
        os.environ.setdefault("NUMBA_CACHE_DIR", os.path.join(
            os.environ.get("TMPDIR", "/tmp"), "symdl-avx512-numba-cache"))

import numpy as np
from numba import get_num_threads, njit, prange, set_num_threads

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import symdl  # noqa: E402
from symdl.runtime.blocks import aligned_head, block_start, block_stop, n_blocks  # noqa: E402

try:
    import torch
    import torch.nn.functional as F
except ImportError:  # torch is optional
    torch = F = None

try:
    from scipy.special import erf as sp_erf
except ImportError:
    sp_erf = None

#: made only of arithmetic, comparisons and selects: these should stream at
#: memory bandwidth (the summary checks >= 0.7 x triad at the largest N)
ARITHMETIC = ("relu", "relu6", "leaky_relu", "hardtanh", "hardsigmoid", "hardswish",
              "softshrink", "hardshrink", "threshold", "identity", "sqnl", "binary_step",
              "sign", "prelu")
BW_GOAL = 0.7


# ----------------------------------------------------------------- STREAM triad
@njit(parallel=True, error_model="numpy")
def _triad(a, b, c, s):
    # the kernels' own loop (aligned blocks, symdl.runtime.blocks): a plain
    # prange over NumPy's arrays (16 bytes past a cache line) straddles lines
    # with every vector and would understate the machine's bandwidth
    n = a.shape[0]
    h = aligned_head(a, n)
    for blk in prange(n_blocks(n, h)):
        for i in range(np.uint64(block_start(blk, h)), np.uint64(block_stop(blk, h, n))):
            a[i] = b[i] + s * c[i]


@njit(parallel=True, error_model="numpy")
def _copy2(x, g, y, dx):
    # a fused forward_backward's own traffic (read x and g, write y and dx)
    # with no arithmetic: the ceiling of an arithmetic-only fused kernel
    n = x.shape[0]
    h = aligned_head(y, n)
    for blk in prange(n_blocks(n, h)):
        for i in range(np.uint64(block_start(blk, h)), np.uint64(block_stop(blk, h, n))):
            y[i] = x[i]
            dx[i] = g[i]


def copy2_gbs(n, dtype, repeat):
    """GB/s of _copy2, counted as 4 arrays like a kernel's fwd+bwd."""
    x = np.random.default_rng(0).random(n).astype(dtype)
    g, y, dx = np.ones(n, dtype), np.empty(n, dtype), np.empty(n, dtype)
    t, _ = timeit(lambda: _copy2(x, g, y, dx), repeat, min_time=4 * MIN_TIME)
    return 4 * x.nbytes / t / 1e9


def triad_gbs(n, dtype, repeat):
    b = np.random.default_rng(0).random(n).astype(dtype)
    c = np.ones(n, dtype)
    a = np.empty(n, dtype)
    s = dtype(3.0)
    t, _ = timeit(lambda: _triad(a, b, c, s), repeat, min_time=4 * MIN_TIME)
    return 3 * a.nbytes / t / 1e9


# ----------------------------------------------------------------- timing
STAT = "median"
LAST: dict = {}  # median and min of the last timeit call
MIN_TIME = 0.2  # seconds per measurement (--min-time)
CLOCK = time.perf_counter  # --clock cpu: time.process_time


def timeit(fn, repeat, warmup=2, min_time=None):
    """(seconds, spread = (max - min)/median) over at least ``repeat`` calls and
    at least ``min_time`` seconds (at most 400 calls); seconds is the median
    (default) or the minimum (``--stat min``, robust on a loaded machine where
    other processes steal time slices from the 2 prange threads)."""
    min_time = MIN_TIME if min_time is None else min_time
    for _ in range(warmup):
        fn()
    ts = []
    t_end = time.perf_counter() + min_time
    while len(ts) < repeat or (time.perf_counter() < t_end and len(ts) < 400):
        t0 = CLOCK()
        fn()
        ts.append(CLOCK() - t0)
    med = statistics.median(ts)
    LAST.update(median=med, min=min(ts), calls=len(ts))
    return (med if STAT == "median" else min(ts)), (max(ts) - min(ts)) / med


def timeit_pair(fn, ref, repeat, rounds=4):
    """``timeit`` of fn, and the same statistic of ref, measured in
    alternating blocks (fn x k, ref x k, fn x k, ...; the first call of each
    block untimed): a change of the machine's load during the run hits both
    sides of their ratio, and within a block each side runs on its own warm
    caches (alternating single calls would time each on the caches the other
    just evicted: torch's prelu allocates fresh tensors every call)."""
    ts, tr = [], []
    per = max(2, -(-repeat // rounds))
    t_end = time.perf_counter() + 2 * MIN_TIME
    while len(ts) < repeat or (time.perf_counter() < t_end and len(ts) < 400):
        for f, acc in ((fn, ts), (ref, tr)):
            f()
            for _ in range(per):
                t0 = CLOCK()
                f()
                acc.append(CLOCK() - t0)
    med = statistics.median(ts)
    LAST.update(median=med, min=min(ts), calls=len(ts))
    pick = statistics.median if STAT == "median" else min
    return pick(ts), (max(ts) - min(ts)) / med, pick(tr)


# ----------------------------------------------------------------- the cases
def cases(names):
    """(label, name, params) for every activation and every choice variant."""
    out = []
    for name in names:
        meta = symdl.kernel(name).meta
        for variant, _key in meta["variants"]:
            label = name + "".join(f"({k}={v})" for k, v in variant.items())
            out.append((label, name, dict(variant)))
    return out


def torch_fn(name, params):
    """(callable on a torch tensor, native?) or (None, False)."""
    if torch is None:
        return None, False
    p = dict(params)
    native = {
        "identity": lambda x: x,  # nn.Identity: returns its input
        "sign": torch.sign,
        "sigmoid": torch.sigmoid,
        "tanh": torch.tanh,
        "hardtanh": F.hardtanh,
        "softsign": F.softsign,
        "relu": F.relu,
        "relu6": F.relu6,
        "leaky_relu": F.leaky_relu,
        "elu": F.elu,
        "selu": F.selu,
        "celu": F.celu,
        "gelu": lambda x: F.gelu(x, approximate=p.get("approximate", "none")),
        "silu": F.silu,
        "mish": F.mish,
        "softplus": F.softplus,  # torch's threshold=20 cut-off (symdl default is exact)
        "logsigmoid": F.logsigmoid,
        "hardsigmoid": F.hardsigmoid,
        "hardswish": F.hardswish,
        "softshrink": F.softshrink,
        "hardshrink": F.hardshrink,
        "tanhshrink": F.tanhshrink,
        "threshold": lambda x: F.threshold(x, 0.0, 0.0),
        "sinc": lambda x: torch.sinc(x * (1 / math.pi)),
        "rrelu": lambda x: F.rrelu(x, training=True),
    }
    composite = {
        "binary_step": lambda x: (x >= 0).to(x.dtype),  # no gradient path in torch
        "arctan": torch.atan,
        "isru": lambda x: x * torch.rsqrt(1 + x * x),
        "isrlu": lambda x: torch.where(x >= 0, x, x * torch.rsqrt(1 + x * x)),
        "sqnl": lambda x: torch.where(x > 2, 1.0, torch.where(x >= 0, x - x * x / 4,
                                      torch.where(x >= -2, x + x * x / 4, -1.0))),
        "gelu_sigmoid": lambda x: x * torch.sigmoid(1.702 * x),
        "swish": lambda x: x * torch.sigmoid(x),
        "bent_identity": lambda x: (torch.sqrt(x * x + 1) - 1) / 2 + x,
        "soft_exponential": lambda x: x * 1.0,  # alpha = 0 (default) is the identity
        "soft_clipping": lambda x: (F.softplus(x) - F.softplus(x - 1)),
        "sinusoid": torch.sin,
        "gaussian": lambda x: torch.exp(-x * x),
        "squareplus": lambda x: (x + torch.sqrt(x * x + 4)) / 2,
    }
    if name == "prelu":
        return "prelu", True
    if name in native:
        return native[name], True
    if name in composite:
        return composite[name], False
    return None, False


def numpy_fb(name, params):
    """A plain NumPy forward+backward f(x, g) -> (y, dx), or None."""
    if name == "relu":
        return lambda x, g: (np.maximum(x, 0), np.where(x > 0, g, 0))
    if name == "leaky_relu":
        return lambda x, g: (np.where(x > 0, x, 0.01 * x), np.where(x > 0, g, 0.01 * g))
    if name == "sigmoid":
        def f(x, g):
            y = 1 / (1 + np.exp(-x))
            return y, g * y * (1 - y)
        return f
    if name == "tanh":
        def f(x, g):
            y = np.tanh(x)
            return y, g * (1 - y * y)
        return f
    if name == "elu":
        def f(x, g):
            e = np.expm1(np.minimum(x, 0))
            return np.where(x > 0, x, e), np.where(x > 0, g, g * (e + 1))
        return f
    if name == "softplus":
        def f(x, g):
            y = np.logaddexp(0, x)
            return y, g / (1 + np.exp(-x))
        return f
    if name == "silu":
        def f(x, g):
            s = 1 / (1 + np.exp(-x))
            return x * s, g * s * (1 + x * (1 - s))
        return f
    if name == "gelu" and params.get("approximate", "none") == "none" and sp_erf is not None:
        def f(x, g):
            cdf = 0.5 * (1 + sp_erf(x * (1 / math.sqrt(2))))
            pdf = np.exp(-0.5 * x * x) * (1 / math.sqrt(2 * math.pi))
            return x * cdf, g * (cdf + x * pdf)
        return f
    return None


def torch_fns(name, params, x, g):
    """(fwd+bwd, no-grad fwd, native) torch callables on x and g, or Nones."""
    tf, native = torch_fn(name, params)
    if tf is None:
        return None, None, False
    xt = torch.from_numpy(x).requires_grad_(True)
    gt = torch.from_numpy(g)
    if tf == "prelu":
        w = torch.full((1,), 0.25, dtype=xt.dtype, requires_grad=True)
        fwd = lambda t: F.prelu(t, w)  # noqa: E731
        leaves = (xt, w)
    else:
        fwd = tf
        leaves = (xt,)

    def t_fb_fn():
        for leaf in leaves:
            leaf.grad = None
        out = fwd(xt)
        if out.requires_grad:
            out.backward(gt)
        return out

    def t_fw_fn():
        with torch.no_grad():
            return fwd(xt)
    return t_fb_fn, t_fw_fn, native


# ----------------------------------------------------------------- one row
def bench_row(label, name, params, dtype, n, repeat, triad, rng):
    k = symdl.kernel(name, **params)
    x = rng.standard_normal(n).astype(dtype) * dtype(3)
    g = rng.standard_normal(n).astype(dtype)
    y, dx, yf, dxb = (np.empty_like(x) for _ in range(4))
    kw, extra = {}, 0
    if k.noise:  # rrelu: training mode with a per-element slope
        kw = {"noise": k.sample_noise(n, rng, dtype)}
        extra = 1
    item = np.dtype(dtype).itemsize
    fb = lambda: k.forward_backward(x, g, out=(y, dx), **kw)  # noqa: E731
    fw = lambda: k.forward(x, out=yf, **kw)  # noqa: E731
    bw = lambda: k.backward(x, g, out=dxb, **kw)  # noqa: E731
    t_fb_fn, t_fw_fn, native = torch_fns(name, params, x, g)
    if t_fb_fn is not None:  # the headline ratio: symdl and torch timed alternately
        t_fb, spread, t_torch_fb = timeit_pair(fb, t_fb_fn, repeat)
    else:
        (t_fb, spread), t_torch_fb = timeit(fb, repeat), math.nan
    fb_median, fb_min = LAST["median"], LAST["min"]
    t_f, _ = timeit(fw, repeat)
    t_b, _ = timeit(bw, repeat)
    row = dict(label=label, name=name, dtype=np.dtype(dtype).name, n=n,
               symdl_fb_ms=1e3 * t_fb, symdl_fwd_ms=1e3 * t_f, symdl_bwd_ms=1e3 * t_b,
               symdl_fb_median_ms=1e3 * fb_median, symdl_fb_min_ms=1e3 * fb_min,
               spread=spread, gbs=(4 + extra) * item * n / t_fb / 1e9)
    row["frac_triad"] = row["gbs"] / triad
    row["torch_fb_ms"] = 1e3 * t_torch_fb
    row["torch_fwd_ms"] = row["numpy_fb_ms"] = math.nan
    row["torch_native"] = native
    if t_fw_fn is not None:
        row["torch_fwd_ms"] = 1e3 * timeit(t_fw_fn, repeat)[0]
    nf = numpy_fb(name, params)
    if nf is not None:
        row["numpy_fb_ms"] = 1e3 * timeit(lambda: nf(x, g), max(3, repeat // 2), warmup=1, min_time=MIN_TIME / 2)[0]
    row["torch_ratio"] = row["torch_fb_ms"] / row["symdl_fb_ms"]
    row["torch_fwd_ratio"] = row["torch_fwd_ms"] / row["symdl_fwd_ms"]
    row["numpy_ratio"] = row["numpy_fb_ms"] / row["symdl_fb_ms"]
    return row


def fmt(v, spec):
    return format(v, spec) if v == v else format("-", ">" + spec.split(".")[0].lstrip(">"))


HEADER = (f"{'activation':28s} {'dtype':7s} {'N':>5s} {'fb ms':>8s} {'fwd ms':>8s} {'bwd ms':>8s} "
          f"{'torch ms':>9s} {'torch/s':>8s} {'tfwd/sfwd':>9s} {'numpy/s':>8s} {'GB/s':>6s} {'%triad':>6s}")


def print_row(r):
    star = "" if r["torch_native"] or r["torch_fb_ms"] != r["torch_fb_ms"] else "*"
    noisy = " ~" if r["spread"] > 0.5 else ""
    print(f"{r['label']:28s} {r['dtype']:7s} {r['n']:5.0e} {r['symdl_fb_ms']:8.3f} "
          f"{r['symdl_fwd_ms']:8.3f} {r['symdl_bwd_ms']:8.3f} {fmt(r['torch_fb_ms'], '9.3f')} "
          f"{fmt(r['torch_ratio'], '7.2f')}{star or ' '} {fmt(r['torch_fwd_ratio'], '9.2f')} "
          f"{fmt(r['numpy_ratio'], '8.2f')} {r['gbs']:6.1f} {100 * r['frac_triad']:5.0f}%{noisy}",
          flush=True)


# ----------------------------------------------------------------- vectorization
_SIMD = re.compile(r"\bv(?:add|sub|mul|div|fmadd\w*|fmsub\w*|fnmadd\w*|max|min|cmp\w*|blendv|and|andn|or|xor|sqrt)p[sd]\s[^\n]*[yz]mm")
_EXT = re.compile(r"movabsq\s+\$([a-z]\w*),")
_CVT = re.compile(r"\bv?cvt(?:ss2sd|ps2pd|sd2ss|pd2ps)\b")


def asm_report(label, name, params, dtype):
    """Vectorization of the serial fused kernel: packed ymm/zmm arithmetic
    instructions, libm calls, float32<->float64 conversions.  Cached code
    cannot be inspected, so the kernel's Python source is recompiled (no cache)
    for the signature the bundle uses."""
    import warnings
    from numba import njit as _njit
    k = symdl.kernel(name, **params)
    x = np.linspace(-3, 3, 256).astype(dtype)
    kw = {"noise": k.sample_noise(x.shape, np.random.default_rng(0), dtype)} if k.noise else {}
    k.forward_backward(x, np.ones_like(x), **kw)  # the serial variant (n < PARALLEL_THRESHOLD)
    fn = k._fn("forward_backward", np.dtype(dtype), x.size)
    sig = fn.signatures[0]
    j = _njit(error_model="numpy")(fn.py_func)
    j.compile(sig)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        asm = j.inspect_asm(sig)
    ext = sorted({m for m in _EXT.findall(asm) if not m.startswith(("NRT", "Py", "_"))})
    return dict(label=label, dtype=np.dtype(dtype).name, simd=len(_SIMD.findall(asm)),
                libm=ext, cvt=len(_CVT.findall(asm)))


# ----------------------------------------------------------------- JIT compile / cache
_PROBE = textwrap.dedent("""
    import json, sys, time
    t0 = time.perf_counter()
    import numpy as np
    import symdl
    k = symdl.kernel({name!r})
    t1 = time.perf_counter()
    x = np.linspace(-5, 5, {n}); g = np.ones_like(x)
    y = np.empty_like(x); dx = np.empty_like(x)
    t2 = time.perf_counter(); k.forward_backward(x, g, out=(y, dx)); t3 = time.perf_counter()
    k.forward_backward(x, g, out=(y, dx)); t4 = time.perf_counter()
    print(json.dumps(dict(import_s=t1 - t0, first_s=t3 - t2, second_s=t4 - t3)))
""")


def compile_times(name, n):
    """First vs second call of one fused float64 kernel in fresh interpreters:
    cold (empty NUMBA_CACHE_DIR: a real JIT compile) and warm (the same
    cache dir again: a cache hit)."""
    res = {}
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache, PYTHONPATH=str(ROOT))
        for what in ("cold", "cache_hit"):
            p = subprocess.run([sys.executable, "-c", _PROBE.format(name=name, n=n)], env=env,
                               capture_output=True, text=True, check=True, cwd=str(ROOT))
            res[what] = json.loads(p.stdout.strip().splitlines()[-1])
    return res


# ----------------------------------------------------------------- main
def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=float, nargs="+", default=[1e6, 1e7], help="array sizes")
    ap.add_argument("--dtype", nargs="+", default=["float32", "float64"],
                    choices=["float32", "float64"])
    ap.add_argument("--names", nargs="+", default=None, help="activations (default: all)")
    ap.add_argument("--quick", action="store_true", help="N=1e6 only, fewer repeats")
    ap.add_argument("--repeat", type=int, default=None, help="timed calls per measurement")
    ap.add_argument("--stat", choices=["median", "min"], default="median",
                    help="statistic of the repeats (min is more robust on a loaded machine)")
    ap.add_argument("--min-time", type=float, default=0.2,
                    help="keep repeating each measurement for at least this many seconds")
    ap.add_argument("--clock", choices=["wall", "cpu"], default="wall",
                    help="wall: perf_counter; cpu: process CPU time, immune to time slices "
                         "lost to other processes (meaningful with --threads 1 only)")
    ap.add_argument("--threads", type=int, default=2,
                    help="threads for Numba's prange and for torch (default 2 = the cores)")
    ap.add_argument("--asm", action="store_true",
                    help="also report vectorization of each fused kernel (recompiles them: ~0.5 s each)")
    ap.add_argument("--asm-only", action="store_true", help="only the vectorization report")
    ap.add_argument("--avx512", action="store_true",
                    help="compile with 512-bit vectors on AVX-512 hosts (NUMBA_CPU_FEATURES "
                         "= host features + ',-prefer-256-bit'; set before numba is imported)")
    ap.add_argument("--json", default=None, metavar="PATH", help="write all results here")
    ap.add_argument("--no-compile", action="store_true", help="skip the JIT compile measurement")
    ap.add_argument("--compile-kernel", default="gelu", help="kernel for the compile-time probe")
    args = ap.parse_args(argv)
    global STAT, MIN_TIME, CLOCK
    STAT, MIN_TIME = args.stat, args.min_time
    CLOCK = time.process_time if args.clock == "cpu" else time.perf_counter
    if args.clock == "cpu" and args.threads != 1:
        print("warning: --clock cpu sums the CPU time of all threads; use it with --threads 1")
    sizes = [int(v) for v in ([1e6] if args.quick else args.n)]
    repeat = args.repeat or (5 if args.quick else 9)
    names = args.names or symdl.names("activation")
    set_num_threads(args.threads)
    if torch is not None:
        torch.set_num_threads(args.threads)
    load0 = os.getloadavg()
    print(f"numba threads {get_num_threads()}, torch "
          f"{'%s (%d threads)' % (torch.__version__, torch.get_num_threads()) if torch else 'absent'}, "
          f"numpy {np.__version__}, scipy {'yes' if sp_erf else 'absent'}; cpus {os.cpu_count()}; "
          f"load average at start {load0[0]:.2f} {load0[1]:.2f} {load0[2]:.2f}"
          + ("; NUMBA_CPU_FEATURES ...,-prefer-256-bit (--avx512)"
             if os.environ.get("NUMBA_CPU_FEATURES", "").endswith("-prefer-256-bit") else ""))
    print(f"{args.clock} clock, {STAT} of >= {repeat} calls and >= {MIN_TIME} s after warm-up; fb = fused forward_backward; "
          f"torch/s = torch fwd+bwd time / symdl fb time (>1: symdl faster; * = torch composite, "
          f"not one native op); tfwd/sfwd = torch no-grad forward / symdl forward; "
          f"%triad = effective bandwidth of fb / triad; ~ = noisy (spread > 50%)")
    rng = np.random.default_rng(0)
    all_cases = cases(names)
    rows, triads, copies, asm_rows = [], {}, {}, []
    if args.asm or args.asm_only:
        print(f"\n== vectorization of the serial fused kernels: simd = packed ymm/zmm arithmetic "
              f"instructions (0: scalar loop), libm = scalar library calls (block vectorization), "
              f"cvt = float32<->float64 conversions")
        print(f"{'activation':28s} {'dtype':7s} {'simd':>5s} {'cvt':>4s}  libm")
        for dt_name in args.dtype:
            for label, name, params in all_cases:
                a = asm_report(label, name, params, np.dtype(dt_name).type)
                asm_rows.append(a)
                print(f"{label:28s} {dt_name:7s} {a['simd']:5d} {a['cvt']:4d}  {' '.join(a['libm'])}",
                      flush=True)
        if args.asm_only:
            if args.json:
                with open(args.json, "w") as f:
                    json.dump(dict(asm=asm_rows), f, indent=1)
            return asm_rows
    for dt_name in args.dtype:
        dt = np.dtype(dt_name).type
        for n in sizes:
            tri = triad_gbs(n, dt, repeat)
            triads[f"{dt_name}/{n}"] = tri
            copies[f"{dt_name}/{n}"] = cp = copy2_gbs(n, dt, repeat)
            print(f"\n== {dt_name} N={n:.0e}: triad {tri:.1f} GB/s; 2-in/2-out copy {cp:.1f} GB/s")
            print(HEADER)
            for label, name, params in all_cases:
                r = bench_row(label, name, params, dt, n, repeat, tri, rng)
                rows.append(r)
                print_row(r)

    # ---- summary
    print("\n== summary")
    n_small = 10 ** 6 if 10 ** 6 in sizes else min(sizes)
    for dt_name in args.dtype:
        sel = [r for r in rows if r["dtype"] == dt_name and r["n"] == n_small and r["torch_native"]]
        fast = [r["label"] for r in sel if r["torch_ratio"] >= 1]
        slow = sorted(((r["torch_ratio"], r["label"]) for r in sel if r["torch_ratio"] < 1))
        print(f"{dt_name} N={n_small:.0e}: {len(fast)}/{len(sel)} activations with a torch "
              f"equivalent at least as fast as torch (fwd+bwd); slower: "
              + (", ".join(f"{lab} {rat:.2f}" for rat, lab in slow) or "none"))
    n_big = max(sizes)
    for dt_name in args.dtype:
        sel = [r for r in rows if r["dtype"] == dt_name and r["n"] == n_big and r["name"] in ARITHMETIC]
        ok = [r["label"] for r in sel if r["frac_triad"] >= BW_GOAL]
        bad = [f"{r['label']} {100 * r['frac_triad']:.0f}%" for r in sel if r["frac_triad"] < BW_GOAL]
        print(f"{dt_name} N={n_big:.0e}: arithmetic-only kernels at >= {BW_GOAL:.0%} of triad: "
              f"{len(ok)}/{len(sel)}" + (f"; below: {', '.join(bad)}" if bad else ""))
        cp = copies[f"{dt_name}/{n_big}"]
        if sel:
            fr = sorted(r["gbs"] / cp for r in sel)
            print(f"{dt_name} N={n_big:.0e}: the same kernels against a 2-in/2-out copy "
                  f"({cp:.1f} GB/s: their own traffic, no arithmetic): {100 * fr[0]:.0f}%"
                  f"..{100 * fr[-1]:.0f}%, median {100 * fr[len(fr) // 2]:.0f}%")

    compile_res = None
    if not args.no_compile:
        try:
            compile_res = compile_times(args.compile_kernel, 10 ** 6)
            c, h = compile_res["cold"], compile_res["cache_hit"]
            print(f"JIT: {args.compile_kernel} forward_backward float64 prange (fresh interpreter): "
                  f"cold first call {c['first_s']:.2f} s (compile) vs second {1e3 * c['second_s']:.2f} ms; "
                  f"cache hit first call {1e3 * h['first_s']:.1f} ms; import symdl + kernel() "
                  f"{1e3 * h['import_s']:.0f} ms")
        except (subprocess.CalledProcessError, ValueError) as e:
            print(f"JIT probe failed: {e}")
    load1 = os.getloadavg()
    print(f"load average at end {load1[0]:.2f} {load1[1]:.2f} {load1[2]:.2f} "
          f"(2 cores: a load above ~2 means other work competed for the CPUs)")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(dict(rows=rows, triad_gbs=triads, copy2_gbs=copies, compile=compile_res,
                           load_start=load0, load_end=load1, repeat=repeat, stat=STAT,
                           threads=args.threads, clock=args.clock, asm=asm_rows), f, indent=1)
    return rows


if __name__ == "__main__":
    main()
