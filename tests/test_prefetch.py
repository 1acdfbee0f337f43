"""The optimizer kernels' chunked, prefetching loop (symdl/runtime/prefetch.py):
every element is updated exactly once, and the prange kernels give the
serial kernels' bits whether or not they prefetch, at chunk edges and at the
array end."""
import os
import subprocess
import sys

import numpy as np
import pytest
from numba import njit

from symdl.runtime.family import RULES as G
from symdl.runtime.prefetch import (AHEAD, CHUNK, LINE, PREFETCH_FROM, SPAN, chunk_start, chunk_stop,
                                    lines_ahead, n_chunks, prefetch, prefetch_chunk,
                                    worth_prefetching)


@njit(cache=False)   # the helpers under test live in another module: no stale cache
def _cover(n, hits, ahead):
    for c in range(n_chunks(n, ahead)):
        for i in range(chunk_start(c, ahead), chunk_stop(c, n, ahead)):
            hits[i] += 1
    return n_chunks(n, ahead)


@pytest.mark.parametrize("ahead", [True, False], ids=["chunks", "spans"])
@pytest.mark.parametrize("n", [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 5 * CHUNK - 3, 5 * CHUNK,
                               SPAN - 1, SPAN, SPAN + 1, 3 * SPAN + 7])
def test_chunks_cover_every_element_once(n, ahead):
    """CHUNK elements per chunk where the loop prefetches, SPAN elsewhere."""
    hits = np.zeros(n, np.int64)
    got = _cover(n, hits, ahead)
    assert (hits == 1).all()
    assert got == -(-n // (CHUNK if ahead else SPAN))


@njit(cache=False)   # the helpers under test live in another module: no stale cache
def _prefetch_everywhere(a):
    lines = 0
    for lo in range(a.shape[0] + 2 * CHUNK):
        j0, j1, dj = lines_ahead(lo, a.shape[0], a.itemsize)
        for j in range(j0, j1, dj):
            prefetch(a, j)
            lines += 1
        prefetch_chunk(a, lo)
    return a.sum(), lines


def test_prefetch_hints_stay_inside_the_array_and_change_nothing():
    a = np.arange(5000.0)
    total, lines = _prefetch_everywhere(a)
    assert total == np.arange(5000.0).sum()
    # one hint per cache line AHEAD bytes past each chunk start, clipped to the array
    want = sum(len(range(lo + AHEAD // 8, min(lo + AHEAD // 8 + CHUNK, a.size), LINE // 8))
               for lo in range(a.size + 2 * CHUNK))
    assert lines == want > 0


def test_prefetch_threshold():
    assert worth_prefetching(np.empty(PREFETCH_FROM // 4, np.float32))
    assert not worth_prefetching(np.empty(PREFETCH_FROM // 4 - 1, np.float32))
    assert worth_prefetching(np.empty(PREFETCH_FROM // 8, np.float64))


#: (kernel key, scalar-function arguments after t)
KERNELS = [
    ("adam__amsgrad0__has_weight_decay0__maximize0", (1e-3, 0.9, 0.999, 1e-8, 0.0)),
    ("adam__amsgrad1__has_weight_decay1__maximize1", (1e-3, 0.8, 0.99, 1e-8, 0.1)),
    ("sgd__momentum_mode_nesterov__has_weight_decay0__maximize0", (0.1, 0.9, 0.0, 0.0)),
    ("rmsprop__has_momentum1__centered1__has_weight_decay1__maximize0__eps_inside_sqrt0", (1e-2, 0.99, 1e-8, 0.1, 0.5)),
]


def _arrays(key, n, dtype, seed=0):
    rng = np.random.default_rng(seed)
    meta = G.SPECS[key.split("__")[0]]
    states = next(s for _, k, s in meta["variants"] if k == key)
    p, g = rng.normal(size=n).astype(dtype), rng.normal(size=n).astype(dtype)
    return [p, g] + [np.abs(rng.normal(size=n)).astype(dtype) for _ in states]


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("key,hyper", KERNELS, ids=[k.split("__")[0] + str(i) for i, (k, _) in enumerate(KERNELS)])
def test_prange_kernel_matches_serial_kernel_bit_for_bit(key, hyper, dtype):
    dt = "f32" if dtype == np.float32 else "f64"
    serial, par = getattr(G, f"{key}_{dt}"), getattr(G, f"{key}_{dt}_par")
    scal = getattr(G, f"{key}_scalars")(3, *hyper)[0]
    big = PREFETCH_FROM // np.dtype(dtype).itemsize + 37      # prefetching, with a short last chunk
    for n in (3 * CHUNK + 5, 2 * SPAN + 5, big):      # (spans, and chunks that prefetch)
        a = _arrays(key, n, dtype)
        b = [x.copy() for x in a]
        for _ in range(2):
            serial(*a, *scal)
            par(*b, *scal)
        for x, y in zip(a, b):
            np.testing.assert_array_equal(x, y)


def test_prange_kernel_runs_as_plain_python():
    """With the JIT disabled (coverage runs), the chunk helpers and the
    prefetch hint are plain Python and give the compiled kernel's results."""
    key, hyper = KERNELS[0]
    code = f"""
import numpy as np
from symdl.runtime.family import RULES as G
rng = np.random.default_rng(0)
a = [rng.normal(size=300), rng.normal(size=300), rng.normal(size=300), np.abs(rng.normal(size=300))]
scal = G.{key}_scalars(3, *{hyper!r})[0]
G.{key}_f64_par(*a, *scal)
print(repr([x.tolist() for x in a]))
"""
    env = dict(os.environ, NUMBA_DISABLE_JIT="1")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    got = [np.array(x) for x in eval(r.stdout)]
    rng = np.random.default_rng(0)
    a = [rng.normal(size=300), rng.normal(size=300), rng.normal(size=300), np.abs(rng.normal(size=300))]
    scal = getattr(G, f"{key}_scalars")(3, *hyper)[0]
    getattr(G, f"{key}_f64_par")(*a, *scal)
    for x, y in zip(got, a):
        np.testing.assert_allclose(x, y, rtol=1e-15)
