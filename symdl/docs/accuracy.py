"""The measured worst error of a spec's kernels, for its catalog page.

Elementwise (activation) kernels are measured by ``symdl.testing``'s
ground-truth harness -- the spec and its SymPy derivative evaluated by
mpmath at >= 50 digits -- on a small point set (``sample_points`` with 16
random points: the log-spaced magnitudes 1e-8..1e4 of both signs, 0, the
kinks and their float neighbours, the overflow edges of exp, +-inf and nan;
about 140 points), in float64 and float32, for every choice variant at the
default parameters.

The results are cached in ``docs/catalog/accuracy.json``, keyed by the
spec's content hash and the generator hash of its generated module: a build
measures only specs whose key changed (the measurement of all activations
takes about a minute cold).  Families whose kernels are not elementwise are
reported as measured by the test suite, not by the docs build.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

CACHE = "catalog/accuracy.json"
#: random points per dtype (on top of the fixed log-spaced, kink and edge points)
N_RANDOM = 16

_TESTED_BY = {"softmax": "tests/test_reductions.py", "loss": "tests/test_losses.py, "
              "tests/test_term_losses.py", "optimizer": "tests/test_optimizers.py"}


def load_cache(root: Path | None = None) -> dict:
    from .pages import docs_dir

    path = (root or docs_dir()) / CACHE
    if not path.exists():
        return {}
    return json.loads(path.read_text(encoding="utf-8"))


def save_cache(cache: dict, root: Path | None = None) -> None:
    from symdl.codegen.generate import atomic_write

    from .pages import docs_dir

    path = (root or docs_dir()) / CACHE
    text = json.dumps(dict(sorted(cache.items())), indent=1, sort_keys=True) + "\n"
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        atomic_write(path, text)


def cache_key(spec, module_header: dict) -> str:
    from .pages import spec_hash

    return f"{spec_hash(spec)}:{module_header.get('generator_hash', '-')}"


def measurable(spec, family: str, meta: dict | None) -> bool:
    return family == "activation" and meta is not None and meta.get("family") == "activation"


def entry(spec, family: str, meta: dict | None, key: str, cache: dict, measure: bool) -> dict:
    """The accuracy entry of a spec: from the cache when its key matches,
    else measured now (``measure``) or marked stale."""
    if not measurable(spec, family, meta):
        tested = _TESTED_BY.get(family, "the test suite")
        if meta is None:
            return {"status": "no kernels"}
        return {"status": "tests", "tested_by": tested}
    hit = cache.get(spec.name)
    if hit is not None and hit.get("key") == key:
        return hit
    if not measure:
        return {"status": "stale", "key": key}
    e = {"key": key, "status": "measured", **measure_activation(spec)}
    cache[spec.name] = e
    return e


def _g(v: float) -> float:
    return float(f"{v:.3g}")


def measure_activation(spec) -> dict:
    """Worst pure relative error (and failures of the accuracy bound) of the
    forward and derivative kernels, per variant and dtype."""
    import numpy as np

    from symdl import kernel
    from symdl.testing import compare, sample_points, truths

    rows, npoints = [], 0
    for variant in spec.variants():
        bundle = kernel(spec.name, **variant)
        for dt in (np.float64, np.float32):
            xs = sample_points(spec, {}, dt, n_random=N_RANDOM)
            npoints = max(npoints, xs.size)
            kw, noise = {}, None
            if spec.noise:
                rng = np.random.default_rng(1)
                lo, hi = spec.param("lower").default, spec.param("upper").default
                noise = rng.uniform(lo, hi, xs.size).astype(dt)
                kw = {"noise": noise}
            t = truths(spec, variant, {}, xs, noise)
            y = bundle.forward(xs, **kw)
            dx = bundle.backward(xs, np.ones_like(xs), **kw)
            if isinstance(dx, tuple):
                dx = dx[0]
            for which, got in (("forward", y), ("derivative", dx)):
                r = compare(spec.name, which, xs, got, t[which if which == "forward" else "dx"], dt)
                rows.append({"variant": ", ".join(f"{k}={v!r}" for k, v in variant.items()),
                             "which": which, "dtype": r.dtype, "worst": _g(r.worst_rel),
                             "at": repr(float(r.worst_at)) if not math.isnan(r.worst_at) else "-",
                             "failures": len(r.failures)})
    return {"points": int(npoints), "rows": rows}


def accuracy_markdown(e: dict | None) -> str:
    from symdl.testing import BOUNDS

    e = e or {"status": "no kernels"}
    status = e.get("status")
    if status == "no kernels":
        return "No kernels to measure.\n"
    if status == "tests":
        return (f"Not measured by the docs build: these kernels are compared with the spec "
                f"evaluated by mpmath at high precision by `{e['tested_by']}` "
                "(float64 and float32, random, tiny, huge and extreme inputs).\n")
    if status == "stale":
        return "**Stale:** the spec or its kernels changed since the last measurement; run `symdl docs generate`.\n"
    (r64, a64), (r32, a32) = ((BOUNDS[k][0], BOUNDS[k][1]) for k in sorted(BOUNDS, key=str, reverse=True))
    lines = [f"Measured by `symdl.testing`'s ground-truth harness (mpmath, >= 50 digits) at "
             f"{e['points']} points per dtype: random, log-spaced magnitudes 1e-8..1e4 of both signs, "
             "0, the kinks and their float neighbours, ±700, ±1e3, ±inf and nan. Worst *pure* "
             "relative error where the true value is a normal number; a failure is a point outside "
             f"|kernel − truth| ≤ rtol·|truth| + atol (float64: {r64:g}, {a64:g}; float32: {r32:g}, {a32:g}) "
             "or an inf/nan where the truth is finite.", "",
             "| variant | kernel | dtype | worst relative error | at x | failures |",
             "|---|---|---|---|---|---|"]
    for r in e["rows"]:
        lines.append(f"| {r['variant'] or 'default'} | {r['which']} | {r['dtype']} | {r['worst']:.2e} "
                     f"| {r['at']} | {r['failures']} |")
    return "\n".join(lines) + "\n"
